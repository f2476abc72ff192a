# The grid, read once from the pydantic-validated params: every rule looks its run up here by key.
# No second schema and no hand-written list of runs: RUNS comes from limitlab.grid.expand, SETTINGS from
# limitlab.grid.all_settings, and the layout checks below fail loudly if grid.py moves a folder.

import functools
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from limitlab import markers
from limitlab import params as P
from limitlab.errors import LimitlabError
from limitlab.grid import all_settings, dataset_path
from limitlab.methods import REGISTRY

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

RUNS = {run.key: run.spec for run in EXP.runs}

# --- cluster job grouping ------------------------------------------------------------------------------------
# train, evaluate(_q) and bootstrap are in group "run" (Snakemake ignores groups when it runs jobs locally). On
# a cluster one group job runs RUNS_PER_JOB runs' DAG components: --config runs_per_job=N, else
# resources.runs_per_job of the params file, else --group-components run=N (workflow/profiles/slurm: 5).
# A group job asks for what one run needs and for the time of all its runs: the GPU is a per-group-job ("local"
# scope) resource constrained to GPUS_PER_JOB and the cores to CPUS_PER_JOB, so Snakemake stacks the jobs of
# a group one after another (runtime: the sum of theirs) instead of asking SLURM for one GPU and `cpus` CPUs
# per run. Inside the job, Snakemake runs them within those limits and sets OMP_NUM_THREADS to each job's
# threads, so no run takes another's cores.
RUN_GROUP = "run"
GPUS_PER_JOB = max(RES.train.gpus, RES.evaluate.gpus)
CPUS_PER_JOB = max(RES.train.cpus, RES.evaluate.cpus, RES.default.cpus)


def _runs_per_job():
    value = config.get("runs_per_job", RES.runs_per_job)
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise WorkflowError(f"runs_per_job={value!r} (--config or resources.runs_per_job of {PARAMS}) must be a "
                            f"positive integer: the number of runs per cluster job")
    return int(value)


RUNS_PER_JOB = _runs_per_job()


@functools.cache
def _configure_run_groups() -> None:
    """Once, while Snakemake builds the DAG (its command-line settings are in place only then, not while it reads
    this file): RUNS_PER_JOB -> --group-components run=N, and the per-group-job GPU and core constraints."""
    if RUNS_PER_JOB is not None:
        settings = workflow.group_settings
        settings.group_components = {**settings.group_components, RUN_GROUP: RUNS_PER_JOB}
    if not workflow.non_local_exec:
        return
    if GPUS_PER_JOB and "gpu" not in workflow.global_resources:  # a user's --resources gpu=N comes first
        workflow.register_resource("gpu", GPUS_PER_JOB)
    allocated = os.environ.get("SLURM_CPUS_PER_TASK") if workflow.remote_exec else None
    if allocated:  # inside the group job, which runs `--cores all`: stay within the CPUs SLURM gave it
        workflow.register_resource("_cores", int(allocated))
    elif workflow.global_resources["_cores"].value is None:  # a user's --cores N comes first
        workflow.register_resource("_cores", CPUS_PER_JOB)


resource_scopes:
    gpu="local",

SETTINGS = all_settings(EXP)  # setting path (dataset/noise/pXX/nN/sS) -> (study, Setting)
DATASETS = {study.dataset.name: study.dataset for study in EXP.studies}

# Output patterns. The run key contains '/', so {key} matches across folders; the lookup by key maps it back.
RUN_DIR = f"{DATA}/runs/{{key}}"
EVAL_DIR = f"{DATA}/eval/{{key}}"
TRAIN_FILES = ("model.pt", "history.csv", "result.json")
EVAL_FILES = ("predictions.npz", "eval.json")
Q_EVAL_FILES = ("train_scores.npz", "suspicious.csv")  # only methods with a q-network (gradient predictor)
REPORT_FILES = ("metrics.json", "table.md", "table.csv", "selection.csv", "curves.csv")
TIMING_FILES = ("timing.md", "timing.csv")  # per-stage wall time and memory from the benchmark files
FAILED = markers.FAILED  # per-cell marker: a failure that would repeat (not a Snakemake output)
INTERRUPTED = markers.INTERRUPTED  # per-cell note: the job was interrupted (signal, OOM); the cell resumes

for _key, _spec in RUNS.items():
    if Path(RUN_DIR.format(key=_key)) != Path(_spec.run_dir) or Path(EVAL_DIR.format(key=_key)) != Path(_spec.eval_dir):
        raise WorkflowError(f"run {_key}: grid paths {_spec.run_dir}, {_spec.eval_dir} do not follow "
                            f"{RUN_DIR} / {EVAL_DIR}; update workflow/rules/common.smk")


def uses_q(spec) -> bool:
    return REGISTRY[spec.method.method].uses_q


def _key_regex(specs) -> str:
    """Regex of the keys study/<setting>/<method_id>/<point> of these runs (one alternative per study)."""
    by_study: dict[str, set[str]] = {}
    for s in specs:
        by_study.setdefault(s.study, set()).add(s.method_id)
    alts = [f"{re.escape(study)}/.+/(?:{'|'.join(sorted(map(re.escape, ids)))})/[^/]+"
            for study, ids in sorted(by_study.items())]
    return "|".join(alts) or "(?!)"  # (?!) never matches: no such runs


