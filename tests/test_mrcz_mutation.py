"""Mutations of our own files: every read is one clean MrczError line, or identical data *and* metadata.

A byte flipped anywhere (main header, extended header, chunks, footer, plain
data) or a file cut at any length must never be read back as something else:
checked exhaustively over every byte of small MRCZ (msgpack and JSON footer)
and plain MRC files, whole reads and single-frame reads, and with random
multi-byte damage (hypothesis).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrczflow import mrcz
from mrczflow.mrcz.integrity import science_fields

KINDS = {
    "mrcz-msgpack": {"metadata_format": "msgpack"},
    "mrcz-json": {"metadata_format": "json"},
    "plain": {"compression": None},
}


def write(path: Path, kind: str) -> None:
    stack = np.random.default_rng(3).poisson(2, (3, 12, 20)).astype(np.uint8)
    options = dict(KINDS[kind])
    if kind != "plain":
        options.update(dose_per_frame=1.2, exposure_time=3.0, metadata={"movie": {"stack": "s", "frames": 3}})
    mrcz.write(path, stack, voxel_size=1.06, voltage=300.0, cs=2.7, **options)


def snapshot(path: Path, frame: int | None = None):
    """Everything a reader hands on: data, type, shape and every piece of metadata science uses."""
    with mrcz.MrczReader(path) as reader:
        data = reader.read() if frame is None else reader.read_frame(frame)
        return (
            data.tobytes(),
            str(data.dtype),
            data.shape,
            science_fields(reader.header, str(reader.dtype), reader.ndim, reader.extended),
            {k: v for k, v in reader.extended.items() if k != "footer"},
            reader.metadata,
            reader.footer.get("compression"),
        )


def outcome(path: Path, frame: int | None = None):
    try:
        return snapshot(path, frame)
    except mrcz.MrczError as exc:
        message = str(exc)
        assert message.startswith(str(path)) and "\n" not in message, message
        return None


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_single_byte_flip_is_refused_or_changes_nothing(tmp_path, kind):
    original = tmp_path / f"good.{kind}"
    write(original, kind)
    raw = original.read_bytes()
    expected = snapshot(original)
    expected_frame = snapshot(original, 1)
    bad = tmp_path / "bad.mrc"
    silent, refused = [], 0
    for offset in range(len(raw)):
        for mask in (0x01, 0x80):
            bad.write_bytes(raw[:offset] + bytes([raw[offset] ^ mask]) + raw[offset + 1 :])
            for frame, reference in ((None, expected), (1, expected_frame)):
                got = outcome(bad, frame)
                if got is None:
                    refused += 1
                elif got != reference:
                    silent.append((offset, mask, frame))
    assert silent == [], f"{len(silent)} silent changes, first at (offset, xor, frame) {silent[:5]}"
    assert refused > len(raw)  # most flips are caught, not harmless


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_truncation_is_refused(tmp_path, kind):
    original = tmp_path / f"good.{kind}"
    write(original, kind)
    raw = original.read_bytes()
    bad = tmp_path / "cut.mrc"
    for length in range(len(raw)):
        bad.write_bytes(raw[:length])
        assert outcome(bad) is None, f"a file cut to {length} of {len(raw)} bytes was read"
        assert outcome(bad, 0) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(sorted(KINDS)),
    damage=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=6),
)
def test_random_multi_byte_damage_is_refused_or_changes_nothing(tmp_path, kind, damage):
    original = tmp_path / f"good.{kind}"
    if not original.exists():
        write(original, kind)
    raw = bytearray(original.read_bytes())
    for offset, mask in damage:
        raw[offset % len(raw)] ^= mask
    bad = tmp_path / f"bad.{kind}"
    bad.write_bytes(bytes(raw))
    got = outcome(bad)
    assert got is None or got == snapshot(original)


def test_a_flipped_pixel_size_and_dose_name_the_field(tmp_path):
    path = tmp_path / "m.mrcz"
    write(path, "mrcz-json")
    raw = bytearray(path.read_bytes())
    raw[40 + 3] ^= 0x01  # CELLA x: the pixel size
    (tmp_path / "cella.mrcz").write_bytes(bytes(raw))
    with pytest.raises(mrcz.MrczError, match=r"corrupt header: changed since written: voxel_size"):
        mrcz.read(tmp_path / "cella.mrcz")
    raw = path.read_bytes()
    at = raw.index(b'"dose_per_frame":1.2')
    (tmp_path / "dose.mrcz").write_bytes(raw[:at] + b'"dose_per_frame":7.2' + raw[at + 20 :])
    with pytest.raises(mrcz.MrczError, match=r"dose_per_frame 1.2 -> 7.2"):
        mrcz.read(tmp_path / "dose.mrcz")


def test_the_imod_flag_cannot_turn_uint8_into_int8(tmp_path):
    path = tmp_path / "p.mrc"
    write(path, "plain")
    raw = bytearray(path.read_bytes())
    raw[152] ^= 0x01  # imodStamp: without it mode 0 reads as signed bytes
    (tmp_path / "stamp.mrc").write_bytes(bytes(raw))
    with pytest.raises(mrcz.MrczError, match=r"dtype 'uint8' -> 'int8'"):
        mrcz.read(tmp_path / "stamp.mrc")


def test_a_single_frame_read_of_a_damaged_plain_mrc_is_refused(tmp_path):
    path = tmp_path / "p.mrc"
    write(path, "plain")
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x04  # last pixel of the last frame
    (tmp_path / "bad.mrc").write_bytes(bytes(raw))
    with pytest.raises(mrcz.ChecksumError):
        mrcz.read(tmp_path / "bad.mrc", frames=0)  # frame 0 is intact; the file is not


def test_crafted_footers_and_extended_headers_end_in_one_line(tmp_path):
    from mrczflow.mrcz.footer import EXT_RESERVED, encode_extended

    path = tmp_path / "m.mrcz"
    write(path, "mrcz-json")
    raw = path.read_bytes()
    with mrcz.MrczReader(path) as reader:
        ext = dict(reader.extended)
    crafted = [
        {**ext, "ndim": "three"},
        {**ext, "dtype": 5},
        {**ext, "footer": {**ext["footer"], "offset": "x"}},
        {**ext, "footer": {**ext["footer"], "length": None}},
        {**ext, "footer": [1, 2]},
        {**ext, "checksum": 7},
    ]
    for i, value in enumerate(crafted):
        bad = tmp_path / f"crafted{i}.mrcz"
        bad.write_bytes(raw[:1024] + encode_extended(value) + raw[1024 + EXT_RESERVED :])
        assert outcome(bad) is None, value


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 10**9), max_size=5),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(["frames", "offsets", "sizes", "checksums", "metadata", "header_checksum", "header"]),
    value=JUNK,
    fmt=st.sampled_from(["msgpack", "json"]),
)
def test_footers_of_the_wrong_shape_with_valid_checksums_end_in_one_line(tmp_path, key, value, fmt):
    """A crafted footer (right checksum, wrong types or lengths) is one MrczError, or reads as the original."""
    from mrczflow.mrcz.footer import EXT_RESERVED, checksum, decode_footer, encode_extended, encode_footer

    original = tmp_path / f"good.{fmt}"
    if not original.exists():
        write(original, f"mrcz-{fmt}")
    raw = original.read_bytes()
    with mrcz.MrczReader(original) as reader:
        ext = dict(reader.extended)
    start, length = ext["footer"]["offset"], ext["footer"]["length"]
    footer = decode_footer(raw[start : start + length], fmt, original)
    if key in ("offsets", "sizes", "checksums"):
        footer["frames"] = {**footer["frames"], key: value}
    else:
        footer[key] = value
    try:
        new_footer = encode_footer(footer, fmt)
    except (TypeError, ValueError, OverflowError):
        return  # not storable in this format at all
    ext["footer"] = {**ext["footer"], "length": len(new_footer), "checksum": checksum(new_footer)}
    bad = tmp_path / f"crafted.{fmt}"
    bad.write_bytes(raw[:1024] + encode_extended(ext) + raw[1024 + EXT_RESERVED : start] + new_footer)
    got = outcome(bad)
    well_formed_metadata = key == "metadata" and isinstance(
        value, dict
    )  # a consistent rewrite is a valid file
    assert got is None or got == snapshot(original) or well_formed_metadata


def test_a_named_pipe_is_refused_at_once(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.mrcz")
    with pytest.raises(mrcz.MrczError, match="not a regular file"):
        mrcz.read(tmp_path / "pipe.mrcz")
