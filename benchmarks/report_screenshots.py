"""Screenshots of the session report's front page and figures at 24 and at 2,000 stacks (headless Chromium).

The report step runs on synthetic records of N stacks (``bench_scale.synthetic_records``:
K2-like movies one every 10 s, EPU names, a few hot-pixel bursts and high-contrast stacks);
its summary page (the report's front page) is photographed by headless Chromium, and its
figures are stacked into one image. Needs ``chromium`` (Debian: ``apt-get install chromium``).
Prints each image's path and the report step's seconds beside the seconds to write the
same number of records (the reference measured in the same run).

    python benchmarks/report_screenshots.py [--out screenshots] [--stacks 24,2000]
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import click
import yaml
from bench_scale import REPO, synthetic_records  # benchmarks/ is on the path of a script run from it
from PIL import Image

from mrczflow.report.steps import session_report

FIGURES = ("storage.png", "outliers.png", "koma.png", "worst_mask.png", "koma_radius.png")


def photograph(page: Path, image: Path, width: int = 1100, height: int = 1500) -> None:
    """A headless Chromium screenshot of ``page``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        raise click.ClickException("no chromium on PATH (Debian: apt-get install chromium)")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            f"--screenshot={image}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def stack_figures(folder: Path, image: Path) -> None:
    """The report's figures one above the other, as one PNG."""
    figures = [Image.open(folder / name) for name in FIGURES if (folder / name).exists()]
    sheet = Image.new("RGB", (max(f.width for f in figures), sum(f.height for f in figures)), "white")
    top = 0
    for figure in figures:
        sheet.paste(figure, (0, top))
        top += figure.height
    sheet.save(image)


@click.command()
@click.option(
    "--out", default="screenshots", show_default=True, type=click.Path(file_okay=False, path_type=Path)
)
@click.option("--stacks", default="24,2000", show_default=True, help="session sizes, comma-separated")
def main(out: Path, stacks: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="report_screens_") as scratch:
        for n in (int(s) for s in stacks.split(",")):
            folder = Path(scratch) / str(n)
            started = time.perf_counter()
            index, paths = synthetic_records(folder, n)
            written = time.perf_counter() - started
            started = time.perf_counter()
            session_report(index, paths, folder / "report", radius_samples=0, config=config)
            seconds = time.perf_counter() - started
            front, figures = out / f"front_page_{n}.png", out / f"figures_{n}.png"
            photograph(folder / "report" / "summary.html", front)
            stack_figures(folder / "report", figures)
            print(
                f"{n:>6} stacks: report step {seconds:.1f} s = {seconds / written:.1f}x writing the records; "
                f"{front}, {figures}"
            )


if __name__ == "__main__":
    main()
