# The grid, read once from the pydantic-validated params: every rule looks its run up here by key.
# No second schema and no hand-written list of runs: RUNS comes from limitlab.experiment.grid.expand, SETTINGS from
# limitlab.experiment.grid.all_settings, and the layout checks below fail loudly if grid.py moves a folder.

import functools
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from limitlab.jobs import failure_markers as markers
from limitlab.jobs import run_jobs as shards
from limitlab.experiment import params_file as P
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import all_settings
from limitlab.experiment.paths import dataset_path

PARAMS = str(config.get("params", "params/default.yaml"))
try:
    EXP = P.load(PARAMS)
except LimitlabError as exc:  # print the params problem, not a traceback into pydantic
    raise WorkflowError(f"{exc}\n(choose the params file with: --config params=params/NAME.yaml)") from None

DATA = Path(EXP.data_dir)
RESULTS = Path(EXP.results_path)
LOGS = Path("logs") / EXP.name
RES = EXP.resources
# --config retry_failed=true: train/evaluate again the cells that left a failure marker.
RETRY_FAILED = str(config.get("retry_failed", "false")).lower() in ("1", "true", "yes")

RUNS = {run.key: run.spec for run in runs_of(EXP)}

# --- run jobs: several runs per Snakemake (and cluster) job -------------------------------------------------
# One `run` job trains, evaluates and bootstraps RUNS_PER_JOB consecutive runs (workflow/rules/run.smk). N is
# --config runs_per_job=N, else resources.runs_per_job of the params file, else the profile's
# `group-components: run=N` (workflow/profiles/slurm: 5; Snakemake knows it only once it builds the DAG, so
# the job list is an input function), else 1. A job asks for what one run needs (GPUs, CPUs, memory: the runs
# follow each other on one GPU, so none takes another's cores) and for the time of all its runs.
GPUS_PER_JOB = max(RES.train.gpus, RES.evaluate.gpus)
GPU_MODEL = RES.train.gpu_model or RES.evaluate.gpu_model
CPUS_PER_JOB = max(RES.train.cpus, RES.evaluate.cpus)
MEM_PER_JOB = max(RES.train.mem_mb, RES.evaluate.mem_mb)
MINUTES_PER_RUN = RES.train.runtime + RES.evaluate.runtime  # bootstrap: about a second
JOBS = Path(EXP.data_dir) / "jobs" / EXP.name  # one summary per job: <id>.json (ids: limitlab.jobs.run_jobs)


def _positive(value, where: str) -> int:
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise WorkflowError(f"runs_per_job={value!r} ({where}) must be a positive integer: the number of runs "
                            f"per job")
    return int(value)


def runs_per_job() -> int:
    """N at DAG-building time (the profile's settings are in place then, not while this file is read)."""
    if "runs_per_job" in config:
        return _positive(config["runs_per_job"], "--config")
    if RES.runs_per_job is not None:
        return RES.runs_per_job
    profile = workflow.group_settings.group_components.get("run")
    return _positive(profile, "group-components run=N of the profile") if profile is not None else 1


@functools.cache
def jobs_of(n: int) -> dict:
    """Job id -> its runs (RunSpecs), for N runs per job. The id names N, so a cluster job that plans only
    itself finds the same runs."""
    return shards.split(RUNS.values(), n)


def job_runs(wildcards) -> list:
    n, _ = shards.parse_id(wildcards.shard)
    try:
        return jobs_of(n)[wildcards.shard]
    except KeyError:
        raise WorkflowError(f"{wildcards.shard!r} is not a run job of {PARAMS}") from None


def job_hash(wildcards) -> str:
    """The job's identity (a params trigger): the hash of its runs' specs. A changed cell reruns its job only."""
    return shards.specs_sha256(job_runs(wildcards), RUN_BY_DIR)


def job_retry(wildcards) -> str:
    """--retry-failed for the jobs that hold a failed run, with --config retry_failed=true (and only those, so
    the other jobs' params stay the same and they do not run again)."""
    return "--retry-failed" if RETRY_FAILED and any(_FAILED[s.key] for s in job_runs(wildcards)) else ""


