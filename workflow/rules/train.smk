# The paper's CNN (docs/method.md §4): training with resume, then Table 1 and Fig. 5.
# The resume state lives in results/model/checkpoint.pt, which is not a declared output, so
# Snakemake keeps it when a job fails or is killed; the same command resumes from it.


rule train:
    input:
        dataset="results/dataset.zarr",
    output:
        best="results/model/best.pt",
        last="results/model/last.pt",
        metrics="results/model/metrics.csv",
    log:
        "logs/train/train.log",
    benchmark:
        "benchmarks/train/train.tsv"
    params:
        train=science("train"),
        seed=config["seed"],
    threads: 8
    resources:
        gpu=0 if config["train"]["device"] == "cpu" else 1,
    conda:
        "../../envs/cpu.yaml" if config["train"]["device"] == "cpu" else "../../envs/gpu.yaml"
    script:
        "../../scripts/train.py"


rule evaluate:
    input:
        model="results/model/best.pt",
        dataset="results/dataset.zarr",
    output:
        table="results/model/evaluation.csv",
        parity=report(
            "results/model/parity.png",
            category="CNN",
            labels={"figure": "true vs predicted η, test set (paper Fig. 5)"},
        ),
    log:
        "logs/evaluate/evaluate.log",
    benchmark:
        "benchmarks/evaluate/evaluate.tsv"
    threads: 4
    resources:
        gpu=0 if config["train"]["device"] == "cpu" else 1,
    conda:
        "../../envs/cpu.yaml" if config["train"]["device"] == "cpu" else "../../envs/gpu.yaml"
    script:
        "../../scripts/evaluate.py"
