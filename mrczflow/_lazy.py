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
        # Bind every export of that module now: importing it set the package's attribute of the same
        # name to the module itself (koma.correction), which must be the function, as before.
        namespace = importlib.import_module(package).__dict__
        for export, where in exports.items():
            if where == exports[name]:
                namespace[export] = getattr(module, export)
        return namespace[name]

    def __dir__() -> list[str]:
        return sorted(exports)

    # A name that is also its module's (outliers.detect, koma.correction) is bound at once: a direct
    # import of that submodule elsewhere would otherwise leave the module where the function belongs.
    for name, where in exports.items():
        if name == where.lstrip("."):
            __getattr__(name)
    return __getattr__, __dir__