def job_runtime(wildcards) -> int:
    return MINUTES_PER_RUN * len(job_runs(wildcards))


def job_inputs(wildcards):
    """Datasets and labels of the job's runs, and the job summaries of other jobs that train their init sources."""
    runs = job_runs(wildcards)
    n, _ = shards.parse_id(wildcards.shard)
    inputs = {"data": sorted({str(s.data_path) for s in runs}), "labels": sorted({str(s.labels_path) for s in runs})}
    sources = {JOB_OF_RUN[n][RUN_BY_DIR[Path(s.init_dir)].key] for s in runs
               if s.init_dir is not None and Path(s.init_dir) in RUN_BY_DIR}
    sources.discard(wildcards.shard)
    if sources:
        inputs["init_jobs"] = [f"{JOBS}/{j}.json" for j in sorted(sources)]
    return inputs


class _JobOfRun(dict):
    def __missing__(self, n):
        self[n] = {s.key: job for job, specs in jobs_of(n).items() for s in specs}
        return self[n]


JOB_OF_RUN = _JobOfRun()  # N -> run key -> job id


def job_files() -> list[str]:
    """The job summaries every target asks for (all jobs: a job leaves out its failed runs itself)."""
    return [f"{JOBS}/{job}.json" for job in jobs_of(runs_per_job())]


SETTINGS = all_settings(EXP)  # setting path (dataset/noise/pXX/nN/sS) -> (study, Setting)
DATASETS = {study.dataset.name: study.dataset for study in EXP.studies}

REPORT_FILES = ("metrics.json", "table.md", "table.csv", "selection.csv", "curves.csv")
TIMING_FILES = ("timing.md", "timing.csv")  # per-stage wall time and memory from the benchmark files
FAILED = markers.FAILED  # per-cell marker: a failure that would repeat (not a Snakemake output)
INTERRUPTED = markers.INTERRUPTED  # per-cell note: the job was interrupted (signal, OOM); the cell resumes


@functools.cache
def job_spec_json(key: str) -> str:
    """The run's spec as JSON; a failure marker holds the spec it failed with. grid.expand already clears
    display-only fields (label, seeds), so relabelling a method retrains nothing."""
    return RUNS[key].model_dump_json()


def stage_resources(stage) -> dict:
    """Snakemake resources of one stage from params (exp.resources.<stage>); the SLURM executor maps them to
    sbatch: runtime -> -t (minutes), mem_mb -> --mem, cpus_per_task -> --cpus-per-task,
    gpu -> --gpus=N, gpu_model + gpu -> --gpus=MODEL:N. Partition and account come from the user's profile."""
    res = {"runtime": stage.runtime, "mem_mb": stage.mem_mb, "cpus_per_task": stage.cpus}
    if stage.gpus:
        res["gpu"] = stage.gpus
        if stage.gpu_model:
            res["gpu_model"] = stage.gpu_model
    return res


# --- failure markers: a failed cell fails only its own downstream -------------------------------------------
# A run that fails in a way that would repeat (exit status 1 or 2) gets <run_dir>/failed.json (exit status and
# the spec it failed with; written by `limitlab run`, or by guard_shell for cleanlab's fold jobs). Later invocations leave that cell out of every target, so `aggregate`
# runs on the rest and marks it missing. The marker is ignored (the cell is retried) when the cell's spec
# changed, or with --config retry_failed=true. An interrupted run (a signal, out of memory: see
# limitlab.jobs.failure_markers) gets interrupted.json instead, which skips nothing: the next job resumes the cell.


def _failed(folder, spec) -> bool:
    # a stat first: the spec's JSON only for the rare cell that has a marker (planning cost per run)
    return (Path(folder) / FAILED).is_file() and markers.failed_with(folder, job_spec_json(spec.key))


@functools.cache
def _cell_failed_key(key: str) -> bool:
    spec = RUNS[key]
    if _failed(spec.run_dir, spec) or _failed(spec.eval_dir, spec):
        return True
    source = RUN_BY_DIR.get(Path(spec.init_dir)) if spec.init_dir is not None else None
    return source is not None and _cell_failed_key(source.key)


