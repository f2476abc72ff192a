"""The pipeline's plan of run jobs, in Python (the Snakefile only turns what this returns into rules).

From a validated experiment and Snakemake's ``--config``, :class:`RunJobPlan` answers what the ``run`` and
``cleanlab`` rules ask per job: its runs, identity (a params trigger: a changed cell reruns its own job only),
inputs, resources and whether it retries failed runs; and what the user is told before anything runs (runs left
out for a failure, runs that resume after an interruption). Every answer here is plain data with plain tests; the
strings that reach the rules' shell commands and params must stay byte-identical, since a change makes Snakemake
rerun every job of that rule.

Runs per job, N: ``--config runs_per_job=N``, else ``resources.runs_per_job`` of the params file, else the
profile's ``group-components: run=N`` (workflow/profiles/slurm: 5; Snakemake knows it only once it builds the DAG,
so the job list is an input function), else 1. A job asks for what one run needs (GPUs, CPUs, memory: its runs
follow each other on one GPU) and for the time of all its runs.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from limitlab.data.content_identity import source_id, verified_dataset, verified_inputs
from limitlab.errors import InputRefused, LimitlabError
from limitlab.experiment import failure_markers
from limitlab.experiment.grid import GridIndex, dataset_plugin
from limitlab.experiment.schema import Experiment, StageResources
from limitlab.jobs.grouping import parse_id, split
from limitlab.jobs.execute import is_running_elsewhere, refusal_entry
from limitlab.jobs.done_record import specs_sha256
from limitlab.jobs.left_out import left_out_reason
from limitlab.jobs.run_state import plan_problems
from limitlab.pipeline.run_config import ACCEPTED_KEYS, read_boolean, read_positive

SHOWN = 5  # runs named per message before '...'


def positive(value, where: str) -> int:
    try:
        return read_positive(value)
    except ValueError:
        raise LimitlabError(f"runs_per_job={value!r} ({where}) must be a positive integer: the number of runs per "
                            "job") from None


def stage_resources(stage: StageResources) -> dict:
    """Snakemake resources of one stage from params (exp.resources.<stage>); the SLURM executor maps them to
    sbatch: runtime -> -t (minutes), mem_mb -> --mem, cpus_per_task -> --cpus-per-task, gpu -> --gpus=N,
    gpu_model + gpu -> --gpus=MODEL:N. Partition and account come from the user's profile."""
    res = {"runtime": stage.runtime, "mem_mb": stage.mem_mb, "cpus_per_task": stage.cpus}
    if stage.gpus:
        res["gpu"] = stage.gpus
        if stage.gpu_model:
            res["gpu_model"] = stage.gpu_model
    return res


