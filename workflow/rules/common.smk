# Which movies make up the session, and where each one is.

import functools
import glob
import json
import os
import sys

SCRIPTS = os.path.join(workflow.basedir, "workflow", "scripts")
DEMO = "resources/demo"


def find_movies():
    """The session's movies by stack name, and the files refused (each named once, with what to do).

    The session is the originals plus the archives: a stack whose original is gone (deleted once it
    was archived) stays in the session, its archive standing in for it (ARCHIVED).
    """
    from mrczflow.storage.names import refusal_line, session_movies

    if config["movies"] == "demo":
        n = config["demo"]["n_stacks"]
        return {f"stack_{i:04d}": f"{DEMO}/movies/stack_{i:04d}.mrc" for i in range(n)}, {}, {}
    found = glob.glob(os.path.expanduser(config["movies"]))
    movies, refused = session_movies(found)
    if config["movies_ready"]:  # a live session: only the movies mrczflow watch found complete
        from mrczflow.live import read_ready

        ready = read_ready(config["movies_ready"])
        movies = {stack: path for stack, path in movies.items() if path in ready}
    for path, reason in refused.items():
        print(refusal_line(path, reason), file=sys.stderr)
    archived = archived_only(movies)
    if archived:
        print(f"archived: {len(archived)} stacks whose originals are gone come from their archives", file=sys.stderr)
    if not movies and not archived:
        if not found:
            raise WorkflowError(f"config 'movies': no files match {config['movies']!r}")
        raise WorkflowError(f"config 'movies': no usable movie among the {len(found)} files matching it")
    return {**movies, **archived}, refused, archived


def recorded(stack, key):
    """A value of the stack's ingest record (results/ingest/<stack>.json), or None without one."""
    record = f"results/ingest/{stack}.json"
    if not os.path.exists(record):
        return None
    with open(record) as handle:
        return json.load(handle).get(key)


def archived_only(movies):
    """Stacks archived by an earlier run whose original is no longer among ``movies``: {stack: its source}.

    The source path is the one the stack's record names; it no longer exists, and Snakemake takes the
    archive (which exists) as given instead of asking for it to be made again.
    """
    archived = {}
    for archive in glob.glob("results/mrcz/*.mrcz"):
        stack = os.path.basename(archive)[: -len(".mrcz")]
        if stack in movies:
            continue
        archived[stack] = recorded(stack, "source") or f"{archive} (original gone)"
    return archived


SIDECARS = {"mdoc": ".mdoc", "epu": "EPU .xml", "auto": ".mdoc or EPU .xml"}  # what each dose.source reads


@functools.cache  # asked for each movie at parse, for its order and by its ingest job: one look each
def sidecar_path(movie):
    """The metadata file beside ``movie`` the dose comes from (SerialEM .mdoc, EPU .xml), or None."""
    from mrczflow.storage.exposure import mdoc_path, sidecar

    if config["movies"] == "demo":  # written with the movies by simulate_demo
        return f"{movie}.mdoc"
    source = config["ingest"]["dose"]["source"]
    if source in SIDECARS:
        path = sidecar(movie, source)
    else:  # the dose comes from elsewhere; an .mdoc still gives the time
        path = mdoc_path(movie) if mdoc_path(movie).is_file() else None
    return str(path) if path else None


def waiting_movies():
    """Movies whose dose comes from a sidecar that has not arrived (SerialEM and EPU write it last): they wait."""
    if config["ingest"]["dose"]["source"] not in SIDECARS:
        return {}
    return {stack: movie for stack, movie in MOVIES.items() if stack not in ARCHIVED and not sidecar_path(movie)}


def set_waiting_aside():
    """Take the movies whose sidecar has not arrived out of the session (into REFUSED, saying why)."""
    waiting = waiting_movies()
    for stack, movie in waiting.items():
        kind = SIDECARS[config["ingest"]["dose"]["source"]]
        if len(waiting) < len(MOVIES):  # all waiting: check_config says what to set instead
            print(f"waiting: {movie}: its {kind} has not arrived; it is taken once it has", file=sys.stderr)
        REFUSED[movie] = f"waiting for its {kind} (written when the movie is complete)"
        del MOVIES[stack]
    return waiting


