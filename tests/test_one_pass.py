"""One pass over each movie (issue 16): ingest makes the archive, the record, the storage summary and
the stack's sum; the outlier filter and KOMA's sums come from that sum without reading the frames."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrczflow import mrcz
from mrczflow.koma.steps import koma_sum, read_sum
from mrczflow.outliers import detect, stack_sum
from mrczflow.outliers.fill import filled_sum, filtered_frames
from mrczflow.storage.settings import DoseSettings, IngestSettings
from mrczflow.storage.steps import ingest
from mrczflow.storage.sums import read_half_sum, read_stack_sum, write_stack_sum

SETTINGS = IngestSettings(dose=DoseSettings(source="config", dose_rate=4.0, frame_time=0.25))


def movie_with_defects(seed: int, frames: int = 8, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    movie = rng.poisson(1.5, (frames, size, size)).astype(np.uint16)
    movie[:, 5, 7] += 40  # a hot pixel
    movie[:, 20:22, 30:32] += 25  # a cluster
    movie[:, 40, 3] = 0  # a dead pixel
    return movie


def ingested(folder, movie: np.ndarray) -> dict:
    """``movie`` through the ingest step, as m.mrc: a.mrcz, r.json, s.json, t.mrcz (sum), h.mrcz (half sum)."""
    mrcz.write(folder / "m.mrc", movie, compression=None)
    return ingest(
        folder / "m.mrc",
        folder / "a.mrcz",
        folder / "r.json",
        stack="m",
        settings=SETTINGS,
        summary_out=folder / "s.json",
        sum_out=folder / "t.mrcz",
        half_out=folder / "h.mrcz",
    )


def test_ingest_writes_archive_record_summary_and_sum_in_one_pass(tmp_path):
    movie = movie_with_defects(0)
    record = ingested(tmp_path, movie)
    archived = mrcz.read(tmp_path / "a.mrcz")
    assert archived.dtype == np.uint8 and np.array_equal(archived, movie)
    total, info = read_stack_sum(tmp_path / "t.mrcz")
    assert total.dtype == np.int32 and np.array_equal(total, movie.sum(axis=0))
    assert info == {"stack": "m", "frames": 8}
    assert np.array_equal(read_half_sum(tmp_path / "h.mrcz", (48, 48), 8), movie[0::2].sum(axis=0))
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["mrcz_bytes"] == (tmp_path / "a.mrcz").stat().st_size
    assert record["shape"] == [8, 48, 48] and record["dose_per_frame"] == 1.0
    with mrcz.MrczReader(tmp_path / "a.mrcz") as reader:
        assert reader.metadata["movie"]["stack"] == "m" and reader.metadata["clipped_pixels"] == 0
        assert reader.extended["dose_per_frame"] == 1.0 and reader.extended["exposure_time"] == 2.0


@pytest.mark.parametrize("held", [2, 3, 257])
def test_the_stack_sum_is_exact_however_many_frames_the_uint16_partial_sum_holds(tmp_path, monkeypatch, held):
    """Ingest adds frames in uint16 and moves them into the int32 sum every FRAMES_IN_UINT16 frames: with
    small limits the partial sum is moved and emptied at several boundaries (a partial added twice, or
    not emptied, is caught); at the real limit 258 frames of 255 need the move (a uint16 holds 257)."""
    import mrczflow.storage.steps as steps

    monkeypatch.setattr(steps, "FRAMES_IN_UINT16", held)
    movie = movie_with_defects(3, frames=7)
    movie[:, :4, :] = 255  # the most a uint8 frame holds
    if held == 257:  # the real limit: 257 frames of 255 are exactly 65535
        movie = np.full((258, 8, 8), 255, np.uint16)
    ingested(tmp_path, movie)
    total, _ = read_stack_sum(tmp_path / "t.mrcz")
    assert np.array_equal(total, movie.sum(axis=0, dtype=np.int64))


def test_ingest_s_half_sum_holds_the_even_frames_on_the_scored_rows(tmp_path):
    """A frame of 2,100 rows is scored on every 2nd row: the half sum holds frames 0, 2, 4 (of 5) there."""
    movie = np.random.default_rng(2).poisson(1.0, (5, 2100, 40)).astype(np.uint8)
    ingested(tmp_path, movie)
    even = read_half_sum(tmp_path / "h.mrcz", (2100, 40), 5)
    assert even.dtype == np.int32 and np.array_equal(even, movie[0::2, ::2].sum(axis=0, dtype=np.int32))
    with mrcz.MrczReader(tmp_path / "h.mrcz") as reader:
        assert reader.metadata["half_sum"] == {"stack": "m", "frames": 5, "even_frames": 3, "row_step": 2}


def test_outliers_from_the_sum_equal_outliers_from_the_frames(tmp_path):
    movie = movie_with_defects(1)
    write_stack_sum(tmp_path / "t.mrcz", movie.sum(axis=0), stack="m", frames=len(movie))
    total, _ = read_stack_sum(tmp_path / "t.mrcz")
    assert np.array_equal(detect(total).flags, detect(stack_sum(movie)).flags)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_filling_the_sum_equals_summing_the_filled_frames(seed):
    movie = movie_with_defects(seed)
    flags = detect(stack_sum(movie)).flags
    assert (flags & 3).any()
    frames = np.sum(list(filtered_frames(movie, flags)), axis=0, dtype=np.float64)
    assert np.allclose(filled_sum(movie.sum(axis=0), flags), frames, rtol=0, atol=1e-3)


def test_koma_sum_reads_only_the_stack_sum(tmp_path):
    movie = movie_with_defects(2)
    write_stack_sum(tmp_path / "t.mrcz", movie.sum(axis=0), stack="m", frames=len(movie))
    flags = detect(stack_sum(movie)).flags
    mrcz.write(tmp_path / "f.mrcz", flags)
    (tmp_path / "koma").mkdir()
    koma_sum(tmp_path / "t.mrcz", tmp_path / "koma" / "k.json", stack="m", flags_path=tmp_path / "f.mrcz")
    image, info = read_sum(tmp_path / "koma" / "k.json")
    expected = np.rint(np.sum(list(filtered_frames(movie, flags)), axis=0, dtype=np.float64))
    assert np.abs(image - expected).max() <= 1 and info["frames"] == 8
    # Only the filled values are stored, beside the raw sum (named relative to the record).
    assert info["stack_sum"]["path"] == "../t.mrcz" and 0 < len(info["stack_sum"]["filled_index"]) < 50
    mrcz.write(tmp_path / "not_a_sum.mrcz", movie.astype(np.uint8))
    with pytest.raises(ValueError, match="not a stack sum .* rerun ingest"):
        koma_sum(tmp_path / "not_a_sum.mrcz", tmp_path / "k2.json", stack="m")
    assert not (tmp_path / "k2.json").exists()


def test_the_outlier_step_writes_the_koma_sum_koma_sum_would_from_its_files(tmp_path):
    """Rule outliers writes each stack's KOMA sum from the sum, flags and gain it holds (no koma_sum job):
    the same record, to the byte, as koma_sum makes from the files, gain and contrast verdict included."""
    from mrczflow.gain.settings import GainSettings
    from mrczflow.koma.settings import KomaSettings
    from mrczflow.outliers.steps import outliers

    movie = movie_with_defects(4, frames=10, size=64)
    gain = np.random.default_rng(5).uniform(0.9, 1.1, (64, 64)).astype(np.float32)
    mrcz.write(tmp_path / "gain.mrc", gain, compression=None)
    write_stack_sum(tmp_path / "t.mrcz", movie.sum(axis=0), stack="m", frames=len(movie))
    (tmp_path / "r.json").write_text(json.dumps({"shape": [10, 64, 64], "timestamp": "t", "dose_rate": 4.0}))
    (tmp_path / "sums").mkdir()
    # The simulated movie has no gain in it: its check would stop the step, so it only warns here.
    orientation = GainSettings(rotate=90, flip="x", orientation_check="warn")
    koma = KomaSettings(high_contrast=0.01)
    outliers(
        tmp_path / "t.mrcz",
        tmp_path / "mask.mrcz",
        tmp_path / "defects.txt",
        tmp_path / "stats.json",
        stack="m",
        record_path=tmp_path / "r.json",
        gain_path=tmp_path / "gain.mrc",
        gain=orientation,
        koma_sum_out=tmp_path / "sums" / "m.json",
        koma=koma,
    )
    koma_sum(
        tmp_path / "t.mrcz",
        tmp_path / "sums" / "from_files.json",
        stack="m",
        flags_path=tmp_path / "mask.mrcz",
        gain_path=tmp_path / "gain.mrc",
        gain=orientation,
        settings=koma,
        record_path=tmp_path / "r.json",
    )
    written = (tmp_path / "sums" / "m.json").read_bytes()
    assert written == (tmp_path / "sums" / "from_files.json").read_bytes()
    info = json.loads(written)
    assert info["outlier_filtered"] and info["stack_sum"]["filled_index"] and info["dose_rate"] == 4.0
    image, _ = read_sum(tmp_path / "sums" / "m.json")
    flags = mrcz.read(tmp_path / "mask.mrcz")
    assert np.array_equal(image, np.rint(filled_sum(movie.sum(axis=0), flags)).astype(np.int32))


def write_sums(folder, name: str, movie: np.ndarray, flags: np.ndarray | None = None):
    """Stack sum, half sum and KOMA sum record of ``movie``, as ingest and outliers write them: the record's path."""
    from mrczflow.storage.sums import score_rows, write_half_sum

    rows = score_rows(movie.shape[1])
    write_stack_sum(folder / f"{name}.sum.mrcz", movie.sum(axis=0), stack=name, frames=len(movie))
    write_half_sum(
        folder / f"{name}.half.mrcz", movie[0::2, rows].sum(axis=0), stack=name, frames=len(movie), rows=rows
    )
    flags_path = None
    if flags is not None:
        flags_path = folder / f"{name}.mask.mrcz"
        mrcz.write(flags_path, flags)
    (folder / "sums").mkdir(exist_ok=True)
    koma_sum(folder / f"{name}.sum.mrcz", folder / "sums" / f"{name}.json", stack=name, flags_path=flags_path)
    return folder / "sums" / f"{name}.json"


