"""The mrczflow command line."""

from __future__ import annotations

import json

import mrcfile
import numpy as np
from click.testing import CliRunner

from mrczflow import mrcz
from mrczflow.cli import main


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
