"""Hand-off (issue 20): bit-exact export, each program's orientation rules, RELION STARs."""

from __future__ import annotations

import itertools
import math

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mrczflow import mrcz
from mrczflow.gain.reference import orient
from mrczflow.handoff import (
    ExportError,
    Movie,
    Optics,
    export_movie,
    graft,
    write_movie_star,
    write_movies_star,
)
from mrczflow.handoff.conventions import (
    apply_gain_flags,
    as_read,
    defect_rectangles,
    flags_for_gain,
    hot_pixel_coordinates,
)
from mrczflow.handoff.programs import write_handoff
from mrczflow.handoff.session import evenly_spaced, persistent_defects

SHAPE = (6, 10)  # rows, columns: not square, so a wrong rotation cannot even keep the shape


def read_movie(path):
    if str(path).endswith(".tif"):
        return tifffile.imread(path)
    with mrcfile.open(path) as mrc:
        return mrc.data.view(np.uint8) if mrc.data.dtype == np.int8 else mrc.data.copy()


def read_image(path):
    return tifffile.imread(path) if str(path).endswith(".tif") else mrcz.read(path)


# --- export ---------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    counts=arrays(np.uint8, st.tuples(st.integers(1, 5), st.integers(1, 40), st.integers(1, 40))),
    fmt=st.sampled_from(["tiff", "mrc"]),
)
def test_export_reads_back_bit_exact_in_tifffile_and_mrcfile(tmp_path_factory, counts, fmt):
    folder = tmp_path_factory.mktemp("export")
    archive = folder / "a.mrcz"
    mrcz.write(archive, counts)
    out = folder / ("a.tif" if fmt == "tiff" else "a.mrc")
    info = export_movie(archive, out, fmt)
    assert info["frames"] == counts.shape[0]
    assert np.array_equal(read_movie(out), counts.reshape(read_movie(out).shape))
    assert np.array_equal(read_movie(out).reshape(counts.shape), counts)


def test_mrc_export_warns_of_counts_a_signed_reader_would_misread(tmp_path):
    archive = tmp_path / "a.mrcz"
    mrcz.write(archive, np.full((1, 4, 4), 200, np.uint8))
    assert "127" in export_movie(archive, tmp_path / "a.mrc", "mrc")["warning"]
    assert "warning" not in export_movie(archive, tmp_path / "a.tif", "tiff")


def test_export_of_a_corrupt_archive_names_it_and_writes_nothing(tmp_path):
    counts = np.random.default_rng(0).integers(0, 5, (3, 32, 32), dtype=np.uint8)
    archive = tmp_path / "a.mrcz"
    mrcz.write(archive, counts)
    raw = bytearray(archive.read_bytes())
    raw[1100] ^= 0xFF  # inside the first compressed chunk
    archive.write_bytes(bytes(raw))
    out = tmp_path / "a.tif"
    with pytest.raises((mrcz.MrczError, ExportError)) as error:
        export_movie(archive, out)
    assert "a.mrcz" in str(error.value)
    assert list(tmp_path.iterdir()) == [archive]


def test_export_refuses_a_frame_that_does_not_read_back(tmp_path, monkeypatch):
    counts = np.arange(2 * 8 * 8, dtype=np.uint8).reshape(2, 8, 8)
    archive = tmp_path / "a.mrcz"
    mrcz.write(archive, counts)
    original = tifffile.TiffWriter.write

    def damaged(self, data, *args, **kwargs):  # a writer that flips one bit of what it is given
        data = data.copy()
        data[0, 0] ^= 1
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(tifffile.TiffWriter, "write", damaged)
    with pytest.raises(ExportError, match="frame 0"):
        export_movie(archive, tmp_path / "a.tif")
    assert not (tmp_path / "a.tif").exists()


def test_cli_export_writes_each_movie_and_fails_alone(tmp_path):
    from click.testing import CliRunner

    from mrczflow.cli import main

    good = tmp_path / "good.mrcz"
    mrcz.write(good, np.ones((2, 8, 8), np.uint8))
    bad = tmp_path / "bad.mrcz"
    bad.write_bytes(b"not an mrc file at all" * 60)
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["export", str(good), str(bad), str(out)])
    assert result.exit_code == 1
    assert "bad.mrcz" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["good.tif"]
    assert np.array_equal(tifffile.imread(out / "good.tif"), np.ones((2, 8, 8), np.uint8))


