# Any movie format -> in one pass over its frames: the lossless uint8 MRCZ archive (with checksums),
# a record of the movie (dose, timing, source), the storage summary, the stack's sum and its half sum
# (the even frames on the scored rows), which are all that later stages read (no later rule reads the
# frames again, unless normalised movies are asked for).


rule ingest:
    input:
        movie=movie_of,
        mdoc=mdoc_of,
        gain=gain_reference(),
    output:
        # update(): an earlier run's outputs are not deleted before the job; the step compares the
        # movie with the archive and replaces it only by the same counts (never by less). A refused
        # source leaves all five as they were (Snakemake restores them), so the stack's results stay.
        archive=update("results/mrcz/{stack}.mrcz"),
        record=update("results/ingest/{stack}.json"),
        summary=update("results/mrcz/{stack}.json"),
        total=update("results/sums/{stack}.sum.mrcz"),
        half=update("results/sums/{stack}.half.mrcz"),
    params:
        script=os.path.join(SCRIPTS, "ingest.py"),
        settings=step_settings("ingest", "ingest"),
        compress_settings=step_settings("compress", "ingest"),
        gain_settings=step_settings("gain", "ingest"),
        gain=option("--gain", "gain"),
    log:
        "logs/ingest/{stack}.log",
    benchmark:
        "logs/benchmark/ingest/{stack}.tsv"
    # One core: a second only reads ahead (1.3 cores used of 2, measured on K2 movies), so two movies
    # ingested side by side finish sooner than two one after the other. The cluster profile sets 2,
    # where a submission runs its movies' jobs one at a time.
    threads: 1
    # Ingest first whenever a core is free: the archive is what must keep up with the microscope, and
    # the other stages fill the gaps. Otherwise Snakemake ran a movie's outliers as soon as its ingest
    # ended, left the last ingest to the end, and the last movie's ingest and outliers ran alone on one
    # of two cores before KOMA (whose windows need every near stack) could start: 11 s of a core idle.
    priority: 1
    resources:
        mem_mb=1500,
        runtime=10,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.movie:q} {output.archive:q} {output.record:q} {output.summary:q}"
        " {output.total:q} {output.half:q} --stack {wildcards.stack:q} --threads {threads:q} --settings {params.settings:q}"
        " --compress-settings {params.compress_settings:q} --gain-settings {params.gain_settings:q}"
        " {params.gain:q} > {log:q} 2>&1"
