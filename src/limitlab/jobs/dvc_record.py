"""DVC's record of what Snakemake built: after every snakemake run here, ``dvc.lock`` records the outputs.

``dvc exp run`` starts by checking out the outputs that ``dvc.lock`` records, and removes the outputs it has no
record of (DVC's "No file hash info found ... It won't be created."). The folders dvc.yaml tracks
(``DATA/runs``, ``DATA/eval``, ...) are shared by every params file, so a grid built by Snakemake alone (``make
run``, ``snakemake ...``) would be deleted by the next experiment. The Snakefile's ``onsuccess`` and ``onerror``
therefore call :func:`after_snakemake`, which runs ``dvc commit`` for every stage of dvc.yaml whose outputs exist:

* a stage this run completed, for the params file dvc.yaml runs, is recorded as up to date (what ``dvc repro``
  would have recorded; ``dvc status`` is clean);
* any other stage (another params file, a run that failed or was stopped, a partial target) has its outputs
  recorded but stays due: its params are left out of its lock entry, so ``dvc repro`` runs it again (Snakemake
  skips what is finished) and records it then. A stage whose outputs did not change keeps its previous entry.

Inside a DVC stage (``$DVC_STAGE``) nothing is done: DVC records the stage itself when it ends. Torch-free: the
Snakefile imports it while it is being read.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STAGES = ("data", "train", "report")
# Snakemake targets that complete a dvc.yaml stage (each stage runs one of them; `all` is `report`'s files)
TARGET_STAGES = {"all": STAGES, "report": STAGES, "train_all": ("data", "train"), "evaluate_all": ("data", "train"),
                 "data": ("data",)}
LOCK = "dvc.lock"
SECTION = 'docs/pipeline.md, "DVC and Snakemake share one record"'
NOT_UPDATED = "limitlab: dvc.lock was not updated"
AGAIN = "then run this snakemake command again (it trains nothing and records the outputs)"
_VAR = re.compile(r"\$\{(\w+)\}")
_MKDIR = re.compile(r"mkdir -p (\S+)")

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class StagePaths:
    deps: list[str]
    outs: list[str]
    made: list[str]  # folders the stage's command creates itself (mkdir -p): outputs even when empty


def completed_stages(targets: Iterable[str]) -> set[str]:
    """The dvc.yaml stages that a snakemake run of these targets (rule names) completes when it succeeds."""
    return {stage for target in targets for stage in TARGET_STAGES.get(target, ())}


def dvc_vars(spec: Mapping[str, Any], root: Path) -> dict[str, Any]:
    """dvc.yaml's ``vars``: the keys of the files it names, then its own values (``PARAMS``, ...)."""
    values: dict[str, Any] = {}
    for entry in spec.get("vars") or []:
        if isinstance(entry, str):
            loaded = yaml.safe_load((root / entry.split(":", 1)[0]).read_text())
            values.update(loaded if isinstance(loaded, dict) else {})
        elif isinstance(entry, dict):
            values.update(entry)
    return values


def stage_paths(spec: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, StagePaths]:
    """Each stage's dependencies, outputs (outs, metrics, plots) and the folders its command makes with
    ``mkdir -p``, as paths with ``${...}`` filled in."""

    def fill(text: Any) -> str:
        return _VAR.sub(lambda m: str(values[m[1]]), str(text))

    def paths(entries) -> list[str]:
        return [fill(next(iter(e)) if isinstance(e, dict) else e) for e in entries or []]

    return {name: StagePaths(deps=paths(stage.get("deps")),
                             outs=paths(stage.get("outs")) + paths(stage.get("metrics")) + paths(stage.get("plots")),
                             made=[fill(m) for m in _MKDIR.findall(str(stage.get("cmd", "")))])
            for name, stage in (spec.get("stages") or {}).items()}


def _outs(entry: Mapping[str, Any] | None) -> list[tuple[Any, Any]]:
    return [(o.get("path"), o.get("md5") or o.get("hash")) for o in (entry or {}).get("outs") or []]


def merge_lock(before: Mapping[str, Any] | None, after: dict[str, Any], recorded: Iterable[str],
               up_to_date: Iterable[str]) -> dict[str, Any]:
    """``after`` (dvc.lock once ``dvc commit`` recorded ``recorded``) with the stages this run did not complete
    set back: an entry whose outputs are unchanged is the one from ``before``; a changed one keeps its new
    outputs but loses its params, so DVC sees the stage as due (``dvc status``: changed deps) and reruns it."""
    old = (before or {}).get("stages") or {}
    new = after.setdefault("stages", {})
    for stage in set(recorded) - set(up_to_date):
        if stage not in new:
            continue
        if stage in old and _outs(old[stage]) == _outs(new[stage]):
            new[stage] = old[stage]
        else:
            new[stage].pop("params", None)
    return after


def dvc_command() -> list[str] | None:
    """How to run dvc: the one installed beside this Python (limitlab depends on it), else the one on PATH."""
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    found = shutil.which("dvc")
    return [found] if found else None


