# Sequential emulator rounds (spinodoid.rounds, docs/method.md §5): per target, round r designs
# with the emulator of round r - 1, solves structures drawn from that posterior, and refits the
# emulator on the dataset plus the target's round solves 1 .. r. rounds.count = 0: none.


use rule design as round_design with:
    input:
        model=lambda wildcards: emulator_file(wildcards.target, int(wildcards.round) - 1),
        dataset="results/dataset.zarr",
    output:
        posterior="results/rounds/{target}/round{round}/design/posterior.csv",
        theta_hat="results/rounds/{target}/round{round}/design/theta_hat.json",
        generations="results/rounds/{target}/round{round}/design/generations.csv",
    log:
        "logs/round_design/{target}_{round}.log",
    benchmark:
        "benchmarks/round_design/{target}_{round}.tsv"


rule round_solve:
    input:
        posterior="results/rounds/{target}/round{round}/design/posterior.csv",
    output:
        solves="results/rounds/{target}/round{round}/solves.csv",
    log:
        "logs/round_solve/{target}_{round}.log",
    benchmark:
        "benchmarks/round_solve/{target}_{round}.tsv"
    params:
        seed=config["seed"],
        size=config["size"],
        structures=config["rounds"]["structures"],
        simulate=science("simulate"),
        rows="results/rounds/{target}/round{round}/solves.rows.json",
    threads: 2
    resources:
        gpu=uses_gpu(config["simulate"]["arch"]),
    conda:
        "../../envs/gpu.yaml" if uses_gpu(config["simulate"]["arch"]) else "../../envs/cpu.yaml"
    script:
        "../../scripts/round_solve.py"


rule round_emulate:
    input:
        dataset="results/dataset.zarr",
        shards=expand("results/shards/shard_{shard}.h5", shard=SHARDS),
        solves=lambda wildcards: [
            f"results/rounds/{wildcards.target}/round{k}/solves.csv"
            for k in range(1, int(wildcards.round) + 1)
        ],
    output:
        emulator="results/rounds/{target}/round{round}/emulator.npz",
    log:
        "logs/round_emulate/{target}_{round}.log",
    benchmark:
        "benchmarks/round_emulate/{target}_{round}.tsv"
    params:
        seed=config["seed"],
    threads: 2
    resources:
        mem_mb=lambda wildcards, attempt: 4000 + attempt * 2000,
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/round_emulate.py"
