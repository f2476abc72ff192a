"""Helpers of the pipeline tests (tests/workflow, the report and plugin tests that run snakemake): a scratch copy of
the repository, a smaller variant of params/smoke.yaml, the declared outputs of a params file read from the grid
itself, and a snakemake killed once it holds its lock."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from limitlab.experiment import params_file as P
from limitlab.methods import REGISTRY
from limitlab.experiment.grid import runs_of

REPO = Path(__file__).resolve().parents[2]  # tests/helpers/ -> the repository
LOCKS = Path(".snakemake/locks")  # Snakemake's lock files, in the working directory
PROFILE = "workflow/profiles/local"
BIN = Path(sys.executable).parent  # the venv running pytest has snakemake, dvc and limitlab


def env(**extra: str) -> dict[str, str]:
    """Environment of the pipeline commands: this venv first on PATH, no inherited Snakemake profile."""
    e = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
    e.update(DVC_NO_ANALYTICS="1", PYTHONUNBUFFERED="1", **extra)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    return e


def copy_repo(dst: Path) -> Path:
    """The repository's files as git sees them (tracked + untracked, not ignored): no data/, results/, logs/."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def smoke_subset(repo: Path, methods: list[str], p: list[float] | None = None, name: str = "smoke",
                 extra_methods: list[dict] | None = None) -> Path:
    """Rewrite repo/params/smoke.yaml keeping only the given method ids (and noise rates), plus extra entries.

    The pipeline tests on SLURM and DVC run this smaller grid of the smoke experiment to stay within a few
    minutes on 2 CPU cores; the local end-to-end test runs the whole smoke file."""
    path = repo / "params" / "smoke.yaml"
    data = yaml.safe_load(path.read_text())
    data["name"] = name
    data["results_dir"] = f"results/{name}"
    study = data["studies"]["uniform"]  # smoke.yaml: studies and methods keyed by id
    study["methods"] = {k: m for k, m in study["methods"].items() if k in methods}
    for extra in extra_methods or []:
        extra = dict(extra)
        study["methods"][extra.pop("id", extra["method"])] = extra
    if study.get("cleanlab") and study["cleanlab"].get("source", "ce") not in study["methods"]:
        del study["cleanlab"]
    if p is not None:
        study["noise"]["p"] = p
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    P.load(path)  # still valid
    return path


def run_outputs(spec) -> list[Path]:
    """Every file the pipeline declares for one run (train, evaluate, bootstrap)."""
    eval_files = ["predictions.npz", "eval.json", "bootstrap.json"]
    if REGISTRY[spec.method.method].uses_q:
        eval_files += ["train_scores.npz", "suspicious.csv"]
    return ([Path(spec.run_dir) / f for f in ("model.pt", "history.csv", "result.json")]
            + [Path(spec.eval_dir) / f for f in eval_files])


def report_outputs(exp) -> list[Path]:
    names = ["metrics.json", "table.md", "table.csv", "selection.csv", "curves.csv", "figures/index.json"]
    return [Path(exp.results_path) / n for n in names]


def missing_outputs(repo: Path, params_file: str) -> list[str]:
    exp = P.load(repo / params_file)
    files = [f for run in runs_of(exp) for f in run_outputs(run.spec)] + report_outputs(exp)
    return [str(f) for f in files if not (repo / f).is_file()]


def run(cmd: list[str], cwd: Path, timeout: float, **extra_env: str) -> subprocess.CompletedProcess:
    """Run a command, output captured; on timeout the process group is killed (no stray snakemake)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(**extra_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        raise AssertionError(f"{' '.join(cmd)} ran past {timeout} s:\n{out[-4000:]}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a snakemake dry run (job name -> count; {} when there is nothing to do)."""
    if "Job stats:" not in output:
        return {}
    table = output.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def check(result: subprocess.CompletedProcess, expect_ok: bool = True) -> str:
    if (result.returncode == 0) != expect_ok:
        raise AssertionError(f"{' '.join(result.args)} exited {result.returncode}:\n{result.stdout[-6000:]}")
    return result.stdout


def mtimes(repo: Path, exp, filename: str, where: str = "run_dir") -> dict[str, int]:
    return {run.key: (repo / getattr(run.spec, where) / filename).stat().st_mtime_ns for run in runs_of(exp)}


def one_run_repo(root: Path, name: str) -> Path:
    """A copy of the repository whose params/smoke.yaml is one CE run (no cleanlab block)."""
    repo = copy_repo(root / "repo")
    path = smoke_subset(repo, methods=["ce"], p=[0.8], name=name)
    data = yaml.safe_load(path.read_text())
    data["studies"]["uniform"].pop("cleanlab", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return repo


def kill_once_locked(cmd: list[str], cwd: Path, timeout: float = 180, **extra_env: str) -> None:
    """Start ``cmd`` in a process group of its own, wait until Snakemake has written its lock (input and output
    lists), then SIGKILL the whole group: what a closed terminal or `kill -9 -PGID` does."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(**extra_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    output_lock = cwd / LOCKS / "0.output.lock"
    deadline = time.monotonic() + timeout
    try:
        while not (output_lock.is_file() and output_lock.stat().st_size):
            if proc.poll() is not None:
                raise AssertionError(f"{shlex.join(cmd)} ended before it locked:\n{proc.stdout.read()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{shlex.join(cmd)} did not lock within {timeout} s")
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
