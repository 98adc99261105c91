"""KOMA on simulated sessions: the paper's Fig. 12, the form and denoising choices, carbon, timing.

Sessions of ``--stacks`` movies (default 60), ``--size``^2 px, 40 frames of
0.25 s: vacuum at 7 e/px/s and particles in ice at 4.5 e/px/s (the paper's
dose rates). The gain applied before KOMA is the vendor gain (gamma = 1);
"plain gain" is that gain alone, the baseline KOMA must beat.

1. Correlated noise between frames (paper Eq. 7), mean over the session,
   versus radius a = 1..25, for KOMA alone and outlier filter + KOMA, with
   the fits R(a) = c a^-p + r (paper Eq. 13); written as a table and a plot.
2. divide vs subtract; the term denoised against the window's measured
   noise (its two interleaved halves: shot noise and the specimen), against
   shot noise only (KOMA before issue #18), or raw; at a = 4 and 12.
3. A particle session with 3 carbon stacks: correlated noise of their
   neighbours with automatic exclusion (windows topped up from 2 spares a
   side, and not), hand pruning (the truth) and none.
4. Time per stack of the ``koma`` step (files in, movie out) at a = 1 and
   a = 25 on the same stacks, measured in this run: their ratio; and the
   stack sums KOMA keeps, against the archive.
5. A drifting detector (issue #18), ``--drift-size`` px: the response's
   low-frequency pattern drifts over the session, each pixel loses its own
   share to coincidence, and three carbon films of transmission 0.7, 0.85
   and 0.93 (thick to thin) cross the session; the vendor gain taken
   mid-session, at its start, then at its end. Per stack position: the gain
   error against the true flat field (full, and 64-px low-pass) of the vendor
   gain, the gamma gain, KOMA before issue #18, KOMA now (a = 6, 2 spares)
   and the oracle (KOMA's lowest frequencies weighed by the true powers:
   koma_scores.oracle_low_band), and the fixed-pattern DQE loss
   (koma.noise.fixed_pattern_loss) after the gamma gain and after KOMA; where
   KOMA and the oracle are worse than the gamma gain alone; and the screen's
   decision on each film with its evidence.
6. The same detector on 256-px sessions of ``--seeds`` (particles, no
   films), the vendor gain taken at the start, middle and end: where KOMA,
   and the oracle, are worse than the gamma gain alone, and KOMA's mean
   error over the oracle's.

    python benchmarks/bench_koma.py [--stacks 60] [--size 256] [--plot koma_fig12.png] [--drift-size 512]
        [--seeds 5,6,7]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np
from scipy.optimize import curve_fit

from mrczflow import koma, mrcz
from mrczflow.gain.fit import gain_to_gamma
from mrczflow.koma.noise import HalfSums
from mrczflow.koma.steps import koma as koma_step
from mrczflow.koma.steps import koma_sum
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate
from mrczflow.simulate.koma_scores import (
    gain_error,
    gain_scores,
    koma_corrections,
    koma_scores,
    load_session,
    screened,
    stack_sums,
    true_flat,
    truth_floor,
)
from mrczflow.storage.sums import score_rows, write_half_sum, write_stack_sum

RADII = tuple(range(1, 26))
RATES = {"vacuum": 7.0, "particles": 4.5}


def make_session(folder: Path, specimen: str, n_stacks: int, size: int, carbon=()) -> Truth:
    simulate(
        folder,
        SessionConfig(
            n_stacks=n_stacks,
            n_frames=40,
            frame_time=0.25,
            dose_rate=RATES[specimen],
            specimen=specimen,
            carbon_stacks=tuple(carbon),
            seed=3,
        ),
        DetectorConfig(shape=(size, size)),
        references=False,
    )
    return Truth(folder / "truth" / "session.npz")


def reciprocal(a, c, p, r):
    return c * a ** (-p) + r


def fit_text(radii, values) -> str:
    try:
        (c, p, r), _ = curve_fit(
            reciprocal, np.asarray(radii, float), values, p0=(0.01, 1.0, 0.0), maxfev=20000
        )
    except RuntimeError:
        return "no reciprocal fit"
    if p < 0.05:
        return "not reciprocal: rises with a (the stack's own transient hot pixels leave the window's mean)"
    return f"R(a) = {c:.4f} a^-{p:.2f} {r:+.5f}"


def fig12(sessions: dict, plot: Path) -> dict:
    """Sweep a = 1..25; print the table; plot; return the curves."""
    curves = {}
    for specimen, (raw, filtered, gain, _) in sessions.items():
        sums = {"koma": stack_sums(raw), "outlier+koma": stack_sums(filtered)}
        stacks = {"koma": raw, "outlier+koma": filtered}
        curves[(specimen, "plain gain")] = np.mean(list(gain_scores(raw, gain).values()))
        curves[(specimen, "outlier+gain")] = np.mean(list(gain_scores(filtered, gain).values()))
        for mode in ("koma", "outlier+koma"):
            curves[(specimen, mode)] = np.array(
                [np.mean(list(koma_scores(stacks[mode], sums[mode], a, gain).values())) for a in RADII]
            )
    print("\n1. correlated noise (mean over the session) vs KOMA radius a; divide form, denoised term")
    header = "   a" + "".join(f" {s[:6]:>6}:{m:<13}" for s in sessions for m in ("koma", "outlier+koma"))
    print(header)
    for k, a in enumerate(RADII):
        print(
            f"{a:4d}"
            + "".join(f" {curves[(s, m)][k]:20.5f}" for s in sessions for m in ("koma", "outlier+koma"))
        )
    for s in sessions:
        print(
            f"  {s}: plain gain {curves[(s, 'plain gain')]:.5f}, outlier filter + gain {curves[(s, 'outlier+gain')]:.5f}"
        )
        for m in ("koma", "outlier+koma"):
            print(f"  {s} {m}: {fit_text(RADII, curves[(s, m)])}")
        beats = [a for k, a in enumerate(RADII) if curves[(s, "koma")][k] < curves[(s, "plain gain")]]
        first = next((a for a in RADII if all(b in beats for b in range(a, RADII[-1] + 1))), None)
        print(f"  {s}: KOMA beats plain gain for every a >= {first}")
        at12, floor = curves[(s, "outlier+koma")][11], sessions[s][3]
        print(f"  {s}: outlier+KOMA at a = 12: {at12:+.5f} (target within +-0.001 of 0)")
        print(
            f"  {s}: truth floor (true gain, true outliers, no lines) {floor:+.5f}; a = 12 is {at12 - floor:+.5f} above"
        )
    _plot(curves, list(sessions), plot)
    return curves


def _plot(curves: dict, specimens: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
    for ax, mode, title in zip(
        axes, ("koma", "outlier+koma"), ("(a) KOMA", "(b) outlier filter + KOMA"), strict=True
    ):
        for specimen, colour in zip(specimens, ("tab:blue", "tab:orange"), strict=False):
            ax.plot(RADII, curves[(specimen, mode)], "o-", color=colour, ms=3, label=f"{specimen}")
            ax.axhline(
                curves[(specimen, "plain gain")], color=colour, ls="--", lw=1, label=f"{specimen}, plain gain"
            )
        ax.axhline(0, color="k", lw=0.5)
        ax.set(title=title, xlabel="KOMA radius a (stacks)", ylabel="correlated noise (Pearson, Eq. 7)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  plot: {path}")


def choices(sessions: dict) -> None:
    print("\n2. form and denoising (outlier filter + KOMA; KOMA alone in brackets)")
    print(f"{'session':>10} {'a':>3} {'form':>9} {'term':>14} {'outlier+koma':>13} {'(koma)':>10}")
    terms = {"halves": {}, "shot noise": {"spread": False}, "raw": {"denoise": False}}
    for specimen, (raw, filtered, gain, _) in sessions.items():
        sums_raw, sums_filtered = stack_sums(raw), stack_sums(filtered)
        for a in (4, 12):
            for form in koma.FORMS:
                for term, options in terms.items():
                    both = np.mean(
                        list(koma_scores(filtered, sums_filtered, a, gain, form=form, **options).values())
                    )
                    alone = np.mean(list(koma_scores(raw, sums_raw, a, gain, form=form, **options).values()))
                    print(f"{specimen:>10} {a:3d} {form:>9} {term:>14} {both:13.5f} ({alone:8.5f})")


def carbon(folder: Path, n_stacks: int, size: int, gain_of) -> None:
    bad = (n_stacks // 4, n_stacks // 2, 3 * n_stacks // 4)
    truth = make_session(folder, "particles", n_stacks, size, carbon=bad)
    _, filtered = load_session(folder, n_stacks)
    gain = gain_of(truth)
    sums = stack_sums(filtered)
    a = 12
    auto = {i for i, verdict in screened(sums, a, spare=2).items() if verdict["excluded"]}
    neighbours = sorted({j for i in bad for j in range(max(0, i - a), min(n_stacks, i + a + 1))} - set(bad))
    print(f"\n3. particles with carbon stacks {list(bad)}: automatically excluded {sorted(auto)}")
    runs = (
        ("automatic", auto, 2),
        ("(no top-up)", auto, 0),
        ("hand-pruned", set(bad), 2),
        ("none excluded", set(), 0),
    )
    for label, excluded, spare in runs:
        scores = koma_scores(filtered, sums, a, gain, excluded=excluded, scored=neighbours, spare=spare)
        print(f"  {label:>14}: neighbours' correlated noise at a = {a}: {np.mean(list(scores.values())):.5f}")


def timing(folder: Path, n_stacks: int, gain_path: Path, repeats: int = 3) -> None:
    """The koma step on files at a = 1 and a = 25: the same stacks, in one run."""
    work = folder / "timing"
    work.mkdir()
    names = [f"stack_{i:04d}" for i in range(n_stacks)]
    for name in names:
        counts = work / f"{name}.mrcz"
        movie = mrcz.read(folder / "movies" / f"{name}.mrc").astype(np.uint8)
        mrcz.write(counts, movie)
        write_stack_sum(
            work / f"{name}.raw.mrcz", movie.sum(axis=0, dtype=np.int64), stack=name, frames=len(movie)
        )
        rows = score_rows(movie.shape[1])
        write_half_sum(
            work / f"{name}.half.mrcz",
            movie[0::2, rows].sum(axis=0),
            stack=name,
            frames=len(movie),
            rows=rows,
        )
        koma_sum(work / f"{name}.raw.mrcz", work / f"{name}.sum.json", stack=name)
    centre = n_stacks // 2
    seconds = {}
    for a in (1, 25):
        lo, hi = koma.window(centre, n_stacks, a)
        best = []
        for _ in range(repeats):
            started = time.perf_counter()
            koma_step(
                work / f"{names[centre]}.half.mrcz",
                work / f"{names[centre]}.sum.json",
                [work / f"{name}.sum.json" for name in names[lo:hi]],
                work / f"gain_{a}.mrc",
                work / f"stats_{a}.json",
                stack=names[centre],
                radius=a,
                gain_path=gain_path,
                movie_out=work / f"movie_{a}.mrc",
                counts_path=work / f"{names[centre]}.mrcz",
            )
            best.append(time.perf_counter() - started)
        seconds[a] = min(best)
    archive = sum((work / f"{name}.mrcz").stat().st_size for name in names)
    sums = sum((work / f"{name}.{ext}").stat().st_size for name in names for ext in ("raw.mrcz", "sum.json"))
    print(
        f"\n4. koma step per stack, a = 25 vs a = 1 (same stack, best of {repeats}): ratio {seconds[25] / seconds[1]:.2f}"
        " (it reads the 2a + 1 sums of its window: O(a), with no chain through the session)"
    )
    print(
        f"   KOMA's intermediate storage (the stack sums): {100 * sums / archive:.1f}% of the uint8 archive"
    )


def drifting_session(
    work: Path, size: int, n_stacks: int, seed: int, taken: float, films: dict[int, float] | None = None
) -> tuple[Truth, list[np.ndarray], list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A simulated session on the drifting detector (gain drift 0.1, per-pixel coincidence 0.1), the vendor gain
    taken at ``taken`` of it: its truth, outlier-filtered stacks, their sums, each stack's gamma gain (KOMA runs
    after it, as the workflow does with gamma on) and each stack's true flat field."""
    films = films or {}
    simulate(
        work,
        SessionConfig(
            n_stacks=n_stacks,
            n_frames=40,
            dose_rate=RATES["particles"],
            carbon_stacks=tuple(films),
            carbon_transmission=tuple(films.values()),
            seed=seed,
        ),
        DetectorConfig(shape=(size, size), gain_drift=0.1, coincidence_spread=0.1, vendor_gain_at=taken),
        references=False,
    )
    truth = Truth(work / "truth" / "session.npz")
    _, filtered = load_session(work, n_stacks)
    sums = stack_sums(filtered)
    gammas = [
        gain_to_gamma(truth.vendor_gain, truth.gamma(float(truth.dose_rate[i]))) for i in range(n_stacks)
    ]
    flats = [true_flat(truth, i, float(sums[i].mean()) / len(filtered[i])) for i in range(n_stacks)]
    return truth, filtered, sums, gammas, flats


