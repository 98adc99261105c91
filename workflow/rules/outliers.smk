# Per-stack stochastic outlier filter (paper section 4): each stack gets its own hot/dead mask,
# found in the stack's sum (no frame is read).


rule outliers:
    input:
        total="results/sums/{stack}.sum.mrcz",
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
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.total:q} {output.mask:q} {output.defects:q} {output.stats:q}"
        " --record {input.record:q} --stack {wildcards.stack:q} --settings {params.settings:q} > {log:q} 2>&1"
