# Per-stack stochastic outlier filter (paper section 4): each stack gets its own hot/dead mask.


rule outliers:
    input:
        counts="results/mrcz/{stack}.mrcz",
        record="results/ingest/{stack}.json",
    output:
        mask="results/outliers/{stack}.mask.mrcz",
        defects="results/outliers/{stack}.defects.txt",
        stats="results/outliers/{stack}.json",
    params:
        script=os.path.join(SCRIPTS, "outliers.py"),
        options=" ".join(
            f"--{key.replace('_', '-')} {config['outliers'][key]}"
            for key in ("order", "relaxation", "tail_limit", "floor_sigma")
        ),
    log:
        "logs/outliers/{stack}.log",
    benchmark:
        "logs/benchmark/outliers/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script} {input.counts} {output.mask} {output.defects} {output.stats}"
        " --record {input.record} --stack {wildcards.stack} {params.options} > {log} 2>&1"
