"""Reading every movie format, recovering counts, gain orientation, dose metadata, decimation."""

from __future__ import annotations

import datetime as dt

import imagecodecs
import numpy as np
import pytest
import tifffile

from mrczflow import mrcz
from mrczflow.gain.reference import GainError, load_gain, orient
from mrczflow.simulate.outputs import write_mdoc
from mrczflow.storage.decimate import DecimationError, to_uint8
from mrczflow.storage.exposure import exposure_from_mdoc, measured_dose_rate
from mrczflow.storage.movies import IngestError, open_movie, recover_counts

from .eer_files import encode_frame, write_eer


@pytest.fixture
def events():
    return np.random.default_rng(0).random((6, 48, 64)) < 0.03


def test_eer_encoding_matches_the_imagecodecs_decoder(events):
    for frame in events:
        decoded = imagecodecs.eer_decode(encode_frame(frame), frame.shape, 7, 2, 2)
        assert np.array_equal(decoded, frame)


def test_eer_frames_are_summed_in_groups(tmp_path, events):
    write_eer(tmp_path / "m.eer", events)
    with open_movie(tmp_path / "m.eer", eer_group=3) as movie:
        assert movie.fmt == "eer" and movie.shape == (2, 48, 64) and movie.dtype == np.uint16
        frames = np.array(list(movie.frames()))
    assert np.array_equal(frames, events.reshape(2, 3, 48, 64).sum(axis=1))
    with pytest.raises(IngestError, match="6 EER frames do not divide into groups of 4"):
        open_movie(tmp_path / "m.eer", eer_group=4)


@pytest.mark.parametrize("compression", ["lzw", "zlib"])
def test_tiff_lzw_and_deflate(tmp_path, compression):
    counts = np.random.default_rng(1).poisson(1.5, (4, 30, 20)).astype(np.uint8)
    with tifffile.TiffWriter(tmp_path / "m.tif") as tif:
        for frame in counts:
            tif.write(frame, compression=compression, metadata=None)
    with open_movie(tmp_path / "m.tif") as movie:
        assert movie.shape == counts.shape and np.array_equal(np.array(list(movie.frames())), counts)


def test_unreadable_movies_give_one_line(tmp_path):
    (tmp_path / "x.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(IngestError, match="not a readable TIFF/EER file"):
        open_movie(tmp_path / "x.tif")
    (tmp_path / "x.dat").write_bytes(b"")
    with pytest.raises(IngestError, match="unknown movie extension '.dat'"):
        open_movie(tmp_path / "x.dat")
    with pytest.raises(IngestError, match="no such movie"):
        open_movie(tmp_path / "missing.mrc")


def test_recover_counts_exactly_or_refuse():
    rng = np.random.default_rng(2)
    counts = rng.poisson(2, (40, 50)).astype(np.uint16)
    gain = rng.uniform(0.7, 1.4, (40, 50)).astype(np.float32)
    recovered, residual = recover_counts(counts.astype(np.float32) * gain, gain, 0)
    assert np.array_equal(recovered, counts) and residual < 1e-3
    with pytest.raises(IngestError, match=r"frame 3: not integer counts times the gain reference \(residual"):
        recover_counts(counts.astype(np.float32) * gain, gain * 1.07, 3)
    smoothed = counts.astype(np.float32) * gain + 0.3
    with pytest.raises(IngestError, match="check gain.reference and its rotate/flip"):
        recover_counts(smoothed, gain, 0)
    broken = counts.astype(np.float32) * gain
    broken[1, 2] = np.nan
    with pytest.raises(IngestError, match=r"frame 0: 1 pixels are NaN or infinite \(first at y=1, x=2\)"):
        recover_counts(broken, gain, 0)


def test_gain_orientation_all_eight_and_shape_check(tmp_path):
    gain = np.arange(1, 13, dtype=np.float32).reshape(3, 4)
    seen = {orient(gain, r, f).tobytes() for r in (0, 90, 180, 270) for f in ("none", "y")}
    assert len(seen) == 8  # rotations x flip reach every orientation
    assert np.array_equal(orient(gain, 90, "none"), np.rot90(gain))
    assert np.array_equal(orient(gain, 0, "x"), gain[:, ::-1])
    mrcz.write(tmp_path / "g.mrc", gain, compression=None)
    assert load_gain(tmp_path / "g.mrc", (4, 3), rotate=270).shape == (4, 3)
    with pytest.raises(
        GainError, match=r"3x4 after rotate 0, but movie frames are 4x3; rotations that fit: \[90, 270\]"
    ):
        load_gain(tmp_path / "g.mrc", (4, 3))
    bad = gain.copy()
    bad[0, 1] = 0
    mrcz.write(tmp_path / "b.mrc", bad, compression=None)
    with pytest.raises(GainError, match="1 gain values are NaN, infinite, zero or negative"):
        load_gain(tmp_path / "b.mrc", (3, 4))


def test_dose_from_mdoc_and_measured(tmp_path):
    movie = tmp_path / "m.tif"
    when = dt.datetime(2026, 11, 24, 14, 5, 36)
    mdoc = write_mdoc(
        movie,
        shape=(30, 20),
        pixel_size=1.06,
        voltage=300,
        dose_rate=3.5,
        frame_time=0.2,
        n_frames=25,
        when=when,
        data_mode=6,
    )
    exposure = exposure_from_mdoc(mdoc)
    assert exposure.dose_rate == pytest.approx(3.5) and exposure.frame_time == pytest.approx(0.2)
    assert exposure.timestamp == "2026-11-24T14:05:36"
    with pytest.raises(IngestError, match="mdoc sidecar not found"):
        exposure_from_mdoc(tmp_path / "none.mdoc")
    assert measured_dose_rate(0.8, 0.2) == pytest.approx(4.0)


def test_decimation_is_lossless_or_loud():
    counts = np.array([[0, 3], [255, 7]], np.uint16)
    small, clipped = to_uint8(counts, 0)
    assert small.dtype == np.uint8 and np.array_equal(small, counts) and clipped == 0
    over = np.array([[0, 300], [256, 7]], np.int32)
    with pytest.raises(DecimationError, match=r"frame 4: 2 above 255 \(first at y=0, x=1: 300\)"):
        to_uint8(over, 4)
    assert to_uint8(over, 4, allow_clipping=True)[1] == 2
    with pytest.raises(DecimationError, match=r"1 below 0 \(first at y=1, x=0: -1\)"):
        to_uint8(np.array([[0, 1], [-1, 2]], np.int16), 0)
    with pytest.raises(DecimationError, match=r"1 pixels are not integer counts \(first at y=0, x=1: 1.5\)"):
        to_uint8(np.array([[0, 1.5]], np.float32), 0)
    with pytest.raises(DecimationError, match="1 pixels are NaN"):
        to_uint8(np.array([[np.nan, 1]], np.float32), 0)