def drifting(folder: Path, size: int, n_stacks: int = 32, a: int = 6, spare: int = 2) -> None:
    """Per position: gain error and fixed-pattern loss of vendor, gamma and KOMA gains; the film decisions."""
    films = {n_stacks // 4: 0.7, n_stacks // 2: 0.85, 3 * n_stacks // 4: 0.93}
    print(f"\n5. drifting gain (0.1), per-pixel coincidence (0.1), {n_stacks} stacks, a = {a}; films {films}")
    for taken in (0.5, 0.0, 1.0):
        work = folder / f"vendor_{taken}"
        truth, filtered, sums, gammas, flats = drifting_session(work, size, n_stacks, 5, taken, films)
        vendor = truth.vendor_gain
        verdicts = screened(sums, a, spare=spare)
        excluded = {i for i, verdict in verdicts.items() if verdict["excluded"]}
        where = {0.5: "mid-session", 0.0: "at the session's start", 1.0: "at the session's end"}[taken]
        print(f"\n   vendor gain taken {where}")
        if taken == 0.5:
            films_screened(sums, verdicts, films, vendor)
        before, flat_low, after, oracle = {}, {}, {}, {}
        for i in range(n_stacks):
            options = {"excluded": excluded, "scored": [i]}
            before.update(koma_corrections(filtered, sums, a, gammas[i], spread=False, **options))
            flat_low.update(
                koma_corrections(filtered, sums, a, gammas[i], spare=spare, drift=False, **options)
            )
            after.update(koma_corrections(filtered, sums, a, gammas[i], spare=spare, **options))
            oracle.update(
                koma_corrections(
                    filtered, sums, a, gammas[i], spare=spare, oracle=flats.__getitem__, **options
                )
            )
        print(
            "   gain error against the true flat field, full / 64-px low-pass; fixed-pattern DQE loss (FP);"
            " KOMA after the gamma gain; KOMA before: shot-noise-only denoising, no top-up; no low band:"
            " KOMA without its lowest frequencies judged against the stacks' scatter (mrczflow.koma.drift);"
            " oracle: KOMA with those frequencies weighed by the true powers (koma_scores.oracle_low_band),"
            " KOMA's weighing had it known the powers instead of guessing them"
        )
        print(
            f"   {'stack':>5} {'vendor':>15} {'gamma':>15} {'KOMA before':>15} {'no low band':>15} {'KOMA':>15}"
            f" {'oracle':>15} {'FP gamma':>9} {'FP KOMA':>9}"
        )
        worse: dict[str, list[int]] = {"before": [], "no low band": [], "after": [], "oracle": []}
        losses, low_pass = [], []
        for i in range(n_stacks):
            true = flats[i]
            gamma = gammas[i]
            errors = [gain_error(g, true) for g in (vendor, gamma)]
            errors += [gain_error(fix[i].gain_reference(), true) for fix in (before, flat_low, after, oracle)]
            halves = HalfSums()
            for frame in filtered[i]:
                halves.add(frame)
            fp_gamma = halves.loss(lambda total, _, gain=gamma: total * gain)
            fp_koma = halves.loss(after[i].apply_sum)
            losses.append((fp_gamma, fp_koma))
            low_pass.append([low for _, low in errors])
            for key, error in zip(worse, errors[2:], strict=True):
                if error[1] > errors[1][1]:
                    worse[key].append(i)
            mark = " (kept out)" if i in excluded else ""
            print(
                f"   {i:5d} "
                + " ".join(f"{full:.4f}/{low:.4f}".rjust(15) for full, low in errors)
                + f" {fp_gamma:9.4f} {fp_koma:9.4f}{mark}"
            )
        for key, label in (
            ("before", "KOMA before"),
            ("no low band", "KOMA, no low band"),
            ("after", "KOMA"),
            ("oracle", "oracle"),
        ):
            print(f"   {label}: 64-px error above the gamma gain's alone at stacks {worse[key] or 'none'}")
        means = np.mean(low_pass, axis=0)
        print(
            "   64-px error, mean over the session: "
            + ", ".join(
                f"{label} {value:.4f}"
                for label, value in zip(
                    ("vendor", "gamma", "KOMA before", "no low band", "KOMA", "oracle"), means, strict=True
                )
            )
        )
        gain_only, koma_loss = np.median(losses, axis=0)
        print(
            f"   fixed-pattern DQE loss, median: {gain_only:.1%} after the gamma gain, {koma_loss:.1%} after KOMA"
        )


def positions(folder: Path, size: int, seeds: tuple[int, ...], n_stacks: int = 32, a: int = 6) -> None:
    """Over several drifting sessions: the positions where KOMA, and the oracle, are worse than the gamma gain."""
    print(
        f"\n6. drifting sessions of {n_stacks} stacks of {size}^2 (particles, no films), seeds {seeds}, vendor gain"
        " taken at the start, middle or end: 64-px error over the gamma gain's alone where above 1"
    )
    print(
        f"   {'session':>12} {'KOMA worse at (ratio)':>40} {'oracle worse at (ratio)':>40} {'KOMA/oracle':>11}"
    )
    counts, worst, means = {"KOMA": 0, "oracle": 0}, {"KOMA": 0.0, "oracle": 0.0}, []
    for seed in seeds:
        for taken in (0.0, 0.5, 1.0):
            work = folder / f"seed{seed}_{taken}"
            _, filtered, sums, gammas, flats = drifting_session(work, size, n_stacks, seed, taken)
            ratios: dict[str, list[float]] = {"KOMA": [], "oracle": []}
            errors = []
            for i in range(n_stacks):
                gamma = gammas[i]
                options = {"scored": [i], "spare": 2}
                koma_fix = koma_corrections(filtered, sums, a, gamma, **options)[i]
                oracle_fix = koma_corrections(filtered, sums, a, gamma, oracle=flats.__getitem__, **options)[
                    i
                ]
                reference = gain_error(gamma, flats[i])[1]
                pair = [gain_error(fix.gain_reference(), flats[i])[1] for fix in (koma_fix, oracle_fix)]
                errors.append(pair)
                for key, error in zip(ratios, pair, strict=True):
                    ratios[key].append(error / reference)
            cells = []
            for key, values in ratios.items():
                above = [(i, r) for i, r in enumerate(values) if r > 1]
                counts[key] += len(above)
                worst[key] = max(worst[key], *values)
                cells.append(", ".join(f"{i} ({r:.2f})" for i, r in above) or "none")
            mean_koma, mean_oracle = np.mean(errors, axis=0)
            means.append(mean_koma / mean_oracle)
            print(
                f"   {f'{seed} at {taken}':>12} {cells[0]:>40} {cells[1]:>40} {mean_koma / mean_oracle:11.2f}"
            )
    total = len(seeds) * 3 * n_stacks
    print(
        f"   positions worse than the gamma gain, of {total}: KOMA {counts['KOMA']} (highest ratio"
        f" {worst['KOMA']:.2f}), oracle {counts['oracle']} (highest ratio {worst['oracle']:.2f}); KOMA's mean error"
        " over the oracle's"
        f" {min(means):.2f}-{max(means):.2f}"
    )


def films_screened(sums, verdicts: dict, films: dict, vendor: np.ndarray) -> None:
    """The screen's decision on each film with its evidence, and on the specimen stacks."""
    absolute = [koma.contrast(total, vendor) for total in sums]  # the screen before issue #18
    print(
        "   screen: each stack against its window (contrast over the window's block pattern; straight"
        " edges); before: absolute"
    )
    for index, transmission in films.items():
        verdict = verdicts[index]
        kept = "kept out" if verdict["excluded"] else "KEPT IN windows"
        before = "kept out" if absolute[index] > 0.08 else "kept in"
        print(
            f"   film {transmission:.2f} (stack {index}): contrast {verdict['contrast']:.3f} vs limit "
            f"{verdict['limit']:.3f} (window median {verdict['median']:.3f}), straight edge "
            f"{verdict['edge']:.3f} vs limit {verdict['edge_limit']:.3f} (median {verdict['edge_median']:.3f})"
            f" -> {kept}; before: {absolute[index]:.3f} vs 0.08 -> {before}"
        )
    others = [i for i in range(len(sums)) if i not in films]
    wrongly = [i for i in others if verdicts[i]["excluded"]]
    print(
        f"   specimen stacks: contrast {min(verdicts[i]['contrast'] for i in others):.3f}-"
        f"{max(verdicts[i]['contrast'] for i in others):.3f}, straight edge "
        f"{min(verdicts[i]['edge'] for i in others):.3f}-{max(verdicts[i]['edge'] for i in others):.3f},"
        f" kept out: {wrongly or 'none'}; before: "
        f"{min(absolute[i] for i in others):.3f}-{max(absolute[i] for i in others):.3f} (drift read as contrast)"
    )


@click.command()
@click.option("--stacks", default=60, show_default=True)
@click.option("--size", default=256, show_default=True)
@click.option("--plot", default="koma_fig12.png", show_default=True, type=click.Path(path_type=Path))
@click.option("--drift-size", default=512, show_default=True, help="frame size of section 5's sessions")
@click.option(
    "--seeds", default="5,6,7", show_default=True, help="section 6's sessions (256 px), comma-separated"
)
def main(stacks: int, size: int, plot: Path, drift_size: int, seeds: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sessions, gain_path = {}, None
        for specimen in RATES:
            folder = Path(tmp) / specimen
            truth = make_session(folder, specimen, stacks, size)
            raw, filtered = load_session(folder, stacks)
            sessions[specimen] = (raw, filtered, truth.vendor_gain, truth_floor(truth, raw))
            if gain_path is None:
                gain_path = folder / "gain_vendor.mrc"
                mrcz.write(gain_path, truth.vendor_gain, compression=None)
                timing(folder, stacks, gain_path)
        fig12(sessions, plot)
        choices(sessions)
        carbon(Path(tmp) / "carbon", stacks, size, lambda truth: truth.vendor_gain)
        drifting(Path(tmp) / "drifting", drift_size)
        positions(Path(tmp) / "positions", 256, tuple(int(seed) for seed in seeds.split(",")))


if __name__ == "__main__":
    main()
