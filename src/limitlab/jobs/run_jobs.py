"""Cluster jobs of several runs ("run jobs"): which runs share one job, and how a job runs them.

A grid of thousands of runs cannot be one Snakemake job per run: Snakemake spends about 2 ms planning each
job, so the paper's MNIST grid (6,144 runs) would take 15-20 s to plan before anything runs, and a cluster
would see thousands of short GPU jobs (docs/performance.md). The pipeline therefore plans one job per
``runs_per_job`` consecutive runs of the grid. One job trains, evaluates and bootstraps its runs one after
another in one process on one GPU, and each run's outputs stay in its own folders, as before.

Job ids are ``n<N>-<index>`` (index zero-padded to 5 digits). The id contains N, so the runs of a job never
depend on the settings of the Snakemake process that runs it: the login node and the job agree.

What is run, inside a job, per run (:func:`run_one`):

* ``run_dir/done.json`` records the run's identity (the SHA-256 of its spec and of its init source's
  identity) and which stages finished for it; it is rewritten after each stage. A stage whose inputs are unchanged is not run again. This matters when a job is rerun because
  another run of the job changed, or was resubmitted after it was killed. A changed spec starts over;
  ``limitlab train`` discards a resume state written for another spec.
* A run that fails in a way that would repeat (a :class:`LimitlabError`: exit status 2; a bug: 1) gets
  ``failed.json`` and the job goes on with its other runs (:mod:`limitlab.jobs.failure_markers`). Later jobs skip that run
  until its spec changes or ``--retry-failed`` is given. A run whose init source has not trained (it failed)
  is skipped without a marker of its own, so it runs once the source is fixed.
* ``interrupted.json`` is written when a run starts, and removed when it finishes. If the job is killed
  (SIGKILL, a node failure), the marker stays and says so; the next job resumes the run from its last epoch.
  SIGTERM and Ctrl-C end the job with the usual statuses 143 and 130. Running out of memory marks the run
  interrupted (75) and the job goes on; it then exits with 75, so Snakemake retries it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path

from limitlab import io
from limitlab.jobs import failure_markers as markers
from limitlab.errors import LimitlabError, Terminated

DONE = "done.json"  # in run_dir: the spec's hash and the stages that finished for it
STAGE_TIMES = "stage_timing.json"  # in eval_dir: wall seconds of train / evaluate / bootstrap (not DVC-tracked)
ID = re.compile(r"n(\d+)-(\d{5})")


def job_id(n: int, index: int) -> str:
    return f"n{n}-{index:05d}"


def parse_id(shard: str) -> tuple[int, int]:
    m = ID.fullmatch(shard)
    if not m or int(m[1]) < 1:
        raise LimitlabError(f"{shard!r} is not a run-job id (n<runs per job>-<index>, e.g. n5-00003)")
    return int(m[1]), int(m[2])


def ordered(specs: Iterable) -> list:
    """The runs in grid order, except that a run initialised from another (``init_dir``) comes after its source.
    Then a job never waits for a run that a later job trains."""
    specs = list(specs)
    by_dir = {Path(s.run_dir): s for s in specs}
    out, placed, waiting = [], set(), {}
    for s in specs:
        src = by_dir.get(Path(s.init_dir)) if s.init_dir is not None else None
        if src is not None and src.key not in placed:
            waiting.setdefault(src.key, []).append(s)
            continue
        stack = [s]
        while stack:
            cur = stack.pop()
            out.append(cur)
            placed.add(cur.key)
            stack.extend(reversed(waiting.pop(cur.key, [])))
    for rest in waiting.values():  # a source outside this list: keep the dependents in grid order
        out.extend(rest)
    return out


def split(specs: Iterable, n: int) -> dict[str, list]:
    """Job id -> its runs: ``n`` consecutive runs of :func:`ordered` per job."""
    if n < 1:
        raise LimitlabError(f"runs per job must be a positive integer, got {n}")
    runs = ordered(specs)
    return {job_id(n, i // n): runs[i:i + n] for i in range(0, len(runs), n)}


def spec_sha256(spec, by_dir: dict | None = None) -> str:
    """Identity of a run: the SHA-256 of its spec and, for a run initialised from another run of the grid
    (``by_dir``: run_dir -> spec), of its source's identity, so that retraining the source retrains it."""
    h = hashlib.sha256(spec.model_dump_json().encode())
    src = by_dir.get(Path(spec.init_dir)) if by_dir and spec.init_dir is not None else None
    if src is not None:
        h.update(spec_sha256(src, by_dir).encode())
    return h.hexdigest()


