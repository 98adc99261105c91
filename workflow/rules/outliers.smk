# Per-stack stochastic outlier filter (paper section 4): each stack gets its own hot/dead mask,
# found in the stack's sum (no frame is read). With KOMA on, the same job writes the stack's KOMA
# sum (the sum with these outliers filled, and its contrast): a small record beside the raw sum,
# from what the job holds anyway, so KOMA needs no job of its own per stack before its windows.


rule outliers:
    input:
        total="results/sums/{stack}.sum.mrcz",
        record="results/ingest/{stack}.json",
        # The vendor gain, when configured: each pixel's own response in its expected sum.
        gain=gain_reference(),
        # The CMOS read-out reference, when configured: line defects told from read-out rows at low dose.
        readout=config["gamma"]["cmos_reference"] or [],
    output:
        mask="results/outliers/{stack}.mask.mrcz",
        defects="results/outliers/{stack}.defects.txt",
        stats="results/outliers/{stack}.json",
        koma_sum=KOMA_SUM if KOMA_SUM_BY_OUTLIERS else [],
    params:
        script=os.path.join(SCRIPTS, "outliers.py"),
        settings=step_settings("outliers", "outliers"),
        gain=option("--gain", "gain"),
        readout=option("--readout", "readout"),
        gain_settings=step_settings("gain", "outliers"),
        koma_sum=output_option("--koma-sum", "koma_sum"),
        koma_settings=settings_option("--koma-settings", "koma", "outliers") if KOMA_SUM_BY_OUTLIERS else [],
    log:
        "logs/outliers/{stack}.log",
    benchmark:
        "logs/benchmark/outliers/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1250,
        runtime=5,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.total:q} {output.mask:q} {output.defects:q} {output.stats:q}"
        " --record {input.record:q} --stack {wildcards.stack:q} --settings {params.settings:q}"
        " {params.gain:q} --gain-settings {params.gain_settings:q} {params.readout:q} {params.koma_sum:q}"
        " {params.koma_settings:q} > {log:q} 2>&1"
