# 3D export: a watertight STL of one structure at θ̂ per target.


rule export:
    input:
        theta_hat="results/design/{target}/theta_hat.json",
    output:
        mesh="results/export/{target}.stl",
    log:
        "logs/export/{target}.log",
    benchmark:
        "benchmarks/export/{target}.tsv"
    params:
        seed=config["seed"],
        size=config["size"],
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/export.py"
