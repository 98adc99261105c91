#!/usr/bin/env python
"""Rule compress: decimate one stack's counts to uint8 (losslessly or not at all) and write MRCZ.

Calls :func:`mrczflow.steps.compress_stack`. Memory: one frame.
"""

from __future__ import annotations

import click

from mrczflow.mrcz import Compression
from mrczflow.mrcz.codec import CODEC_IDS, DEFAULT_BLOCKSIZE, SHUFFLES
from mrczflow.steps import compress_stack, run_guarded


@click.command()
@click.argument("counts", type=click.Path(dir_okay=False))
@click.argument("record", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("summary_out", type=click.Path(dir_okay=False))
@click.option("--codec", type=click.Choice(sorted(CODEC_IDS)), default="zstd", show_default=True)
@click.option("--level", type=click.IntRange(0, 9), default=1, show_default=True)
@click.option("--shuffle", type=click.Choice(SHUFFLES), default="bitshuffle", show_default=True)
@click.option("--blocksize", type=click.IntRange(min=0), default=DEFAULT_BLOCKSIZE, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="default: all available cores")
@click.option("--allow-clipping", is_flag=True, help="clip counts outside 0-255 and record how many")
def main(counts, record, out, summary_out, codec, level, shuffle, blocksize, threads, allow_clipping) -> None:
    """Write OUT (uint8 MRCZ) and SUMMARY_OUT (sizes, ratio, time) from COUNTS and its RECORD."""
    settings = Compression(codec=codec, level=level, shuffle=shuffle, blocksize=blocksize, threads=threads)
    stack = click.format_filename(out).rsplit("/", 1)[-1].removesuffix(".mrcz")
    run_guarded(
        stack,
        "compress",
        lambda: compress_stack(
            counts, record, out, compression=settings, allow_clipping=allow_clipping, summary_out=summary_out
        ),
    )


if __name__ == "__main__":
    main()
