"""Bit-exact round trips through our own reader and writer."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mrczflow import mrcz
from mrczflow.mrcz.codec import CODEC_IDS

DTYPES = [np.dtype(d) for d in mrcz.SUPPORTED_DTYPES]
FILTERS = ["bitshuffle", "shuffle", "none"]


def arrays(dtype: np.dtype) -> st.SearchStrategy[np.ndarray]:
    """Arrays of any bit pattern (NaN payloads and inf included): storage must not care."""
    shapes = st.one_of(
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=24),
    )
    return shapes.flatmap(
        lambda shape: hnp.arrays(np.uint8, (*shape, dtype.itemsize)).map(
            lambda raw: raw.view(dtype).reshape(shape)
        )
    )


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    assert b.dtype == a.dtype and b.shape == a.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("codec", sorted(CODEC_IDS))
@pytest.mark.parametrize("shuffle", FILTERS)
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_mrcz_round_trip_is_bit_exact(dtype, codec, shuffle, data):
    array = data.draw(arrays(dtype))
    level = data.draw(st.integers(0, 9))
    blocksize = data.draw(st.sampled_from([0, 4096, 1 << 20]))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.mrcz"
        compression = mrcz.Compression(
            codec=codec, level=level, shuffle=shuffle, blocksize=blocksize, threads=2
        )
        mrcz.write(path, array, compression=compression)
        assert_identical(array, mrcz.read(path))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_plain_mrc_round_trip_is_bit_exact(dtype, data):
    array = data.draw(arrays(dtype))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.mrc"
        mrcz.write(path, array, compression=None)
        assert_identical(array, mrcz.read(path))


def test_frame_access_reads_only_what_is_asked(tmp_path, counts):
    path = tmp_path / "s.mrcz"
    mrcz.write(path, counts)
    assert_identical(counts[3], mrcz.read(path, frames=3))
    assert_identical(counts[-1], mrcz.read(path, frames=-1))
    assert_identical(counts[1:4], mrcz.read(path, frames=slice(1, 4)))
    assert_identical(counts[::2], mrcz.read(path, frames=range(0, 6, 2)))
    with mrcz.MrczReader(path) as reader:
        assert [f.tobytes() for f in reader] == [f.tobytes() for f in counts]
        with pytest.raises(IndexError):
            reader.read_frame(6)


def test_streaming_writer_matches_whole_write(tmp_path, counts):
    with mrcz.MrczWriter(tmp_path / "s.mrcz", counts.shape[1:], np.uint8) as writer:
        for frame in counts:
            writer.write_frame(frame)
    assert_identical(counts, mrcz.read(tmp_path / "s.mrcz"))


def test_writer_refuses_silent_conversion(tmp_path, counts):
    with (
        pytest.raises(TypeError, match="expected uint8"),
        mrcz.MrczWriter(tmp_path / "s.mrcz", (48, 40), np.uint8) as w,
    ):
        w.write_frame(counts[0].astype(np.int16))
    assert not (tmp_path / "s.mrcz").exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_metadata_of_any_size_is_read_without_decoding(tmp_path, counts, fmt, monkeypatch):
    big = {"positions": list(range(200_000)), "note": "é" * 1000, "nested": {"a": [1.5, None, True]}}
    path = tmp_path / "m.mrcz"
    mrcz.write(
        path,
        counts,
        metadata=big,
        metadata_format=fmt,
        voxel_size=1.06,
        voltage=300,
        cs=2.7,
        gain=1.5,
        dose_per_frame=1.2,
        exposure_time=0.2,
    )

    def no_decoding(*args, **kwargs):
        raise AssertionError("metadata access decoded data")

    monkeypatch.setattr("mrczflow.mrcz.reader.decompress_frame", no_decoding)
    with mrcz.MrczReader(path) as reader:
        assert reader.metadata == big
        h = reader.header
        assert h.voxel_size == pytest.approx((1.06, 1.06, 1.06))
        assert (h.voltage, h.gain) == (300.0, 1.5)
        assert h.cs == pytest.approx(2.7)
        assert reader.extended["dose_per_frame"] == 1.2
        assert reader.extended["exposure_time"] == 0.2
        assert (h.dmin, h.dmax) == (counts.min(), counts.max())


def test_auto_shuffle_picks_per_stack(tmp_path):
    rng = np.random.default_rng(0)
    for mean, expected in [(0.5, "bitshuffle"), (6.0, "none")]:
        stack = rng.poisson(mean, (2, 64, 64)).astype(np.uint8)
        mrcz.write(tmp_path / "a.mrcz", stack, compression=mrcz.Compression(shuffle="auto"))
        with mrcz.MrczReader(tmp_path / "a.mrcz") as reader:
            assert reader.footer["compression"]["shuffle"] == expected
            assert_identical(stack, reader.read())


def test_every_file_carries_a_checksum_of_its_decoded_data(tmp_path, counts):
    from mrczflow.mrcz.footer import checksum, combined_checksum

    expected = combined_checksum([checksum(frame) for frame in counts])
    for name, compression in [("a.mrcz", mrcz.Compression()), ("a.mrc", None)]:
        mrcz.write(tmp_path / name, counts, compression=compression)
        with mrcz.MrczReader(tmp_path / name) as reader:
            assert reader.whole_checksum == expected
            assert reader.verify_all() is True
    with mrcz.MrczReader(tmp_path / "a.mrcz") as reader:
        assert reader.frame_checksums == [checksum(frame) for frame in counts]


def test_parallel_and_streaming_writes_store_the_same_data(tmp_path, counts):
    mrcz.write(tmp_path / "parallel.mrcz", counts, compression=mrcz.Compression(threads=2))
    with mrcz.MrczWriter(
        tmp_path / "serial.mrcz", counts.shape[1:], np.uint8, compression=mrcz.Compression(threads=2)
    ) as writer:
        for frame in counts:
            writer.write_frame(frame)
    a, b = mrcz.MrczReader(tmp_path / "parallel.mrcz"), mrcz.MrczReader(tmp_path / "serial.mrcz")
    with a, b:
        assert a.frame_checksums == b.frame_checksums and a.whole_checksum == b.whole_checksum
        assert (
            (a.header.dmin, a.header.dmax) == (b.header.dmin, b.header.dmax) == (counts.min(), counts.max())
        )
        assert_identical(a.read(), b.read())


def test_nan_is_stored_and_statistics_are_marked_not_computed(tmp_path):
    data = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    data[1, 2, 3] = np.nan
    for name, compression in [("n.mrcz", mrcz.Compression()), ("n.mrc", None)]:
        mrcz.write(tmp_path / name, data, compression=compression)
        with mrcz.MrczReader(tmp_path / name) as reader:
            assert reader.header.dmin is None and reader.header.dmax is None
            assert_identical(data, reader.read())
