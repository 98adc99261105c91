# Gamma-corrected gain (paper section 5.1): fit gamma(delta) on the vacuum references,
# then write each stack's gain reference gain**gamma(delta) for its dose rate.


rule fit_gamma:
    input:
        references=gamma_references(),
        mdocs=[f"{path}.mdoc" for path in gamma_references()],
        gain=gain_reference(),
    output:
        fit="results/gamma/gamma_fit.yaml",
        plot=report("results/gamma/gamma_fit.png", category="4. Gain", caption="../report/gamma_fit.rst"),
    params:
        script=os.path.join(SCRIPTS, "fit_gamma.py"),
        settings=step_settings("gamma", "fit_gamma"),
        gain_settings=step_settings("gain", "fit_gamma"),
    log:
        "logs/fit_gamma/fit_gamma.log",
    benchmark:
        "logs/benchmark/fit_gamma/fit_gamma.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.references:q} --gain {input.gain:q} --fit-out {output.fit:q}"
        " --plot-out {output.plot:q} --settings {params.settings:q} --gain-settings {params.gain_settings:q}"
        " > {log:q} 2>&1"


rule apply_gain:
    input:
        record="results/ingest/{stack}.json",
        fit="results/gamma/gamma_fit.yaml",
        gain=gain_reference(),
    output:
        gain=gamma_gain("results/gain/{stack}.gain.mrc"),
        info="results/gain/{stack}.json",
    params:
        script=os.path.join(SCRIPTS, "apply_gain.py"),
        gain_settings=step_settings("gain", "apply_gain"),
    log:
        "logs/apply_gain/{stack}.log",
    benchmark:
        "logs/benchmark/apply_gain/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.record:q} {input.fit:q} {input.gain:q} {output.gain:q} {output.info:q}"
        " --stack {wildcards.stack:q} --gain-settings {params.gain_settings:q} > {log:q} 2>&1"


rule normalise:
    input:
        mrcz="results/mrcz/{stack}.mrcz",
        gain="results/gain/{stack}.gain.mrc",
        cmos=config["gamma"]["cmos_reference"] or [],
    output:
        movie="results/gain/{stack}.norm.mrc",
    params:
        script=os.path.join(SCRIPTS, "normalise.py"),
        cmos=option("--cmos", "cmos"),
    log:
        "logs/normalise/{stack}.log",
    benchmark:
        "logs/benchmark/normalise/{stack}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=15,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {input.mrcz:q} {input.gain:q} {output.movie:q} --stack {wildcards.stack:q}"
        " {params.cmos:q} > {log:q} 2>&1"
