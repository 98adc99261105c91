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
        settings=step_settings("outliers", "outliers"),
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
        "python {params.script:q} {input.counts:q} {output.mask:q} {output.defects:q} {output.stats:q}"
        " --record {input.record:q} --stack {wildcards.stack:q} --settings {params.settings:q} > {log:q} 2>&1"
