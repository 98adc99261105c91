"""Hand-off targets (issue 20) on a simulated session: every file read back, movies equal to the archive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import starfile
import tifffile

from mrczflow import mrcz
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate

from .workflow_helpers import session_with_vendor_gain, snakemake

pytestmark = pytest.mark.slow


def relative_spread(image: np.ndarray, block: int = 8) -> float:
    """Spread of block means relative to their mean: the fixed pattern a gain must remove."""
    ny, nx = (s // block * block for s in image.shape)
    blocks = image[:ny, :nx].reshape(ny // block, block, nx // block, block).mean(axis=(1, 3))
    return float(blocks.std() / blocks.mean())


def test_relion_motioncor_and_cryosparc_targets(tmp_path):
    raw = tmp_path / "raw"
    simulate(
        raw, SessionConfig(n_stacks=6, n_frames=8, seed=3), DetectorConfig(shape=(96, 128)), references=True
    )
    dest = session_with_vendor_gain(tmp_path, raw, range(6), radius=2)
    result = snakemake(dest, "--cores", "2", "relion", "motioncor", "cryosparc")
    assert result.returncode == 0, result.stderr[-3000:]
    handoff = dest / "results" / "handoff"

    star = starfile.read(handoff / "relion" / "movies.star", always_dict=True)
    assert star["optics"]["rlnVoltage"][0] == 300
    names = star["movies"]["rlnMicrographMovieName"].tolist()
    assert len(names) == 6
    total = None
    for name in names:
        movie = Path(name)
        assert movie.is_file()
        archive = dest / "results" / "mrcz" / f"{movie.stem}.mrcz"
        assert np.array_equal(tifffile.imread(movie), mrcz.read(archive))
        summed = tifffile.imread(movie).sum(axis=0, dtype=np.float64)
        total = summed if total is None else total + summed
        per_movie = starfile.read(handoff / "relion" / "movies" / f"{movie.stem}.star", always_dict=True)
        assert per_movie["general"]["rlnMicrographMovieName"] == name
        assert Path(per_movie["general"]["rlnMicrographGainName"]).is_file()
        assert "hot_pixels" in per_movie

    # The session gain of each program flattens the exported movies (all in TIFF order, no flags) as well
    # as the simulator's true response does (the oracle: what is left is specimen and shot noise).
    before = relative_spread(total)
    truth = Truth(raw / "truth" / "session.npz")
    oracle = relative_spread(total / truth.gain(float(np.median(truth.dose_rate))))
    for program in ("relion", "motioncor", "cryosparc"):
        commands = (handoff / program / "commands.txt").read_text()
        gain = tifffile.imread(handoff / program / "gain.tif")
        assert str(handoff / program / "gain.tif") in commands
        after = relative_spread(total * gain)
        assert after < 0.7 * before and after <= 1.02 * oracle, (program, before, after, oracle)
    assert "--gain_rot 0 --gain_flip 0" in (handoff / "relion" / "commands.txt").read_text()
    assert "-RotGain 0 -FlipGain 0" in (handoff / "motioncor" / "commands.txt").read_text()
    for rule in ("export_movie", "relion_movie"):
        assert (dest / "logs" / rule / "stack_0002.log").exists()
        assert (dest / "logs" / "benchmark" / rule / "stack_0002.tsv").exists()
    assert (dest / "logs" / "handoff" / "relion.log").read_text().rstrip().endswith("done")
