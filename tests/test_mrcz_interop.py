"""Files pass between us and the references: python-mrcz (both ways) and mrcfile."""

from __future__ import annotations

import warnings

import mrcfile
import mrcz as reference  # python-mrcz 0.6.0, the oracle; installed by CI, never skipped
import numpy as np
import pytest

from mrczflow import mrcz
from mrczflow.mrcz.modes import STANDARD_DTYPES

SHARED = ["int8", "int16", "uint16", "int32", "float32", "complex64"]
CODECS = ["zstd", "lz4", "lz4hc", "zlib", "blosclz"]


def sample(dtype: str, shape=(5, 37, 29)) -> np.ndarray:
    rng = np.random.default_rng(3)
    values = rng.integers(-100 if dtype in ("int8", "int16") else 0, 120, shape)
    if dtype == "complex64":
        return (values + 1j * values[::-1]).astype(np.complex64)
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", SHARED)
@pytest.mark.parametrize("codec", CODECS)
def test_reference_reads_ours(tmp_path, dtype, codec):
    data = sample(dtype)
    mrcz.write(
        tmp_path / "ours.mrcz",
        data,
        compression=mrcz.Compression(codec=codec),
        voxel_size=1.3,
        voltage=300,
        cs=2.7,
        gain=2.0,
    )
    array, header = reference.readMRC(str(tmp_path / "ours.mrcz"))
    assert array.dtype == data.dtype and np.array_equal(array, data)
    assert header["compressor"] == codec
    assert header["voltage"] == 300 and header["gain"] == 2.0
    assert np.allclose(header["pixelsize"], 1.3)


@pytest.mark.parametrize("dtype", SHARED)
@pytest.mark.parametrize("codec", [*CODECS, None])
def test_we_read_reference(tmp_path, dtype, codec):
    data = sample(dtype)
    path = str(tmp_path / "ref.mrcz")
    reference.writeMRC(
        data,
        path,
        compressor=codec,
        pixelsize=[1.3, 1.3, 1.3],
        voltage=200.0,
        C3=2.0,
        gain=1.5,
        meta={"dose": 0.8, "operator": "ada"},
    )
    with mrcz.MrczReader(path) as reader:
        out = reader.read()
        assert out.dtype == data.dtype and np.array_equal(out, data)
        assert np.array_equal(reader.read(3), data[3])
        assert reader.header.voxel_size == pytest.approx((1.3, 1.3, 1.3))
        assert (reader.header.voltage, reader.header.gain) == (200.0, 1.5)
        assert reader.metadata == {"dose": 0.8, "operator": "ada"}
        assert reader.verify_all() is None  # python-mrcz stores no checksums


def test_uint8_looks_like_int8_with_same_bytes_to_reference_and_mrcfile(tmp_path):
    counts = np.random.default_rng(0).poisson(40, (3, 30, 20)).astype(np.uint8)
    counts[0, 0, 0] = 255
    mrcz.write(tmp_path / "u.mrcz", counts)
    array, _ = reference.readMRC(str(tmp_path / "u.mrcz"))
    assert array.dtype == np.int8 and np.array_equal(array.view(np.uint8), counts)
    mrcz.write(tmp_path / "u.mrc", counts, compression=None)
    with mrcfile.open(tmp_path / "u.mrc") as m:
        assert m.data.dtype == np.int8 and np.array_equal(m.data.view(np.uint8), counts)
    assert mrcz.read(tmp_path / "u.mrc").dtype == np.uint8
    assert mrcfile.validate(str(tmp_path / "u.mrc"))


def test_reference_refuses_uint8_and_float16(tmp_path):
    """Why our uint8 is mode 0 + IMOD flags: the reference cannot write uint8 at all."""
    with pytest.raises(TypeError):
        reference.writeMRC(np.zeros((2, 4, 4), np.uint8), str(tmp_path / "r.mrcz"), compressor="zstd")


@pytest.mark.parametrize("dtype", STANDARD_DTYPES)
def test_mrcfile_opens_and_validates_our_plain_output(tmp_path, dtype):
    data = sample("float32" if dtype == "float16" else dtype).astype(dtype)
    path = tmp_path / f"{dtype}.mrc"
    mrcz.write(path, data, compression=None, voxel_size=1.06)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with mrcfile.open(path) as m:
            expected = data.view(np.int8) if dtype == "uint8" else data
            assert np.array_equal(m.data, expected)
            assert m.voxel_size.x == pytest.approx(1.06)
    assert mrcfile.validate(str(path)), f"mrcfile.validate failed for {dtype}"


def test_mrcfile_validates_single_images(tmp_path):
    mrcz.write(tmp_path / "img.mrc", sample("float32")[0], compression=None)
    assert mrcfile.validate(str(tmp_path / "img.mrc"))
    assert mrcz.read(tmp_path / "img.mrc").shape == (37, 29)


def test_we_read_mrcfile_output(tmp_path):
    data = sample("int16")
    with mrcfile.new(tmp_path / "m.mrc") as m:
        m.set_data(data)
        m.voxel_size = 0.9
    assert np.array_equal(mrcz.read(tmp_path / "m.mrc"), data)


def test_imod_4bit_mode_101(tmp_path):
    """IMOD packs two 4-bit pixels per byte, low nibble first, rows padded to whole bytes."""
    rng = np.random.default_rng(5)
    for nx in (6, 7):
        pixels = rng.integers(0, 16, (2, 3, nx)).astype(np.uint8)
        padded = np.zeros((2, 3, nx + nx % 2), np.uint8)
        padded[..., :nx] = pixels
        packed = (padded[..., 0::2] | (padded[..., 1::2] << 4)).astype(np.uint8)
        header = np.zeros(256, "<i4")
        header[:4] = (nx, 3, 2, 101)
        raw = bytearray(header.tobytes())
        raw[208:212] = b"MAP "
        raw[212:214] = b"\x44\x44"
        (tmp_path / "p.mrc").write_bytes(bytes(raw) + packed.tobytes())
        assert np.array_equal(mrcz.read(tmp_path / "p.mrc"), pixels)