def _load(path: Path) -> dict[str, Any] | None:
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def after_snakemake(params: str, targets: Iterable[str], finished: bool, root: str | Path = ".",
                    environ: Mapping[str, str] | None = None, run: Runner = subprocess.run) -> list[str]:
    """Record in dvc.lock what this snakemake run left under the outputs dvc.yaml tracks; return the lines to
    print (what was recorded, or why nothing was and what to do). ``targets``: the rules the run completed
    (none for a partial run); ``finished``: whether it ended without error. Never raises: a record that fails
    says so and does not fail the snakemake run."""
    environ = os.environ if environ is None else environ
    root = Path(root)
    if environ.get("DVC_STAGE") or not (root / "dvc.yaml").is_file() or not (root / ".dvc").is_dir():
        return []  # inside dvc repro / dvc exp run (DVC records the stage when it ends), or not a DVC project
    try:
        return _record(params, targets, finished, root, environ, run)
    except Exception as exc:  # noqa: BLE001 - a hook: report, never fail the finished run
        return [f"{NOT_UPDATED} ({type(exc).__name__}: {exc}). Before any dvc exp run or dvc checkout, run "
                f"`dvc commit --force` ({SECTION})"]


def _record(params: str, targets: Iterable[str], finished: bool, root: Path, environ: Mapping[str, str],
            run: Runner) -> list[str]:
    spec = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    try:
        values = dvc_vars(spec, root)
        stages = stage_paths(spec, values)
        dvc_params = str(values["PARAMS"])
    except (OSError, KeyError, yaml.YAMLError) as exc:
        return [f"{NOT_UPDATED}: dvc.yaml's vars do not name a readable params file ({type(exc).__name__}: {exc}); "
                f"name it in both vars lines ({SECTION})"]
    if shutil.which("git") is None:
        return [f"{NOT_UPDATED}: git is not installed, and DVC needs it. Before using DVC here, install git, "
                f"git init && git add -A && git commit -m 'limitlab', {AGAIN}"]
    has_commit = run(["git", "rev-parse", "--verify", "--quiet", "HEAD"], cwd=root, capture_output=True).returncode == 0
    if not has_commit and run(["git", "rev-parse", "--git-dir"], cwd=root, capture_output=True).returncode:
        return [f"{NOT_UPDATED}: {root.resolve()} is not a git repository, which DVC needs. Before using DVC "
                f"here: git init && git add -A && git commit -m 'limitlab', {AGAIN}; without that record, dvc exp "
                f"run and dvc checkout delete the outputs"]
    dvc = dvc_command()
    if dvc is None:
        return [f"{NOT_UPDATED}: dvc is not installed (pip install -e . installs it). Before any dvc exp run or "
                f"dvc checkout here, install it, {AGAIN}; without that record, DVC deletes the outputs"]

    same_file = (root / dvc_params).resolve() == (root / params).resolve()
    up_to_date = completed_stages(targets) if (finished and same_file) else set()
    for paths in stages.values():  # folders a stage makes itself (DATA/cv: empty without cleanlab)
        if all((root / p).exists() for p in paths.deps + paths.outs if p not in paths.made):
            for folder in paths.made:
                (root / folder).mkdir(parents=True, exist_ok=True)
    recorded = [name for name, paths in stages.items() if all((root / p).exists() for p in paths.deps + paths.outs)]
    if not recorded:
        return []
    before = _load(root / LOCK)
    done = run([*dvc, "commit", "--force", "--quiet", *recorded], cwd=root, capture_output=True, text=True,
               env={**environ, "DVC_NO_ANALYTICS": "1"})
    if done.returncode:
        said = " ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        return [f"{NOT_UPDATED}: dvc commit --force {' '.join(recorded)} failed ({said}). Fix that and run it "
                f"before any dvc exp run or dvc checkout, which delete outputs that dvc.lock does not record "
                f"({SECTION})"]
    after = _load(root / LOCK) or {}
    merged = merge_lock(before, copy.deepcopy(after), recorded, up_to_date)
    if merged != after:
        (root / LOCK).write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=1000))

    lines = []
    current = [s for s in recorded if s in up_to_date]
    due = [s for s in recorded if s not in up_to_date and "params" not in merged["stages"].get(s, {})]
    if current:
        lines.append(f"limitlab: dvc.lock records the outputs of {', '.join(current)}, built from {dvc_params} "
                     f"(dvc exp run and dvc checkout keep them; {SECTION})")
    if due:
        why = (f"this run was {params}, not {dvc_params}, the file dvc.yaml runs" if not same_file
               else "this run did not finish" if not finished else "this run's targets did not include them")
        lines.append(f"limitlab: dvc.lock records the outputs of {', '.join(due)}, so dvc exp run and dvc checkout "
                     f"keep them; DVC still counts them as due ({why}): dvc repro completes them, skipping what "
                     f"is done")
    if not has_commit:
        lines.append("limitlab: dvc exp run needs a first git commit here: git add -A && git commit -m 'limitlab'")
    return lines
