# limitlab pipeline: download -> corrupt -> train -> evaluate (+ bootstrap) -> aggregate -> plot.
#
#   snakemake --profile workflow/profiles/local all                         # workstation, params/default.yaml
#   snakemake --profile slurm all --config params=params/paper/cifar10.yaml  # SLURM (see docs/pipeline.md)
#
# The grid comes from the validated params file (limitlab.experiment); planning is Python (limitlab.jobs.plan);
# workflow/rules/common.smk turns config into paths.
# Targets: all (= report), data, train_all (= evaluate_all), report.

include: "workflow/rules/common.smk"


report: "workflow/report/workflow.rst"


onstart:
    if NOTES_AFTER_LOCK:  # common.smk: a lock was there when the Snakefile was read; now Snakemake holds its own
        print_plan_notes()


# runs refused for their inputs, grouped with the fix; then dvc.lock records what the run built, finished or not,
# so that `dvc exp run` and `dvc checkout` keep it (common.smk, end_of_run; docs/pipeline.md, "DVC and Snakemake
# share one record")
onsuccess:
    end_of_run(finished=True)


onerror:
    end_of_run(finished=False)


rule all:
    input:
        report_files(),
        str(RESULTS / "report" / "results.html"),  # report_assets (workflow/rules/report.smk)
    default_target: True


rule data:
    input:
        dataset_files(),
        label_files(),


# train_all and evaluate_all are the same jobs now (a `run` job trains, evaluates and bootstraps its runs); both
# names stay for scripts and dvc.yaml.
rule train_all:
    input:
        lambda wildcards: job_files(),


rule evaluate_all:
    input:
        lambda wildcards: job_files(),


rule report:
    input:
        report_files(),
        str(RESULTS / "report" / "results.html"),


# Cheap rules run where snakemake runs (the login node on a cluster): download needs the internet, the others
# take seconds. The `run` jobs (train -> evaluate -> bootstrap of several runs each: workflow/rules/run.smk) and
# cleanlab's fold training go to the cluster.
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
include: "workflow/rules/run.smk"
include: "workflow/rules/cleanlab.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/timing.smk"
include: "workflow/rules/report.smk"