def specs_sha256(specs: Sequence, by_dir: dict | None = None) -> str:
    """Identity of a job's runs (its Snakemake params): changes when any of its runs' identities changes."""
    h = hashlib.sha256()
    for s in specs:
        h.update(spec_sha256(s, by_dir).encode())
    return h.hexdigest()[:16]


def run_files(spec, uses_q: bool) -> list[Path]:
    """Every output of a finished run."""
    run_dir, eval_dir = Path(spec.run_dir), Path(spec.eval_dir)
    names = ["predictions.npz", "eval.json"] + (["train_scores.npz", "suspicious.csv"] if uses_q else [])
    return ([run_dir / n for n in ("model.pt", "history.csv", "result.json")] + [eval_dir / n for n in names]
            + [eval_dir / "bootstrap.json"])


def read_done(spec, by_dir: dict | None = None) -> dict:
    """done.json of the run if it was written for this very run (:func:`spec_sha256`), else {}."""
    path = Path(spec.run_dir) / DONE
    try:
        done = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) and done.get("spec_sha256") == spec_sha256(spec, by_dir) else {}


def is_complete(spec, uses_q: bool, bootstrap: dict, by_dir: dict | None = None) -> bool:
    """Whether every stage of the run finished for this run's identity (and these bootstrap settings)."""
    done = read_done(spec, by_dir)
    return (done.get("train") is True and done.get("evaluate") is True and done.get("bootstrap") == bootstrap
            and all(p.is_file() for p in run_files(spec, uses_q)))


def skip_reason(spec, by_dir: dict, retry_failed: bool) -> str | None:
    """Why a job leaves this run out now: it failed with this spec (unless retried), or it is initialised from
    a run of the grid that has not trained (that run failed, now or before, or was left out itself)."""
    spec_json = spec.model_dump_json()
    if not retry_failed and (markers.failed_with(spec.run_dir, spec_json) or markers.failed_with(spec.eval_dir, spec_json)):
        return "failed"
    src = by_dir.get(Path(spec.init_dir)) if spec.init_dir is not None else None
    if src is not None and not (read_done(src, by_dir).get("train") is True and (Path(src.run_dir) / "model.pt").is_file()):
        return "skipped"
    return None


def run_one(spec, uses_q: bool, bootstrap: dict, by_dir: dict | None = None) -> dict[str, float]:
    """Train, evaluate and bootstrap one run, each stage only if it has not finished for this run's identity.
    Returns the wall seconds of the stages that ran."""
    from limitlab.evaluation.bootstrap import bootstrap_file
    from limitlab.evaluation.evaluate import evaluate
    from limitlab.training.loop import train

    identity = spec_sha256(spec, by_dir)

    def _write_done(**stages) -> None:
        io.write_json(Path(spec.run_dir) / DONE, {"key": spec.key, "spec_sha256": identity, **stages})

    done = read_done(spec, by_dir)
    files = run_files(spec, uses_q)
    times: dict[str, float] = {}
    trained = done.get("train") is True and all(p.is_file() for p in files[:3])
    if not trained:
        (Path(spec.run_dir) / DONE).unlink(missing_ok=True)
        tic = time.perf_counter()
        result = train(spec)
        times["train"] = time.perf_counter() - tic
        print(f"{spec.key}: best epoch {result['best_epoch']}, val {result['best_val_acc']:.4f}, "
              f"test {result['test_acc']:.4f}", flush=True)
        done = {"train": True}
        _write_done(**done)
    evaluated = trained and done.get("evaluate") is True and all(p.is_file() for p in files[3:-1])
    if not evaluated:
        tic = time.perf_counter()
        out = evaluate(spec)
        times["evaluate"] = time.perf_counter() - tic
        print(f"{spec.key}: test {out['test_acc']:.4f} (n={out['n_test']})", flush=True)
        done = {"train": True, "evaluate": True}
        _write_done(**done)
    if not (evaluated and done.get("bootstrap") == bootstrap and files[-1].is_file()):
        tic = time.perf_counter()
        bootstrap_file(Path(spec.eval_dir) / "predictions.npz", files[-1], **bootstrap)
        times["bootstrap"] = time.perf_counter() - tic
        _write_done(train=True, evaluate=True, bootstrap=bootstrap)
    return times