def _cell_failed(spec) -> bool:
    """A failure marker for this spec, on the run or on its init source."""
    return _cell_failed_key(spec.key)


RUN_BY_DIR = {Path(s.run_dir): s for s in RUNS.values()}
_FAILED = {s.key: _cell_failed(s) for s in RUNS.values()}
_OK = {key: RETRY_FAILED or not failed for key, failed in _FAILED.items()}
SKIPPED = [key for key, ok in _OK.items() if not ok]
if SKIPPED:
    print(f"limitlab: skipping {len(SKIPPED)} failed cell(s) (failed.json markers; retry with "
          f"--config retry_failed=true): {', '.join(SKIPPED[:5])}{' ...' if len(SKIPPED) > 5 else ''}",
          file=sys.stderr)
    for _key in SKIPPED[:5]:
        _why = [m.reason for d in (RUNS[_key].run_dir, RUNS[_key].eval_dir) if (m := markers.read_marker(d))]
        print(f"  {_key}: {_why[0] if _why else 'its init source failed'}", file=sys.stderr)
_RESUMED = [key for key, s in RUNS.items() if _OK[key]
            and any((Path(d) / INTERRUPTED).is_file() and (m := markers.read_marker(d)) and m.kind == "interrupted"
                    for d in (s.run_dir, s.eval_dir))]
if _RESUMED:
    print(f"limitlab: {len(_RESUMED)} cell(s) were interrupted last time (a signal or out of memory, not a "
          f"failure); they run again and resume: {', '.join(_RESUMED[:5])}{' ...' if len(_RESUMED) > 5 else ''}",
          file=sys.stderr)


def guarded(command: str) -> str:
    """Shell of a per-cell job: run `command` (it may use "$spec"), logging to {log}; on error write
    failed.json or interrupted.json (see limitlab.jobs.failure_markers.guard_shell) and fail."""
    return markers.guard_shell(command)


# --- per-job lookups (inputs and arguments of the stage rules) ---------------------------------------------


def download_args(wildcards) -> str:
    root = DATASETS[wildcards.dataset].root
    return f"--clothing1m-root {shlex.quote(str(root))}" if root is not None else ""


def setting_of(wildcards):
    try:
        return SETTINGS[wildcards.setting][1]
    except KeyError:
        raise WorkflowError(f"{wildcards.setting!r} is not a data setting of {PARAMS}") from None


def corrupt_inputs(wildcards):
    setting = setting_of(wildcards)
    inputs = {"data": str(dataset_path(DATA, setting.dataset))}
    if setting.matrix is not None:
        inputs["matrix"] = setting.matrix
    if setting.human_file is not None and Path(setting.human_file).is_file():
        # a missing file is left to `limitlab corrupt`, whose error says where to get it (never downloaded)
        inputs["human_file"] = setting.human_file
    return inputs


def corrupt_args(wildcards) -> str:
    s = setting_of(wildcards)
    args = ["--dataset", s.dataset, "--noise", s.noise, "--p", repr(s.p), "--n", str(s.n), "--seed", str(s.seed),
            "--val-ratio", repr(s.val_ratio)]
    if s.matrix is not None:
        args += ["--matrix", s.matrix]
    if s.noise == "instance":
        args += ["--flip-std", repr(s.flip_std)]
    if s.noise == "human":
        args += ["--human-file", s.human_file, "--label-set", s.label_set]
    if s.clean_validation:
        args.append("--clean-validation")
    return shlex.join(args)


# --- files every target asks for -----------------------------------------------------------------------------


def dataset_files():
    return [str(dataset_path(DATA, name)) for name in DATASETS]


def label_files():
    return [str(setting.labels_path(DATA)) for _, setting in SETTINGS.values()]


def report_files():
    return ([str(RESULTS / name) for name in REPORT_FILES] + [str(RESULTS / "figures" / "index.json")]
            + [str(RESULTS / name) for name in TIMING_FILES])
