# Config -> paths: the validated params file, the folders, and the file lists every target asks for. Planning
# (which runs share a job, their identity, inputs, resources, what is left out) is Python: limitlab.jobs.plan.

import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger as snakemake_logger

from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from limitlab.experiment.grid import all_settings
from limitlab.experiment.paths import RunFiles, dataset_path
from limitlab.jobs import dvc_record, failure_markers, plan, snakemake_lock
from limitlab.jobs.run_config import CONFIG_FILE, check_config

try:
    CONFIG = check_config(config)  # unknown --config keys and unreadable values, before any planning
except LimitlabError as exc:
    raise WorkflowError(str(exc)) from None
PARAMS = CONFIG["params"]
try:
    EXP = params_file.load(PARAMS)
    PLAN = plan.RunJobPlan(EXP, CONFIG, source=PARAMS)
except LimitlabError as exc:  # print the params problem, not a traceback into pydantic
    raise WorkflowError(f"{exc}\n(choose the params file with: --config params=params/NAME.yaml, or `params:` in "
                        f"{CONFIG_FILE})") from None

# Snakemake's lock: its refusal names the exact unlock command; limitlab's notes on the plan (failed cells left
# out, interrupted cells that resume) wait for the Snakefile's onstart when a lock is there
# (limitlab.jobs.snakemake_lock).
snakemake_lock.install_unlock_hint(snakemake_logger, PARAMS)
NOTES_AFTER_LOCK = snakemake_lock.lock_present()


def print_plan_notes() -> None:
    for line in PLAN.messages():
        print(line, file=sys.stderr)


if not NOTES_AFTER_LOCK:
    print_plan_notes()


def on_start() -> None:
    """The Snakefile's onstart (and that of a Snakefile using this workflow as a module): the notes on the plan,
    when a lock kept them back while the workflow was read."""
    if NOTES_AFTER_LOCK:
        print_plan_notes()


def end_of_run(finished: bool) -> None:
    """The Snakefile's onsuccess / onerror, and those of a Snakefile using this workflow as a module (Snakemake
    runs only the main Snakefile's: docs/pipeline.md, "Layout, and limitlab as a Snakemake module"): the runs
    refused for their inputs, grouped by cause with the fix that works (limitlab.jobs.plan.refusal_lines), then
    the DVC record of the working directory's dvc.yaml, if it has one."""
    for line in plan.refusal_lines(PLAN.refused_inputs()):
        print(line, file=sys.stderr)
    record_in_dvc(finished)


def record_in_dvc(finished: bool) -> None:
    """dvc.lock records what this run left in the folders dvc.yaml tracks,
    so that dvc exp run and dvc checkout keep them (limitlab.jobs.dvc_record; nothing inside a DVC stage)."""
    dag = workflow.dag_settings
    partial = dag.until or dag.omit_from or dag.allowed_rules or dag.target_jobs or dag.batch or workflow.touch
    targets = [] if partial else (dag.targets or [workflow.default_target])
    for line in dvc_record.after_snakemake(PARAMS, targets, finished):
        print(line, file=sys.stderr)


DATA = Path(EXP.data_dir)
RESULTS = Path(EXP.results_path)
LOGS = Path("logs") / EXP.name
RES = EXP.resources
JOBS = PLAN.jobs_dir  # one summary per run job: <id>.json
SETTINGS = all_settings(EXP)  # setting path (dataset/noise/pXX/nN/sS) -> (study, Setting)
DATASETS = {study.dataset.name: study.dataset for study in EXP.studies}
REPORT_FILES = ("metrics.json", "table.md", "table.csv", "selection.csv", "curves.csv", "paired.csv", "claims.csv")
TIMING_FILES = ("timing.md", "timing.csv")  # per-stage wall time and memory from the benchmark files
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


def runs_per_job() -> int:
    """N at DAG-building time (the profile's settings are in place then, not while this file is read)."""
    try:
        return PLAN.runs_per_job(workflow.group_settings.group_components.get("run"))
    except LimitlabError as exc:
        raise WorkflowError(str(exc)) from None


_CHECKED = set()  # runs-per-job values whose finished jobs were checked (once per invocation)


def job_files() -> list[str]:
    """The job summaries. Finished jobs with a missing or damaged run output are forced to run again (they
    rebuild only that: limitlab.jobs.plan.RunJobPlan.stale_jobs); Snakemake alone reruns no job whose consumers
    are up to date. Not in a cluster job's own Snakemake (workflow.remote_exec): it runs one given job."""
    n = runs_per_job()
    if n not in _CHECKED and not workflow.remote_exec:
        _CHECKED.add(n)
        stale, messages = PLAN.rerun_stale(n)
        workflow.dag.forcefiles.update(stale)
        for line in messages:
            print(line, file=sys.stderr)
    return PLAN.job_files(n)


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
    return ([str(RESULTS / name) for name in REPORT_FILES] + [str(RESULTS / "figures" / "index.json")]
            + [str(RESULTS / name) for name in TIMING_FILES])
