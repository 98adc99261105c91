"""The gain's orientation checked on each stack's own sum (mrczflow.gain.session_check; issue #19).

Two detector models (the K2 default and a second with a noisier vendor gain and no
read-out pattern), so the check is not tuned to one.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mrczflow import mrcz
from mrczflow.gain.reference import orient
from mrczflow.gain.session_check import GainOrientationError, check_on_sum
from mrczflow.gain.settings import GainSettings
from mrczflow.outliers.steps import outliers
from mrczflow.simulate.defects import DefectSchedule
from mrczflow.simulate.detector import Detector, DetectorConfig
from mrczflow.simulate.session import StackSimulation
from mrczflow.storage.sums import write_stack_sum

MODELS = {
    "K2": {},
    "second": {
        "pixel_sigma": 0.06,
        "etching_amplitude": 0.015,
        "etching_waves": 3,
        "cmos_counts": 0.0,
        "gain_reference_counts": 300.0,
    },
}
ORIENTATIONS = [(r, f) for r in (0, 90, 180, 270) for f in ("none", "x", "y")]


def simulated_sum(model: str, dose_per_frame: float, frames: int = 30, shape=(192, 192), seed: int = 3):
    """A specimen stack's raw sum and its detector's vendor gain (as the movies need it: unrotated)."""
    config = DetectorConfig(shape=shape, **MODELS[model])
    detector = Detector(config, np.random.default_rng(seed))
    stack = StackSimulation(
        detector,
        DefectSchedule(config, np.random.default_rng(seed + 1)).next_stack(0.0),
        dose_rate=dose_per_frame * 10,
        frame_time=0.1,
        n_frames=frames,
        specimen="particles",
        particle_radius=15,
        drift_speed=0.5,
        rng=np.random.default_rng(seed + 2),
    )
    total = np.zeros(shape, np.int64)
    for frame in stack.frames():
        total += frame
    return total, detector.vendor_gain


def stored(gain: np.ndarray, rotate: int, flip: str) -> np.ndarray:
    """The gain as a file would hold it if ``rotate``/``flip`` is what orients it to the movies."""
    # orient() rotates then flips; undo in reverse order (each flip is its own inverse)
    undone = gain[:, ::-1] if flip == "x" else gain[::-1, :] if flip == "y" else gain
    return np.rot90(undone, k=-(rotate // 90))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("dose", [0.5, 4.0])
def test_the_right_orientation_is_confirmed_and_every_other_is_wrong(model, dose):
    total, gain = simulated_sum(model, dose)
    for rotate, flip in [(90, "none"), (180, "x"), (0, "none")]:
        on_file = stored(gain, rotate, flip)
        assert np.array_equal(orient(on_file, rotate, flip), gain)
        right = check_on_sum(total, on_file, rotate, flip)
        assert right.verdict == "right", right.message()
        assert right.spreads[right.best] == min(right.spreads.values())
        for other in ORIENTATIONS:
            if np.array_equal(orient(on_file, *other), gain):
                continue  # flip x = rotate 180 + flip y: the same orientation
            check = check_on_sum(total, on_file, *other)
            assert check.verdict == "wrong", (other, check.message())
            assert check.problem
            assert check.best == right.best
            assert f"set gain.rotate/gain.flip to {right.best}" in check.message()


@pytest.mark.parametrize("model", MODELS)
def test_a_gain_of_another_detector_is_worse_than_no_gain(model):
    total, _ = simulated_sum(model, 2.0)
    _, foreign = simulated_sum(model, 2.0, seed=11)
    check = check_on_sum(total, foreign, 0, "none")
    assert check.verdict == "worse than no gain"
    assert check.spreads[check.configured] > check.no_gain
    assert "less flat in every orientation" in check.message()


def test_too_few_counts_decide_nothing_and_never_call_an_orientation_wrong():
    # 0.01 e/px/frame x 10 frames: the sum is noise; the gain's pattern cannot show
    total, gain = simulated_sum("K2", 0.01, frames=10)
    for orientation in ORIENTATIONS:
        check = check_on_sum(total, gain, *orientation)
        assert check.verdict == "not decided", (orientation, check.message())
        assert not check.problem


def test_a_flat_gain_has_nothing_to_check():
    total, gain = simulated_sum("K2", 2.0)
    check = check_on_sum(total, np.ones_like(gain), 90, "none")
    assert check.verdict == "flat gain" and not check.problem


def test_a_non_square_frame_tries_only_the_orientations_that_fit():
    total, gain = simulated_sum("K2", 2.0, shape=(160, 224))
    check = check_on_sum(total, gain, 0, "none")
    assert check.verdict == "right"
    assert set(check.spreads) == {f"rotate {r}, flip {f}" for r in (0, 180) for f in ("none", "y")}
    with pytest.raises(GainOrientationError, match="does not fit"):
        check_on_sum(total, gain, 90, "none")


def test_rule_outliers_stops_on_a_wrong_orientation_unless_told_to_go_on(tmp_path):
    total, gain = simulated_sum("K2", 2.0)
    stack_sum = tmp_path / "s.sum.mrcz"
    write_stack_sum(stack_sum, total, stack="s", frames=30)
    gain_path = tmp_path / "gain.mrc"
    mrcz.write(gain_path, gain.astype(np.float32), compression=None)
    outputs = [tmp_path / name for name in ("mask.mrcz", "defects.txt", "stats.json")]

    with pytest.raises(GainOrientationError, match="rotate 0, flip none") as error:
        outliers(stack_sum, *outputs, stack="s", gain_path=gain_path, gain=GainSettings(rotate=90))
    assert str(gain_path) in str(error.value)
    assert not any(path.exists() for path in outputs)  # nothing written

    outliers(
        stack_sum,
        *outputs,
        stack="s",
        gain_path=gain_path,
        gain=GainSettings(rotate=90, orientation_check="warn"),
    )
    check = json.loads(outputs[2].read_text())["gain_check"]
    assert check["verdict"] == "wrong" and check["best"] == "rotate 0, flip none"

    outliers(stack_sum, *outputs, stack="s", gain_path=gain_path, gain=GainSettings())
    assert json.loads(outputs[2].read_text())["gain_check"]["verdict"] == "right"