def session_order():
    """Stacks in acquisition order (config ``order: time``: mdoc DateTime, else file time) or by name."""
    from mrczflow.storage.names import acquisition_time

    if config["movies"] == "demo":  # simulated on the first run; numbered in acquisition order
        return sorted(MOVIES), {}
    times = {}
    for stack, movie in MOVIES.items():
        if stack in ARCHIVED:  # the original is gone: the time its record kept
            times[stack] = (recorded(stack, "timestamp") or "", "record of the archive")
        else:
            times[stack] = acquisition_time(movie, sidecar_path(movie))
    if config["order"] == "name":
        return sorted(MOVIES), times
    return sorted(MOVIES, key=lambda stack: (times[stack][0], stack)), times


def failed_stages():
    """{stack: the stages whose last attempt ended with an ``error:`` line}, read once from the logs."""
    from mrczflow.jobs import error_line
    from mrczflow.report import STAGES

    failed = {}
    for stack in STACKS:
        stages = [stage for stage in STAGES if error_line(f"logs/{stage}/{stack}.log")]
        if stages:
            failed[stack] = stages
    return failed


SESSION_INDEX = "results/session/stacks.tsv"


def write_session_index():
    """results/session/stacks.tsv: every movie of the session, in order, with its time and status (or why
    it was set aside). The report reads its stacks from it, so no command line grows with the session."""
    from mrczflow.storage.index import write_index

    rows = [
        {
            "order": i,
            "stack": stack,
            "time": TIMES.get(stack, ("", ""))[0],
            "time_from": TIMES.get(stack, ("", ""))[1],
            "status": "archived" if stack in ARCHIVED else "movie",
            "source": MOVIES[stack],
            "failed": ",".join(FAILED.get(stack, ())),
        }
        for i, stack in enumerate(STACKS)
    ]
    rows += [{"status": "set aside", "source": path, "reason": reason} for path, reason in REFUSED.items()]
    write_index(SESSION_INDEX, rows)


def read_session_plan():
    """The session as the planner wrote it to its index: movies, archived stacks, order, times, failures."""
    from mrczflow.storage.index import read_index

    if not os.path.exists(SESSION_INDEX):
        raise WorkflowError(
            f"{SESSION_INDEX} is missing: a job reads the session from the index its run wrote; "
            "start the run (snakemake) in the session's folder"
        )
    rows = [row for row in read_index(SESSION_INDEX) if row["stack"]]
    movies = {row["stack"]: row["source"] for row in rows}
    archived = {row["stack"]: row["source"] for row in rows if row["status"] == "archived"}
    times = {row["stack"]: (row["time"], row["time_from"]) for row in rows}
    failed = {row["stack"]: row["failed"].split(",") for row in rows if row.get("failed")}
    return movies, archived, [row["stack"] for row in rows], times, failed


# The run you start plans the session: it looks at every movie, sidecar and log, and writes what it
# found to the session's index. The processes that run its jobs (a SLURM submission, each job step in
# it) read that index instead: looking again costs ~10 s a job at 20,000 movies, and a job must see
# the session its planner saw (a movie that arrived or failed since changes no window).
PLANNER = workflow.is_main_process

if PLANNER:
    MOVIES, REFUSED, ARCHIVED = find_movies()
    WAITING = set_waiting_aside()
    STACKS, TIMES = session_order()
    FAILED = failed_stages()
    write_session_index()
else:
    MOVIES, ARCHIVED, STACKS, TIMES, FAILED = read_session_plan()
    REFUSED, WAITING = {}, {}

# A live session's first movies: KOMA waits for its 3 stacks (a later pass of the watcher adds it).
if config["live"] and config["koma"]["enabled"] and len(STACKS) < 3:
    print(f"live: {len(STACKS)} stacks so far; KOMA starts at 3", file=sys.stderr)
    config["koma"]["enabled"] = False


def check_config():
    """What the schema cannot say: settings that only make sense together. Stops before any job."""
    dose = config["ingest"]["dose"]
    if dose["source"] == "config" and not (dose["dose_rate"] and dose["frame_time"]):
        raise WorkflowError(
            "ingest.dose.source is config: set ingest.dose.dose_rate (e/px/s) and ingest.dose.frame_time (s), "
            "or use source auto (a SerialEM .mdoc or EPU .xml beside each movie) or measured (needs frame_time)"
        )
    if dose["source"] == "measured" and not dose["frame_time"]:
        raise WorkflowError("ingest.dose.source is measured: set ingest.dose.frame_time (s)")
    if dose["source"] in SIDECARS and WAITING and not MOVIES:
        raise WorkflowError(
            f"ingest.dose.source is {dose['source']} but none of the {len(WAITING)} movies has a "
            f"{SIDECARS[dose['source']]} beside it: set ingest.dose.source to config (with dose_rate and "
            "frame_time) or to measured (with frame_time)"
        )


