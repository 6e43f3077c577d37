# spinodoid-design: reproduce Röding et al., Sci Rep 2022, rule by rule.
# Run: snakemake --cores N  (paper config) or  snakemake --cores 2 --configfile config/demo.yaml


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/emulate.smk"
include: "workflow/rules/design.smk"
include: "workflow/rules/rounds.smk"
include: "workflow/rules/validate.smk"
include: "workflow/rules/upscale.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
