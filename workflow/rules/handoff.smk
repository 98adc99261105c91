# Hand-off to RELION, MotionCor2/3 and cryoSPARC (mrczflow.handoff): the targets `relion`, `motioncor`
# and `cryosparc`. Not part of `all`: exported movies are a second copy of the archive, made on request.
# Paths and helpers: common.smk (HANDOFF_*).


wildcard_constraints:
    program="relion|motioncor|cryosparc",


rule export_movie:
    input:
        archive="results/mrcz/{stack}.mrcz",
    output:
        movie=temp(HANDOFF_MOVIE) if HANDOFF["temp_movies"] else HANDOFF_MOVIE,
    params:
        script=os.path.join(SCRIPTS, "export_movie.py"),
        fmt=HANDOFF["format"],
    log:
        "logs/export_movie/{stack}.log",
    benchmark:
        "logs/benchmark/export_movie/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.archive:q} {output.movie:q} --stack {wildcards.stack:q}"
        " --format {params.fmt:q} > {log:q} 2>&1"


rule handoff:
    input:
        index=SESSION_INDEX,
        records=for_handoff_stacks("results/ingest/{stack}.json"),
        movies=handoff_movies,
        koma_sums=for_handoff_stacks(KOMA_SUM, config["koma"]["enabled"]),
        masks=for_handoff_stacks(OUTLIER_FLAGS, config["outliers"]["enabled"]),
        gain=gain_reference(),
        fit="results/gamma/gamma_fit.yaml" if GAMMA else [],
    output:
        # Written last: the folder's gain, defect files and movies.star are complete when it exists.
        commands="results/handoff/{program}/commands.txt",
    params:
        script=os.path.join(SCRIPTS, "handoff.py"),
        folder=lambda wildcards, output: os.path.dirname(output.commands),
        paths=lambda wildcards: json.dumps(HANDOFF_PATHS),
        stages=HANDOFF_STAGES,
        pixel_size=config["ingest"]["pixel_size"] or 0.0,
        gain=option("--gain", "gain"),
        gain_settings=lambda wildcards: ["--gain-settings", settings_json("gain", "handoff")],
        fit=option("--fit", "fit"),
        koma=koma_words,
        outliers="--outliers" if config["outliers"]["enabled"] else "--no-outliers",
        settings=step_settings("handoff", "handoff"),
    log:
        "logs/handoff/{program}.log",
    benchmark:
        "logs/benchmark/handoff/{program}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {wildcards.program:q} {params.folder:q} --index {input.index:q}"
        " --paths {params.paths:q} --stages {params.stages:q} --pixel-size {params.pixel_size:q}"
        " {params.gain:q} {params.gain_settings:q} {params.fit:q} {params.koma:q} {params.outliers:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule relion_movie:
    input:
        record="results/ingest/{stack}.json",
        movie=[] if HANDOFF["temp_movies"] else HANDOFF_MOVIE,
        koma_sum=KOMA_SUM if config["koma"]["enabled"] else [],
        window=koma_window if config["koma"]["enabled"] else [],
        flags=OUTLIER_FLAGS,
        gain=gain_reference(),
        fit="results/gamma/gamma_fit.yaml" if GAMMA else [],
    output:
        star="results/handoff/relion/movies/{stack}.star",
        gain=RELION_GAIN if RELION_MOVIE_GAIN else [],
    params:
        script=os.path.join(SCRIPTS, "relion_movie.py"),
        movie=lambda wildcards: HANDOFF_MOVIE.format(stack=wildcards.stack),
        pixel_size=config["ingest"]["pixel_size"] or 0.0,
        gain_out=output_option("--gain-out", "gain"),
        koma_sum=option("--koma-sum", "koma_sum"),
        window=lambda wildcards, input: [word for path in input.window for word in ("--window-sum", path)],
        flags=option("--flags", "flags"),
        gain=option("--gain", "gain"),
        gain_settings=lambda wildcards: ["--gain-settings", settings_json("gain", "relion_movie")],
        fit=option("--fit", "fit"),
        koma=koma_words,
        koma_radius=["--koma-radius", koma_radius()] if config["koma"]["enabled"] else [],
        settings=step_settings("handoff", "relion_movie"),
    log:
        "logs/relion_movie/{stack}.log",
    benchmark:
        "logs/benchmark/relion_movie/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.record:q} {params.movie:q} {output.star:q} --stack {wildcards.stack:q}"
        " --pixel-size {params.pixel_size:q} {params.gain_out:q} {params.koma_sum:q} {params.window:q}"
        " {params.flags:q} {params.gain:q} {params.gain_settings:q} {params.fit:q} {params.koma:q}"
        " {params.koma_radius:q} --settings {params.settings:q} > {log:q} 2>&1"


localrules:
    relion,
    motioncor,
    cryosparc,


rule relion:
    input:
        commands="results/handoff/relion/commands.txt",
        movies=handoff_movies,
        stars=for_handoff_stacks("results/handoff/relion/movies/{stack}.star"),


rule motioncor:
    input:
        commands="results/handoff/motioncor/commands.txt",
        movies=handoff_movies,


rule cryosparc:
    input:
        commands="results/handoff/cryosparc/commands.txt",
        movies=handoff_movies,
