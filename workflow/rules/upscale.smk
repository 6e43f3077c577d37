# Upscaling (docs/method.md §6): solver η of structures N·factor wide with a / factor at θ̂.


rule upscale:
    input:
        theta_hat="results/design/{target}/theta_hat.json",
    output:
        table="results/upscale/{target}.csv",
        summary="results/upscale/{target}_summary.csv",
        rejected="results/upscale/{target}_rejected.csv",
    log:
        "logs/upscale/{target}.log",
    benchmark:
        "benchmarks/upscale/{target}.tsv"
    params:
        target=lambda wildcards: TARGETS[wildcards.target],
        seed=config["seed"],
        size=config["size"],
        structures=config["upscale"]["structures"],
        factor=config["upscale"]["factor"],
        max_attempts=config["sample"]["max_attempts_per_structure"],
        simulate=science("simulate"),
        rows="results/upscale/{target}.rows.json",
    threads: 2
    resources:
        mem_mb=int(config["upscale"]["max_memory_gib"] * 1024),
        gpu=uses_gpu(config["simulate"]["arch"]),
    conda:
        "../../envs/gpu.yaml" if config["simulate"]["arch"] == "cuda" else "../../envs/cpu.yaml"
    script:
        "../../scripts/upscale.py"
