"""The step of rule ``session_report``: the figures, the one-page summary and the session's record."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import mrcz
from ..fileio import atomic_path
from ..gain.settings import GainSettings
from ..jobs import job_banner, write_json
from ..koma.settings import KomaSettings
from ..live.ready import read_entries
from ..storage.index import read_index
from .live import live_progress
from .radius import radius_curves
from .session import ReportPaths, anomalous, collect, disk_written, pace
from .summary import front_page, summary_html, summary_lines
from .table import stack_rows, write_table


def session_report(
    index: str | os.PathLike,
    paths: ReportPaths,
    out: str | os.PathLike,
    *,
    radius_samples: int = 4,
    gain_template: str | None = None,
    gain: GainSettings | None = None,
    gamma_gain: bool = False,
    flags: bool = False,
    koma: KomaSettings | None = None,
    temporary: Sequence[str] = (),
    config: dict | None = None,
    threads: int = 1,
) -> dict:
    """Write ``out``/summary.html, front_page.html, session.json, the per-stack table and the PNG figures.

    ``front_page.html`` is the summary as a fragment, which the Snakemake
    report shows on its first page; ``config`` (the workflow's, as run) is
    shown with it.

    ``temporary``: globs (relative to the results folder, ``out``'s parent)
    of files deleted once the report has run, left out of the disk total.

    ``index`` is the session's index (:func:`mrczflow.storage.names.write_index`):
    its stacks in acquisition order, and the files set aside with the reason.

    Memory: the per-stack records, one outlier mask, and for the KOMA radius
    curve one window's sums per thread (``threads`` sample stacks at a time).
    """
    print(job_banner("session_report", os.fspath(out)), file=sys.stderr, flush=True)
    koma = koma or KomaSettings()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = read_index(index)
    stacks = [row["stack"] for row in rows if row["stack"]]
    session = collect(stacks, paths)
    session.refused = {row["source"]: row["reason"] for row in rows if not row["stack"]}
    session.written_bytes = disk_written(out.parent, temporary)
    if config and config.get("movies_ready"):  # run by mrczflow watch
        session.live = live_progress(
            read_entries(config["movies_ready"]), paths.archive, bool(config.get("live"))
        )
    write_table(
        stack_rows(session, {row["stack"]: row["time"] for row in rows if row["stack"]}),
        out / "stacks.tsv",
        out / "stacks.html",
    )
    in_order = {s: session.storage[s] for s in session.processed}
    keeping_up, rates = pace(session), session.movies_per_minute()

    def stamps(names: Sequence[str]) -> list[str | None]:
        return [session.ingest.get(s, {}).get("timestamp") for s in names]

    # The radius curve re-reads sample stacks' window sums: a live session draws it once, at its final pass.
    # It runs beside the figures (numpy, the FFTs and decompression release the GIL; matplotlib holds it).
    with ThreadPoolExecutor(max_workers=1) as beside:
        pending = (
            beside.submit(
                radius_curves,
                session,
                paths,
                radius_samples,
                gain_template=gain_template,
                gain=gain,
                gamma_gain=gamma_gain,
                flags=flags,
                koma=koma,
                threads=threads,
            )
            if session.koma and not (session.live and session.live.growing)
            else None
        )
        # matplotlib is imported only now (0.8 s, holding the GIL): the curve, the report's longest part,
        # has started meanwhile.
        from ..koma.figures import plot_koma, plot_radius
        from ..outliers.figures import plot_mask, plot_outliers
        from ..storage.figures import plot_storage

        plot_storage(
            in_order,
            session.totals()["ratio"],
            session.throughput(),
            out / "storage.png",
            movies_per_minute=rates,
            microscope=keeping_up["acquired_per_minute"],
            stamps=stamps(list(in_order)),
        )
        plot_outliers(
            {s: session.outliers[s] for s in stacks if s in session.outliers},
            anomalous(session),
            out / "outliers.png",
        )
        worst = max(
            session.outliers,
            key=lambda s: session.outliers[s]["hot"] + session.outliers[s]["dead"],
            default=None,
        )
        plot_mask(mrcz.read(paths.of("mask", worst)) if worst else None, worst, out / "worst_mask.png")
        koma_records = {s: session.koma[s] for s in stacks if s in session.koma}
        plot_koma(koma_records, out / "koma.png", stamps(list(koma_records)))
        curves, baseline = pending.result() if pending else ({}, float("nan"))
    # The radius rule koma used: the configured one, clamped to a short session (the stacks' records say).
    in_force = next((r["radius"] for r in session.koma.values() if "radius" in r), koma.radius)
    plot_radius(curves, baseline, out / "koma_radius.png", configured=in_force)
    with atomic_path(out / "summary.html") as tmp:
        tmp.write_text(summary_html(session, config))
    with atomic_path(out / "front_page.html") as tmp:
        tmp.write_text(front_page(session, config))
    record = {
        "summary": summary_lines(session),
        "totals": session.totals(),
        "throughput_mb_s": session.throughput(),
        "movies_per_minute": rates,
        "pace": keeping_up,
        "failed": session.failed,
        "refused": session.refused,
        "worst_mask": worst,
        "radius_curves": curves,
        "live": dataclasses.asdict(session.live) if session.live else None,
    }
    write_json(out / "session.json", record)
    print("mrczflow session_report: done", file=sys.stderr, flush=True)
    return record