def frame_halves(frames, rows: slice, correct=None):
    """The halves of ``frames`` added one frame at a time, each frame put through ``correct`` first, on ``rows``."""
    from mrczflow.koma.noise import HalfSums

    halves = HalfSums()
    for frame in frames:
        halves.add((frame if correct is None else correct(frame))[rows])
    return halves


def test_scoring_a_correction_on_the_half_sums_equals_correcting_every_frame(tmp_path):
    """KOMA scores a stack on its half sums (the even frames' sum on every n-th row, and the stack sum):
    the same numbers as correcting every frame and adding the halves, whole fixes or fixes on those rows."""
    from mrczflow.koma.correction import correction
    from mrczflow.koma.steps import noise_after, score_rows

    rng = np.random.default_rng(3)
    gain = rng.uniform(0.8, 1.2, (2100, 40)).astype(np.float32)
    movie = rng.poisson(2.0 / gain, (5, 2100, 40)).astype(np.uint8)
    record = write_sums(tmp_path, "m", movie)
    window = rng.poisson(40.0 / gain).astype(np.int64)
    fixes = [correction(window, 10, 20, gain), correction(window * 2, 20, 40, None, form="subtract")]
    rows = score_rows(2100)
    assert rows.step == 2
    expected = [frame_halves(movie, rows, fix.apply).correlation() for fix in fixes]
    assert expected[1] > 0.01  # the subtract form leaves the gain's pattern in: not a trivial 0
    half = tmp_path / "m.half.mrcz"
    assert noise_after(half, record, fixes) == pytest.approx(expected, abs=1e-9)
    assert noise_after(half, record, [fix.rows(rows) for fix in fixes]) == pytest.approx(expected, abs=1e-9)


