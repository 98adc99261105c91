"""Bad input: one line naming the file and the fault, never a wrong array, never a partial file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrczflow import mrcz
from mrczflow.cli import main
from mrczflow.mrcz.header import HEADER_BYTES

from .conftest import leftovers


@pytest.fixture
def good(tmp_path, counts) -> bytes:
    mrcz.write(tmp_path / "good.mrcz", counts)
    return (tmp_path / "good.mrcz").read_bytes()


def expect_error(path: Path, pattern: str) -> mrcz.MrczError:
    with pytest.raises(mrcz.MrczError, match=pattern) as info:
        mrcz.read(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    return info.value


def patch(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


def test_truncated(tmp_path, good):
    for cut in (len(good) - 1, len(good) // 2, 3000):
        (tmp_path / "t.mrcz").write_bytes(good[:cut])
        expect_error(tmp_path / "t.mrcz", "truncated")
    (tmp_path / "h.mrcz").write_bytes(good[:500])
    expect_error(tmp_path / "h.mrcz", "truncated: 500 bytes")


def test_size_disagrees_with_header(tmp_path, good, counts):
    (tmp_path / "n.mrcz").write_bytes(patch(good, 8, struct.pack("<i", 7)))
    expect_error(tmp_path / "n.mrcz", "header says 7 frames")
    (tmp_path / "x.mrcz").write_bytes(good + b"junk")
    expect_error(tmp_path / "x.mrcz", "size disagrees")
    mrcz.write(tmp_path / "p.mrc", counts, compression=None)
    plain = (tmp_path / "p.mrc").read_bytes()
    (tmp_path / "p2.mrc").write_bytes(plain + b"12")
    expect_error(tmp_path / "p2.mrc", "2 bytes longer")
    (tmp_path / "p3.mrc").write_bytes(patch(plain, 0, struct.pack("<i", 41)))
    expect_error(tmp_path / "p3.mrc", "truncated: header says 6 frames of 41x48")


def test_unknown_mode_and_codec(tmp_path, good):
    (tmp_path / "m.mrcz").write_bytes(patch(good, 12, struct.pack("<i", 6013)))
    expect_error(tmp_path / "m.mrcz", "unknown MRC mode 13")
    (tmp_path / "c.mrcz").write_bytes(patch(good, 12, struct.pack("<i", 4000)))
    expect_error(tmp_path / "c.mrcz", r"codec id 4 \(snappy\)")


def test_not_mrc(tmp_path):
    (tmp_path / "n.mrc").write_bytes(b"GIF89a" + bytes(2000))
    expect_error(tmp_path / "n.mrc", "not an MRC file")
    expect_error(tmp_path / "missing.mrc", "no such file")


def test_corrupt_chunk_is_reported_by_frame(tmp_path, good, counts):
    with mrcz.MrczReader(tmp_path / "good.mrcz") as reader:
        offset, size = reader._offsets[4], reader._sizes[4]
    middle = offset + size // 2
    flipped = patch(good, middle, bytes([good[middle] ^ 0x5A]))
    (tmp_path / "c.mrcz").write_bytes(flipped)
    with pytest.raises(mrcz.MrczError, match="frame 4") as info:
        mrcz.read(tmp_path / "c.mrcz")
    if isinstance(info.value, mrcz.ChecksumError):
        assert info.value.frame == 4
    # The other frames are still readable one by one.
    assert np.array_equal(mrcz.read(tmp_path / "c.mrcz", frames=3), counts[3])
    (tmp_path / "h.mrcz").write_bytes(patch(good, offset + 4, struct.pack("<I", 999)))
    expect_error(tmp_path / "h.mrcz", "corrupt chunk at frame 4")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 10_000), byte=st.integers(1, 255))
def test_any_flipped_byte_never_gives_a_wrong_array(tmp_path, good, counts, position, byte):
    position %= len(good)
    path = tmp_path / "f.mrcz"
    path.write_bytes(patch(good, position, bytes([good[position] ^ byte])))
    try:
        data = mrcz.read(path)
    except mrcz.MrczError as exc:
        assert "\n" not in str(exc)
        return
    # Accepted only if the flip hit bytes that do not describe the data (labels, padding).
    assert np.array_equal(data, counts)


def test_corrupt_footer(tmp_path, good):
    (tmp_path / "f.mrcz").write_bytes(good[:-20] + bytes(20))
    expect_error(tmp_path / "f.mrcz", "corrupt footer")
    ext = good[HEADER_BYTES : HEADER_BYTES + 1024].replace(b'"footer"', b'"fooTer"')
    (tmp_path / "e.mrcz").write_bytes(good[:HEADER_BYTES] + ext + good[HEADER_BYTES + 1024 :])
    expect_error(tmp_path / "e.mrcz", "no footer location")
    (tmp_path / "j.mrcz").write_bytes(patch(good, HEADER_BYTES, b"{{"))
    expect_error(tmp_path / "j.mrcz", "corrupt extended header")
    for old, new, fault in [
        (b'"uint8"', b'"uinu8"', "dtype 'uinu8'"),
        (b'"uint8"', b'"int16"', "dtype 'int16'"),
        (b'"ndim":3', b'"ndim":2', "ndim 2 for 6 frames"),
    ]:
        ext = good[HEADER_BYTES : HEADER_BYTES + 1024].replace(old, new)
        (tmp_path / "d.mrcz").write_bytes(good[:HEADER_BYTES] + ext + good[HEADER_BYTES + 1024 :])
        expect_error(tmp_path / "d.mrcz", fault)


def test_failed_writes_leave_nothing(tmp_path, counts):
    with (
        pytest.raises(RuntimeError),
        mrcz.MrczWriter(tmp_path / "a.mrcz", counts.shape[1:], np.uint8) as writer,
    ):
        writer.write_frame(counts[0])
        raise RuntimeError("job killed")
    with (
        pytest.raises(mrcz.MrczError, match="no frames"),
        mrcz.MrczWriter(tmp_path / "b.mrcz", (4, 4), np.uint8),
    ):
        pass
    assert list(tmp_path.iterdir()) == []
    # An existing file is untouched by a failed overwrite.
    mrcz.write(tmp_path / "c.mrcz", counts)
    before = (tmp_path / "c.mrcz").read_bytes()
    with pytest.raises(TypeError):
        mrcz.write(tmp_path / "c.mrcz", counts.astype(np.float64))
    assert (tmp_path / "c.mrcz").read_bytes() == before and leftovers(tmp_path) == []


def test_cli_bad_input_one_line_nonzero_exit_no_output(tmp_path, counts):
    mrcz.write(tmp_path / "ok.mrc", counts, compression=None)
    (tmp_path / "bad.mrc").write_bytes((tmp_path / "ok.mrc").read_bytes()[:-100])
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(
        main, ["compress", str(tmp_path / "ok.mrc"), str(tmp_path / "bad.mrc"), str(out)]
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {tmp_path / 'bad.mrc'}: truncated: header says 6 frames of 40x48 (mode 0) = "
        f"{1024 + counts.nbytes} bytes, file has {1024 + counts.nbytes - 100}"
    ]
    assert sorted(p.name for p in out.iterdir()) == ["ok.mrcz"]
    result = CliRunner().invoke(main, ["info", str(tmp_path / "bad.mrc")])
    assert result.exit_code == 1 and "truncated" in result.stderr


def test_a_frame_is_never_decoded_into_a_copy_of_a_strided_buffer():
    """imagecodecs decodes into a flat view of the buffer; of a strided one that would be a copy (the frame lost)."""
    from mrczflow.mrcz.codec import DEFAULT_COMPRESSION, compress_frame, decompress_frame

    frame = np.arange(12 * 10, dtype=np.uint8).reshape(12, 10)
    chunk = compress_frame(frame, DEFAULT_COMPRESSION.resolved(frame))
    out = np.zeros((12, 20), np.uint8)
    with pytest.raises(ValueError, match="C-contiguous"):
        decompress_frame(chunk, out[:, ::2], 1)
    flat = np.zeros_like(frame)
    decompress_frame(chunk, flat, 1)
    assert np.array_equal(flat, frame)
