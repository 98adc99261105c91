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
        options=" ".join(
            [
                f"--gain-rotate {config['gain']['rotate']} --gain-flip {config['gain']['flip']}",
                f"--patch {config['gamma']['patch']}",
                "--fallback-unity" if config["gamma"]["fallback_unity"] else "",
            ]
        ),
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
        "python {params.script} {input.references} --gain {input.gain} --fit-out {output.fit}"
        " --plot-out {output.plot} {params.options} > {log} 2>&1"


rule apply_gain:
    input:
        record="results/ingest/{stack}.json",
        fit="results/gamma/gamma_fit.yaml",
        gain=gain_reference(),
    output:
        gain="results/gain/{stack}.gain.mrc",
        info="results/gain/{stack}.json",
    params:
        script=os.path.join(SCRIPTS, "stack_gain.py"),
        options=f"--gain-rotate {config['gain']['rotate']} --gain-flip {config['gain']['flip']}",
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
        "python {params.script} {input.record} {input.fit} {input.gain} {output.gain} {output.info}"
        " --stack {wildcards.stack} {params.options} > {log} 2>&1"


rule normalise:
    input:
        mrcz="results/mrcz/{stack}.mrcz",
        gain="results/gain/{stack}.gain.mrc",
        cmos=config["gamma"]["cmos_reference"] or [],
    output:
        movie="results/gain/{stack}.norm.mrc",
    params:
        script=os.path.join(SCRIPTS, "normalise.py"),
        cmos=lambda wildcards, input: f"--cmos {input.cmos}" if input.cmos else "",
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
        "python {params.script} {input.mrcz} {input.gain} {output.movie} --stack {wildcards.stack}"
        " {params.cmos} > {log} 2>&1"
