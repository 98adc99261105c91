# Integer counts -> lossless uint8 MRCZ archive, with checksums and the movie's record.


rule compress:
    input:
        counts="results/ingest/{stack}.counts.mrcz",
        record="results/ingest/{stack}.json",
    output:
        mrcz="results/mrcz/{stack}.mrcz",
        summary="results/mrcz/{stack}.json",
    params:
        script=os.path.join(SCRIPTS, "compress.py"),
        settings=step_settings("compress", "compress"),
    log:
        "logs/compress/{stack}.log",
    benchmark:
        "logs/benchmark/compress/{stack}.tsv"
    threads: 2
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.counts:q} {input.record:q} {output.mrcz:q} {output.summary:q}"
        " --stack {wildcards.stack:q} --threads {threads:q} --settings {params.settings:q} > {log:q} 2>&1"
