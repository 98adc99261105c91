"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI replays the same examples every run (a push must not land or fail by chance); locally each run
# explores new ones, and a failure found is kept in .hypothesis/ and replayed until fixed.
# No example has a deadline: tests never assert on wall time, and hypothesis' default (200 ms an
# example) is one that a busy 2-core machine can miss on examples that write files.
settings.register_profile("local", deadline=None)
settings.register_profile("ci", derandomize=True, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "local")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        help="also run the tests marked slow (whole workflow runs, ~20 min on 2 cores; CI runs them)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The default run is the fast tier: tests marked slow run with --slow (or when -m names markers)."""
    if config.getoption("--slow") or config.option.markexpr:
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


def leftovers(folder: Path) -> list[str]:
    """Temporary files an aborted write might have left behind."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def counts() -> np.ndarray:
    """A small Poisson count stack (uint8)."""
    return np.random.default_rng(7).poisson(1.0, (6, 48, 40)).astype(np.uint8)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The built-in demo, deployed and run once with ``snakemake --cores 2`` (README's pipeline command);
    the tests that read it (README, report) share it and must not change it. ``(folder, result)``."""
    from .workflow_helpers import deploy, snakemake

    dest = deploy(tmp_path_factory.mktemp("demo") / "wf")
    return dest, snakemake(dest, "--cores", "2")
