"""What every workflow job shares: its log banner, progress bar, JSON records, and its verdict.

A job's log starts with :func:`job_banner` and ends with either
``mrczflow <step>: <stack> done`` or one line ``error: <stack>: <reason>``
(:func:`run_guarded`); :func:`error_line` reads that verdict back, which is how
the report names the stacks that failed.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .fileio import atomic_path


def job_banner(step: str, target: str) -> str:
    """First log line of a job: what, where, and the SLURM job id when there is one."""
    slurm = os.environ.get("SLURM_JOB_ID")
    where = f"SLURM job {slurm}" if slurm else "no SLURM job"
    return f"mrczflow {step}: {target} on {socket.gethostname()} ({where}, pid {os.getpid()})"


def progress(total: int, what: str) -> tqdm:
    """A progress bar for logs: plain ASCII, at most one update a second."""
    return tqdm(
        total=total, desc=what, unit="frame", ascii=True, mininterval=1.0, file=sys.stderr, disable=False
    )


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None: JSON has no Infinity or NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict(item) for item in value]
    return value


def write_json(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Write ``record`` as strict JSON (non-finite numbers become null), atomically."""
    text = json.dumps(_strict(record), indent=2, sort_keys=True, default=str, allow_nan=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def run_guarded(stack: str, step: str, action: Callable[[], object]) -> None:
    """Run ``action()``; a known failure becomes one line ``error: <stack>: ...`` on stderr and exit 1.

    Outputs are written atomically, so a failed step leaves no partial file.
    """
    from .gain.reference import GainError
    from .mrcz import MrczError
    from .settings import SettingsError
    from .storage.decimate import DecimationError
    from .storage.movies import IngestError

    print(job_banner(step, stack), file=sys.stderr, flush=True)
    try:
        action()
    except (MrczError, IngestError, GainError, DecimationError, SettingsError, ValueError, OSError) as exc:
        print(f"error: {stack}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print(f"mrczflow {step}: {stack} done", file=sys.stderr, flush=True)


def error_line(log: str | os.PathLike) -> str | None:
    """The ``error: ...`` line a failed job leaves as its log's verdict (None when it succeeded or never ran)."""
    log = Path(log)
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in lines if line.startswith("error: ")]
    done = any(line.startswith("mrczflow ") and line.endswith(" done") for line in lines)
    return errors[-1] if errors and not done else None