class RunJobPlan:
    """Run jobs of one experiment under one ``--config`` (retry_failed, runs_per_job)."""

    def __init__(self, exp: Experiment, config: Mapping | None = None, source: str = "the params file"):
        config = dict(config or {})
        self.exp = exp
        self.source = source  # the params file's name, for messages
        self.grid = GridIndex.of(exp)
        try:  # the Snakefile passes --config checked by limitlab.pipeline.run_config; other callers get the same rule
            self.retry_failed = read_boolean(config.get("retry_failed", False))
        except ValueError:
            raise LimitlabError(f"retry_failed={config['retry_failed']!r} is not a boolean: "
                                f"{ACCEPTED_KEYS['retry_failed']}") from None
        self.config_runs_per_job = config.get("runs_per_job")
        self.jobs_dir = Path(exp.data_dir) / "jobs" / exp.name  # one summary per job: <id>.json
        res = exp.resources
        self.gpus = max(res.train.gpus, res.evaluate.gpus)
        self.gpu_model = res.train.gpu_model or res.evaluate.gpu_model
        self.cpus = max(res.train.cpus, res.evaluate.cpus)
        self.mem_mb = max(res.train.mem_mb, res.evaluate.mem_mb)
        self.minutes_per_run = res.train.runtime + res.evaluate.runtime  # bootstrap: about a second
        cache: dict = {}
        # left out for a failure (own or an init source's), ignoring --retry-failed: which jobs get that flag
        self.failed = {s.key: left_out_reason(s, self.grid, retry_failed=False, sources_must_have_trained=False,
                                              _cache=cache) is not None for s in self.grid.specs}

    # --- which runs, in which job ---------------------------------------------------------------------------

    def runs_per_job(self, profile_value=None) -> int:
        """N at DAG-building time; ``profile_value``: the profile's group-components run=N, if any."""
        if self.config_runs_per_job is not None:
            return positive(self.config_runs_per_job, "--config")
        if self.exp.resources.runs_per_job is not None:
            return self.exp.resources.runs_per_job
        return positive(profile_value, "group-components run=N of the profile") if profile_value is not None else 1

    @functools.cache
    def jobs(self, n: int) -> dict[str, list]:
        """Job id -> its runs (RunSpecs), for N runs per job. The id names N, so a cluster job that plans only itself
        finds the same runs."""
        return split(self.grid.specs, n)

    @functools.cache
    def job_of_run(self, n: int) -> dict[str, str]:
        """Run key -> the id of the job that runs it, for N runs per job."""
        return {s.key: job for job, specs in self.jobs(n).items() for s in specs}

    def job_runs(self, job: str) -> list:
        n, _ = parse_id(job)
        try:
            return self.jobs(n)[job]
        except KeyError:
            raise LimitlabError(f"{job!r} is not a run job of {self.source}") from None

    def job_files(self, n: int) -> list[str]:
        """The job summaries every target asks for (all jobs: a job leaves out its failed runs itself)."""
        return [f"{self.jobs_dir}/{job}.json" for job in self.jobs(n)]

    # --- what a job's rule gets ---------------------------------------------------------------------------

    def job_hash(self, job: str) -> str:
        """The job's identity (a params trigger): the hash of its runs' identities."""
        return specs_sha256(self.job_runs(job), self.grid)

    def job_retry(self, job: str) -> str:
        """--retry-failed for the jobs that hold a failed run, with --config retry_failed=true (and only those, so
        the other jobs' params stay the same and they do not run again)."""
        return "--retry-failed" if self.retry_failed and any(self.failed[s.key] for s in self.job_runs(job)) else ""

    def job_runtime(self, job: str) -> int:
        return self.minutes_per_run * len(self.job_runs(job))

    def job_inputs(self, job: str) -> dict:
        """Datasets and labels of the job's runs, and the summaries of other jobs that train their init sources."""
        runs = self.job_runs(job)
        n, _ = parse_id(job)
        inputs = {"data": sorted({str(s.data_path) for s in runs}), "labels": sorted({str(s.labels_path) for s in runs})}
        sources = {self.job_of_run(n)[src.key] for s in runs if (src := self.grid.init_source(s)) is not None}
        sources.discard(job)
        if sources:
            inputs["init_jobs"] = [f"{self.jobs_dir}/{j}.json" for j in sorted(sources)]
        return inputs

    def job_resources(self) -> dict:
        """What one run job asks the cluster for, besides its runtime (:meth:`job_runtime`)."""
        res = {"mem_mb": self.mem_mb, "cpus_per_task": self.cpus}
        if self.gpus:
            res["gpu"] = self.gpus
            if self.gpu_model:
                res["gpu_model"] = self.gpu_model
        return res

    # --- what must run again: outputs missing or damaged since their job finished ----------------------------

    def run_problems(self, spec) -> list[str]:
        """Why a finished job must run again for this run (:func:`~limitlab.jobs.run_state.plan_problems`); [] also
        when the run is left out for a failure."""
        return [] if self.failed[spec.key] else plan_problems(spec, self.grid)

    def stale_jobs(self, n: int) -> dict[str, list[str]]:
        """Job id -> what is wrong, for the jobs that must run although Snakemake may see nothing to do: a run of
        theirs is not intact, or their summary is missing or damaged. Run again, such a job rebuilds only what is
        missing or damaged (:func:`limitlab.jobs.execute.run_one`). A job that never ran is left to Snakemake."""
        out = {}
        for job, specs in self.jobs(n).items():
            summary = self.jobs_dir / f"{job}.json"
            runs = [p for spec in specs for p in self.run_problems(spec)]
            if not summary.is_file():
                if any(os.path.exists(spec.run_dir) for spec in specs):  # the job ran; its summary went missing
                    out[job] = [f"{summary} (missing)", *runs]
                continue
            problems = _summary_problem(summary, specs) + runs
            if problems:
                out[job] = problems
        return out

    def rerun_stale(self, n: int) -> tuple[list[str], list[str]]:
        """(the summaries of :meth:`stale_jobs`, what to tell the user). The Snakefile forces the jobs of these
        summaries (Snakemake alone would not: it reruns no job whose consumers are up to date); nothing is
        deleted here, so a dry run changes nothing."""
        stale = self.stale_jobs(n)
        if not stale:
            return [], []
        problems = [p for ps in stale.values() for p in ps]
        moved = sum("finished in an earlier release's folders" in p for p in problems)
        out = [f"limitlab: {len(stale)} finished job(s) run again to rebuild what is missing or damaged, and only "
               f"that: {_first(problems)}"]
        if moved:
            out.append(f"limitlab: {moved} run(s) finished in an earlier release's folders are moved by their jobs; "
                       f"`limitlab upgrade --params {self.source}` moves them all at once without submitting jobs")
        return [f"{self.jobs_dir}/{job}.json" for job in stale], out

    # --- what the user is told before anything runs --------------------------------------------------------

    def messages(self) -> list[str]:
        """Runs left out for a failure (with why, for the first few), and runs that resume after an interruption."""
        left_out = [] if self.retry_failed else [k for k, failed in self.failed.items() if failed]
        out = []
        if left_out:
            out.append(f"limitlab: skipping {len(left_out)} failed cell(s) (failed.json markers; retry with "
                       f"--config retry_failed=true): {_first(left_out)}")
            for key in left_out[:SHOWN]:
                spec = self.grid.by_key[key]
                why = [m.reason for d in (spec.run_dir, spec.eval_dir) if (m := failure_markers.read_marker(d))]
                out.append(f"  {key}: {why[0] if why else 'its init source failed'}")
        interrupted = [s for s in self.grid.specs if s.key not in left_out and any(
            failure_markers.has_marker(d, "interrupted") and (m := failure_markers.read_marker(d))
            and m.kind == "interrupted" for d in (s.run_dir, s.eval_dir))]
        running = [s.key for s in interrupted if is_running_elsewhere(s)]  # its marker is the other job's, live
        resumed = [s.key for s in interrupted if s.key not in running]
        if resumed:
            out.append(f"limitlab: {len(resumed)} cell(s) were interrupted last time (a signal or out of memory or "
                       f"disk space, not a failure); they run again and resume: {_first(resumed)}")
        if running:
            out.append(f"limitlab: {len(running)} cell(s) are being trained by another job now (another snakemake "
                       f"sharing these runs); this one waits for it and then uses its result: {_first(running)}")
        return out

    def refused_inputs(self) -> list[dict]:
        """The runs whose inputs are refused now (:func:`~limitlab.data.content_identity.verified_inputs`), as
        job summary entries (cause, reason, fix). Inputs not written yet are not refusals (their stage writes them)."""
        out, seen = [], {}
        for spec in self.grid.specs:
            data, labels = os.fspath(spec.data_path), os.fspath(spec.labels_path)
            if not os.path.exists(data):
                continue
            # the dataset alone when the labels are not drawn yet (or were removed with a failed corrupt job)
            key = (data, labels) if os.path.exists(labels) else (data,)
            if key not in seen:
                try:
                    verified_inputs(data, labels) if len(key) == 2 else verified_dataset(data)
                    seen[key] = None
                except InputRefused as exc:
                    seen[key] = exc
            if seen[key] is not None:
                out.append(refusal_entry(spec, seen[key]))
        return out


