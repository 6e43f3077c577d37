# The emulator of η(θ) (docs/method.md §5): a Gaussian process fitted on the dataset's solver
# results, an ABC simulator that designs a target in seconds beside the paper's CNN.


rule emulate:
    input:
        dataset="results/dataset.zarr",
        shards=expand("results/shards/shard_{shard}.h5", shard=SHARDS),
    output:
        emulator="results/emulator/emulator.npz",
        evaluation="results/emulator/evaluation.csv",
    log:
        "logs/emulate/emulate.log",
    benchmark:
        "benchmarks/emulate/emulate.tsv"
    params:
        seed=config["seed"],
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: 4000 + attempt * 2000,
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/emulate.py"
