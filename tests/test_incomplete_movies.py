"""Half-written movies are refused, never archived short: TIFF and EER cut at every page boundary,
movies whose frame count disagrees with their mdoc, and impossible mdoc values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import tifffile

from mrczflow.simulate.outputs import write_mdoc
from mrczflow.storage.exposure import exposure_from_mdoc
from mrczflow.storage.movies import IngestError, ReadAhead, open_movie
from mrczflow.storage.settings import IngestSettings
from mrczflow.storage.steps import ingest

from .eer_files import write_eer


def mdoc(movie: Path, n_frames: int) -> Path:
    return write_mdoc(
        movie,
        shape=(32, 40),
        pixel_size=1.06,
        voltage=300,
        dose_rate=4.0,
        frame_time=0.25,
        n_frames=n_frames,
        when=dt.datetime(2026, 11, 26, 9, 0, 0),
        data_mode=6,
    )


def page_boundaries(path: Path) -> list[int]:
    """Every length at which the file holds whole pages only: the start of each page after the first."""
    with tifffile.TiffFile(path) as tif:
        starts = [min(page.offset, *page.dataoffsets) for page in tif.pages]
    return sorted(set(starts[1:]))


def read_all(path: Path, fmt: str = "auto", eer_group: int = 1) -> int:
    with open_movie(path, fmt, eer_group) as movie:
        return sum(1 for _ in movie.frames())


def read_all_ahead(path: Path) -> int:
    """As :func:`read_all`, decoding in ingest's second thread (ReadAhead)."""
    with open_movie(path) as movie, ReadAhead(movie.frames()) as frames:
        return sum(1 for _ in frames)


def tiff(path: Path, frames: int = 6) -> None:
    rng = np.random.default_rng(1)
    with tifffile.TiffWriter(path) as tif:
        for _ in range(frames):
            tif.write(rng.poisson(1.0, (32, 40)).astype(np.uint8), compression="lzw", contiguous=False)


def test_a_tiff_cut_at_every_page_boundary_is_refused(tmp_path):
    whole = tmp_path / "whole.tif"
    tiff(whole)
    assert read_all(whole) == 6
    raw = whole.read_bytes()
    cuts = page_boundaries(whole)
    assert len(cuts) >= 5
    for cut in [*cuts, *range(8, len(raw), 97)]:
        (tmp_path / "cut.tif").write_bytes(raw[:cut])
        for read in (read_all, read_all_ahead):
            with pytest.raises(IngestError) as info:
                read(tmp_path / "cut.tif")
            assert str(info.value).startswith(str(tmp_path / "cut.tif")) and "\n" not in str(info.value)


def test_an_eer_cut_at_every_page_boundary_is_refused(tmp_path):
    events = (np.random.default_rng(2).random((8, 24, 32)) < 0.05).astype(np.uint8)
    whole = tmp_path / "whole.eer"
    write_eer(whole, events)
    assert read_all(whole, eer_group=2) == 4
    raw = whole.read_bytes()
    for cut in page_boundaries(whole):
        (tmp_path / "cut.eer").write_bytes(raw[:cut])
        with pytest.raises(IngestError):
            read_all(tmp_path / "cut.eer", eer_group=2)


def test_tiny_and_empty_files_give_one_line(tmp_path):
    for name, content in (
        ("eight.tif", b"II*\x00\x08\x00\x00\x00"),
        ("empty.tif", b""),
        ("text.eer", b"hello"),
    ):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(IngestError, match=name):
            read_all(tmp_path / name)


