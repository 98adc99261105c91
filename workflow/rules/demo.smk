# The built-in demo session: simulated movies, references and ground truth.


rule simulate_demo:
    output:
        movies=expand(f"{DEMO}/movies/stack_{{i:04d}}.mrc", i=range(config["demo"]["n_stacks"])),
        mdocs=expand(f"{DEMO}/movies/stack_{{i:04d}}.mrc.mdoc", i=range(config["demo"]["n_stacks"])),
        gain=f"{DEMO}/references/gain_vendor.mrc",
        flats=[f"{DEMO}/references/movies/flat_{r:g}.mrc" for r in config["demo"]["flat_dose_rates"]],
        flat_mdocs=[f"{DEMO}/references/movies/flat_{r:g}.mrc.mdoc" for r in config["demo"]["flat_dose_rates"]],
        truth=f"{DEMO}/truth/session.npz",
    params:
        script=os.path.join(SCRIPTS, "simulate_demo.py"),
        folder=lambda wildcards, output: os.path.dirname(os.path.dirname(output.gain)),
        shape=",".join(str(v) for v in config["demo"]["shape"]),
        n_stacks=config["demo"]["n_stacks"],
        n_frames=config["demo"]["n_frames"],
        seed=config["demo"]["seed"],
        flat_rates=",".join(str(r) for r in config["demo"]["flat_dose_rates"]),
        specimens=[
            word
            for kind in ("carbon_stacks", "crystalline_stacks")
            if config["demo"][kind]
            for word in (f"--{kind.replace('_', '-')}", ",".join(str(i) for i in config["demo"][kind]))
        ],
    log:
        "logs/simulate_demo/simulate_demo.log",
    benchmark:
        "logs/benchmark/simulate_demo/simulate_demo.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../../envs/mrczflow.yaml"
    shell:
        "python {params.script:q} {params.folder:q} --shape {params.shape:q} --n-stacks {params.n_stacks:q}"
        " --n-frames {params.n_frames:q} --seed {params.seed:q} --flat-dose-rates {params.flat_rates:q}"
        " {params.specimens:q} > {log:q} 2>&1"
