# limitlab pipeline: download -> corrupt -> train -> evaluate (+ bootstrap) -> aggregate -> plot.
#
#   snakemake --profile workflow/profiles/local all                         # workstation, params/default.yaml
#   snakemake --profile slurm all --config params=params/paper/cifar10.yaml  # SLURM (see docs/pipeline.md)
#
# The grid comes from the validated params file (limitlab.params.load(...).runs); see workflow/rules/common.smk.
# Targets: all (= report), data, train_all, evaluate_all, report.

include: "workflow/rules/common.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        report_files(),
        str(RESULTS / "report" / "results.html"),  # report_assets (workflow/rules/report.smk)
    default_target: True


rule data:
    input:
        dataset_files(),
        label_files(),


rule train_all:
    input:
        train_files(),


rule evaluate_all:
    input:
        eval_files(),


rule report:
    input:
        report_files(),
        str(RESULTS / "report" / "results.html"),


# Cheap rules run where snakemake runs (the login node on a cluster): download needs the internet, the others
# take seconds. train -> evaluate -> bootstrap of a run go to the cluster as one group job (group "run",
# several runs per job: workflow/rules/common.smk).
localrules:
    all,
    data,
    train_all,
    evaluate_all,
    report,
    download,
    corrupt,
    aggregate,
    plot,
    timing,


include: "workflow/rules/download.smk"
include: "workflow/rules/corrupt.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/bootstrap.smk"
include: "workflow/rules/cleanlab.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/timing.smk"
include: "workflow/rules/report.smk"
