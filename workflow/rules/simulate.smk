# Solver η along x, y, z of every structure of a shard (docs/method.md §3).


rule simulate:
    input:
        shard="results/shards/shard_{shard}.h5",
    output:
        eta="results/shards/shard_{shard}.eta.h5",
    log:
        "logs/simulate/{shard}.log",
    benchmark:
        "benchmarks/simulate/{shard}.tsv"
    params:
        simulate=science("simulate"),
    threads: 2
    resources:
        gpu=uses_gpu(config["simulate"]["arch"]),
    conda:
        "../../envs/gpu.yaml" if config["simulate"]["arch"] == "cuda" else "../../envs/cpu.yaml"
    script:
        "../../scripts/simulate.py"
