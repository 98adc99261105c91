#!/usr/bin/env python
"""Rule session_report: the figures and one-page summary of `snakemake --report` (mrczflow.report.steps).

Memory: the per-stack records, one outlier mask, and for the KOMA radius curve one stack at a time.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.koma.settings import KomaSettings
from mrczflow.report.session import ReportPaths
from mrczflow.report.steps import session_report

STEP = "session_report"  # the name of the rule, of this script and of its step function


@click.command()
@click.option("--index", "index", required=True, help="the session's index (results/session/stacks.tsv)")
@click.option("--paths", "paths_json", required=True, help="where each record is (JSON of templates)")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--radius-samples", default=4, show_default=True, help="stacks of the KOMA radius curve")
@click.option("--threads", default=1, show_default=True, help="radius-curve samples drawn at once")
@click.option("--gain-template", default=None, help="gain before KOMA; {stack} is replaced")
@click.option("--gain-settings", "gain_json", default=None, help="orients a vendor gain (config gain, JSON)")
@click.option(
    "--gamma-gain", is_flag=True, help="raise the gain to each stack's gamma (from the session's gamma fit)"
)
@click.option("--flags/--no-flags", default=False, help="outlier masks exist (paths: mask)")
@click.option("--settings", "settings_json", default=None, help="config section koma, as JSON")
@click.option(
    "--config", "config_json", default=None, help="the workflow's config as run (JSON), for the front page"
)
@click.option(
    "--temporary",
    multiple=True,
    help="files (a glob under results/) that are deleted after the report: not counted as kept",
)
def main(
    index,
    paths_json,
    out,
    radius_samples,
    threads,
    gain_template,
    gain_json,
    gamma_gain,
    flags,
    settings_json,
    config_json,
    temporary,
) -> None:
    """Write OUT/summary.html, OUT/front_page.html, OUT/session.json and the report's PNG figures."""
    session_report(
        index,
        ReportPaths(**json.loads(paths_json)),
        out,
        radius_samples=radius_samples,
        threads=threads,
        gain_template=gain_template,
        gamma_gain=gamma_gain,
        gain=GainSettings.for_step(STEP, gain_json) if gain_json else None,
        flags=flags,
        koma=KomaSettings.for_step(STEP, settings_json),
        temporary=temporary,
        config=json.loads(config_json) if config_json else None,
    )


if __name__ == "__main__":
    main()
