# Validation (docs/method.md §6): solver and CNN η of fresh structures at the designed θ̂.


rule validate:
    input:
        theta_hat="results/design/{target}/theta_hat.json",
        model="results/model/best.pt",
    output:
        table="results/validate/{target}.csv",
        summary="results/validate/{target}_summary.csv",
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
        simulate=config["simulate"],
        device=config["design"]["device"],
    threads: 2
    resources:
        gpu=1 if config["simulate"]["arch"] == "cuda" else 0,
    conda:
        "../../envs/gpu.yaml" if config["simulate"]["arch"] == "cuda" else "../../envs/cpu.yaml"
    script:
        "../../scripts/validate.py"