def gamma_on():
    """gamma.enabled: auto runs the gamma stage when there are vacuum references (the demo's, or a glob)."""
    enabled = config["gamma"]["enabled"]
    has_references = config["gamma"]["references"] not in (None, "demo") or config["movies"] == "demo"
    if enabled is True and not has_references:
        raise WorkflowError(
            "gamma.enabled is true but there are no vacuum references: set gamma.references to a glob of "
            "them, or gamma.enabled to auto or false"
        )
    return bool(enabled) and has_references


check_config()
GAMMA = gamma_on()


wildcard_constraints:
    stack="[^/]+",


def settings_json(name, step):
    """The keys of config section ``name`` that ``step`` reads (its settings object says which), as JSON."""
    from mrczflow.gain.settings import GainSettings, GammaSettings
    from mrczflow.handoff.settings import HandoffSettings
    from mrczflow.koma.settings import KomaSettings
    from mrczflow.outliers.settings import OutlierSettings
    from mrczflow.storage.settings import CompressSettings, IngestSettings

    classes = (
        GainSettings, GammaSettings, IngestSettings, CompressSettings, OutlierSettings, KomaSettings, HandoffSettings
    )
    keys = {cls.section: cls for cls in classes}[name].keys_for(step)
    return json.dumps({key: config[name][key] for key in keys}, sort_keys=True)


def step_settings(name, step):
    """``settings_json`` as a params value (mrczflow.settings.params_value: no brace taken for a wildcard)."""
    from mrczflow.settings import params_value

    return params_value(settings_json(name, step))


def settings_option(flag, name, step):
    """``[flag, settings_json]`` as a params function, made once: its words reach the command as they
    are (no brace taken for a wildcard), and no job makes the JSON again while Snakemake plans."""
    words = [flag, settings_json(name, step)]
    return lambda wildcards: words


def option(flag, name):
    """``[flag, path]`` when the rule's input ``name`` is set, else nothing: an optional file argument."""
    return lambda wildcards, input: [flag, input[name]] if input[name] else []


def output_option(flag, name):
    """``[flag, path]`` when the rule's output ``name`` is set, else nothing: an optional output."""
    return lambda wildcards, output: [flag, output[name]] if output[name] else []


def movie_of(wildcards):
    return MOVIES[wildcards.stack]


def mdoc_of(wildcards):
    """The movie's sidecar (.mdoc or EPU .xml) when the dose comes from it (so a changed one reruns ingest).

    A movie whose sidecar has not arrived yet gets none: its ingest fails alone, naming the missing
    file, and the rest of the session goes on.
    """
    if config["ingest"]["dose"]["source"] not in SIDECARS:
        return []
    return sidecar_path(MOVIES[wildcards.stack]) or []


def gain_reference():
    if config["movies"] == "demo" and not config["gain"]["reference"]:
        return f"{DEMO}/references/gain_vendor.mrc"
    return config["gain"]["reference"] or []


def gamma_references():
    """The vacuum-reference movies of the gamma fit (none when the stage is off)."""
    if not GAMMA:
        return []
    if config["gamma"]["references"] == "demo":
        return [f"{DEMO}/references/movies/flat_{rate:g}.mrc" for rate in config["demo"]["flat_dose_rates"]]
    paths = sorted(p for p in glob.glob(os.path.expanduser(config["gamma"]["references"])) if not p.endswith(".mdoc"))
    if not paths:
        raise WorkflowError(f"config 'gamma.references': no files match {config['gamma']['references']!r}")
    return paths


