# Any movie format -> verified integer counts + a record of the movie (dose, timing, source).


rule ingest:
    input:
        movie=movie_of,
        mdoc=mdoc_of,
        gain=gain_reference(),
    output:
        counts=intermediate("results/ingest/{stack}.counts.mrcz"),
        record="results/ingest/{stack}.json",
    params:
        script=os.path.join(SCRIPTS, "ingest.py"),
        options=lambda wildcards, input: " ".join(
            [
                f"--format {config['format']}",
                f"--eer-group {config['eer_group']}",
                f"--gain {input.gain}" if input.gain else "",
                f"--gain-rotate {config['gain']['rotate']} --gain-flip {config['gain']['flip']}",
                f"--dose-source {config['dose']['source']}",
                f"--dose-rate {config['dose']['dose_rate']}" if config["dose"]["dose_rate"] else "",
                f"--frame-time {config['dose']['frame_time']}" if config["dose"]["frame_time"] else "",
                f"--pixel-size {config['pixel_size']}",
            ]
        ),
    log:
        "logs/ingest/{stack}.log",
    benchmark:
        "logs/benchmark/ingest/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=15,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script} {input.movie} {output.counts} {output.record}"
        " --stack {wildcards.stack} {params.options} > {log} 2>&1"
