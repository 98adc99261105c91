# The session report: figures and a one-page summary for `snakemake --report report.html`.
# Stacks that failed (an "error:" line in their log) are left out of its inputs and listed instead.

# Where the report finds each stack's records ({stack}; {stage} for logs): the paths of the rules above.
REPORT_PATHS = {
    "ingest": "results/ingest/{stack}.json",
    "storage": "results/mrcz/{stack}.json",
    "archive": "results/mrcz/{stack}.mrcz",
    "outliers": "results/outliers/{stack}.json",
    "mask": "results/outliers/{stack}.mask.mrcz",
    "screen": KOMA_SUM,
    "sums": KOMA_SUM,
    "half": "results/sums/{stack}.half.mrcz",
    "koma": "results/koma/{stack}.json",
    "gamma": "results/gamma/gamma_fit.yaml",
    "log": "logs/{stage}/{stack}.log",
    "benchmark": "logs/benchmark/{stage}/{stack}.tsv",
}


rule session_report:
    input:
        report_inputs,
        index=SESSION_INDEX,
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
        table=report("results/report/stacks.html", category="1. Summary", caption="../report/stacks.rst"),
        tsv="results/report/stacks.tsv",
        # The summary as the report's first page (workflow/report/workflow.rst includes it).
        front_page="results/report/front_page.html",
    params:
        script=os.path.join(SCRIPTS, "session_report.py"),
        folder=lambda wildcards, output: os.path.dirname(output.summary),
        # Functions, so the {stack} templates are not taken for wildcards.
        paths=lambda wildcards: json.dumps(REPORT_PATHS),
        gain=lambda wildcards: report_gain(),
        flags="--flags" if config["outliers"]["enabled"] else "--no-flags",
        settings=step_settings("koma", "session_report"),
        config=lambda wildcards: json.dumps(config),
        # Temporary gamma gains (deleted after this job) are not counted as kept on disk.
        temporary=[] if keep_gamma_gains() else ["--temporary", "gain/*.gain.mrc"],
    log:
        "logs/session_report/session_report.log",
    benchmark:
        "logs/benchmark/session_report/session_report.tsv"
    # The KOMA radius curve's sample stacks are drawn two at a time (one stack in memory each).
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} --index {input.index:q} --paths {params.paths:q} --out {params.folder:q}"
        " --threads {threads:q}"
        " {params.gain:q} {params.flags:q} --settings {params.settings:q} --config {params.config:q}"
        " {params.temporary:q} > {log:q} 2>&1"
