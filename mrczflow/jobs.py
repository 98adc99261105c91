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
import signal
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


class Terminated(Exception):
    """The job was asked to stop (SIGTERM: a SLURM time limit, scancel, Ctrl-C of the workflow)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(f"stopped by signal {signal.Signals(signum).name} (time limit, scancel or interrupt)")


def run_guarded(stack: str, step: str, action: Callable[[], object]) -> None:
    """Run ``action()``; a known failure becomes one line ``error: <stack>: ...`` on stderr and exit 1.

    Outputs are written atomically, so a failed step leaves no partial file:
    SIGTERM is turned into an exception so that the writers' clean-up runs
    (only SIGKILL skips it; the next writer of the same output removes what
    it left, see :func:`mrczflow.fileio.temporary_sibling`).
    """
    print(job_banner(step, stack), file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        action()
    # Every error of ours (MrczError, IngestError, GainError, DecimationError, SettingsError) is a ValueError.
    except (ValueError, OSError, Terminated) as exc:
        print(f"error: {stack}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print(f"mrczflow {step}: {stack} done", file=sys.stderr, flush=True)


NO_VERDICT = (
    "error: ended without a verdict (killed: out of memory, SIGKILL or a node failure; or still running)"
)


def error_line(log: str | os.PathLike, *, unfinished: bool = False) -> str | None:
    """The ``error: ...`` line a failed job leaves as its log's verdict (None when it succeeded or never ran).

    With ``unfinished``, a log that has a job's banner but neither verdict
    (the job was killed before it could write one) counts as failed too.
    """
    log = Path(log)
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in lines if line.startswith("error: ")]
    done = any(line.startswith("mrczflow ") and line.endswith(" done") for line in lines)
    if done:
        return None
    if errors:
        return errors[-1]
    started = any(line.startswith("mrczflow ") for line in lines)
    return NO_VERDICT if unfinished and started else None
