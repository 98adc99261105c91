"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def leftovers(folder: Path) -> list[str]:
    """Temporary files an aborted write might have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def counts() -> np.ndarray:
    """A small Poisson count stack (uint8)."""
    return np.random.default_rng(7).poisson(1.0, (6, 48, 40)).astype(np.uint8)
