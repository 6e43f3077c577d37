# The report's figures and tables (docs/method.md §6, paper Figs. 2, 6–7, 10, Table 1).


rule figure_examples:
    output:
        figure=report(
            "results/figures/examples.png",
            caption="../report/examples.rst",
            category="Structures",
            labels={"figure": "example structures (Fig. 2)"},
        ),
    log:
        "logs/figure_examples/figure_examples.log",
    benchmark:
        "benchmarks/figure_examples/figure_examples.tsv"
    params:
        seed=config["seed"],
        size=config["size"],
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/figure_examples.py"


rule figure_posterior:
    input:
        theta_hat="results/design/{target}/theta_hat.json",
        posterior="results/design/{target}/posterior.csv",
    output:
        figure=report(
            "results/figures/{target}_posterior.png",
            caption="../report/posterior.rst",
            category="Inverse design",
            subcategory="{target}",
            labels={"target": "{target}", "figure": "posterior marginals (Figs. 6–7)"},
        ),
    log:
        "logs/figure_posterior/{target}.log",
    benchmark:
        "benchmarks/figure_posterior/{target}.tsv"
    params:
        target=lambda wildcards: TARGETS[wildcards.target],
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/figure_posterior.py"


rule report_generations:
    input:
        generations="results/design/{target}/generations.csv",
    output:
        html=report(
            "results/design/{target}/generations.html",
            caption="../report/generations.rst",
            category="Inverse design",
            subcategory="{target}",
            labels={"target": "{target}", "table": "ABC-PMC generations"},
        ),
    log:
        "logs/report_generations/{target}.log",
    benchmark:
        "benchmarks/report_generations/{target}.tsv"
    params:
        target=lambda wildcards: TARGETS[wildcards.target],
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/report_generations.py"


rule figure_renders:
    input:
        theta_hat="results/design/{target}/theta_hat.json",
    output:
        figure=report(
            "results/figures/{target}_renders.png",
            caption="../report/renders.rst",
            category="Validation",
            subcategory="{target}",
            labels={
                "target": "{target}",
                "figure": "renders at N and upscaled (Fig. 10)",
            },
        ),
    log:
        "logs/figure_renders/{target}.log",
    benchmark:
        "benchmarks/figure_renders/{target}.tsv"
    params:
        seed=config["seed"],
        size=config["size"],
        factor=config["upscale"]["factor"],
    resources:
        mem_mb=int(config["upscale"]["max_memory_gib"] * 1024),
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/figure_renders.py"


rule report_validation:
    input:
        validate=expand("results/validate/{target}_summary.csv", target=TARGETS),
        upscale=expand("results/upscale/{target}_summary.csv", target=TARGETS),
        theta_hat=expand("results/design/{target}/theta_hat.json", target=TARGETS),
    output:
        table="results/validate/summary.csv",
        html=report(
            "results/validate/summary.html",
            caption="../report/validation_table.rst",
            category="Validation",
            labels={"table": "mean η at θ̂ next to the paper"},
        ),
    log:
        "logs/report_validation/report_validation.log",
    benchmark:
        "benchmarks/report_validation/report_validation.tsv"
    params:
        targets=list(TARGETS),
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/report_validation.py"


rule report_table1:
    input:
        evaluation="results/model/evaluation.csv" if USES_CNN else [],
        emulator="results/emulator/evaluation.csv",
    output:
        html=report(
            "results/model/table1.html",
            caption="../report/table1.rst",
            category="CNN",
            labels={"table": "error measures of the CNN and the emulator (Table 1)"},
        ),
    log:
        "logs/report_table1/report_table1.log",
    benchmark:
        "benchmarks/report_table1/report_table1.tsv"
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/report_table1.py"


# Last: a design that stopped before its last tolerance fails the run, naming the target, once
# its validation and report are written (unless design.accept_incomplete).
rule check_designs:
    input:
        theta_hat=expand("results/design/{target}/theta_hat.json", target=TARGETS),
        report="results/validate/summary.html",
    output:
        table="results/design/status.csv",
    log:
        "logs/check_designs/check_designs.log",
    benchmark:
        "benchmarks/check_designs/check_designs.tsv"
    params:
        targets=list(TARGETS),
        accept_incomplete=config["design"]["accept_incomplete"],
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/check_designs.py"


# The two simulators side by side: θ̂, posterior spread, cost and the solver's η at each θ̂.
rule report_comparison:
    input:
        theta_hat=per_design(
            "results/design/{target}/theta_hat.json",
            "results/design/{target}/compare/{simulator}/theta_hat.json",
        ),
        validate=per_design(
            "results/validate/{target}.csv",
            "results/validate/{target}/compare/{simulator}.csv",
        ),
    output:
        table="results/design/comparison.csv",
        html=report(
            "results/design/comparison.html",
            caption="../report/comparison.rst",
            category="Inverse design",
            labels={"table": "CNN and emulator designs side by side"},
        ),
    log:
        "logs/report_comparison/report_comparison.log",
    benchmark:
        "benchmarks/report_comparison/report_comparison.tsv"
    params:
        targets=TARGETS,
        simulators=[SIMULATOR, *COMPARED],
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/report_comparison.py"
