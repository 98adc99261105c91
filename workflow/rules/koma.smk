# KOMA, the knock-out moving average (paper section 5.2; mrczflow.koma says how the
# rules map onto its prefix sums): koma_sum per stack -> koma_prefix chain -> koma per stack.
# A stack appended to the session adds one prefix link and reruns only the last `radius`
# stacks, whose windows now reach it.

if config["koma"]["enabled"] and len(STACKS) < 3:
    raise WorkflowError(
        f"KOMA needs at least 3 stacks (a window of 2 neighbours); this session has {len(STACKS)}: "
        "set koma.enabled: false"
    )

for name in config["koma"]["include"] + config["koma"]["exclude"]:
    if name not in STACKS:
        raise WorkflowError(f"koma include/exclude: no stack named {name!r} in this session")


localrules:
    koma_prefix,


rule koma_sum:
    input:
        counts="results/mrcz/{stack}.mrcz",
        record="results/ingest/{stack}.json",
        flags=outlier_flags,
        gain=gain_reference(),
    output:
        total="results/koma/sums/{stack}.sum.mrcz",
        info="results/koma/sums/{stack}.json",
    params:
        script=os.path.join(SCRIPTS, "koma_sum.py"),
        flags=lambda wildcards, input: f"--flags {input.flags}" if input.flags else "",
        gain=lambda wildcards, input: (
            f"--gain {input.gain} --gain-rotate {config['gain']['rotate']} --gain-flip {config['gain']['flip']}"
            if input.gain
            else ""
        ),
        threshold=config["koma"]["high_contrast"],
    log:
        "logs/koma_sum/{stack}.log",
    benchmark:
        "logs/benchmark/koma_sum/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=15,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script} {input.counts} {output.total} {output.info} --stack {wildcards.stack}"
        " --record {input.record} --threshold {params.threshold} {params.flags} {params.gain} > {log} 2>&1"


rule koma_prefix:
    input:
        previous=lambda wildcards: koma_prefix_after(STACKS.index(wildcards.stack)),
        total="results/koma/sums/{stack}.sum.mrcz",
        info="results/koma/sums/{stack}.json",
    output:
        prefix="results/koma/prefix/{stack}.prefix.mrcz",
    params:
        script=os.path.join(SCRIPTS, "koma_prefix.py"),
        previous=lambda wildcards, input: f"--previous {input.previous}" if input.previous else "",
        decision=lambda wildcards: koma_decision(wildcards.stack),
    log:
        "logs/koma_prefix/{stack}.log",
    benchmark:
        "logs/benchmark/koma_prefix/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script} {input.total} {input.info} {output.prefix} {params.previous}"
        " --stack {wildcards.stack} --decision {params.decision} > {log} 2>&1"


rule koma:
    input:
        counts="results/mrcz/{stack}.mrcz",
        total="results/koma/sums/{stack}.sum.mrcz",
        prefix_lo=lambda wildcards: koma_prefix_after(koma_window(wildcards.stack)[0]),
        prefix_hi=lambda wildcards: koma_prefix_after(koma_window(wildcards.stack)[1]),
        flags=outlier_flags,
        gain=koma_gain,
    output:
        gain="results/koma/{stack}.gain.mrc",
        stats="results/koma/{stack}.json",
        movie=koma_movie("results/koma/{stack}.norm.mrc") if config["koma"]["write_movies"] else [],
    params:
        script=os.path.join(SCRIPTS, "koma.py"),
        radius=koma_radius(),
        window=lambda wildcards: ",".join(STACKS[slice(*koma_window(wildcards.stack))]),
        prefix_lo=lambda wildcards, input: f"--prefix-lo {input.prefix_lo}" if input.prefix_lo else "",
        flags=lambda wildcards, input: f"--flags {input.flags}" if input.flags else "",
        # The gamma gain is written oriented; the vendor gain is oriented by the step.
        gain=lambda wildcards, input: (
            ""
            if not input.gain
            else f"--gain {input.gain}"
            if config["gamma"]["enabled"]
            else f"--gain {input.gain} --gain-rotate {config['gain']['rotate']} --gain-flip {config['gain']['flip']}"
        ),
        movie=lambda wildcards, output: (
            f"--movie-out {output.movie} --movie-dtype {config['koma']['movie_dtype']}"
            f" --movie-compression {config['koma']['movie_compression']}"
            if output.movie
            else ""
        ),
        form=config["koma"]["form"],
        denoise="--denoise" if config["koma"]["denoise"] else "--no-denoise",
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
        "python {params.script} {input.counts} {input.total} {input.prefix_hi} {output.gain} {output.stats}"
        " {params.prefix_lo} --stack {wildcards.stack} --window {params.window} --radius {params.radius}"
        " {params.flags} {params.gain} --form {params.form} {params.denoise} {params.movie} > {log} 2>&1"
