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
        settings=step_settings("ingest", "ingest"),
        gain_settings=step_settings("gain", "ingest"),
        gain=option("--gain", "gain"),
        # Not an input: the archive of an earlier run, compared with a changed source (never replaced by less).
        archive="results/mrcz/{stack}.mrcz",
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
        "python {params.script:q} {input.movie:q} {output.counts:q} {output.record:q}"
        " --stack {wildcards.stack:q} --settings {params.settings:q} --gain-settings {params.gain_settings:q}"
        " {params.gain:q} --archive {params.archive:q} > {log:q} 2>&1"
