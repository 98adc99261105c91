"""The ``mrczflow`` command: compress, decompress and inspect MRC/MRCZ files; watch a live session.

``mrczflow compress IN... OUT`` works like ``cp``: with one input OUT is a
file name, with several it must be an existing folder. An output is named
after its input with the movie extension replaced (``movie.1.mrc`` ->
``movie.1.mrcz``). Before anything is written, two inputs that would make
the same output, and outputs that already exist, are refused (``--force``
overwrites existing files; never an input). MRC/MRCZ data types are kept
exactly. TIFF and EER movies are archived as the workflow's ``ingest`` step
archives them, by the same function
(:func:`mrczflow.storage.steps.archive_movie`): lossless uint8 MRCZ with the
same frames, checksums and metadata, ``--eer-group`` EER frames summed per
frame, dose metadata from a SerialEM .mdoc or EPU .xml if one is beside the
movie (none otherwise); counts that do not fit uint8, float data, truncated
or half-written files are refused. Each file is streamed frame by frame, so
memory stays at a few frames whatever the stack size. A failing file is
reported in one line (``error: <file>: <problem>``) and leaves no output;
the others still run, and the exit status is 1 if any failed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import click
from tqdm import tqdm

from .mrcz import Compression, MrczError, MrczReader, MrczWriter
from .mrcz.codec import CODEC_IDS, DEFAULT_BLOCKSIZE, SHUFFLES
from .mrcz.footer import FOOTER_FORMATS
from .storage.movies import EXTENSIONS, open_movie
from .storage.names import movie_stem, stack_name
from .storage.settings import CompressSettings, IngestSettings

ARCHIVED_FORMATS = ("tiff", "eer")  # compressed as the workflow's ingest step archives them


def output_name(source: Path, suffix: str) -> str:
    """``source``'s file name with its movie extension replaced by ``suffix`` (other dots are kept)."""
    stem = movie_stem(source)
    return (source.name if stem is None else stem) + suffix


def _targets(inputs: tuple[str, ...], output: str, suffix: str, force: bool) -> list[tuple[Path, Path]]:
    """Pair each input with its output; refuse collisions and existing outputs before anything is written."""
    out = Path(output)
    if len(inputs) > 1 or out.is_dir():
        if not out.is_dir():
            raise click.UsageError(f"with several inputs, OUT must be an existing folder: {out}")
        pairs = [(Path(i), out / output_name(Path(i), suffix)) for i in inputs]
    else:
        pairs = [(Path(inputs[0]), out)]
    problems = []
    claimed: dict[Path, Path] = {}
    sources = {source.resolve() for source, _ in pairs}
    for source, target in pairs:
        key = target.resolve()
        if key in claimed:
            problems.append(f"{source} and {claimed[key]} would both be written to {target}")
        claimed.setdefault(key, source)
        if key in sources:
            problems.append(f"{target} is an input; it would be overwritten")
        elif target.exists() and not force:
            problems.append(f"{target} exists (--force overwrites it)")
    if problems:
        raise click.UsageError("nothing written: " + "; ".join(problems))
    return pairs


def convert(
    source: Path,
    target: Path,
    compression: Compression | None,
    *,
    metadata_format: str = "msgpack",
    progress: tqdm | None = None,
) -> None:
    """Stream ``source`` into ``target`` with the given compression (``None`` = plain MRC)."""
    with MrczReader(source) as reader:
        h = reader.header
        options = {
            "voxel_size": h.voxel_size,
            "voltage": h.voltage,
            "cs": h.cs,
            "gain": h.gain,
            "ndim": reader.ndim,
            "compression": compression,
        }
        if compression is not None:
            options.update(
                metadata=reader.metadata,
                metadata_format=metadata_format,
                dose_per_frame=reader.extended.get("dose_per_frame"),
                exposure_time=reader.extended.get("exposure_time"),
            )
        with MrczWriter(target, h.shape[1:], reader.dtype, **options) as writer:
            for frame in reader:
                writer.write_frame(frame)
                if progress is not None:
                    progress.update(1)


