"""The list of movies found complete: what a live session's workflow may take (config ``movies_ready``).

One JSON object a line, appended as movies are taken: the movie's path as the
session's glob gives it, when its last byte was written (its modification
time) and when it was taken. JSON keeps any file name whole (tabs, newlines).
A line is written with its newline in one ``write`` and flushed to disk, so a
watcher killed mid-write leaves at most an unfinished last line, which is not
read (that movie is taken again on the next start).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_entries(path: str | os.PathLike) -> list[dict]:
    """Every finished line of the list (none when the file does not exist yet)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.split("\n")[:-1]:  # the part after the last newline is unfinished
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("movie"), str):
            entries.append(entry)
    return entries


def read_ready(path: str | os.PathLike) -> set[str]:
    """The paths of the movies found complete."""
    return {entry["movie"] for entry in read_entries(path)}


def append_ready(path: str | os.PathLike, movie: str, last_byte: float, taken: float) -> None:
    """Add ``movie`` to the list: one line, flushed and synced before this returns."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"movie": movie, "last_byte": last_byte, "taken": taken}, ensure_ascii=True) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        if handle.tell() and not _ends_with_newline(path):
            handle.write("\n")  # end an unfinished line a kill left behind, so this one stands alone
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())


def _ends_with_newline(path: str | os.PathLike) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
