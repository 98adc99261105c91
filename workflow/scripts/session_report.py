#!/usr/bin/env python
"""Rule session_report: the figures and one-page summary of `snakemake --report` (mrczflow.sessionreport).

Memory: the per-stack records, one outlier mask, and for the KOMA radius curve one stack at a time.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mrczflow import mrcz
from mrczflow.fileio import atomic_path
from mrczflow.reportplots import plot_koma, plot_mask, plot_outliers, plot_radius, plot_storage
from mrczflow.sessionreport import collect, radius_curves, summary_html, summary_lines
from mrczflow.steps import job_banner


@click.command()
@click.option("--stacks", required=True, help="comma-separated stacks of the session, in acquisition order")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--radius-samples", default=4, show_default=True, help="stacks of the KOMA radius curve")
@click.option("--gain-template", default=None, help="gain before KOMA; {stack} is replaced")
@click.option("--gain-rotate", type=click.Choice(["0", "90", "180", "270"]), default="0", show_default=True)
@click.option("--gain-flip", default="none", show_default=True, type=click.Choice(["none", "x", "y"]))
@click.option("--flags-template", default=None, help="outlier flags; {stack} is replaced")
@click.option("--form", default="divide", show_default=True, type=click.Choice(["divide", "subtract"]))
def main(stacks, out, radius_samples, gain_template, gain_rotate, gain_flip, flags_template, form) -> None:
    """Write OUT/summary.html, OUT/session.json and the report's PNG figures."""
    import sys

    print(job_banner("session_report", str(out)), file=sys.stderr, flush=True)
    names = stacks.split(",")
    session = collect(names)
    out.mkdir(parents=True, exist_ok=True)
    plot_storage(session, out / "storage.png")
    plot_outliers(session, out / "outliers.png")
    worst = max(
        session.outliers, key=lambda s: session.outliers[s]["hot"] + session.outliers[s]["dead"], default=None
    )
    plot_mask(
        mrcz.read(f"results/outliers/{worst}.mask.mrcz") if worst else None, worst, out / "worst_mask.png"
    )
    plot_koma(session, out / "koma.png")
    curves, baseline = ({}, float("nan"))
    if session.koma:
        curves, baseline = radius_curves(
            session, names, radius_samples, gain_template, int(gain_rotate), gain_flip, flags_template, form
        )
    plot_radius(curves, baseline, out / "koma_radius.png")
    with atomic_path(out / "summary.html") as tmp:
        tmp.write_text(summary_html(session))
    record = {
        "summary": summary_lines(session),
        "totals": session.totals(),
        "throughput_mb_s": session.throughput(),
        "failed": session.failed,
        "worst_mask": worst,
        "radius_curves": curves,
    }
    with atomic_path(out / "session.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    print("mrczflow session_report: done", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
