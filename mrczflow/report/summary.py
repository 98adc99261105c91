"""The report's front page: the session in a few sentences, and what to look at."""

from __future__ import annotations

import html

import numpy as np
import yaml

from .facts import gain_check_lines, number, session_facts, size_text
from .live import live_lines
from .session import Session, anomalous, pace


def reduction(before: float, after: float) -> str:
    """How much lower ``after`` is, in words that stay true at zero and below (noise can estimate < 0)."""
    if after <= 0 < before:
        return "down to the noise of the estimate"
    if after >= before:
        return "no lower"
    ratio = before / after
    return f"{ratio:.0f}x lower" if ratio >= 10 else f"{ratio:.2g}x lower"


def short_stacks(session: Session) -> dict[str, tuple[int, int]]:
    """Stacks with fewer frames than the session's usual (median) count: a movie cut short is the usual cause."""
    frames = {s: r["shape"][0] for s, r in session.ingest.items() if r.get("shape")}
    if len(frames) < 3:
        return {}
    usual = int(np.median(list(frames.values())))
    return {s: (n, usual) for s, n in frames.items() if n < usual}


def summary_lines(session: Session) -> dict[str, list[str]]:
    """The summary as plain sentences, by heading (also what the closing note quotes)."""
    totals = session.totals()
    processed = session.processed
    lines: dict[str, list[str]] = {"Session": session_facts(session), "Look at": []}
    if session.live is not None:
        lines = {"Live": live_lines(session.live), **lines}
    gain_sentences, gain_look_at = gain_check_lines(session)
    lines["Session"].append(
        f"{len(processed)} of {len(session.stacks)} stacks processed; {len(session.failed)} failed."
    )
    if processed:
        lines["Session"].append(
            f"Data reduced from {size_text(totals['source_bytes'])} to {size_text(totals['mrcz_bytes'])} "
            f"({totals['ratio']:.1f}x smaller), lossless: every frame's checksum is stored with it."
        )
        bounds = [session.storage[s].get("percent_of_entropy_bound") for s in processed]
        bounds = [b for b in bounds if b is not None]
        if bounds:
            lines["Session"].append(
                f"Compression reaches {np.median(bounds):.0f}% of the best any lossless coder can do "
                "(the Poisson entropy bound), median over stacks."
            )
    keeping_up = pace(session)
    if keeping_up["processed_per_minute_per_core"]:
        sentence = f"Processing: {keeping_up['processed_per_minute_per_core']:.1f} movies a minute per core (all stages)"
        if keeping_up["acquired_per_minute"]:
            sentence += (
                f"; the microscope acquired {keeping_up['acquired_per_minute']:.1f} a minute, so "
                f"{max(1, int(np.ceil(keeping_up['cores_needed'])))} core(s) keep up."
            )
        lines["Session"].append(sentence + ("" if keeping_up["acquired_per_minute"] else "."))
    if processed and totals.get("written_bytes"):
        written = totals["written_bytes"]
        lines["Session"].append(
            f"Everything the session wrote: {size_text(written)}, {number(written / totals['mrcz_bytes'])}x the archive "
            "(stack sums, masks and records beside it; see results/)."
        )
    if session.outliers:
        hot = [r["hot"] for r in session.outliers.values()]
        dead = [r["dead"] for r in session.outliers.values()]
        lines["Session"].append(
            f"Hot pixels per stack: median {np.median(hot):.0f} (range {min(hot)}-{max(hot)}); "
            f"dead: median {np.median(dead):.0f}. They are filled in every corrected movie."
        )
        noted = [r for r in session.outliers.values() if r.get("line_note")]
        if noted:
            widest = max(float(r.get("line_spread") or 0.0) for r in noted)
            lines["Session"].append(
                f"Line defects on read-out lines: on {len(noted)} stack(s) the rows' and columns' read-out "
                f"offsets spread by up to {widest:.0%} of the dose, and a line defect no larger on them is not "
                "told from them; a CMOS read-out reference (gamma.cmos_reference) tells them apart."
            )
    lines["Session"].extend(gain_sentences)
    if session.gamma:
        best = session.gamma.get("orientation", {}).get("best", {})
        lines["Session"].append(
            f"Gain orientation checked against the vacuum references: rotate {best.get('rotate')}, "
            f"flip {best.get('flip')}."
        )
    else:
        lines["Session"].append(
            "Gamma-corrected gain not fitted (no vacuum references in gamma.references, or gamma.enabled false)."
        )
    if session.koma:
        before = np.median(
            [r["correlated_noise_before"] for r in session.koma.values() if not r["high_contrast"]]
        )
        after = np.median(
            [r["correlated_noise_after"] for r in session.koma.values() if not r["high_contrast"]]
        )
        lines["Session"].append(
            f"Correlated noise between frames (fixed-pattern noise), median: {number(before, 2)} with the gain "
            f"alone, {number(after, 2)} after outlier filter + KOMA ({reduction(before, after)})."
        )
        losses = [
            (r["fixed_pattern_loss_before"], r["fixed_pattern_loss_after"])
            for r in session.koma.values()
            if not r["high_contrast"] and "fixed_pattern_loss_after" in r
        ]
        if losses:
            gain_only, koma = np.median(losses, axis=0)
            lines["Session"].append(
                f"DQE lost to the detector's fixed pattern (from the spectra of two half-dose sums, 0.25-1 "
                f"Nyquist), median: {100 * gain_only:.1f}% with the gain alone, {100 * koma:.1f}% after "
                "outlier filter + KOMA (per stack in the table)."
            )
    for stack, line in session.failed.items():
        lines["Look at"].append(f"{stack} failed: {line}")
    lines["Look at"].extend(gain_look_at)
    for path, reason in session.refused.items():
        lines["Look at"].append(f"{path} was refused: {reason}.")
    for stack, (frames, usual) in short_stacks(session).items():
        lines["Look at"].append(
            f"{stack}: {frames} frames, the session's usual count is {usual}: check that its movie was complete."
        )
    for stack, reason in anomalous(session).items():
        lines["Look at"].append(f"{stack}: {reason}; check the detector or that stack's mask.")
    excluded = [s for s in session.stacks if session.koma.get(s, {}).get("high_contrast")]
    if excluded:
        evidence = []
        for stack in excluded:
            screen = session.koma[stack].get("screen") or {}
            if "limit" in screen and screen["contrast"] > screen["limit"]:
                evidence.append(
                    f"{stack} (contrast {number(screen['contrast'], 2)} vs {number(screen['limit'], 2)})"
                )
            elif screen.get("straight_edge"):
                evidence.append(
                    f"{stack} (contrast {number(screen['contrast'], 2)}, under {number(screen['limit'], 2)}, but a "
                    f"straight edge: step {number(screen['edge'], 2)} vs {number(screen['edge_limit'], 2)})"
                )
            else:
                evidence.append(stack)
        lines["Look at"].append(
            f"{len(excluded)} high-contrast stacks (carbon or crystalline ice) kept out of KOMA windows, each "
            f"judged against its window's stacks: {', '.join(evidence)}. The nearest spare stacks (koma.spare) "
            "take their places in windows. Set koma.include to override."
        )
    warnings = [s for s, r in session.ingest.items() if r.get("clipped_pixels")]
    warnings += [s for s, r in session.storage.items() if r.get("clipped_pixels")]
    for stack in sorted(set(warnings)):
        lines["Look at"].append(f"{stack}: counts above 255 were clipped (compress.allow_clipping).")
    if not lines["Look at"]:
        lines["Look at"].append("Nothing: every stack went through every stage.")
    return lines


def front_page(session: Session, config: dict | None = None) -> str:
    """The summary as an HTML fragment: the report's front page (``workflow/report/workflow.rst`` includes it).

    ``config`` (the workflow's config, as run) is shown folded, below the summary.
    """
    parts = []
    for heading, lines in summary_lines(session).items():
        parts.append(f"<h2>{html.escape(heading)}</h2><ul>")
        parts.extend(f"<li>{html.escape(line)}</li>" for line in lines)
        parts.append("</ul>")
    if config is not None:
        text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
        parts.append(
            "<h2>Config</h2><details><summary>The config this session ran with</summary>"
            f"<pre>{html.escape(text)}</pre></details>"
        )
    return "\n".join(parts) + "\n"


def summary_html(session: Session, config: dict | None = None) -> str:
    """The summary as a page of its own (``results/report/summary.html``)."""
    return (
        "<html><head><meta charset='utf-8'><title>Session summary</title></head><body>\n"
        + front_page(session, config)
        + "</body></html>\n"
    )