def test_a_movie_shorter_than_its_mdoc_says_is_not_archived(tmp_path):
    movie = tmp_path / "m.tif"
    tiff(movie, frames=5)
    mdoc(movie, 6)
    with pytest.raises(IngestError, match="has 5 frames but mdoc .* says 6: incomplete"):
        ingest(movie, tmp_path / "c.mrcz", tmp_path / "r.json", stack="m")
    assert not (tmp_path / "c.mrcz").exists() and not (tmp_path / "r.json").exists()
    with pytest.raises(IngestError, match="ingest.expected_frames says 8"):
        ingest(
            movie,
            tmp_path / "c.mrcz",
            tmp_path / "r.json",
            stack="m",
            settings=IngestSettings.from_config(
                {"expected_frames": 8, "dose": {"source": "measured", "frame_time": 1}}
            ),
        )
    mdoc(movie, 5)
    record = ingest(movie, tmp_path / "c.mrcz", tmp_path / "r.json", stack="m")
    assert record["shape"][0] == 5 and record["source_integrity"].startswith("TIFF from the detector")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("DoseRate", "-5"),
        ("DoseRate", "inf"),
        ("DoseRate", "0"),
        ("ExposureTime", "-2"),
        ("NumSubFrames", "0"),
    ],
)
def test_impossible_mdoc_values_are_refused_naming_file_field_and_value(tmp_path, field, value):
    path = mdoc(tmp_path / "m.mrc", 8)
    text = path.read_text()
    lines = [f"{field} = {value}" if line.startswith(f"{field} =") else line for line in text.splitlines()]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError, match=rf"{path}: {field} = .*{value}.* is impossible"):
        exposure_from_mdoc(path)


def test_a_malformed_mdoc_value_gives_one_line_naming_the_field(tmp_path):
    path = mdoc(tmp_path / "m.mrc", 8)
    path.write_text(path.read_text().replace("NumSubFrames = 8", "NumSubFrames = 2.5"))
    with pytest.raises(IngestError, match="NumSubFrames") as info:
        exposure_from_mdoc(path)
    assert "\n" not in str(info.value)


def test_an_empty_mdoc_gives_one_line(tmp_path):
    (tmp_path / "m.mrc.mdoc").write_text("")
    with pytest.raises(IngestError, match="m.mrc.mdoc"):
        exposure_from_mdoc(tmp_path / "m.mrc.mdoc")


def test_a_corrupt_page_decoded_ahead_is_refused_at_that_page_and_nothing_is_archived(tmp_path):
    """With two threads ingest decodes the next frames in a second thread (ReadAhead): an error there
    is raised in the step at the frame it happened, as one line, and no archive is left."""
    movie = tmp_path / "m.tif"
    tiff(movie, frames=6)
    mdoc(movie, 6)
    whole = ingest(movie, tmp_path / "ok.mrcz", tmp_path / "ok.json", stack="m", threads=2)
    assert whole["shape"][0] == 6
    with tifffile.TiffFile(movie) as tif:
        start, length = tif.pages[3].dataoffsets[0], tif.pages[3].databytecounts[0]
    raw = bytearray(movie.read_bytes())
    raw[start : start + length] = np.random.default_rng(3).integers(0, 256, length, dtype=np.uint8).tobytes()
    movie.write_bytes(bytes(raw))
    with open_movie(movie) as source, ReadAhead(source.frames()) as frames:
        seen = []
        with pytest.raises(IngestError, match="page 3 is corrupt"):
            for frame in frames:
                seen.append(frame)
    assert len(seen) == 3
    with pytest.raises(IngestError) as info:
        ingest(movie, tmp_path / "c.mrcz", tmp_path / "r.json", stack="m", threads=2)
    assert str(info.value).startswith(f"{movie}: page 3 is corrupt") and "\n" not in str(info.value)
    assert not (tmp_path / "c.mrcz").exists() and not (tmp_path / "r.json").exists()


def test_leaving_a_read_ahead_early_stops_its_thread():
    """A step that stops reading (an error of its own) leaves no decoding thread behind."""
    import threading

    frames = (np.full((4, 4), i) for i in range(100))
    with ReadAhead(frames, depth=2) as ahead:
        first = next(iter(ahead))
    assert first[0, 0] == 0
    assert not any(thread.name == "read-ahead" for thread in threading.enumerate())
