"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI replays the same examples every run (a push must not land or fail by chance); locally each run
# explores new ones, and a failure found is kept in .hypothesis/ and replayed until fixed.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def leftovers(folder: Path) -> list[str]:
    """Temporary files an aborted write might have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def counts() -> np.ndarray:
    """A small Poisson count stack (uint8)."""
    return np.random.default_rng(7).poisson(1.0, (6, 48, 40)).astype(np.uint8)
