# ABC-PMC inverse design of θ for each target η with the CNN (docs/method.md §5).


rule design:
    input:
        model="results/model/best.pt",
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
