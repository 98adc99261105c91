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
        flags=option("--flags", "flags"),
        gain=option("--gain", "gain"),
        gain_settings=step_settings("gain", "koma_sum"),
        settings=step_settings("koma", "koma_sum"),
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
        "python {params.script:q} {input.counts:q} {output.total:q} {output.info:q} --stack {wildcards.stack:q}"
        " --record {input.record:q} --settings {params.settings:q} --gain-settings {params.gain_settings:q}"
        " {params.flags:q} {params.gain:q} > {log:q} 2>&1"


rule koma_prefix:
    input:
        previous=lambda wildcards: koma_prefix_after(STACKS.index(wildcards.stack)),
        total="results/koma/sums/{stack}.sum.mrcz",
        info="results/koma/sums/{stack}.json",
    output:
        prefix="results/koma/prefix/{stack}.prefix.mrcz",
    params:
        script=os.path.join(SCRIPTS, "koma_prefix.py"),
        previous=option("--previous", "previous"),
        settings=step_settings("koma", "koma_prefix"),
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
        "python {params.script:q} {input.total:q} {input.info:q} {output.prefix:q} {params.previous:q}"
        " --stack {wildcards.stack:q} --settings {params.settings:q} > {log:q} 2>&1"


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
        prefix_lo=option("--prefix-lo", "prefix_lo"),
        flags=option("--flags", "flags"),
        gain=option("--gain", "gain"),
        gain_settings=koma_gain_orientation,
        movie=lambda wildcards, output: ["--movie-out", output.movie] if output.movie else [],
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
        "python {params.script:q} {input.counts:q} {input.total:q} {input.prefix_hi:q} {output.gain:q}"
        " {output.stats:q} {params.prefix_lo:q} --stack {wildcards.stack:q} --window {params.window:q}"
        " --radius {params.radius} --settings {params.settings:q} {params.flags:q} {params.gain:q}"
        " {params.gain_settings:q} {params.movie:q} > {log:q} 2>&1"