def per_stack_targets():
    """What a full run makes of each stack (templates with {stack}), by the stages switched on in the config."""
    targets = ["results/mrcz/{stack}.mrcz", "results/mrcz/{stack}.json"]
    if config["outliers"]["enabled"]:
        targets += expand("results/outliers/{{stack}}.{ext}", ext=("mask.mrcz", "defects.txt", "json"))
    if GAMMA:
        targets.append("results/gain/{stack}.json")
        if keep_gamma_gains():
            targets.append("results/gain/{stack}.gain.mrc")
        if config["gamma"]["write_movies"]:
            targets.append("results/gain/{stack}.norm.mrc")
    if config["koma"]["enabled"]:
        targets.append("results/koma/{stack}.json")
        if config["koma"]["write_gains"]:
            targets.append("results/koma/{stack}.gain.mrc")
        # Temporary movies exist for the rules that read them (e.g. your motion correction) and are
        # deleted after; as final targets they would never be.
        if config["koma"]["write_movies"] and not config["koma"]["temp_movies"]:
            targets.append("results/koma/{stack}.norm.mrc")
    return targets


@functools.cache
def planned_stacks():
    """The stacks this run plans: all of them, or in a live pass (config live) only the ones it can change.

    A live pass plans the stacks not done yet (a target missing) and those within two KOMA radii of
    one (whose window may hold it), so planning costs the same at the 20,000th movie as at the
    100th; the final pass (live false) plans the whole session again.
    """
    if not config["live"]:
        return STACKS
    from mrczflow.live.plan import stacks_to_plan

    templates = per_stack_targets()
    return stacks_to_plan(
        STACKS,
        done=lambda stack: all(os.path.exists(template.format(stack=stack)) for template in templates),
        reach=2 * (koma_radius() + config["koma"]["spare"]) if config["koma"]["enabled"] else 0,
    )


def final_targets():
    """Everything a full run produces, by the stages switched on in the config.

    Each file is asked for once: the records the report reads are its inputs (for the stacks that did
    not fail), so rule all asks for the rest. Snakemake makes a file again when it is missing and
    something asks for it; a second ask costs planning time (a quarter of it at 5,000 movies).
    The processes that run a run's jobs are given their jobs and plan no rule all.
    """
    if not PLANNER:
        return []
    stacks = planned_stacks()
    asked_by_report = report_records()
    rest = [template for template in per_stack_targets() if template not in asked_by_report]
    targets = expand(rest, stack=stacks) + expand(per_stack_targets(), stack=[s for s in stacks if s in FAILED])
    if GAMMA:
        if not gain_reference():
            raise WorkflowError("gamma.enabled needs gain.reference (the vendor gain reference)")
        targets += ["results/gamma/gamma_fit.yaml", "results/gamma/gamma_fit.png"]
    targets.append("results/report/summary.html")
    return targets


# KOMA windows are made of the stacks that have a sum: a stack that failed before it (last run's
# logs: FAILED) is left out of its neighbours' windows, so one bad movie holds no other stack back.
KOMA_STACKS = [s for s in STACKS if not set(FAILED.get(s, ())) & {"ingest", "outliers", "koma_sum"}]
KOMA_INDEX = {stack: i for i, stack in enumerate(KOMA_STACKS)}