def refusal_lines(entries: list[dict]) -> list[str]:
    """What the user is told of refused runs, grouped by cause: how many, the first reasons, the fix that works."""
    groups: dict[str, list[dict]] = {}
    for e in entries:
        if e.get("status") == "refused":
            groups.setdefault(e.get("cause", "input refused"), []).append(e)
    out = []
    for cause, group in groups.items():
        reasons = list(dict.fromkeys(e["reason"] for e in group))
        out.append(f"limitlab: {len(group)} run(s) refused ({cause}): not failures, nothing of theirs was changed; "
                   f"fix: {group[0]['fix']}")
        out += [f"  {reason}" for reason in reasons[:SHOWN]]
        out.append(f"  runs: {_first([e['key'] for e in group])}")
    return out


def _first(keys: list[str]) -> str:
    return f"{', '.join(keys[:SHOWN])}{' ...' if len(keys) > SHOWN else ''}"


def _summary_problem(path: Path, specs) -> list[str]:
    """A job summary that is not the one its job writes (truncated, edited, another job's)."""
    try:
        summary = json.loads(path.read_text())
        keys = [entry["key"] for entry in summary["runs"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{path} (damaged: {type(exc).__name__})"]
    return [] if keys == [s.key for s in specs] else [f"{path} (damaged: lists other runs than its job's)"]


# --- the cheap per-setting stages (their rules' arguments) --------------------------------------------------


def download_args(dataset) -> str:
    """Extra arguments of ``limitlab download`` for a dataset of the params file (a DatasetConfig). An own dataset's
    carry its source's content identity: a changed folder or .npz changes the rule's params, so Snakemake imports it
    again (and the import refuses a source that changed after planning); a plugin dataset's carry its package and
    version (:func:`~limitlab.experiment.grid.dataset_plugin`), so an upgrade builds it again."""
    if dataset.path is not None:
        args = ["--path", str(dataset.path)]
        args += ["--resize", str(dataset.resize)] if dataset.resize is not None else []
        sha = source_id(dataset.path)
        return shlex.join(args + (["--source-sha256", sha] if sha is not None else []))
    args = ["--clothing1m-root", str(dataset.root)] if dataset.root is not None else []
    plugin = dataset_plugin(dataset)  # a plugin's dataset: another version of the package changes the params too
    return shlex.join(args + (["--plugin-version", plugin] if plugin is not None else []))


def corrupt_args(setting) -> str:
    """Arguments of ``limitlab corrupt`` for one setting (:class:`~limitlab.experiment.paths.Setting`)."""
    s = setting
    args = ["--dataset", s.dataset, "--noise", s.noise, "--p", repr(s.p), "--n", str(s.n), "--seed", str(s.seed),
            "--val-ratio", repr(s.val_ratio)]
    if s.n_val is not None:
        args += ["--n-val", str(s.n_val)]
    if s.matrix is not None:
        args += ["--matrix", s.matrix]
    if s.noise == "instance":
        args += ["--flip-std", repr(s.flip_std)]
    if s.noise == "human":
        args += ["--human-file", s.human_file, "--label-set", s.label_set]
    if s.noise == "file":
        args += ["--file", s.noise_file]
    if s.clean_validation:
        args.append("--clean-validation")
    return shlex.join(args)


def corrupt_inputs(setting, dataset_file: str) -> dict:
    """Input files of one setting's corrupt job: a changed input file redraws the setting (and so retrains its
    runs, whose done.json recorded the old noise identity). A missing human-label or noise file is left to
    ``limitlab corrupt``, whose error says what the file must be (neither is ever downloaded)."""
    inputs = {"data": dataset_file}
    if setting.matrix is not None:
        inputs["matrix"] = setting.matrix
    if setting.human_file is not None and Path(setting.human_file).is_file():
        inputs["human_file"] = setting.human_file
    if setting.noise_file is not None and Path(setting.noise_file).is_file():
        inputs["noise_file"] = setting.noise_file
    return inputs
