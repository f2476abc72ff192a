"""Executing one run job (``limitlab run``): train, evaluate and bootstrap its runs one after another.

Per run (:func:`run_one`), each stage runs only if it has not finished for the run's identity on the same inputs
with its outputs intact (:mod:`limitlab.jobs.run_state` decides, once per run): this matters when a job is rerun
because another run of the job changed, or was resubmitted after it was killed. Around each run (:func:`run_job`):

* a run the one rule of :mod:`limitlab.jobs.left_out` leaves out is reported and not run;
* ``interrupted.json`` is written when a run starts and removed when it finishes: if the job is killed (SIGKILL,
  a node failure) the marker stays and says so, and the next job resumes the run from its last epoch. SIGTERM
  and Ctrl-C end the job with the usual statuses 143 and 130;
* a run whose inputs are refused (:class:`~limitlab.errors.InputRefused`: a dataset or labels file damaged or
  changed since its record) is not started and gets no marker: it is not a failure of the run, and once the
  input is restored or regenerated the next plain run goes on. Its job summary entry holds the cause, the reason
  and the fix, which the pipeline prints grouped by cause when it ends (:func:`limitlab.pipeline.plan.refusal_lines`);
* a run that fails in a way that would repeat (a :class:`LimitlabError`: exit status 2; a bug: 1) gets
  ``failed.json`` and the job goes on with its other runs; running out of memory or disk space marks the run
  interrupted (75), the job goes on, and then exits with 75 so that Snakemake retries it.

Each run's output goes to its own log, ``logs/<name>/runs/<key>.log``. The training code never sees any of this.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from limitlab import io
from limitlab.errors import InputRefused, LimitlabError, Terminated
from limitlab.experiment import failure_markers as markers
from limitlab.experiment.paths import RunFiles
from limitlab.data.content_identity import verified_inputs
from limitlab.jobs.adopt import adopt
from limitlab.jobs.done_record import run_files, write_done
from limitlab.jobs.left_out import left_out_reason
from limitlab.jobs.run_state import RunState, job_state

STAGE_TIMES = RunFiles.STAGE_TIMES  # in eval_dir: wall seconds of train / evaluate / bootstrap (not DVC-tracked)


def run_one(spec, state: RunState, uses_q: bool, bootstrap: dict) -> dict[str, float]:
    """Run the stages of one run that its state lists (:func:`~limitlab.jobs.run_state.job_state`), recording each in
    the run's done record as it finishes. Returns the wall seconds of the stages that ran."""
    from limitlab.evaluation.bootstrap import bootstrap_file
    from limitlab.evaluation.evaluate import evaluate
    from limitlab.training.loop import train

    for reason in state.reasons:
        print(f"{spec.key}: {reason}", flush=True)
    files = run_files(spec, uses_q)
    trained_files, evaluated_files = files[:len(RunFiles.TRAINED)], files[:-1]
    times: dict[str, float] = {}
    if "train" in state.to_run:
        (Path(spec.run_dir) / RunFiles.DONE).unlink(missing_ok=True)
        tic = time.perf_counter()
        result = train(spec)
        times["train"] = time.perf_counter() - tic
        print(f"{spec.key}: best epoch {result['best_epoch']}, val {result['best_val_acc']:.4f}, "
              f"test {result['test_acc']:.4f}", flush=True)
        write_done(spec, state.identity, trained_files, state.inputs, train=True)
    if "evaluate" in state.to_run:
        tic = time.perf_counter()
        out = evaluate(spec)
        times["evaluate"] = time.perf_counter() - tic
        print(f"{spec.key}: test {out['test_acc']:.4f} (n={out['n_test']})", flush=True)
        write_done(spec, state.identity, evaluated_files, state.inputs, train=True, evaluate=True)
    if "bootstrap" in state.to_run:
        tic = time.perf_counter()
        bootstrap_file(Path(spec.eval_dir) / RunFiles.PREDICTIONS, files[-1], **bootstrap)
        times["bootstrap"] = time.perf_counter() - tic
        write_done(spec, state.identity, files, state.inputs, train=True, evaluate=True, bootstrap=bootstrap)
    return times


def _marker(folder, kind: str, status: int, spec, note: str | None = None) -> None:
    markers.write_marker(folder, kind, status, spec.model_dump(mode="json"), note)


def _record_stage_times(spec, times: dict[str, float]) -> None:
    """The stages that ran now; a stage that did not keeps its last time."""
    path = Path(spec.eval_dir) / STAGE_TIMES
    try:
        old = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        old = {}
    io.write_json(path, {**(old if isinstance(old, dict) else {}), **{k: round(v, 3) for k, v in times.items()}})


@contextlib.contextmanager
def run_lock(spec):
    """Hold the run's lock (``<data_dir>/locks/<run folder name>.lock``, flock) while the job works on it: two
    Snakemake invocations of two params files that share a run (the same spec) take turns instead of training
    it twice into the same files. The lock files stay (empty); data/locks is not a pipeline output."""
    import fcntl

    lock = lock_path(spec)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"limitlab: {spec.key}: another job is running this run (a params file that shares it); waiting "
                  f"for it ({lock})", file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def lock_path(spec) -> Path:
    """The run's lock file, ``<data_dir>/locks/<run folder name>.lock``."""
    return Path(spec.data_path).parent.parent / "locks" / f"{Path(spec.run_dir).name}.lock"