# --- each program's conventions, checked against the formulas in its source ------------------------


def relion_rotate90(src):
    """src/jaz/single_particle/img_proc/image_op.h, ImageOp::rotate90, literally."""
    ny, nx = src.shape
    dest = np.empty((nx, ny), src.dtype)
    for y in range(ny):
        for x in range(nx):
            dest[x, ny - 1 - y] = src[y, x]
    return dest


def motioncor_rotate(src, factor):
    """MotionCor3 MrcUtil/G90Rotate2D.cu, mGRotate, literally (sizes are [x, y])."""
    ny, nx = src.shape
    rot_x, rot_y = (nx, ny) if factor % 2 == 0 else (ny, nx)
    angle = math.atan(1.0) * 4 / 180.0 * 90.0 * factor
    cos = int(math.cos(angle) + (0.1 if math.cos(angle) > 0 else -0.1))
    sin = int(math.sin(angle) + (0.1 if math.sin(angle) > 0 else -0.1))
    dest = np.empty((rot_y, rot_x), src.dtype)
    for by in range(rot_y):
        for x in range(rot_x):
            new_x, new_y = x - (rot_x - 1) * 0.5, by - (rot_y - 1) * 0.5
            fx, fy = new_x * cos + new_y * sin, -new_x * sin + new_y * cos
            dest[by, x] = src[int(fy + (ny - 1) * 0.5 + 0.5), int(fx + (nx - 1) * 0.5 + 0.5)]
    return dest


def motioncor_tiff_rows(pages_rows):
    """MotionCor3 TiffUtil/CLoadTiffImage.cpp, mReadByStrip with one row a strip: row i lands at ny-1-i."""
    ny = len(pages_rows)
    out = [None] * ny
    for strip, row in enumerate(pages_rows):
        out[ny - 1 - strip] = row
    return np.array(out)


def probe(shape=SHAPE):
    return np.arange(shape[0] * shape[1]).reshape(shape)


def test_rotation_flags_are_the_array_operations_of_relion_and_motioncor_sources():
    g = probe()
    assert np.array_equal(apply_gain_flags(g, "relion", 1, 0), relion_rotate90(g))
    for k in range(4):
        assert np.array_equal(apply_gain_flags(g, "motioncor", k, 0), motioncor_rotate(g, k))
    assert np.array_equal(apply_gain_flags(g, "motioncor", 0, 1), g[::-1])  # GFlip2D::Vertical
    assert np.array_equal(as_read(g, "motioncor", "tiff"), motioncor_tiff_rows(list(g)))
    assert np.array_equal(as_read(g, "relion", "tiff"), g[::-1])  # rwTIFF.h swaps rows y1, ny-1-y1
    assert np.array_equal(as_read(g, "relion", "mrc"), g)


def test_flags_worked_out_by_hand():
    # A gain in the movies' own orientation, MRC movies: nothing to do.
    assert flags_for_gain("relion", "mrc", "mrc", SHAPE) == (0, 0)
    # TIFF movies are read upside down, an MRC gain is not: flip it upside down.
    assert flags_for_gain("relion", "mrc", "tiff", SHAPE) == (0, 1)
    assert flags_for_gain("motioncor", "mrc", "tiff", SHAPE) == (0, 1)
    # A TIFF gain (EPU's .gain) is flipped with the TIFF movies.
    assert flags_for_gain("relion", "tiff", "tiff", SHAPE) == (0, 0)
    # Our rotate 90 is numpy.rot90 (counter-clockwise with row 0 on top): RELION turns the other way, 3 times.
    assert flags_for_gain("relion", "mrc", "mrc", SHAPE, rotate=90) == (3, 0)
    # A left-right flip is asked for as rotate 180 + upside down (MotionCor3's -FlipGain 2 is broken).
    assert flags_for_gain("motioncor", "mrc", "mrc", SHAPE, flip="x") == (2, 1)