def koma_radius():
    """The configured radius, clamped so a short session still has a full shifted window.

    Not in a live pass: there the newest stacks take trailing windows, and a radius that grew with
    the session would change every window at every arrival.
    """
    if config["live"]:
        return config["koma"]["radius"]
    return max(1, min(config["koma"]["radius"], (len(KOMA_STACKS) - 1) // 2))


def koma_window(wildcards):
    """The sums of the window of the stack (mrczflow.koma.windows.window) with its spares, its own included."""
    from mrczflow.koma.windows import live_window, window

    stacks, index = KOMA_STACKS, KOMA_INDEX.get(wildcards.stack)
    if index is None:  # failed last time, tried again now: placed among the others
        stacks = [s for s in STACKS if s in KOMA_INDEX or s == wildcards.stack]
        index = stacks.index(wildcards.stack)
    # A growing session (mrczflow watch): trailing windows at its end, which the next movie leaves alone.
    spare = config["koma"]["spare"]
    lo, hi = (live_window if config["live"] else window)(index, len(stacks), koma_radius(), spare)
    return [KOMA_SUM.format(stack=stack) for stack in stacks[lo:hi]]


# The gain applied before KOMA: the stack's gamma gain, else the vendor gain, else none
# (patterns: Snakemake fills in {stack}).
KOMA_GAIN = "results/gain/{stack}.gain.mrc" if GAMMA else gain_reference()


# ``--gain-settings`` for a vendor gain, which the koma step orients; the gamma gain is written oriented.
KOMA_GAIN_ORIENTATION = settings_option("--gain-settings", "gain", "koma") if gain_reference() and not GAMMA else []


def report_gain():
    """The gain before KOMA for the report's radius curve: a template with {stack}, and its orientation.

    With gamma the curve raises the vendor gain to each sample stack's gamma itself, so the
    per-stack gamma gains (temporary by default) are not needed again after KOMA.
    """
    if not gain_reference():
        return []
    words = ["--gain-template", gain_reference(), "--gain-settings", settings_json("gain", "session_report")]
    return words + ["--gamma-gain"] if GAMMA else words


OUTLIER_FLAGS = "results/outliers/{stack}.mask.mrcz" if config["outliers"]["enabled"] else []
# A stack's KOMA sum: written by rule outliers with its mask, or by rule koma_sum when outliers are off.
KOMA_SUM = "results/koma/sums/{stack}.json"
KOMA_SUM_BY_OUTLIERS = config["koma"]["enabled"] and config["outliers"]["enabled"]


def keep_gamma_gains():
    """Whether each stack's gamma gain is a result (gamma.write_gains, or no KOMA to use it) or temporary."""
    return config["gamma"]["write_gains"] or not config["koma"]["enabled"]


def gamma_gain(path):
    return path if keep_gamma_gains() else temp(path)


def koma_movie(path):
    return temp(path) if config["koma"]["temp_movies"] else path


def report_records():
    """The per-stack files the report reads (templates with {stack}), by the stages switched on."""
    templates = ["results/ingest/{stack}.json", "results/mrcz/{stack}.json"]
    if config["outliers"]["enabled"]:
        templates += ["results/outliers/{stack}.json", "results/outliers/{stack}.mask.mrcz"]
    if config["koma"]["enabled"]:
        templates += ["results/koma/{stack}.json", KOMA_SUM, "results/sums/{stack}.half.mrcz"]
    return templates


def report_inputs(wildcards):
    """Every per-stack record of the stacks that did not fail, by the stages switched on."""
    ok = [s for s in planned_stacks() if s not in FAILED]  # the report reads the others' records as they are
    inputs = expand(report_records(), stack=ok)
    if GAMMA:
        inputs.append("results/gamma/gamma_fit.yaml")
    return inputs


# The hand-off (handoff.smk): exported movies and the stacks that go to RELION, MotionCor, cryoSPARC.
HANDOFF = config["handoff"]
HANDOFF_EXT = ".tif" if HANDOFF["format"] == "tiff" else ".mrc"
HANDOFF_MOVIE = f"results/handoff/movies/{{stack}}{HANDOFF_EXT}"
RELION_GAIN = f"results/handoff/relion/gains/{{stack}}.gain{HANDOFF_EXT}"
HANDOFF_STACKS = [s for s in STACKS if s not in FAILED]
# Where rule handoff finds each stack's files ({stack}; {stage} for logs), and the stages whose failure
# leaves a stack out of the hand-off.
HANDOFF_PATHS = {
    "record": "results/ingest/{stack}.json",
    "movie": HANDOFF_MOVIE,
    "koma_sum": KOMA_SUM,
    "mask": "results/outliers/{stack}.mask.mrcz",
    "log": "logs/{stage}/{stack}.log",
}
HANDOFF_STAGES = "ingest,outliers,koma_sum,koma,export_movie"
# A per-movie gain exists when there is a gain to give: KOMA's, or the gamma/vendor gain.
RELION_MOVIE_GAIN = HANDOFF["per_movie_gains"] and bool(config["koma"]["enabled"] or gain_reference())


def for_handoff_stacks(template, enabled=True):
    """An input function: ``template`` for every stack of the hand-off (or none when not ``enabled``).

    A function, so the list is made only when a hand-off is planned, not at every parse.
    """
    return lambda wildcards: expand(template, stack=HANDOFF_STACKS) if enabled else []


def handoff_movies(wildcards):
    """The exported movies a target needs (none when they are temporary: your rules ask for them)."""
    return [] if HANDOFF["temp_movies"] else expand(HANDOFF_MOVIE, stack=HANDOFF_STACKS)


def koma_words(wildcards):
    """``--koma-settings`` for the hand-off steps when KOMA is on."""
    return ["--koma-settings", settings_json("koma", "handoff")] if config["koma"]["enabled"] else []
