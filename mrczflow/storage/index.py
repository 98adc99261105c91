"""The session's index, results/session/stacks.tsv: one row a movie, in acquisition order.

The run that plans a session writes it (``workflow/rules/common.smk``): each stack's order, time,
status, source and the stages that failed last; and each file set aside, with the reason. The
report and the hand-off read their stacks from it (no command line grows with the session), and so
do the processes that run a run's jobs: a SLURM submission and its job steps read the session here
instead of looking at every movie again. So this module stays light to import.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fileio import atomic_path


def write_index(path: str | os.PathLike, rows: list[dict[str, str]]) -> bool:
    """Write the session's index (one TSV row a movie) only when it changed; say whether it did.

    Unchanged content keeps the file's time, so the rules that read it do not rerun.
    """
    columns = ("order", "stack", "time", "time_from", "status", "source", "reason", "failed")
    lines = ["\t".join(columns)]
    lines += [
        "\t".join(str(row.get(column, "")).replace("\t", " ").replace("\n", " ") for column in columns)
        for row in rows
    ]
    text = "\n".join(lines) + "\n"
    path = Path(path)
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return True


def read_index(path: str | os.PathLike) -> list[dict[str, str]]:
    """The rows :func:`write_index` wrote, in session order."""
    lines = Path(path).read_text().splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t"), strict=True)) for line in lines[1:]]
