# mrczflow: lossless MRCZ storage and open detector correction for cryo-EM sessions.
# Stages live in workflow/rules/ (one .smk each); the logic in the mrczflow library.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/gain.smk"
include: "workflow/rules/outliers.smk"
include: "workflow/rules/koma.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/handoff.smk"


rule all:
    input:
        final_targets(),
    default_target: True
