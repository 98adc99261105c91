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
        options=" ".join(
            [
                f"--codec {config['compress']['codec']}",
                f"--level {config['compress']['level']}",
                f"--shuffle {config['compress']['shuffle']}",
                f"--blocksize {config['compress']['blocksize']}",
                "--allow-clipping" if config["compress"]["allow_clipping"] else "",
            ]
        ),
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
        "python {params.script} {input.counts} {input.record} {output.mrcz} {output.summary}"
        " --threads {threads} {params.options} > {log} 2>&1"
