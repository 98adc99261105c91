"""Public names of a subpackage, imported on first use.

Every workflow job is a fresh Python process that needs one step of one
stage. Importing a subpackage's whole public API on ``import
mrczflow.<stage>`` loaded scipy.stats, scipy.optimize and the rest of every
stage into every job (about 1 s of each job's start-up); a subpackage's
``__init__`` therefore names its exports here, and each is imported when it is
first asked for (PEP 562).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public ``name`` lives in ``exports[name]``."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name], package)
        # Bind every export of that module now, so later lookups do not come here again (a name shared
        # with its module, koma.correction, is answered by the package's class instead: see below).
        namespace = importlib.import_module(package).__dict__
        for export, where in exports.items():
            if where == exports[name]:
                namespace[export] = getattr(module, export)
        return namespace[name]

    def __dir__() -> list[str]:
        return sorted(exports)

    # A name that is also its module's (outliers.detect, koma.correction) must stay the function, but
    # importing that submodule sets the package's attribute of the name to the module. The package's
    # class answers for such a name instead (and takes no module for it), so the submodule, too, is
    # imported on first use: a settings import no longer loads scipy.fft and scipy.ndimage, which
    # every workflow job's Snakemake paid (0.4 s) to read the settings classes.
    shadowed = {name: where for name, where in exports.items() if name == where.lstrip(".")}
    if shadowed:
        module = sys.modules[package]
        properties = {name: _module_function(package, name, where) for name, where in shadowed.items()}
        module.__class__ = type(f"{type(module).__name__}WithFunctions", (type(module),), properties)
    return __getattr__, __dir__


def _module_function(package: str, name: str, where: str) -> property:
    """The package attribute ``name``: the function ``name`` of its submodule ``where``, loaded on first use.

    Assigning it a module (what importing the submodule does) changes nothing; assigning anything else
    replaces it (a patch in a test or an experiment).
    """
    replaced: dict[str, Any] = {}

    def get(package_module: types.ModuleType) -> Any:
        if name in replaced:
            return replaced[name]
        return getattr(importlib.import_module(where, package), name)

    def set_(package_module: types.ModuleType, value: Any) -> None:
        if not isinstance(value, types.ModuleType):
            replaced[name] = value

    return property(get, set_, doc=f"{package}{where}.{name}")
