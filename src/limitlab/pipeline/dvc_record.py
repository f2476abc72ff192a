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

Which targets a snakemake invocation completed is :func:`completed_targets`. Inside a DVC stage (``$DVC_STAGE``)
nothing is done: DVC records the stage itself when it ends. Torch-free: the Snakefile imports it while it is being
read.

What DVC removes is put back (:func:`restore_removed`). DVC's checkout makes each tracked folder exactly what
dvc.lock records, so a dvc.lock that disagrees with the workspace (a ``git checkout`` / ``git pull`` of an older or
another machine's dvc.lock, an edited one, a record missing from the cache) removes runs of every params file in
the shared folders; when the record is not in the cache, DVC removes the whole folder. No DVC option or file can
stop that or run anything before it (``dvc exp run`` checks out with ``--force`` before its first stage). So every
record made here also notes, per tracked folder, the tree it recorded (``.dvc/tmp/limitlab/recorded.json``; the
files are in DVC's cache), and each dvc.yaml stage starts with ``python -m limitlab.jobs.dvc_record restore``,
which copies back from the cache every file of that tree that is missing and that the current dvc.lock does not
keep (a file dvc.lock still records and the cache holds was deleted by hand: it stays deleted, Snakemake redoes
it). :func:`after_snakemake` does the same before it records, and the command can be run by hand after a
``dvc checkout``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
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
RECORDED = Path(".dvc/tmp/limitlab/recorded.json")  # per cached out, the tree limitlab last recorded
# the command dvc.yaml runs: its old module path (limitlab/jobs/dvc_record.py re-exports this module), kept because
# dvc.lock records each stage's command
RESTORE = "python -m limitlab.jobs.dvc_record restore"
_VAR = re.compile(r"\$\{(\w+)\}")
_MKDIR = re.compile(r"mkdir -p (\S+)")

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class StagePaths:
    deps: list[str]
    outs: list[str]
    made: list[str]  # folders the stage's command creates itself (mkdir -p): outputs even when empty


def completed_targets(request) -> list[str]:
    """The targets an invocation completes when it succeeds, from what it asked for
    (:class:`limitlab.pipeline.snakemake_internals.Request`): none when it stops short of them (``--until``,
    ``--omit-from``, ``--allowed-rules``, ``--target-jobs``, ``--batch``) or only marks outputs as done
    (``--touch``). Such a run's outputs are then recorded but its stages stay due (:func:`after_snakemake`)."""
    partial = (request.until or request.omit_from or request.allowed_rules or request.target_jobs or request.batch
               or request.touch)
    return [] if partial else list(request.targets)


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


def cached_outs(spec: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    """The outputs of dvc.yaml that DVC keeps in its cache and checks out (``cache: false`` ones it never
    touches), as paths with ``${...}`` filled in."""
    found = []
    for stage in (spec.get("stages") or {}).values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or []:
                path, flags = (next(iter(entry.items())) if isinstance(entry, dict) else (entry, None))
                if (flags or {}).get("cache", True) is not False:
                    found.append(_VAR.sub(lambda m: str(values[m[1]]), str(path)))
    return found


def cache_dir(root: Path) -> Path:
    """DVC's cache folder: ``cache.dir`` of .dvc/config.local or .dvc/config (relative to .dvc/), else .dvc/cache."""
    for name in ("config.local", "config"):
        path = root / ".dvc" / name
        section = ""
        for line in (path.read_text().splitlines() if path.is_file() else []):
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]").strip()
            elif section == "cache" and (m := re.match(r"dir\s*=\s*(.+)$", line)):
                return (root / ".dvc" / m[1].strip().strip("'\"")).resolve()
    return root / ".dvc" / "cache"


def _object(cache: Path, md5: str, legacy: bool = False) -> Path:
    base = cache if legacy else cache / "files" / "md5"  # DVC 3 (hash: md5) / DVC 2 (md5-dos2unix) entries
    return base / md5[:2] / md5[2:]


def _tree(cache: Path, out: Mapping[str, Any] | None) -> dict[str, str] | None:
    """A lock entry's folder as {relpath: md5} from DVC's cache; None when it is not a folder or not cached."""
    md5 = str((out or {}).get("md5") or "")
    legacy = (out or {}).get("hash") != "md5"
    if not md5.endswith(".dir"):
        return None
    try:
        listing = json.loads(_object(cache, md5, legacy).read_text())
        return {str(f["relpath"]): str(f["md5"]) for f in listing}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _kept(cache: Path, out: Mapping[str, Any] | None) -> dict[str, str]:
    """What DVC's checkout keeps of an out: the files dvc.lock records, when its record is complete in the cache.
    An incomplete one fails and DVC removes the whole folder, so it keeps nothing."""
    tree = _tree(cache, out)
    legacy = (out or {}).get("hash") != "md5"
    if tree is None or not all(_object(cache, md5, legacy).is_file() for md5 in tree.values()):
        return {}
    return tree


def _lock_outs(lock: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {str(o.get("path")): o for entry in ((lock or {}).get("stages") or {}).values()
            for o in (entry or {}).get("outs") or []}


def _remember(root: Path, lock: Mapping[str, Any], paths: Iterable[str]) -> None:
    """Note, for these outs, the tree dvc.lock now records (after a dvc commit: what the workspace holds)."""
    cache = cache_dir(root)
    outs = _lock_outs(lock)
    file = root / RECORDED
    try:
        known = json.loads(file.read_text()) if file.is_file() else {}
    except ValueError:
        known = {}
    for path in paths:
        out = outs.get(path)
        if out is not None and _tree(cache, out) is not None:
            known[path] = {"hash": out.get("hash"), "md5": out.get("md5")}
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
    os.replace(tmp, file)


def _copy_back(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.limitlab-restore")
    shutil.copyfile(src, tmp)  # DVC's cache files are read-only; the copy is an ordinary file
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)


def restore_removed(root: str | Path = ".") -> list[str]:
    """Put back what DVC's checkout removed: every file of the trees limitlab recorded (RECORDED) that is missing
    from the workspace and that dvc.lock does not keep (it does not record it, or its record is not complete in
    DVC's cache), copied from the cache. Return the lines to print (nothing when nothing was missing)."""
    root = Path(root)
    file = root / RECORDED
    if not file.is_file() or not (root / "dvc.yaml").is_file():
        return []
    known = json.loads(file.read_text())
    spec = yaml.safe_load((root / "dvc.yaml").read_text()) or {}
    tracked = set(cached_outs(spec, dvc_vars(spec, root)))
    cache = cache_dir(root)
    outs = _lock_outs(_load(root / LOCK))
    lines, lost = [], 0
    for path, record in sorted(known.items()):
        tree = _tree(cache, record) if path in tracked else None
        if not tree:
            continue
        kept = _kept(cache, outs.get(path))
        legacy = record.get("hash") != "md5"
        back = 0
        for rel, md5 in tree.items():
            dest = root / path / rel
            if rel in kept or dest.exists():
                continue
            src = _object(cache, md5, legacy)
            if src.is_file():
                _copy_back(src, dest)
                back += 1
            else:
                lost += 1
        if back:
            why = ("its record in dvc.lock is not in DVC's cache, so DVC removed the folder"
                   if path in outs and not kept else "dvc.lock does not record them")
            lines.append(f"limitlab: put back {back} file(s) under {path} that DVC's checkout removed ({why}), from "
                         f"DVC's cache as limitlab recorded them ({SECTION})")
    if lost:
        lines.append(f"limitlab: {lost} recorded file(s) are no longer in DVC's cache (dvc gc?) and could not be put "
                     f"back; Snakemake builds again those of the params file it runs")
    return lines


def restore_lines(root: str | Path = ".") -> list[str]:
    """:func:`restore_removed`, never raising: a restore that fails says so (Snakemake then builds again what is
    missing of the params file it runs)."""
    try:
        return restore_removed(root)
    except Exception as exc:  # noqa: BLE001 - never block a stage or the record
        return [f"limitlab: could not put back what DVC's checkout removed ({type(exc).__name__}: {exc}); "
                f"run `{RESTORE}` to see why ({SECTION})"]


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
    put_back = restore_lines(root)  # what a DVC checkout removed since the last record: recorded again below
    recorded = [name for name, paths in stages.items() if all((root / p).exists() for p in paths.deps + paths.outs)]
    if not recorded:
        return put_back
    before = _load(root / LOCK)
    # not --quiet: it hides DVC's error too, and the output is captured anyway (shown only when the commit fails)
    done = run([*dvc, "commit", "--force", *recorded], cwd=root, capture_output=True, text=True,
               env={**environ, "DVC_NO_ANALYTICS": "1"})
    if done.returncode:
        said = " ".join((done.stdout + done.stderr).strip().splitlines()[-3:]) or f"exit status {done.returncode}"
        return [f"{NOT_UPDATED}: dvc commit --force {' '.join(recorded)} failed ({said}). Fix that and run it "
                f"before any dvc exp run or dvc checkout, which delete outputs that dvc.lock does not record "
                f"({SECTION})"]
    after = _load(root / LOCK) or {}
    merged = merge_lock(before, copy.deepcopy(after), recorded, up_to_date)
    if merged != after:
        (root / LOCK).write_text(yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=1000))
    lines = list(put_back)
    cached = set(cached_outs(spec, values))
    try:
        _remember(root, merged, [p for name in recorded for p in stages[name].outs if p in cached])
    except OSError as exc:  # dvc.lock is written: only what DVC's checkout might remove later is not noted
        lines.append(f"limitlab: {RECORDED} was not updated ({exc}); what a later DVC checkout removes from these "
                     f"outputs cannot be put back")

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


def main(argv: list[str] | None = None) -> int:
    """``python -m limitlab.jobs.dvc_record restore``: the first step of every dvc.yaml stage (right after DVC's
    checkout), and what to run after a ``dvc checkout`` that removed runs. Never fails the stage: a restore that
    fails says so, and Snakemake then builds again what is missing of the params file it runs."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["restore"]:
        print(f"usage: {RESTORE}", file=sys.stderr)
        return 2
    for line in restore_lines(Path.cwd()):
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
