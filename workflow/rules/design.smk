# ABC-PMC inverse design of θ for each target η (docs/method.md §5), with the simulator of
# design.simulator (the paper's CNN, or the emulator); design_compare runs the other one. The
# emulator's design reads the emulator of the target's last round (rounds.smk).


rule design:
    input:
        model=lambda wildcards: simulator_file(SIMULATOR, wildcards.target),
        dataset="results/dataset.zarr",
    output:
        posterior="results/design/{target}/posterior.csv",
        theta_hat="results/design/{target}/theta_hat.json",
        generations="results/design/{target}/generations.csv",
    log:
        "logs/design/{target}.log",
    benchmark:
        "benchmarks/design/{target}.tsv"
    params:
        design=science("design"),
        seed=config["seed"],
        eta=lambda wildcards: TARGETS[wildcards.target],
    threads: 2
    resources:
        gpu=uses_gpu(config["design"]["device"]),
    conda:
        "../../envs/gpu.yaml" if config["design"]["device"] == "cuda" else "../../envs/cpu.yaml"
    script:
        "../../scripts/design.py"


use rule design as design_compare with:
    input:
        model=lambda wildcards: simulator_file(wildcards.simulator, wildcards.target),
        dataset="results/dataset.zarr",
    output:
        posterior="results/design/{target}/compare/{simulator}/posterior.csv",
        theta_hat="results/design/{target}/compare/{simulator}/theta_hat.json",
        generations="results/design/{target}/compare/{simulator}/generations.csv",
    log:
        "logs/design_compare/{target}_{simulator}.log",
    benchmark:
        "benchmarks/design_compare/{target}_{simulator}.tsv"