def test_a_correction_applied_frame_by_frame_is_its_formula():
    """Correction.apply keeps the factor (divide) or offset (subtract) it makes once: the same numbers
    as the formula, frame after frame."""
    from mrczflow.koma.correction import Correction

    rng = np.random.default_rng(5)
    pattern = rng.normal(0, 0.05, (40, 30)).astype(np.float32)
    pattern[0, 0] = -0.99  # a dead flat-field pixel: divided by nothing, it becomes 0
    gain = rng.uniform(0.8, 1.2, (40, 30)).astype(np.float32)
    frames = rng.poisson(3.0, (3, 40, 30)).astype(np.uint8)
    for applied_gain in (gain, None):
        divide = Correction(pattern, applied_gain, 3.0, "divide", 0.5)
        subtract = Correction(pattern, applied_gain, 3.0, "subtract", 0.5)
        scale = np.ones_like(gain) if applied_gain is None else gain
        for frame in frames:
            flat = 1.0 + pattern
            expected = np.where(flat > 0.05, frame * scale / np.where(flat > 0.05, flat, 1), 0)
            assert np.allclose(divide.apply(frame), expected, rtol=1e-6, atol=1e-6)
            assert divide.apply(frame)[0, 0] == 0
            assert np.allclose(subtract.apply(frame), frame * scale - 3.0 * pattern, rtol=1e-6, atol=1e-6)


