# Config -> paths: the validated params file, the folders, and the file lists every target asks for. What the
# workflow decides (which runs share a job, their identity, inputs and resources, what is left out, when notes
# print, which finished jobs run again, what the DVC record counts as done) is Python with unit tests:
# limitlab.pipeline (invocation, plan); it reads Snakemake's internals only through its snakemake_internals.

import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from limitlab.errors import LimitlabError
from limitlab.experiment import failure_markers
from limitlab.experiment.grid import all_settings
from limitlab.experiment.paths import ResultFiles, RunFiles, dataset_path
from limitlab.pipeline import plan
from limitlab.pipeline.invocation import Invocation

try:  # a supported Snakemake, --config, the params file and its plan; notes on the plan (or at onstart)
    INVOCATION = Invocation(config, workflow)
except LimitlabError as exc:
    raise WorkflowError(str(exc)) from None
PARAMS, EXP, PLAN = INVOCATION.params, INVOCATION.exp, INVOCATION.plan


def on_start() -> None:
    """The Snakefile's onstart (and that of a Snakefile using this workflow as a module): the notes on the plan,
    when a lock kept them back while the workflow was read."""
    INVOCATION.on_start()


def end_of_run(finished: bool) -> None:
    """The Snakefile's onsuccess / onerror, and those of a Snakefile using this workflow as a module (Snakemake
    runs only the main Snakefile's: docs/pipeline.md, "Layout, and limitlab as a Snakemake module"): the runs
    refused for their inputs, grouped by cause with the fix that works, then the DVC record of the working
    directory's dvc.yaml, if it has one (limitlab.pipeline.invocation.Invocation.end_of_run)."""
    INVOCATION.end_of_run(finished)


DATA = Path(EXP.data_dir)
RESULTS = Path(EXP.results_path)
LOGS = Path("logs") / EXP.name
RES = EXP.resources
JOBS = PLAN.jobs_dir  # one summary per run job: <id>.json
SETTINGS = all_settings(EXP)  # setting path (dataset/noise/pXX/nN/sS) -> (study, Setting)
DATASETS = {study.dataset.name: study.dataset for study in EXP.studies}
FAILED = RunFiles.FAILED  # per-cell marker: a failure that would repeat (not a Snakemake output)
INTERRUPTED = RunFiles.INTERRUPTED  # per-cell note: the job was interrupted (signal, OOM); the cell resumes
stage_resources = plan.stage_resources
guarded = failure_markers.guard_shell  # shell of a per-cell job: failed.json / interrupted.json on error


def _planned(answer):
    """A plan answer for a job wildcard, with limitlab's error as Snakemake's."""
    def rule_function(wildcards):
        try:
            return answer(wildcards.shard)
        except LimitlabError as exc:
            raise WorkflowError(str(exc)) from None
    return rule_function


# --- run jobs (workflow/rules/run.smk) ----------------------------------------------------------------------


def job_files() -> list[str]:
    """The job summaries; finished jobs with a missing or damaged run output are forced to run again
    (limitlab.pipeline.invocation.Invocation.job_files). Called while the DAG is built."""
    try:
        return INVOCATION.job_files()
    except LimitlabError as exc:
        raise WorkflowError(str(exc)) from None


job_inputs = _planned(PLAN.job_inputs)
job_hash = _planned(PLAN.job_hash)
job_retry = _planned(PLAN.job_retry)
job_runtime = _planned(PLAN.job_runtime)

# --- per-setting stages (download, corrupt) -----------------------------------------------------------------


def setting_of(wildcards):
    try:
        return SETTINGS[wildcards.setting][1]
    except KeyError:
        raise WorkflowError(f"{wildcards.setting!r} is not a data setting of {PARAMS}") from None


def download_args(wildcards) -> str:
    return plan.download_args(DATASETS[wildcards.dataset])


def corrupt_inputs(wildcards):
    setting = setting_of(wildcards)
    return plan.corrupt_inputs(setting, str(dataset_path(DATA, setting.dataset)))


def corrupt_args(wildcards) -> str:
    return plan.corrupt_args(setting_of(wildcards))


# --- files every target asks for -----------------------------------------------------------------------------


def dataset_files():
    return [str(dataset_path(DATA, name)) for name in DATASETS]


def label_files():
    return [str(setting.labels_path(DATA)) for _, setting in SETTINGS.values()]


def report_files():
    names = (*ResultFiles.AGGREGATED, ResultFiles.FIGURE_INDEX, *ResultFiles.TIMED)
    return [str(RESULTS / name) for name in names]