def is_detector_movie(source: Path) -> bool:
    """Whether ``compress`` archives ``source`` as the ingest step does (a TIFF or EER movie, by extension)."""
    return EXTENSIONS.get(source.suffix.lower()) in ARCHIVED_FORMATS


def archive(
    source: Path,
    target: Path,
    compress: CompressSettings,
    *,
    eer_group: int,
    threads: int | None = None,
    metadata_format: str = "msgpack",
    progress: tqdm | None = None,
) -> None:
    """Archive the TIFF/EER movie ``source`` as ``target``, exactly as the workflow's ``ingest`` step does.

    Parameters
    ----------
    source, target
        The movie and the uint8 MRCZ archive to write (overwritten if it
        exists: :func:`_targets` has already refused that without ``--force``).
    compress
        The archive's compression (config section ``compress``).
    eer_group
        EER frames summed into each archived frame (``ingest.eer_group``).
    threads, metadata_format
        Compression threads (None: all cores); footer format.
    progress
        Bar advanced a frame at a time.
    """
    from .storage.steps import archive_movie  # the ingest step's pass (imports the gain stage)

    archive_movie(
        source,
        target,
        stack=stack_name(source),
        settings=IngestSettings(eer_group=eer_group),
        compress=compress,
        threads=threads,
        replace=True,
        sidecar_required=False,
        metadata_format=metadata_format,
        bar=progress,
    )


def _frames(source: Path, eer_group: int | None) -> int:
    """Frames that converting ``source`` writes, for the progress bar (0 when unreadable: reported later)."""
    try:
        if eer_group is not None and is_detector_movie(source):
            with open_movie(source, eer_group=eer_group) as movie:
                return movie.shape[0]
        with MrczReader(source, verify=False) as reader:
            return reader.n_frames
    except (ValueError, OSError):
        return 0


def _error_line(source: Path, exc: Exception) -> str:
    """``<file>: <problem>`` on one line (messages of frame-level errors do not name the file)."""
    text = " ".join(str(exc).splitlines())
    return text if text.startswith(f"{source}: ") else f"{source}: {text}"


def _run_many(
    pairs: list[tuple[Path, Path]],
    convert_one: Callable[[Path, Path, tqdm], None],
    eer_group: int | None = None,
) -> None:
    """Run ``convert_one(source, target, progress)`` on each pair; report failures, exit 1 if any."""
    failures = 0
    with tqdm(total=0, unit="frame", desc="mrczflow", disable=None) as progress:
        if not progress.disable:
            progress.total = sum(_frames(source, eer_group) for source, _ in pairs)
            progress.refresh()
        for source, target in pairs:
            try:
                convert_one(source, target, progress)
            except (ValueError, OSError) as exc:  # MrczError, IngestError, DecimationError are ValueErrors
                failures += 1
                tqdm.write(f"error: {_error_line(source, exc)}", file=click.get_text_stream("stderr"))
    if failures:
        raise SystemExit(1)


@click.group()
@click.version_option(package_name="mrczflow")
def main() -> None:
    """Lossless MRCZ storage for cryo-EM movies."""


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path())
@click.option(
    "--codec",
    type=click.Choice(sorted(CODEC_IDS)),
    default="zstd",
    show_default=True,
    help="zstd: archive; lz4: fastest for live transfer; zlib: baseline.",
)
@click.option("--level", type=click.IntRange(0, 9), default=1, show_default=True, help="Compression effort.")
@click.option(
    "--shuffle",
    type=click.Choice(SHUFFLES),
    default="bitshuffle",
    show_default=True,
    help="auto: no shuffle for dense stacks (mean >= 3 counts), else bitshuffle.",
)
@click.option(
    "--blocksize",
    type=click.IntRange(min=0),
    default=DEFAULT_BLOCKSIZE,
    show_default=True,
    help="Blosc block size in bytes (0: blosc decides).",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="Default: all available cores.")
