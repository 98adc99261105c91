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
from mrczflow.storage.sums import read_stack_sum, write_stack_sum

SETTINGS = IngestSettings(dose=DoseSettings(source="config", dose_rate=4.0, frame_time=0.25))


def movie_with_defects(seed: int, frames: int = 8, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    movie = rng.poisson(1.5, (frames, size, size)).astype(np.uint16)
    movie[:, 5, 7] += 40  # a hot pixel
    movie[:, 20:22, 30:32] += 25  # a cluster
    movie[:, 40, 3] = 0  # a dead pixel
    return movie


def test_ingest_writes_archive_record_summary_and_sum_in_one_pass(tmp_path):
    movie = movie_with_defects(0)
    mrcz.write(tmp_path / "m.mrc", movie, compression=None)
    record = ingest(
        tmp_path / "m.mrc",
        tmp_path / "a.mrcz",
        tmp_path / "r.json",
        stack="m",
        settings=SETTINGS,
        summary_out=tmp_path / "s.json",
        sum_out=tmp_path / "t.mrcz",
    )
    archived = mrcz.read(tmp_path / "a.mrcz")
    assert archived.dtype == np.uint8 and np.array_equal(archived, movie)
    total, info = read_stack_sum(tmp_path / "t.mrcz")
    assert total.dtype == np.int32 and np.array_equal(total, movie.sum(axis=0))
    assert info == {"stack": "m", "frames": 8}
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["mrcz_bytes"] == (tmp_path / "a.mrcz").stat().st_size
    assert record["shape"] == [8, 48, 48] and record["dose_per_frame"] == 1.0
    with mrcz.MrczReader(tmp_path / "a.mrcz") as reader:
        assert reader.metadata["movie"]["stack"] == "m" and reader.metadata["clipped_pixels"] == 0
        assert reader.extended["dose_per_frame"] == 1.0 and reader.extended["exposure_time"] == 2.0


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


def test_scoring_on_rows_equals_scoring_the_whole_frames_on_those_rows(tmp_path):
    """KOMA's correlated noise is scored on every n-th row (score_rows); applying each correction to
    those rows only (Correction.rows) gives the same numbers as correcting whole frames."""
    from mrczflow.koma.correction import correction
    from mrczflow.koma.steps import noise_after, score_rows

    from .test_metrics import float64_correlated_noise

    rng = np.random.default_rng(3)
    gain = rng.uniform(0.8, 1.2, (2100, 24)).astype(np.float32)
    movie = rng.poisson(2.0 / gain, (4, 2100, 24)).astype(np.uint8)
    mrcz.write(tmp_path / "m.mrcz", movie)
    window = rng.poisson(40.0 / gain).astype(np.int64)
    fixes = [correction(window, 10, 20, gain), correction(window * 2, 20, 40, None, form="subtract")]
    rows = score_rows(2100)
    assert rows.step == 2
    # The divide form is scored without forming the products (ScaledCorrelation), the subtract form on them:
    # both within 3e-8 of float64 throughout (the values are 3e-3 and 3e-2).
    expected = [
        float64_correlated_noise(np.array([fix.apply(frame)[rows] for frame in movie])) for fix in fixes
    ]
    assert noise_after(tmp_path / "m.mrcz", fixes) == pytest.approx(expected, abs=3e-8)
    assert noise_after(tmp_path / "m.mrcz", [fix.rows(rows) for fix in fixes]) == pytest.approx(
        expected, abs=3e-8
    )
    # The subtract form alone (no frame is squared for it).
    assert noise_after(tmp_path / "m.mrcz", fixes[1:]) == pytest.approx(expected[1:], abs=3e-8)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    start=st.integers(0, 5),
    step=st.integers(1, 4),
)
def test_filling_on_scored_rows_equals_filling_whole_frames_then_taking_the_rows(seed, start, step):
    """KOMA scores on every k-th row and fills only those (filtered_frames(..., rows)): the same values
    as filling whole frames, since each fill still reads its neighbours in the rows between."""
    movie = movie_with_defects(seed)
    flags = detect(stack_sum(movie)).flags
    rows = slice(start, None, step)
    whole = [frame[rows] for frame in filtered_frames(movie, flags)]
    on_rows = list(filtered_frames(movie, flags, rows))
    assert len(on_rows) == len(whole)
    for expected, got in zip(whole, on_rows, strict=True):
        assert got.dtype == np.float32 and np.array_equal(got, expected)


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


def test_the_koma_step_streams_its_stack_and_scores_it_as_the_whole_stack_would(tmp_path):
    """Rule koma reads its stack one frame at a time (never the whole stack in memory): its scores and its
    movie equal those of the whole stack corrected in memory; a corrupt frame fails the step, no movie left."""
    from mrczflow.koma.noise import correlated_noise
    from mrczflow.koma.steps import koma, score_rows, window_correction

    (tmp_path / "sums").mkdir()
    movies, sums = [], []
    for i in range(5):
        movie = movie_with_defects(10 + i, frames=6, size=48)
        movies.append(movie)
        mrcz.write(tmp_path / f"s{i}.mrcz", movie.astype(np.uint8))
        write_stack_sum(tmp_path / f"s{i}.sum.mrcz", movie.sum(axis=0), stack=f"s{i}", frames=len(movie))
        mrcz.write(tmp_path / f"s{i}.mask.mrcz", detect(stack_sum(movie)).flags)
        koma_sum(
            tmp_path / f"s{i}.sum.mrcz",
            tmp_path / "sums" / f"s{i}.json",
            stack=f"s{i}",
            flags_path=tmp_path / f"s{i}.mask.mrcz",
        )
        sums.append(tmp_path / "sums" / f"s{i}.json")

    def run_koma(stats_out):
        return koma(
            tmp_path / "s0.mrcz",
            sums[0],
            sums,
            None,
            stats_out,
            stack="s0",
            radius=2,
            flags_path=tmp_path / "s0.mask.mrcz",
            movie_out=tmp_path / "s0.norm.mrc",
        )

    stats = run_koma(tmp_path / "k.json")
    fix, _ = window_correction(sums[0], sums, limit=4)
    flags = mrcz.read(tmp_path / "s0.mask.mrcz")
    filled = list(filtered_frames(movies[0], flags))
    rows = score_rows(48)
    assert stats["correlated_noise_after"] == pytest.approx(
        correlated_noise(fix.apply(frame)[rows] for frame in filled), abs=1e-7
    )
    assert stats["correlated_noise_before"] == pytest.approx(
        correlated_noise(movies[0][:, rows].astype(np.float32)), abs=1e-7
    )
    assert np.allclose(mrcz.read(tmp_path / "s0.norm.mrc"), [fix.apply(frame) for frame in filled], atol=1e-5)
    # One damaged byte in the archive's data: the step stops, and leaves no movie.
    damaged = bytearray((tmp_path / "s0.mrcz").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "s0.mrcz").write_bytes(bytes(damaged))
    (tmp_path / "s0.norm.mrc").unlink()
    with pytest.raises(ValueError, match=r"s0\.mrcz: corrupt chunk at frame"):
        run_koma(tmp_path / "k2.json")
    assert not (tmp_path / "s0.norm.mrc").exists() and not (tmp_path / "k2.json").exists()
