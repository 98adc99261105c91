"""Running the Snakemake workflow in a scratch copy, as a user would in a deployed folder."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def deploy(dest: Path) -> Path:
    """Copy the workflow (not the library, which is installed) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "Snakefile", dest)
    for folder in ("workflow", "config", "envs", "profiles"):
        shutil.copytree(REPO / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "cluster").symlink_to("profiles/cluster")
    return dest


def configure(dest: Path, **changes) -> dict:
    """Rewrite ``dest/config/config.yaml`` with ``changes`` (nested dicts are merged)."""
    path = dest / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config))
    return config


def session_with_vendor_gain(tmp_path: Path, raw: Path, indices, **koma) -> Path:
    """The workflow in ``tmp_path/wf`` on movies ``indices`` of a simulated session (arrived in
    ``tmp_path/incoming``), with the session's vendor gain and gamma off; ``koma`` settings merged."""
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    arrive(raw, inputs, indices)
    configure(
        dest,
        movies=str(inputs / "*.mrc"),
        gain={"reference": str(raw / "references" / "gain_vendor.mrc")},
        gamma={"enabled": False},
        koma=koma,
    )
    return dest


def snakemake(dest: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", *args], cwd=dest, capture_output=True, text=True, timeout=timeout)


def jobs_run(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Jobs per rule from Snakemake's job stats table."""
    counts: dict[str, int] = {}
    lines = (result.stdout + result.stderr).splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Job stats:"):
            for row in lines[i + 3 :]:
                parts = row.split()
                if len(parts) != 2 or not parts[1].isdigit():
                    break
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            break
    return counts


def arrive(raw: Path, inputs: Path, indices) -> None:
    """Movies ``indices`` of a simulated session (with their .mdoc) land in ``inputs``, as from a microscope."""
    inputs.mkdir(parents=True, exist_ok=True)
    for i in indices:
        for name in (f"stack_{i:04d}.mrc", f"stack_{i:04d}.mrc.mdoc"):
            shutil.copy(raw / "movies" / name, inputs / name)
