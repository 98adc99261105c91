# The session report: figures and a one-page summary for `snakemake --report report.html`.
# Stacks that failed (an "error:" line in their log) are left out of its inputs and listed instead.


rule session_report:
    input:
        report_inputs,
    output:
        summary=report("results/report/summary.html", category="1. Summary", caption="../report/summary.rst"),
        record="results/report/session.json",
        storage=report("results/report/storage.png", category="2. Storage", caption="../report/storage.rst"),
        outliers=report("results/report/outliers.png", category="3. Outliers", caption="../report/outliers.rst"),
        mask=report("results/report/worst_mask.png", category="3. Outliers", caption="../report/worst_mask.rst")
        if config["outliers"]["enabled"]
        else [],
        koma=report("results/report/koma.png", category="5. KOMA", caption="../report/koma.rst"),
        radius=report("results/report/koma_radius.png", category="5. KOMA", caption="../report/koma_radius.rst"),
    params:
        script=os.path.join(SCRIPTS, "session_report.py"),
        stacks=",".join(STACKS),
        folder=lambda wildcards, output: os.path.dirname(output.summary),
        # Templates: the script fills in {stack}, so these are functions (no wildcard expansion).
        gain=lambda wildcards: (
            "--gain-template results/gain/{stack}.gain.mrc"
            if config["gamma"]["enabled"]
            else (
                f"--gain-template {gain_reference()} --gain-rotate {config['gain']['rotate']}"
                f" --gain-flip {config['gain']['flip']}"
                if gain_reference()
                else ""
            )
        ),
        flags=lambda wildcards: (
            "--flags-template results/outliers/{stack}.mask.mrcz" if config["outliers"]["enabled"] else ""
        ),
        form=config["koma"]["form"],
    log:
        "logs/session_report/session_report.log",
    benchmark:
        "logs/benchmark/session_report/session_report.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script} --stacks {params.stacks} --out {params.folder} {params.gain}"
        " {params.flags} --form {params.form} > {log} 2>&1"
