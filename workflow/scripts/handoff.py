#!/usr/bin/env python
"""Rule handoff: a downstream program's folder (mrczflow.handoff.steps.handoff_step).

Stacks come from the session index (no command line grows with the session),
less those whose jobs failed (their logs' error lines). Memory: a frame-sized
gain, defect count and window sum.
"""

from __future__ import annotations

import json

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.handoff.session import evenly_spaced
from mrczflow.handoff.settings import HandoffSettings
from mrczflow.handoff.steps import handoff_step
from mrczflow.jobs import error_line, run_guarded
from mrczflow.koma.settings import KomaSettings
from mrczflow.storage.index import read_index

STEP = "handoff"


@click.command()
@click.argument("program", type=click.Choice(["relion", "motioncor", "cryosparc"]))
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--index", required=True, help="the session index (results/session/stacks.tsv)")
@click.option("--paths", "paths_json", required=True, help="JSON: path templates with {stack} (and {stage})")
@click.option("--stages", required=True, help="comma-separated stages whose failure leaves a stack out")
@click.option("--pixel-size", type=float, default=0.0)
@click.option("--gain", default=None, help="the vendor gain reference")
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
@click.option("--fit", default=None, help="the session's gamma fit (gamma on)")
@click.option("--koma-settings", "koma_json", default=None, help="config section koma, as JSON (KOMA on)")
@click.option("--outliers/--no-outliers", default=True)
@click.option("--settings", "settings_json", required=True, help="config section handoff, as JSON")
def main(
    program,
    out_dir,
    index,
    paths_json,
    stages,
    pixel_size,
    gain,
    gain_json,
    fit,
    koma_json,
    outliers,
    settings_json,
) -> None:
    """Write OUT_DIR's gain, defects, STARs and commands for PROGRAM."""
    paths = json.loads(paths_json)
    stages = stages.split(",")

    def run() -> None:
        rows = [row for row in read_index(index) if row.get("stack")]
        stacks = [
            row["stack"]
            for row in rows
            if not any(error_line(paths["log"].format(stage=s, stack=row["stack"])) for s in stages)
        ]
        if not stacks:
            raise ValueError("no stack of the session is ready to hand off")
        sample = evenly_spaced(stacks)
        settings = HandoffSettings.for_step(STEP, settings_json)
        handoff_step(
            program,
            out_dir,
            [paths["record"].format(stack=s) for s in stacks],
            [paths["movie"].format(stack=s) for s in stacks],
            fmt=settings.format,
            optics=settings.optics(pixel_size),
            koma_sums=[paths["koma_sum"].format(stack=s) for s in sample] if koma_json else [],
            masks=[paths["mask"].format(stack=s) for s in sample] if outliers else [],
            vendor_gain=gain,
            gain=GainSettings.for_step(STEP, gain_json) if gain_json else None,
            fit_path=fit,
            koma=KomaSettings.for_step(STEP, koma_json) if koma_json else None,
            persistent=settings.persistent_defects,
        )

    run_guarded(program, STEP, run)


if __name__ == "__main__":
    main()