@click.option("--metadata-format", type=click.Choice(FOOTER_FORMATS), default="msgpack", show_default=True)
@click.option(
    "--eer-group",
    type=click.IntRange(min=1),
    default=IngestSettings().eer_group,
    show_default=True,
    help="EER frames summed into each archived frame (the workflow's ingest.eer_group).",
)
@click.option("--force", is_flag=True, help="Overwrite outputs that exist (never an input).")
def compress(
    inputs, output, codec, level, shuffle, blocksize, threads, metadata_format, eer_group, force
) -> None:
    """Compress MRC/MRCZ, TIFF and EER movies INPUTS to MRCZ (OUT: a file, or a folder for several).

    MRC/MRCZ keep their data type. TIFF and EER become the lossless uint8
    archive the workflow's ingest step writes; counts that do not fit uint8
    are refused.
    """
    codec_settings = CompressSettings(codec=codec, level=level, shuffle=shuffle, blocksize=blocksize)
    compression = codec_settings.compression(threads)

    def convert_one(source: Path, target: Path, progress: tqdm) -> None:
        if is_detector_movie(source):
            archive(
                source,
                target,
                codec_settings,
                eer_group=eer_group,
                threads=threads,
                metadata_format=metadata_format,
                progress=progress,
            )
        else:
            convert(source, target, compression, metadata_format=metadata_format, progress=progress)

    _run_many(_targets(inputs, output, ".mrcz", force), convert_one, eer_group)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite outputs that exist (never an input).")
def decompress(inputs, output, force) -> None:
    """Write plain MRC2014 that legacy programs read (OUT: a file, or a folder for several)."""
    _run_many(
        _targets(inputs, output, ".mrc", force),
        lambda source, target, progress: convert(source, target, None, progress=progress),
    )


def describe(path: str | os.PathLike, verify: bool = True) -> dict:
    """Everything ``mrczflow info`` reports about one file, as a dict."""
    with MrczReader(path) as reader:
        h = reader.header
        decoded = reader.n_frames * h.shape[1] * h.shape[2] * reader.dtype.itemsize
        report = {
            "file": os.fspath(path),
            "shape": list(reader.shape),
            "dtype": str(reader.dtype),
            "codec": h.codec or "none",
            "compression": reader.footer.get("compression", {}),
            "voxel_size_A": list(h.voxel_size),
            "voltage_kV": h.voltage,
            "cs_mm": h.cs,
            "gain": h.gain,
            "dose_per_frame": reader.extended.get("dose_per_frame"),
            "exposure_time": reader.extended.get("exposure_time"),
            "statistics": {"min": h.dmin, "max": h.dmax, "mean": h.dmean, "rms": h.rms},
            "file_bytes": reader.size,
            "ratio": decoded / reader.size,
            "checksum": reader.whole_checksum,
            "metadata": reader.metadata,
        }
        if verify:
            ok = reader.verify_all()
            report["checksums"] = "ok" if ok else "none stored"
    return report


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--no-verify", is_flag=True, help="Do not decode the data to check checksums.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
def info(files, no_verify, as_json) -> None:
    """Show header, metadata, compression ratio and checksum status of FILES."""
    failures = 0
    for path in files:
        try:
            report = describe(path, verify=not no_verify)
        except MrczError as exc:
            failures += 1
            click.echo(f"error: {exc}", err=True)
            continue
        if as_json:
            click.echo(json.dumps(report, default=str))
            continue
        click.echo(f"{report['file']}")
        for key, value in report.items():
            if key != "file":
                click.echo(f"  {key:15s} {value:.3f}" if isinstance(value, float) else f"  {key:15s} {value}")
    if failures:
        raise SystemExit(1)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tiff", "mrc"]),
    default="tiff",
    show_default=True,
    help="tiff: uint8 LZW, one page a frame (RELION, MotionCor2/3, cryoSPARC); mrc: plain MRC2014.",
)
@click.option("--force", is_flag=True, help="Overwrite outputs that exist (never an input).")
def export(inputs, output, fmt, force) -> None:
    """Export archived MRCZ movies INPUTS as movies downstream programs read, every frame checked.

    Each written frame is read back (tifffile/mrcfile) and must match the
    archive's frame checksum, or nothing is written for that movie.
    """
    from .handoff.export import ExportError, export_movie, movie_suffix

    failures = 0
    pairs = _targets(inputs, output, movie_suffix(fmt), force)
    with tqdm(total=len(pairs), unit="movie", desc="export", disable=None) as bar:
        for source, target in pairs:
            try:
                export_movie(source, target, fmt)
            except (MrczError, ExportError, OSError) as exc:
                failures += 1
                tqdm.write(f"error: {source}: {exc}", file=click.get_text_stream("stderr"))
            bar.update(1)
    if failures:
        raise SystemExit(1)


