# KOMA, the knock-out moving average (paper section 5.2; mrczflow.koma.windows says how the rules
# map onto it): each stack's KOMA sum (written by rule outliers with its mask; by rule koma_sum
# when outliers are off) -> koma per stack, reading the sums of its window only (no chain through
# the session). A stack appended to the session reruns only the last `radius` stacks, whose
# windows now reach it.

if config["koma"]["enabled"] and len(STACKS) < 3:
    raise WorkflowError(
        f"KOMA needs at least 3 stacks (a window of 2 neighbours); this session has {len(STACKS)}: "
        "set koma.enabled: false"
    )

for name in config["koma"]["include"] + config["koma"]["exclude"]:
    if name not in STACKS:
        raise WorkflowError(f"koma include/exclude: no stack named {name!r} in this session")


# With outliers on, rule outliers writes the KOMA sum; this rule is there only without them.
if not KOMA_SUM_BY_OUTLIERS:

    rule koma_sum:
        input:
            total="results/sums/{stack}.sum.mrcz",
            record="results/ingest/{stack}.json",
            gain=gain_reference(),
        output:
            # The KOMA sum: the raw sum it names, with nothing filled (no second image).
            info=KOMA_SUM,
        params:
            script=os.path.join(SCRIPTS, "koma_sum.py"),
            gain=option("--gain", "gain"),
            gain_settings=step_settings("gain", "koma_sum"),
            settings=step_settings("koma", "koma_sum"),
        log:
            "logs/koma_sum/{stack}.log",
        benchmark:
            "logs/benchmark/koma_sum/{stack}.tsv"
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        conda:
            "../../envs/mrczflow.yaml"
        shell:
            "python {params.script:q} {input.total:q} {output.info:q} --stack {wildcards.stack:q}"
            " --record {input.record:q} --settings {params.settings:q} --gain-settings {params.gain_settings:q}"
            " {params.gain:q} > {log:q} 2>&1"


rule koma:
    input:
        # The stack's half sum: its correlated noise and DQE loss are scored on it, not on its frames.
        half="results/sums/{stack}.half.mrcz",
        total=KOMA_SUM,
        # KOMA sums of the window; each names its raw sum, made before it by the same stack's ingest.
        window=koma_window,
        gain=KOMA_GAIN,
        # A normalised movie alone reads the frames: the archive, its outliers filled.
        counts="results/mrcz/{stack}.mrcz" if config["koma"]["write_movies"] else [],
        flags=OUTLIER_FLAGS if config["koma"]["write_movies"] else [],
    output:
        stats="results/koma/{stack}.json",
        gain="results/koma/{stack}.gain.mrc" if config["koma"]["write_gains"] else [],
        movie=koma_movie("results/koma/{stack}.norm.mrc") if config["koma"]["write_movies"] else [],
    params:
        script=os.path.join(SCRIPTS, "koma.py"),
        radius=koma_radius(),
        window=lambda wildcards, input: [word for path in input.window for word in ("--window-sum", path)],
        counts=option("--counts", "counts"),
        flags=option("--flags", "flags"),
        gain=option("--gain", "gain"),
        gain_settings=KOMA_GAIN_ORIENTATION,
        gain_out=output_option("--gain-out", "gain"),
        movie=output_option("--movie-out", "movie"),
        settings=step_settings("koma", "koma"),
    log:
        "logs/koma/{stack}.log",
    benchmark:
        "logs/benchmark/koma/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.half:q} {input.total:q} {output.stats:q}"
        " {params.window:q} --stack {wildcards.stack:q} --radius {params.radius:q} --settings {params.settings:q}"
        " {params.counts:q} {params.flags:q} {params.gain:q} {params.gain_settings:q} {params.gain_out:q} {params.movie:q} > {log:q} 2>&1"