# evaluate and evaluate_q differ in their outputs; their key constraints split the grid by method.
KEYS_Q = _key_regex(s for s in RUNS.values() if uses_q(s))
KEYS_PLAIN = _key_regex(s for s in RUNS.values() if not uses_q(s))
for _key, _spec in RUNS.items():
    if bool(re.fullmatch(KEYS_Q, _key)) == bool(re.fullmatch(KEYS_PLAIN, _key)):
        raise WorkflowError(f"run {_key}: cannot tell from its key whether it has a q-network")


def spec_of(wildcards):
    _configure_run_groups()  # the first input function Snakemake calls while it builds the DAG does this
    try:
        return RUNS[wildcards.key]
    except KeyError:
        raise WorkflowError(f"{wildcards.key!r} is not a run of {PARAMS} "
                            f"(list them with: limitlab params runs {PARAMS})") from None


@functools.cache
def job_spec_json(key: str) -> str:
    """The run's spec as `limitlab train/evaluate --spec` get it; also its identity for Snakemake's params trigger.
    grid.expand already clears display-only fields (label, seeds), so relabelling a method retrains nothing."""
    return RUNS[key].model_dump_json()


def spec_json(wildcards) -> str:
    return job_spec_json(spec_of(wildcards).key)


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
# A train/evaluate job that fails in a way that would repeat (exit status 1 or 2) writes <dir>/failed.json (exit
# status and the spec it failed with). Later invocations leave that cell out of every target, so `aggregate`
# runs on the rest and marks it missing. The marker is ignored (the cell is retried) when the cell's spec
# changed, or with --config retry_failed=true. An interrupted job (a signal, out of memory: see
# limitlab.markers) writes interrupted.json instead, which skips nothing: the next run resumes the cell.


def _failed(folder, spec) -> bool:
    return not RETRY_FAILED and markers.failed_with(folder, job_spec_json(spec.key))


def _cell_ok(spec) -> bool:
    if _failed(spec.run_dir, spec) or _failed(spec.eval_dir, spec):
        return False
    if spec.init_dir is None:
        return True
    source = RUN_BY_DIR.get(Path(spec.init_dir))
    return source is None or not _failed(source.run_dir, source)


RUN_BY_DIR = {Path(s.run_dir): s for s in RUNS.values()}
_OK = {s.key: _cell_ok(s) for s in RUNS.values()}
CELLS = [s for s in RUNS.values() if _OK[s.key]]  # the runs every target asks for
SKIPPED = [key for key, ok in _OK.items() if not ok]
if SKIPPED:
    print(f"limitlab: skipping {len(SKIPPED)} failed cell(s) (failed.json markers; retry with "
          f"--config retry_failed=true): {', '.join(SKIPPED[:5])}{' ...' if len(SKIPPED) > 5 else ''}",
          file=sys.stderr)
    for _key in SKIPPED[:5]:
        _why = [m.reason for d in (RUNS[_key].run_dir, RUNS[_key].eval_dir) if (m := markers.read_marker(d))]
        print(f"  {_key}: {_why[0] if _why else 'its init source failed'}", file=sys.stderr)
_RESUMED = [key for key, s in RUNS.items() if _OK[key]
            and any((m := markers.read_marker(d)) and m.kind == "interrupted" for d in (s.run_dir, s.eval_dir))]
if _RESUMED:
    print(f"limitlab: {len(_RESUMED)} cell(s) were interrupted last time (a signal or out of memory, not a "
          f"failure); they run again and resume: {', '.join(_RESUMED[:5])}{' ...' if len(_RESUMED) > 5 else ''}",
          file=sys.stderr)


def guarded(command: str) -> str:
    """Shell of a per-cell job: run `command` (it may use "$spec"), logging to {log}; on error write
    failed.json or interrupted.json (see limitlab.markers.guard_shell) and fail."""
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


def train_inputs(wildcards):
    spec = spec_of(wildcards)
    inputs = {"data": str(spec.data_path), "labels": str(spec.labels_path)}
    if spec.init_dir is not None:
        inputs["init"] = f"{spec.init_dir}/model.pt"
    return inputs


def evaluate_inputs(wildcards):
    spec = spec_of(wildcards)
    return {"model": f"{spec.run_dir}/model.pt", "data": str(spec.data_path), "labels": str(spec.labels_path)}


# --- files every target asks for -----------------------------------------------------------------------------


def dataset_files():
    return [str(dataset_path(DATA, name)) for name in DATASETS]


def label_files():
    return [str(setting.labels_path(DATA)) for _, setting in SETTINGS.values()]


def train_files(specs=None):
    return [f"{s.run_dir}/{name}" for s in (CELLS if specs is None else specs) for name in TRAIN_FILES]


def eval_files(specs=None):
    out = []
    for s in CELLS if specs is None else specs:
        names = EVAL_FILES + (Q_EVAL_FILES if uses_q(s) else ()) + ("bootstrap.json",)
        out += [f"{s.eval_dir}/{name}" for name in names]
    return out


def report_files():
    return ([str(RESULTS / name) for name in REPORT_FILES] + [str(RESULTS / "figures" / "index.json")]
            + [str(RESULTS / name) for name in TIMING_FILES])