def vendor_gain(shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    return (0.7 + 0.6 * rng.random(shape)).astype(np.float32)


@pytest.mark.parametrize("program", ["relion", "motioncor"])
@pytest.mark.parametrize("movie_format", ["tiff", "mrc"])
@pytest.mark.parametrize("gain_format", ["tiff", "mrc"])
def test_a_vendor_gain_with_our_flags_flattens_the_movie_in_every_orientation(
    program, movie_format, gain_format
):
    for rotate, flip in itertools.product((0, 90, 180, 270), ("none", "x", "y")):
        shape = SHAPE if rotate in (0, 180) else SHAPE[::-1]
        raw_gain = vendor_gain(shape)
        movie_gain = orient(raw_gain, rotate, flip)  # the gain in the movies' file order
        frame = 100.0 / movie_gain  # counts: gain * counts is flat
        rotation, flip_flag = flags_for_gain(program, gain_format, movie_format, SHAPE, rotate, flip)
        seen_gain = apply_gain_flags(as_read(raw_gain, program, gain_format), program, rotation, flip_flag)
        flat = as_read(frame, program, movie_format) * seen_gain
        assert np.allclose(flat, 100.0), (rotate, flip)


@pytest.mark.parametrize("fmt", ["tiff", "mrc"])
def test_handed_off_gain_and_defects_need_no_flag_in_any_program(tmp_path, fmt):
    gain = vendor_gain()
    counts = np.round(np.stack([50.0 / gain] * 3)).astype(np.uint8)
    defects = np.zeros(SHAPE, bool)
    defects[1, 2:5] = True  # a run
    defects[4, 7] = True
    archive = tmp_path / "a.mrcz"
    mrcz.write(archive, counts)
    ext = ".tif" if fmt == "tiff" else ".mrc"
    movie = tmp_path / f"a{ext}"
    export_movie(archive, movie, fmt)
    optics = Optics(pixel_size=1.0)
    for program in ("relion", "motioncor", "cryosparc"):
        out = tmp_path / program
        write_handoff(
            program,
            out,
            [Movie(str(movie), 1.0)],
            frame_shape=SHAPE,
            frames=3,
            fmt=fmt,
            optics=optics,
            gain=gain,
            defects=defects,
        )
        text = (out / "commands.txt").read_text()
        assert "rot 1" not in text and "RotGain 1" not in text
        # cryoSPARC's TIFF rule is unknown: the hand-off must hold under either.
        for flipped in (True, False) if program == "cryosparc" else (None,):
            seen_movie = as_read(read_movie(movie), program, fmt, tiff_flipped=flipped).astype(np.float64)
            seen_gain = as_read(read_image(out / f"gain{ext}"), program, fmt, tiff_flipped=flipped)
            flat = seen_movie * seen_gain
            assert np.allclose(flat, 50.0, rtol=0.02), program
            if program != "relion":
                seen_map = as_read(read_image(out / f"defect_map{ext}"), program, fmt, tiff_flipped=flipped)
                assert np.array_equal(seen_map != 0, as_read(defects, program, fmt, tiff_flipped=flipped))
        if program != "cryosparc":
            # The list, as RELION's fillDefectMask and MotionCor read x y w h on the movie as they hold it.
            mask = np.zeros(SHAPE, bool)
            for line in (out / "defects.txt").read_text().splitlines():
                x, y, w, h = map(int, line.split())
                mask[y : y + h, x : x + w] = True
            assert np.array_equal(mask, as_read(defects, program, fmt))
        if program == "relion":
            star = starfile.read(out / "movies.star", always_dict=True)
            assert star["optics"]["rlnMicrographOriginalPixelSize"][0] == 1.0
            assert star["optics"]["rlnMicrographPixelSize"][0] == 1.0
            assert star["movies"]["rlnMicrographMovieName"].tolist() == [str(movie)]


def test_defect_rectangles_cover_runs_once():
    mask = np.zeros((4, 12), bool)
    mask[2, 3:9] = True
    mask[0, 0] = True
    assert defect_rectangles(mask, "relion", "mrc") == [(0, 0, 1, 1), (3, 2, 6, 1)]
    assert defect_rectangles(mask, "relion", "tiff") == [(3, 1, 6, 1), (0, 3, 1, 1)]


# --- session pieces ---------------------------------------------------------------------------------


def test_evenly_spaced_keeps_both_ends_and_the_size():
    assert evenly_spaced(list(range(5)), 24) == list(range(5))
    picked = evenly_spaced(list(range(1000)), 24)
    assert picked[0] == 0 and picked[-1] == 999 and len(picked) == 24


def test_persistent_defects_keep_what_most_stacks_flag(tmp_path):
    paths = []
    for i in range(4):
        flags = np.zeros((8, 8), np.uint8)
        flags[1, 1] = 1  # every stack: a detector defect
        flags[i, 5] = 1  # one stack each: transient
        paths.append(tmp_path / f"{i}.mask.mrcz")
        mrcz.write(paths[-1], flags)
    mask = persistent_defects(paths, 0.5)
    assert mask[1, 1] and mask.sum() == 1


# --- RELION STARs ----------------------------------------------------------------------------------


def test_per_movie_star_and_graft_keep_relions_shifts(tmp_path):
    optics = Optics(pixel_size=0.8)
    mask = np.zeros((6, 10), bool)
    mask[0, 3] = True
    xs, ys = hot_pixel_coordinates(mask, "relion", "tiff")
    assert (xs.tolist(), ys.tolist()) == ([3], [5])  # RELION holds a TIFF upside down
    ours = tmp_path / "ours" / "m.star"
    ours.parent.mkdir()
    write_movie_star(
        ours,
        Movie("/data/m.tif", 1.2),
        (4, 6, 10),
        optics,
        gain="/g/m.gain.tif",
        defect_file=None,
        hot_x=xs,
        hot_y=ys,
    )
    theirs = tmp_path / "MotionCorr" / "job002" / "m.star"
    theirs.parent.mkdir(parents=True)
    shifts = pd.DataFrame(
        {
            "rlnMicrographFrameNumber": [1, 2],
            "rlnMicrographShiftX": [0.0, 1.5],
            "rlnMicrographShiftY": [0.0, -2.0],
        }
    )
    starfile.write(
        {
            "general": {
                "rlnImageSizeX": 10,
                "rlnImageSizeY": 6,
                "rlnImageSizeZ": 4,
                "rlnMicrographMovieName": "/data/m.tif",
                "rlnMotionModelVersion": 0,
            },
            "global_shift": shifts,
        },
        theirs,
    )
    out = tmp_path / "grafted" / "m.star"
    graft(ours, theirs, out)
    blocks = starfile.read(out, always_dict=True)
    assert blocks["general"]["rlnMicrographGainName"] == "/g/m.gain.tif"
    assert blocks["global_shift"]["rlnMicrographShiftX"].tolist() == [0.0, 1.5]
    assert blocks["hot_pixels"]["rlnCoordinateY"].tolist() == [5.0]
    other = tmp_path / "other.star"
    starfile.write({"general": {"rlnImageSizeX": 12, "rlnImageSizeY": 6}}, other)
    with pytest.raises(ValueError, match="rlnImageSizeX"):
        graft(ours, other, tmp_path / "x.star")


def test_movies_star_refuses_an_unknown_pixel_size(tmp_path):
    with pytest.raises(ValueError, match="pixel_size"):
        write_movies_star(tmp_path / "m.star", [Movie("/a.tif", None)], Optics(pixel_size=0.0))


# --- the session gain keeps KOMA's flat field only where it flattens stacks it was not made from ------


def _koma_sums(folder, expected, n, seed):
    from mrczflow.koma.steps import koma_sum
    from mrczflow.storage.sums import write_stack_sum

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        raw = folder / f"s{i}.sum.mrcz"
        write_stack_sum(raw, rng.poisson(expected).astype(np.int32), stack=f"s{i}", frames=40)
        paths.append(folder / f"s{i}.json")
        koma_sum(raw, paths[-1], stack=f"s{i}")
    return paths


@pytest.mark.parametrize("stale", [False, True], ids=["good gain", "stale gain"])
def test_session_gain_uses_koma_only_when_it_flattens_held_out_stacks(tmp_path, stale):
    from mrczflow.handoff.session import block_spread, session_gain

    shape = (128, 128)
    rng = np.random.default_rng(0)
    response = np.exp(rng.normal(0, 0.05, shape))
    response[:, 40:60] *= 1.15  # a band the stale gain does not know
    expected = 40 * 4.0 * response
    truth_gain = 1 / response
    pre = truth_gain.copy()
    if stale:
        pre[:, 40:60] *= 1.15  # the gain was made before the band appeared
    gain, how = session_gain(_koma_sums(tmp_path, expected, 12, 1), pre.astype(np.float32))
    held = np.random.default_rng(9).poisson(expected * 12).astype(np.float64)
    if stale:
        assert "flattened" in how
        assert block_spread(held * gain) < 0.5 * block_spread(held * pre)
    else:
        assert "alone" in how
        assert np.array_equal(gain, pre.astype(np.float32))
