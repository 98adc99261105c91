# Which movies make up the session, and where each one is.

import glob
import json
import os

SCRIPTS = os.path.join(workflow.basedir, "workflow", "scripts")
DEMO = "resources/demo"
MOVIE_SUFFIXES = (".mrcz", ".mrcs", ".mrc", ".tiff", ".tif", ".eer")


def stack_name(path):
    """Movie file name without its movie extension: the stack's name in results/."""
    name = os.path.basename(path)
    for suffix in MOVIE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    raise WorkflowError(f"{path}: not a movie ({', '.join(MOVIE_SUFFIXES)}); narrow config 'movies'")


def find_movies():
    if config["movies"] == "demo":
        n = config["demo"]["n_stacks"]
        return {f"stack_{i:04d}": f"{DEMO}/movies/stack_{i:04d}.mrc" for i in range(n)}
    paths = sorted(glob.glob(os.path.expanduser(config["movies"])))
    paths = [p for p in paths if not p.endswith(".mdoc")]
    if not paths:
        raise WorkflowError(f"config 'movies': no files match {config['movies']!r}")
    movies = {}
    for path in paths:
        name = stack_name(path)
        if name in movies:
            raise WorkflowError(f"two movies would both be stack {name!r}: {movies[name]} and {path}")
        movies[name] = path
    return movies


MOVIES = find_movies()
STACKS = sorted(MOVIES)


wildcard_constraints:
    stack="[^/]+",


def settings_json(name, step):
    """The keys of config section ``name`` that ``step`` reads, as JSON (mrczflow.settings.step_keys)."""
    from mrczflow.settings import step_keys

    return json.dumps({key: config[name][key] for key in step_keys(name, step)}, sort_keys=True)


def step_settings(name, step):
    """``settings_json`` as a params function (so Snakemake takes no brace in it for a wildcard)."""
    text = settings_json(name, step)
    return lambda wildcards: text


def option(flag, name):
    """``[flag, path]`` when the rule's input ``name`` is set, else nothing: an optional file argument."""
    return lambda wildcards, input: [flag, input[name]] if input[name] else []


def movie_of(wildcards):
    return MOVIES[wildcards.stack]


def mdoc_of(wildcards):
    """The movie's .mdoc sidecar when the dose comes from it (so a changed mdoc reruns ingest)."""
    if config["ingest"]["dose"]["source"] != "mdoc":
        return []
    movie = MOVIES[wildcards.stack]
    beside = f"{movie}.mdoc"
    if config["movies"] == "demo" or os.path.exists(beside):
        return beside
    return os.path.splitext(movie)[0] + ".mdoc"


def gain_reference():
    if config["movies"] == "demo" and not config["gain"]["reference"]:
        return f"{DEMO}/references/gain_vendor.mrc"
    return config["gain"]["reference"] or []


def gamma_references():
    """The vacuum-reference movies of the gamma fit (none when the stage is off)."""
    if not config["gamma"]["enabled"]:
        return []
    if config["gamma"]["references"] == "demo":
        if config["movies"] != "demo":
            raise WorkflowError("gamma.references is 'demo' but movies are not: give a glob of vacuum references")
        return [f"{DEMO}/references/movies/flat_{rate:g}.mrc" for rate in config["demo"]["flat_dose_rates"]]
    paths = sorted(p for p in glob.glob(os.path.expanduser(config["gamma"]["references"])) if not p.endswith(".mdoc"))
    if not paths:
        raise WorkflowError(f"config 'gamma.references': no files match {config['gamma']['references']!r}")
    return paths