def test_the_koma_step_scores_its_stack_from_its_half_sums_and_reads_frames_only_for_a_movie(tmp_path):
    """Rule koma scores a stack from its half sums, never its frames: the numbers its frames' halves give
    when each outlier holds its share of the KOMA sum's fill (frames as recorded for the gain alone). Its
    movie is the whole stack corrected, read a frame at a time; a corrupt frame fails the step, no movie left."""
    from mrczflow.koma.steps import koma, read_sum_record, score_rows, window_correction

    movies, sums = [], []
    for i in range(5):
        movie = movie_with_defects(10 + i, frames=7, size=48)
        movies.append(movie)
        mrcz.write(tmp_path / f"s{i}.mrcz", movie.astype(np.uint8))
        sums.append(write_sums(tmp_path, f"s{i}", movie, detect(stack_sum(movie)).flags))

    def run_koma(stats_out, movie_out=None, counts=None):
        return koma(
            tmp_path / "s0.half.mrcz",
            sums[0],
            sums,
            None,
            stats_out,
            stack="s0",
            radius=2,
            movie_out=movie_out,
            counts_path=counts,
            flags_path=tmp_path / "s0.mask.mrcz" if movie_out else None,
        )

    stats = run_koma(tmp_path / "k.json")  # no archive given: no frame to read
    fix, _ = window_correction(sums[0], sums, limit=4)
    rows = score_rows(48)
    where = read_sum_record(sums[0])["stack_sum"]
    assert where["filled_index"] and stats["outlier_filtered"]
    shared = movies[0].astype(np.float64)  # each outlier holds its frames' share of the KOMA sum's fill
    shared.reshape(len(shared), -1)[:, where["filled_index"]] = np.asarray(where["filled_value"]) / len(
        shared
    )
    after = frame_halves(shared, rows, fix.apply)
    assert stats["correlated_noise_after"] == pytest.approx(after.correlation(), abs=1e-9)
    assert stats["fixed_pattern_loss_after"] == pytest.approx(after.loss(), abs=1e-7)  # float32 frames, FFT
    before = frame_halves(movies[0].astype(np.float64), rows)
    assert stats["correlated_noise_before"] == pytest.approx(before.correlation(), abs=1e-9)
    assert stats["fixed_pattern_loss_before"] == pytest.approx(frame_halves(shared, rows).loss(), abs=1e-9)
    # Outliers raise the frames' correlated noise: as recorded, it is the larger.
    assert stats["correlated_noise_before"] > stats["correlated_noise_after"] + 0.01

    # A movie: the whole stack corrected, its outliers filled frame by frame.
    run_koma(tmp_path / "k1.json", tmp_path / "s0.norm.mrc", tmp_path / "s0.mrcz")
    flags = mrcz.read(tmp_path / "s0.mask.mrcz")
    filled = list(filtered_frames(movies[0], flags))
    assert np.allclose(mrcz.read(tmp_path / "s0.norm.mrc"), [fix.apply(frame) for frame in filled], atol=1e-5)
    with pytest.raises(ValueError, match="counts_path"):
        run_koma(tmp_path / "k2.json", tmp_path / "s0.other.mrc")
    # One damaged byte in the archive's data: the step stops, and leaves no movie.
    damaged = bytearray((tmp_path / "s0.mrcz").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "s0.mrcz").write_bytes(bytes(damaged))
    (tmp_path / "s0.norm.mrc").unlink()
    with pytest.raises(ValueError, match=r"s0\.mrcz: (corrupt chunk at frame|frame \d+: checksum mismatch)"):
        run_koma(tmp_path / "k2.json", tmp_path / "s0.norm.mrc", tmp_path / "s0.mrcz")
    assert not (tmp_path / "s0.norm.mrc").exists() and not (tmp_path / "k2.json").exists()


