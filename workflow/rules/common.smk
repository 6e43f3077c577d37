# Shared helpers: config validation (before any rule runs), derived constants, final outputs.
import math

from snakemake.utils import validate

validate(config, schema="../schemas/config.schema.yaml")


N_STRUCTURES = sum(config["dataset"][f"n_{split}"] for split in ("train", "val", "test"))
N_SHARDS = math.ceil(N_STRUCTURES / config["sample"]["shard_size"])
SHARDS = [f"{shard:05d}" for shard in range(N_SHARDS)]
TARGETS = {target["name"]: target["eta"] for target in config["targets"]}
# The design's simulator and the file it reads: the paper's CNN or the emulator of η(θ).
SIMULATOR_FILES = {"cnn": "results/model/best.pt", "emulator": "results/emulator/emulator.npz"}
SIMULATOR = config["design"]["simulator"]
# Sequential emulator rounds per target (workflow/rules/rounds.smk, spinodoid.rounds).
ROUNDS = config["rounds"]["count"]
# With design.compare_simulators, every target is also designed (and validated) with the other.
COMPARED = (
    [s for s in SIMULATOR_FILES if s != SIMULATOR] if config["design"]["compare_simulators"] else []
)
# The CNN is trained (and scores the validation structures) only when a design uses it.
USES_CNN = "cnn" in (SIMULATOR, *COMPARED)
CNN_MODEL = SIMULATOR_FILES["cnn"] if USES_CNN else []


def emulator_file(target, round_index):
    """The emulator a target's design reads after ``round_index`` rounds (0: the dataset's)."""
    if round_index == 0:
        return SIMULATOR_FILES["emulator"]
    return f"results/rounds/{target}/round{round_index}/emulator.npz"


def simulator_file(simulator, target):
    """The file a target's design with ``simulator`` reads: the CNN checkpoint, or the emulator
    of the target's last round."""
    if simulator == "emulator":
        return emulator_file(target, ROUNDS)
    return SIMULATOR_FILES[simulator]


if len(TARGETS) != len(config["targets"]):
    raise ValueError("config targets: every target needs a unique name")


# Keys that say where a job runs or how fast, never what it computes: they are not params, so
# changing them reruns nothing (config/README.md, "What a config edit reruns"). Scripts read them
# from snakemake.config and record them in their outputs.
RUN_SIDE_KEYS = {
    "simulate": ("arch",),
    "train": ("device", "compile", "channels_last", "deterministic", "num_workers"),
    "design": ("device", "accept_incomplete"),
    "upscale": ("max_memory_gib",),
}


def canonical(value):
    """``value`` with every mapping's keys sorted, so that params do not depend on the order of
    keys in a config file (Snakemake compares params as written)."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def science(section):
    """The keys of config[section] that change a rule's outputs (all but RUN_SIDE_KEYS)."""
    skip = RUN_SIDE_KEYS.get(section, ())
    return canonical({key: value for key, value in config[section].items() if key not in skip})


def uses_gpu(*devices):
    """1 when any of the devices is 'cuda' (the job's GPU resource), else 0."""
    return int("cuda" in devices)


wildcard_constraints:
    simulator="|".join(SIMULATOR_FILES),
    shard=r"\d{5}",
    target=r"[A-Za-z0-9_-]+",
    round=r"[1-9]\d*",


def per_design(primary, compared):
    """One path per design, target by target: the design.simulator's (``primary``), then each
    compared simulator's (``compared``, with a ``{simulator}`` wildcard)."""
    return [
        path
        for target in TARGETS
        for path in [
            primary.format(target=target),
            *(compared.format(target=target, simulator=s) for s in COMPARED),
        ]
    ]


def get_final_output():
    """Every file the full pipeline produces for this config."""
    per_target = [
        "results/design/{target}/theta_hat.json",
        "results/validate/{target}.csv",
        "results/validate/{target}/spread.csv",
        "results/upscale/{target}.csv",
        "results/export/{target}.stl",
        "results/figures/{target}_posterior.png",
        "results/design/{target}/generations.html",
        "results/figures/{target}_renders.png",
    ]
    return [
        "results/sample/rejection_stats.csv",
        "results/dataset.zarr",
        "results/dataset/summary.csv",
        *(
            ["results/model/best.pt", "results/model/metrics.csv", "results/model/evaluation.csv"]
            if USES_CNN
            else []
        ),
        "results/figures/examples.png",
        "results/validate/summary.html",
        "results/model/table1.html",
        "results/design/status.csv",
        "results/emulator/evaluation.csv",
        *expand(per_target, target=TARGETS),
        *(["results/design/comparison.csv"] if COMPARED else []),
    ]