def final_targets():
    """Everything a full run produces, by the stages switched on in the config."""
    targets = expand("results/mrcz/{stack}.{ext}", stack=STACKS, ext=("mrcz", "json"))
    if config["outliers"]["enabled"]:
        targets += expand("results/outliers/{stack}.{ext}", stack=STACKS, ext=("mask.mrcz", "defects.txt", "json"))
    if config["gamma"]["enabled"]:
        if not gain_reference():
            raise WorkflowError("gamma.enabled needs gain.reference (the vendor gain reference)")
        targets += ["results/gamma/gamma_fit.yaml", "results/gamma/gamma_fit.png"]
        targets += expand("results/gain/{stack}.{ext}", stack=STACKS, ext=("gain.mrc", "json"))
        if config["gamma"]["write_movies"]:
            targets += expand("results/gain/{stack}.norm.mrc", stack=STACKS)
    targets.append("results/report/summary.html")
    if config["koma"]["enabled"]:
        targets += expand("results/koma/{stack}.{ext}", stack=STACKS, ext=("gain.mrc", "json"))
        # Temporary movies exist for the rules that read them (e.g. your motion correction) and are
        # deleted after; as final targets they would never be.
        if config["koma"]["write_movies"] and not config["koma"]["temp_movies"]:
            targets += expand("results/koma/{stack}.norm.mrc", stack=STACKS)
    return targets


def intermediate(path):
    return path if config["ingest"]["keep_counts"] else temp(path)


# KOMA: stacks are in acquisition order when their names sort that way (SerialEM numbering).


def koma_radius():
    """The configured radius, clamped so a short session still has a full shifted window."""
    return max(1, min(config["koma"]["radius"], (len(STACKS) - 1) // 2))


def koma_window(stack):
    """The stacks [lo, hi) of the window of ``stack`` (mrczflow.koma.windows.window)."""
    from mrczflow.koma.windows import window

    return window(STACKS.index(stack), len(STACKS), koma_radius())


def koma_prefix_after(index):
    """Prefix file C[index] (the sum of stacks 0 .. index-1); C[0] is no file."""
    return [] if index == 0 else f"results/koma/prefix/{STACKS[index - 1]}.prefix.mrcz"


def koma_gain(wildcards):
    """The gain applied before KOMA: the stack's gamma gain, else the vendor gain, else none."""
    if config["gamma"]["enabled"]:
        return f"results/gain/{wildcards.stack}.gain.mrc"
    return gain_reference()


def koma_gain_orientation(wildcards, input):
    """``--gain-settings`` for a vendor gain, which the step orients; the gamma gain is written oriented."""
    if input.gain and not config["gamma"]["enabled"]:
        return ["--gain-settings", settings_json("gain", "koma")]
    return []


def report_gain():
    """The gain before KOMA for the report's radius curve: a template with {stack}, and its orientation."""
    if config["gamma"]["enabled"]:
        return ["--gain-template", "results/gain/{stack}.gain.mrc"]
    if gain_reference():
        return ["--gain-template", gain_reference(), "--gain-settings", settings_json("gain", "session_report")]
    return []


def outlier_flags(wildcards):
    return f"results/outliers/{wildcards.stack}.mask.mrcz" if config["outliers"]["enabled"] else []


def koma_movie(path):
    return temp(path) if config["koma"]["temp_movies"] else path


def failed_stacks():
    """Stacks whose last attempt at some step ended with an ``error:`` line (the report lists them)."""
    from mrczflow.jobs import error_line
    from mrczflow.report import STAGES

    return {s for s in STACKS for stage in STAGES if error_line(f"logs/{stage}/{s}.log")}


def report_inputs(wildcards):
    """Every per-stack record of the stacks that did not fail, by the stages switched on."""
    failed = failed_stacks()
    ok = [s for s in STACKS if s not in failed]
    inputs = expand("results/{folder}/{stack}.json", folder=("ingest", "mrcz"), stack=ok)
    if config["outliers"]["enabled"]:
        inputs += expand("results/outliers/{stack}.{ext}", stack=ok, ext=("json", "mask.mrcz"))
    if config["gamma"]["enabled"]:
        inputs.append("results/gamma/gamma_fit.yaml")
    if config["koma"]["enabled"]:
        inputs += expand("results/koma/{stack}.json", stack=ok)
        inputs += expand("results/koma/sums/{stack}.json", stack=ok)
        inputs += expand("results/koma/prefix/{stack}.prefix.mrcz", stack=ok)
    return inputs