def test_a_half_sum_that_is_not_its_stack_s_is_refused_with_the_file_named(tmp_path):
    """Another stack's half sum (more counts than the stack's own sum on a row), one of another frame count
    or row step, or a file that is no half sum: each stops the step with one line naming it."""
    from mrczflow.koma.steps import stack_halves
    from mrczflow.storage.sums import write_half_sum

    movie = movie_with_defects(20, frames=6, size=48)
    record = write_sums(tmp_path, "a", movie)
    other = movie_with_defects(21, frames=6, size=48) + 5
    write_half_sum(
        tmp_path / "x.half.mrcz", other[0::2].sum(axis=0), stack="x", frames=6, rows=slice(None, None, 1)
    )
    with pytest.raises(ValueError, match=r"x\.half\.mrcz: its even frames hold more counts.*rerun ingest"):
        stack_halves(tmp_path / "x.half.mrcz", record)
    write_half_sum(
        tmp_path / "y.half.mrcz", movie[0::2].sum(axis=0), stack="a", frames=7, rows=slice(None, None, 1)
    )
    with pytest.raises(ValueError, match=r"y\.half\.mrcz: not the half sum of a stack of 6 frames"):
        stack_halves(tmp_path / "y.half.mrcz", record)
    write_half_sum(
        tmp_path / "z.half.mrcz", movie[0::2, ::2].sum(axis=0), stack="a", frames=6, rows=slice(None, None, 2)
    )
    with pytest.raises(ValueError, match=r"z\.half\.mrcz: not the half sum .* every 1 rows"):
        stack_halves(tmp_path / "z.half.mrcz", record)
    with pytest.raises(ValueError, match=r"a\.sum\.mrcz: not the half sum"):
        stack_halves(tmp_path / "a.sum.mrcz", record)
    even, odd = stack_halves(tmp_path / "a.half.mrcz", record)[0].halves
    assert np.array_equal(even, movie[0::2].sum(axis=0)) and np.array_equal(odd, movie[1::2].sum(axis=0))


@pytest.mark.parametrize("write_movies", [False, True])
def test_rule_koma_reads_the_archive_only_for_a_normalised_movie(tmp_path, write_movies):
    """By default rule koma's job reads the stack's half sum and sums, not its archive (nor its mask); a
    normalised movie (koma.write_movies) brings both back."""
    from .test_session_order import tiny_session
    from .workflow_helpers import configure, deploy, snakemake

    tiny_session(tmp_path / "in", 4)
    dest = deploy(tmp_path / "wf")
    configure(
        dest,
        movies=str(tmp_path / "in" / "*.mrc"),
        koma={"radius": 1, "spare": 0, "write_movies": write_movies},
    )
    planned = snakemake(dest, "-n", "--printshellcmds", "--forceall")
    assert planned.returncode == 0, planned.stderr[-2000:]
    koma_jobs = [line for line in planned.stdout.splitlines() if "scripts/koma.py" in line]
    assert len(koma_jobs) == 4
    for line in koma_jobs:
        assert "results/sums/" in line and ".half.mrcz" in line
        assert ("results/mrcz/" in line) == ("--counts" in line) == ("--flags" in line) == write_movies


def test_ingest_proves_every_compressed_frame_as_it_writes_it(tmp_path, monkeypatch):
    """No later rule reads the archive, so ingest decodes each compressed frame back and checks it against
    the checksum the footer records for it, as every reader does: a chunk that decodes to anything else (a codec or memory fault, simulated here) stops the step, naming
    the archive, and leaves no archive and no sums."""
    import mrczflow.mrcz.writer as writer_module

    decode = writer_module.decompress_frame
    ingested(tmp_path, movie_with_defects(3))  # the true decoder: the archive is written

    def faulty(chunk, out, threads):
        decode(chunk, out, threads)
        out.reshape(-1)[7] ^= 1

    monkeypatch.setattr(writer_module, "decompress_frame", faulty)
    for name in ("a.mrcz", "t.mrcz", "h.mrcz"):
        (tmp_path / name).unlink()
    with pytest.raises(ValueError, match=r"a\.mrcz: a compressed frame decodes to other values"):
        ingested(tmp_path, movie_with_defects(3))
    assert not any((tmp_path / name).exists() for name in ("a.mrcz", "t.mrcz", "h.mrcz"))