@main.command("relion-graft")
@click.argument("ours", type=click.Path(exists=True, file_okay=False))
@click.argument("motioncorr", type=click.Path(exists=True, file_okay=False))
@click.argument("output", type=click.Path(file_okay=False))
def relion_graft(ours, motioncorr, output) -> None:
    """Put our per-movie gains and hot pixels into RELION's per-movie STARs, for Bayesian polishing.

    OURS is results/handoff/relion/movies; MOTIONCORR a RELION motion-correction
    job folder, searched for <stack>.star; OUTPUT gets a copy of each of those
    with our gain, defect file and hot pixels (RELION's shifts kept). RELION's
    files are never changed.
    """
    from .handoff.relion import graft

    theirs = {path.name: path for path in Path(motioncorr).rglob("*.star")}
    failures = done = 0
    for mine in sorted(Path(ours).glob("*.star")):
        if mine.name not in theirs:
            click.echo(f"error: {mine.name}: not found under {motioncorr}", err=True)
            failures += 1
            continue
        target = Path(output) / theirs[mine.name].relative_to(motioncorr)
        try:
            graft(mine, theirs[mine.name], target)
            done += 1
        except (ValueError, OSError, KeyError) as exc:
            click.echo(f"error: {mine}: {exc}", err=True)
            failures += 1
    click.echo(f"{done} per-movie STARs written to {output}")
    if failures:
        raise SystemExit(1)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--cores", default=None, help="As for snakemake: run the jobs here on this many cores.")
@click.option("--profile", default=None, help="As for snakemake: e.g. cluster (each pass submits to SLURM).")
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds a movie and its sidecar must stay unchanged before it is checked and taken.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    help="Seconds between looks.",
)
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0),
    default=None,
    help="End the session after this many seconds without a new movie (default: watch until stopped).",
)
@click.option(
    "--finish", is_flag=True, help="The session is over: take what has settled, make every stack final."
)
@click.option(
    "--directory",
    type=click.Path(exists=True, file_okay=False),
    default=".",
    show_default=True,
    help="The deployed workflow's folder.",
)
@click.argument("snakemake_args", nargs=-1, type=click.UNPROCESSED)
def watch(cores, profile, settle, interval, idle_exit, finish, directory, snakemake_args) -> None:
    """Process a session while it is recorded: take each movie once it is complete, run the workflow on it.

    Run it in the deployed workflow's folder, with the config whose `movies`
    glob the microscope writes to, and the same --cores or --profile as
    snakemake (anything after -- goes to snakemake too). A movie is taken
    when it and its sidecar have not changed for --settle seconds and it has
    the frames its metadata says; the report (results/report/) is refreshed
    after each pass. The newest stacks get trailing KOMA windows until their
    own window exists. Stop it at any time (Ctrl-C): nothing is lost, and
    starting it again goes on. At the end (--idle-exit, or --finish after a
    stop) every stack is made final.
    """
    from .live.watch import WatchError
    from .live.watch import main as watch_main

    if (cores is None) == (profile is None):
        raise click.UsageError("give --cores N or --profile NAME (as for snakemake)")
    engine = ["--cores", cores] if cores is not None else ["--profile", profile]
    try:
        code = watch_main(directory, [*engine, *snakemake_args], settle, interval, idle_exit, finish)
    except WatchError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    raise SystemExit(code)