def _marker(folder, kind: str, status: int, spec, note: str | None = None) -> None:
    markers.write_marker(folder, kind, status, spec.model_dump(mode="json"), note)


def run_job(specs: Sequence, uses_q, bootstrap: dict, logs: Path, by_dir: dict,
            retry_failed: bool = False) -> tuple[list[dict], int]:
    """Run a job's runs in order (see the module docstring). Each run's output goes to ``logs/<key>.log``.
    ``by_dir``: run_dir -> spec of every run of the grid (init sources). Returns (one status entry per run, the
    job's exit status: 0, or 75 when a run ran out of memory)."""
    entries, status = [], 0
    for spec in specs:
        why = skip_reason(spec, by_dir, retry_failed)
        if why is not None:
            print(f"limitlab: {spec.key}: {why} ({'its failed.json marker' if why == 'failed' else 'its init source has not trained'}"
                  "); left out", file=sys.stderr, flush=True)
            entries.append({"key": spec.key, "status": why})
            continue
        if is_complete(spec, uses_q(spec), bootstrap, by_dir):
            entries.append({"key": spec.key, "status": "ok"})
            continue
        for folder in (spec.run_dir, spec.eval_dir):
            Path(folder).mkdir(parents=True, exist_ok=True)
            for name in (markers.FAILED, markers.INTERRUPTED):
                (Path(folder) / name).unlink(missing_ok=True)
        _marker(spec.run_dir, "interrupted", 137, spec,
                "written when the run started: the job ended before the run finished (killed: SIGKILL, the OOM "
                "killer, a hard time limit or a node failure)")
        log = Path(logs) / f"{spec.key}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        outcome, code = "ok", 0
        with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            try:
                times = run_one(spec, uses_q(spec), bootstrap, by_dir)
            except LimitlabError as exc:
                print(f"error: {exc}", flush=True)
                outcome, code = "failed", 2
            except (KeyboardInterrupt, SystemExit):
                _marker(spec.run_dir, "interrupted", 130, spec)
                raise
            except Terminated:  # SIGTERM (limitlab.errors): preemption, scancel, a time limit
                _marker(spec.run_dir, "interrupted", 143, spec)
                raise
            except BaseException as exc:  # noqa: BLE001 - a bug in one run must not stop the others
                traceback.print_exc()
                if markers.out_of_memory(exc):
                    outcome, code = "interrupted", markers.EXIT_OUT_OF_MEMORY
                else:
                    outcome, code = "failed", 1
        if outcome == "ok":
            (Path(spec.run_dir) / markers.INTERRUPTED).unlink(missing_ok=True)
            if times:  # the stages that ran now; a stage that did not keep its last time
                path = Path(spec.eval_dir) / STAGE_TIMES
                try:
                    old = json.loads(path.read_text()) if path.is_file() else {}
                except ValueError:
                    old = {}
                io.write_json(path, {**(old if isinstance(old, dict) else {}),
                                     **{k: round(v, 3) for k, v in times.items()}})
            print(f"{spec.key}: done ({', '.join(f'{k} {v:.1f} s' for k, v in times.items()) or 'nothing to do'})",
                  flush=True)
        else:
            (Path(spec.run_dir) / markers.INTERRUPTED).unlink(missing_ok=True)  # one marker says what happened
            _marker(spec.run_dir, outcome, code, spec)
            print(f"limitlab: {spec.key}: {markers.read_marker(spec.run_dir).reason} (log: {log})",
                  file=sys.stderr, flush=True)
            if outcome == "interrupted":
                status = code
        entries.append({"key": spec.key, "status": outcome})
    return entries, status
