# The dataset store: shards and η gathered into results/dataset.zarr (docs/method.md §2, §4).


rule assemble:
    input:
        shards=expand("results/shards/shard_{shard}.h5", shard=SHARDS),
        eta=expand("results/shards/shard_{shard}.eta.h5", shard=SHARDS),
    output:
        store=directory("results/dataset.zarr"),
        summary="results/dataset/summary.csv",
        eta_hist=report(
            "results/dataset/eta_hist.png",
            category="Dataset",
            labels={"figure": "η histograms per direction"},
        ),
        eta_xy_scatter=report(
            "results/dataset/eta_xy_scatter.png",
            category="Dataset",
            labels={"figure": "η_x vs η_y"},
        ),
        theta_dist=report(
            "results/dataset/theta_dist.png",
            category="Dataset",
            labels={"figure": "θ after rejection"},
        ),
    log:
        "logs/assemble/assemble.log",
    benchmark:
        "benchmarks/assemble/assemble.tsv"
    params:
        dataset=canonical(config["dataset"]),
        seed=config["seed"],
        simulate=science("simulate"),
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 4000 + attempt * 2000,
    conda:
        "../../envs/cpu.yaml"
    script:
        "../../scripts/assemble.py"
