# Rejection sampling of dataset shards (docs/method.md §2), and its acceptance statistics.


rule sample:
    output:
        shard="results/shards/shard_{shard}.h5",
    log:
        "logs/sample/{shard}.log",
    benchmark:
        "benchmarks/sample/{shard}.tsv"
    params:
        shard_size=config["sample"]["shard_size"],
        max_attempts=config["sample"]["max_attempts_per_structure"],
        size=config["size"],
        seed=config["seed"],
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 + attempt * 1000,
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/sample.py"


rule rejection_stats:
    input:
        shards=expand("results/shards/shard_{shard}.h5", shard=SHARDS),
    output:
        table="results/sample/rejection_stats.csv",
    log:
        "logs/rejection_stats/rejection_stats.log",
    benchmark:
        "benchmarks/rejection_stats/rejection_stats.tsv"
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/rejection_stats.py"
