"""The mrczflow command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner

from mrczflow import mrcz
from mrczflow.cli import main
from mrczflow.simulate.outputs import write_mdoc
from mrczflow.storage.names import stack_name
from mrczflow.storage.settings import IngestSettings
from mrczflow.storage.steps import ingest

from .eer_files import write_eer


def test_compress_decompress_info_round_trip(tmp_path, counts):
    mrcz.write(tmp_path / "a.mrc", counts.astype(np.uint16), compression=None, voxel_size=1.06)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "compress",
            str(tmp_path / "a.mrc"),
            str(tmp_path / "a.mrcz"),
            "--codec",
            "lz4",
            "--level",
            "5",
            "--shuffle",
            "shuffle",
            "--blocksize",
            "65536",
            "--threads",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    with mrcz.MrczReader(tmp_path / "a.mrcz") as reader:
        assert reader.footer["compression"] == {
            "codec": "lz4",
            "level": 5,
            "shuffle": "shuffle",
            "blocksize": 65536,
            "threads": 1,
        }
        assert reader.header.voxel_size[0] > 1.05
    result = runner.invoke(main, ["decompress", str(tmp_path / "a.mrcz"), str(tmp_path / "b.mrc")])
    assert result.exit_code == 0, result.output
    assert mrcfile.validate(str(tmp_path / "b.mrc"))
    assert np.array_equal(mrcfile.open(tmp_path / "b.mrc").data, counts)
    result = runner.invoke(main, ["info", "--json", str(tmp_path / "a.mrcz")])
    report = json.loads(result.output)
    assert report["checksums"] == "ok" and report["codec"] == "lz4" and report["ratio"] > 1
    assert report["shape"] == list(counts.shape)


def test_many_files_into_a_folder(tmp_path, counts):
    names = []
    for i in range(3):
        mrcz.write(tmp_path / f"m{i}.mrc", counts + i, compression=None)
        names.append(str(tmp_path / f"m{i}.mrc"))
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["compress", *names, str(out)])
    assert result.exit_code == 0, result.output
    for i in range(3):
        assert np.array_equal(mrcz.read(out / f"m{i}.mrcz"), counts + i)
    result = CliRunner().invoke(main, ["compress", *names, str(tmp_path / "nofolder")])
    assert result.exit_code != 0 and "existing folder" in result.output


def tiff_movie(path: Path, counts: np.ndarray) -> None:
    """A K2/K3/Falcon-style counting movie: uint8, LZW, one page a frame."""
    with tifffile.TiffWriter(path) as tif:
        for frame in counts:
            tif.write(frame, compression="lzw", contiguous=False, metadata=None)


def test_a_tiff_movie_is_archived_bit_exact(tmp_path, counts):
    tiff_movie(tmp_path / "m.tif", counts)
    result = CliRunner().invoke(main, ["compress", str(tmp_path / "m.tif"), str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.mrcz").is_file()
    stored = mrcz.read(tmp_path / "m.mrcz")
    assert stored.dtype == np.uint8
    assert np.array_equal(stored, tifffile.imread(tmp_path / "m.tif"))  # decoded independently of mrczflow
    assert np.array_equal(stored, counts)
    with mrcz.MrczReader(tmp_path / "m.mrcz") as reader:
        assert reader.verify_all()
        assert reader.metadata["movie"]["format"] == "tiff" and reader.metadata["movie"]["stack"] == "m"


def test_an_eer_movie_is_archived_with_frames_summed_in_groups(tmp_path):
    events = (np.random.default_rng(3).random((8, 24, 32)) < 0.05).astype(np.uint8)
    write_eer(tmp_path / "m.eer", events)
    result = CliRunner().invoke(
        main, ["compress", "--eer-group", "2", str(tmp_path / "m.eer"), str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    expected = events.reshape(4, 2, 24, 32).sum(axis=1)
    assert np.array_equal(mrcz.read(tmp_path / "m.mrcz"), expected)
    decoded = tifffile.imread(tmp_path / "m.eer")  # imagecodecs' EER decoder, not mrczflow's reader
    assert np.array_equal(decoded.reshape(4, 2, 24, 32).sum(axis=1), expected)


def test_eer_group_defaults_to_the_workflows(tmp_path):
    group = IngestSettings().eer_group
    events = (np.random.default_rng(4).random((2 * group, 8, 16)) < 0.2).astype(np.uint8)
    write_eer(tmp_path / "m.eer", events)
    result = CliRunner().invoke(main, ["compress", str(tmp_path / "m.eer"), str(tmp_path / "m.mrcz")])
    assert result.exit_code == 0, result.output
    assert np.array_equal(mrcz.read(tmp_path / "m.mrcz"), events.reshape(2, group, 8, 16).sum(axis=1))


@pytest.mark.parametrize("fmt", ["tiff", "eer"])
def test_the_cli_writes_the_archive_the_ingest_step_writes(tmp_path, fmt):
    rng = np.random.default_rng(5)
    if fmt == "tiff":
        movie, n_frames, options, settings = tmp_path / "m.tif", 6, [], IngestSettings()
        tiff_movie(movie, rng.poisson(1.2, (n_frames, 32, 40)).astype(np.uint8))
    else:
        movie, n_frames, options, settings = (
            tmp_path / "m.eer",
            8,
            ["--eer-group", "4"],
            IngestSettings(eer_group=4),
        )
        write_eer(movie, (rng.random((n_frames, 32, 40)) < 0.1).astype(np.uint8))
    write_mdoc(  # the workflow reads dose metadata from it; so does the CLI when one is beside the movie
        movie,
        shape=(32, 40),
        pixel_size=1.06,
        voltage=300,
        dose_rate=4.0,
        frame_time=0.05,
        n_frames=n_frames,
        when=dt.datetime(2026, 11, 26, 9, 0, 0),
        data_mode=0,
    )
    ingest(movie, tmp_path / "ingest.mrcz", tmp_path / "r.json", stack=stack_name(movie), settings=settings)
    result = CliRunner().invoke(main, ["compress", *options, str(movie), str(tmp_path / "cli.mrcz")])
    assert result.exit_code == 0, result.output
    with mrcz.MrczReader(tmp_path / "ingest.mrcz") as ours, mrcz.MrczReader(tmp_path / "cli.mrcz") as cli:
        assert np.array_equal(cli.read(), ours.read())
        assert len(cli.frame_checksums) == cli.n_frames
        assert cli.frame_checksums == ours.frame_checksums and cli.whole_checksum == ours.whole_checksum
        assert cli.metadata == ours.metadata and cli.metadata["movie"]["dose_rate"] == 4.0
    assert (tmp_path / "cli.mrcz").read_bytes() == (tmp_path / "ingest.mrcz").read_bytes()


def test_a_truncated_tiff_is_one_error_line_and_the_other_inputs_still_run(tmp_path, counts):
    tiff_movie(tmp_path / "good.tif", counts)
    raw = (tmp_path / "good.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(raw[: len(raw) * 2 // 3])
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        main, ["compress", str(tmp_path / "cut.tif"), str(tmp_path / "good.tif"), str(out)]
    )
    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {tmp_path / 'cut.tif'}: "), result.stderr
    assert "incomplete" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["good.mrcz"]  # nothing partial, no temporary file
    assert np.array_equal(mrcz.read(out / "good.mrcz"), counts)


def test_counts_that_do_not_fit_uint8_and_float_nan_are_refused_one_line_each(tmp_path, counts):
    over = counts.astype(np.uint16)
    over[2, 3, 4] = 300
    tifffile.imwrite(tmp_path / "over.tif", over)
    nan = counts.astype(np.float32)
    nan[1, 1, 1] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", nan)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        main, ["compress", str(tmp_path / "over.tif"), str(tmp_path / "nan.tif"), str(out)]
    )
    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(
        f"error: {tmp_path / 'over.tif'}: frame 2: 1 above 255 (first at y=3, x=4: 300)"
    )
    assert lines[1].startswith(f"error: {tmp_path / 'nan.tif'}: float movie (float32)")
    assert list(out.iterdir()) == []
