# Validation (docs/method.md §6): solver and CNN η of fresh structures at the designed θ̂.


rule validate:
    input:
        theta_hat="results/design/{target}/theta_hat.json",
        model=CNN_MODEL,
    output:
        table="results/validate/{target}.csv",
        summary="results/validate/{target}_summary.csv",
        rejected="results/validate/{target}_rejected.csv",
        figure=report(
            "results/validate/{target}_scatter.png",
            caption="../report/validate_scatter.rst",
            category="Validation",
            subcategory="{target}",
            labels={"target": "{target}", "figure": "CNN vs solver at θ̂"},
        ),
    log:
        "logs/validate/{target}.log",
    benchmark:
        "benchmarks/validate/{target}.tsv"
    params:
        target=lambda wildcards: TARGETS[wildcards.target],
        seed=config["seed"],
        size=config["size"],
        structures=config["validate"]["structures"],
        max_attempts=config["sample"]["max_attempts_per_structure"],
        simulate=science("simulate"),
        rows="results/validate/{target}.rows.json",
    threads: 2
    resources:
        gpu=uses_gpu(config["simulate"]["arch"], config["design"]["device"]),
    conda:
        (
            "../../envs/gpu.yaml"
            if uses_gpu(config["simulate"]["arch"], config["design"]["device"])
            else "../../envs/cpu.yaml"
        )
    script:
        "../../scripts/validate.py"


use rule validate as validate_compare with:
    input:
        theta_hat="results/design/{target}/compare/{simulator}/theta_hat.json",
        model=CNN_MODEL,
    output:
        table="results/validate/{target}/compare/{simulator}.csv",
        summary="results/validate/{target}/compare/{simulator}_summary.csv",
        rejected="results/validate/{target}/compare/{simulator}_rejected.csv",
        figure="results/validate/{target}/compare/{simulator}_scatter.png",
    log:
        "logs/validate_compare/{target}_{simulator}.log",
    benchmark:
        "benchmarks/validate_compare/{target}_{simulator}.tsv"
    params:
        target=lambda wildcards: TARGETS[wildcards.target],
        seed=config["seed"],
        size=config["size"],
        structures=config["validate"]["structures"],
        max_attempts=config["sample"]["max_attempts_per_structure"],
        simulate=science("simulate"),
        rows="results/validate/{target}/compare/{simulator}.rows.json",


rule check_spread:
    input:
        table="results/validate/{target}.csv",
        theta_hat="results/design/{target}/theta_hat.json",
        emulator=lambda wildcards: simulator_file("emulator", wildcards.target),
    output:
        spread="results/validate/{target}/spread.csv",
    log:
        "logs/check_spread/{target}.log",
    benchmark:
        "benchmarks/check_spread/{target}.tsv"
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/check_spread.py"