def is_running_elsewhere(spec) -> bool:
    """Whether another process holds the run's lock now (a second Snakemake invocation training it)."""
    import fcntl

    try:
        with open(lock_path(spec)) as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
    except OSError:
        pass
    return False


def refusal_entry(spec, exc: InputRefused) -> dict:
    """A job summary's entry of a refused run: the cause, the reason (the first line of the message) and the fix."""
    reason = str(exc).removesuffix(f"; {exc.fix}").splitlines()[0]
    return {"key": spec.key, "status": "refused", "cause": exc.cause, "reason": reason, "fix": exc.fix}


def _refused(spec, exc: InputRefused, log: Path) -> dict:
    """Say why the run is refused, in its log and on the console (the reason's first line), and return its job
    summary entry; no marker: the next plain run checks its inputs again."""
    entry = refusal_entry(spec, exc)
    with open(log, "a") as fh:
        print(f"refused: {exc}", file=fh)
    print(f"limitlab: {spec.key}: refused: {entry['reason']}", file=sys.stderr, flush=True)
    return entry


def _clear_markers(spec) -> None:
    for folder in (spec.run_dir, spec.eval_dir):
        for name in (markers.FAILED, markers.INTERRUPTED):
            (Path(folder) / name).unlink(missing_ok=True)


def _run_guarded(spec, uses_q: Callable, bootstrap: dict, logs: Path, grid) -> tuple[dict, int]:
    """One run of a job, holding its lock: refused when its inputs are (nothing of it is touched), adopted when it
    finished in an earlier release's folders, left as it is when finished (:func:`~limitlab.jobs.run_state.job_state`,
    asked once), else the stages its state lists run, with its markers and log. Returns (its summary entry, the job's
    exit status it asks for: 75 when it ran out of memory or disk space, else 0)."""
    log = Path(logs) / f"{spec.key}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        inputs = verified_inputs(spec.data_path, spec.labels_path)
    except InputRefused as exc:  # not a failure of the run
        return _refused(spec, exc, log), 0
    adopt(spec, grid, inputs)  # a run finished in an earlier release's folders: moved into its own, not retrained
    state = job_state(spec, uses_q(spec), bootstrap, grid, inputs)
    if state.finished:
        _clear_markers(spec)  # a marker beside a finished run is stale (e.g. left by a release that marked refusals)
        return {"key": spec.key, "status": "ok"}, 0
    for folder in (spec.run_dir, spec.eval_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
    _clear_markers(spec)
    _marker(spec.run_dir, "interrupted", 137, spec,
            "written when the run started: the job ended before the run finished (killed: SIGKILL, the OOM "
            "killer, a hard time limit or a node failure)")
    outcome, code, refused = "ok", 0, None
    with open(log, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        try:
            times = run_one(spec, state, uses_q(spec), bootstrap)
        except InputRefused as exc:  # an input changed while the job ran: as above, once the log is closed
            refused = exc
        except LimitlabError as exc:
            print(f"error: {exc}", flush=True)
            outcome, code = ("interrupted", markers.EXIT_OUT_OF_MEMORY) if markers.out_of_resources(exc) \
                else ("failed", 2)
        except (KeyboardInterrupt, SystemExit):
            _marker(spec.run_dir, "interrupted", 130, spec)
            raise
        except Terminated:  # SIGTERM (limitlab.errors): preemption, scancel, a time limit
            _marker(spec.run_dir, "interrupted", 143, spec)
            raise
        except BaseException as exc:  # noqa: BLE001 - a bug in one run must not stop the others
            traceback.print_exc()
            if markers.out_of_resources(exc):
                outcome, code = "interrupted", markers.EXIT_OUT_OF_MEMORY
            else:
                outcome, code = "failed", 1
    (Path(spec.run_dir) / markers.INTERRUPTED).unlink(missing_ok=True)  # one marker says what happened
    if refused is not None:
        return _refused(spec, refused, log), 0
    if outcome == "ok":
        if times:
            _record_stage_times(spec, times)
        print(f"{spec.key}: done ({', '.join(f'{k} {v:.1f} s' for k, v in times.items()) or 'nothing to do'})",
              flush=True)
    else:
        _marker(spec.run_dir, outcome, code, spec)
        print(f"limitlab: {spec.key}: {markers.read_marker(spec.run_dir).reason} (log: {log})",
              file=sys.stderr, flush=True)
    return {"key": spec.key, "status": outcome}, (code if outcome == "interrupted" else 0)


def run_job(specs: Sequence, uses_q: Callable, bootstrap: dict, logs: Path, grid,
            retry_failed: bool = False) -> tuple[list[dict], int]:
    """Run a job's runs in order (see the module docstring). ``grid``: the GridIndex of the whole params file (init
    sources). Returns (one status entry per run, the job's exit status: 0, or 75 when a run ran out of memory)."""
    entries, status = [], 0
    for spec in specs:
        why = left_out_reason(spec, grid, retry_failed=retry_failed, sources_must_have_trained=True)
        if why is not None:
            cause = "its failed.json marker" if why == "failed" else "its init source has not trained"
            print(f"limitlab: {spec.key}: {why} ({cause}); left out", file=sys.stderr, flush=True)
            entries.append({"key": spec.key, "status": why})
            continue
        with run_lock(spec):  # a run shared by two params files is never trained by two jobs at once
            entry, code = _run_guarded(spec, uses_q, bootstrap, logs, grid)
        entries.append(entry)
        status = code or status
    return entries, status
