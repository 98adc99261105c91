"""Subpackages import their public names on first use (mrczflow/_lazy.py): each name is its module's object."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = ["gain", "outliers", "koma", "storage", "report", "handoff", "simulate", "live"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_its_modules_object(package):
    module = importlib.import_module(f"mrczflow.{package}")
    assert module.__all__ == sorted(module._EXPORTS) and dir(module) == module.__all__
    for name, where in module._EXPORTS.items():
        assert getattr(module, name) is getattr(importlib.import_module(where, module.__name__), name)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        module.nothing  # noqa: B018


def test_a_function_named_like_its_module_stays_the_function_after_a_direct_import():
    code = (
        "import mrczflow.koma.correction, mrczflow.outliers.detect\n"
        "from mrczflow import koma, outliers\n"
        "assert callable(koma.correction) and callable(outliers.detect)\n"
        "from mrczflow.koma import correction\n"
        "assert callable(correction)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_settings_import_does_not_load_the_stages_science():
    """What made every workflow job start slowly: scipy and the codec for a settings class (and every
    job of a SLURM submission reads all of them: its Snakemake parses the workflow's rules)."""
    code = (
        "import sys\n"
        "from mrczflow.gain.settings import GainSettings, GammaSettings\n"
        "from mrczflow.handoff.settings import HandoffSettings\n"
        "from mrczflow.koma.settings import KomaSettings\n"
        "from mrczflow.outliers.settings import OutlierSettings\n"
        "from mrczflow.storage.settings import CompressSettings, IngestSettings\n"
        "heavy = ('scipy.stats', 'scipy.optimize', 'scipy.fft', 'scipy.ndimage', 'blosc2', 'starfile', 'matplotlib')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_function_named_like_its_module_can_be_patched():
    """An experiment or a test may replace koma.correction; importing the module again does not undo it."""
    code = (
        "from mrczflow import koma\n"
        "original = koma.correction\n"
        "koma.correction = len\n"
        "import mrczflow.koma.correction\n"
        "assert koma.correction is len and mrczflow.koma.correction is len\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_job_loads_the_blosc2_package(tmp_path):
    """imagecodecs writes and reads archives; ``blosc2`` (0.7 s to import: numexpr, asyncio, an HTTP
    client) is only there for python-mrcz. Every job that wrote a mask, a sum or an archive paid it."""
    path = tmp_path / "a.mrcz"
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from mrczflow import mrcz\n"
        "path = sys.argv[1]\n"
        "if sys.argv[2] == 'write':\n"
        "    mrcz.write(path, np.arange(2 * 30 * 40, dtype=np.uint8).reshape(2, 30, 40))\n"
        "else:\n"
        "    data = mrcz.read(path)\n"
        "    assert data.shape == (2, 30, 40) and data[1, 29, 39] == (2 * 30 * 40 - 1) % 256\n"
        "assert 'blosc2' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), "write"], check=True)
    subprocess.run([sys.executable, "-c", code, str(path), "read"], check=True)


def test_the_per_stack_steps_do_not_load_what_they_do_not_use():
    """Rule outliers checks the gain's orientation with the fit's robust clipping, not the fit (which brings
    scipy.optimize: 0.4 s a job); rule koma scores on half sums (no BLAS routines of scipy.linalg); the
    report's radius curve needs the gamma fit only for a gamma gain."""
    code = (
        "import sys\n"
        "import mrczflow.outliers.steps, mrczflow.koma.steps, mrczflow.report.steps\n"
        "loaded = [m for m in ('scipy.optimize', 'scipy.linalg', 'mrczflow.gain.fit') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
