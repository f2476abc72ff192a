"""Per-cell markers of the pipeline: why a run did not finish.

A run that ends with an error leaves one marker in its run (or eval) folder, as
``{"exit_status": N, "spec": <the run spec it ran with>}``:

* ``failed.json`` — a failure that would repeat: limitlab refused the input or the run (exit status 2, e.g.
  invalid data), or a bug (exit status 1, a traceback in the log). Later runs skip the cell until its spec
  changes or ``--config retry_failed=true``.
* ``interrupted.json`` — the job was stopped from outside: Ctrl-C (130), SIGTERM from preemption, ``scancel`` or
  a time limit (143), SIGKILL from the kernel's OOM killer or ``kill -9`` (137), a hang-up (129), or limitlab
  ran out of memory or disk space (75). Nothing is wrong with the cell: the next plain run trains it again and
  ``limitlab train`` resumes from its last completed epoch. The marker only says why the cell is missing.

``limitlab run`` (:mod:`limitlab.jobs.execute`) writes them for each run of a pipeline job; :func:`guard_shell` is the
shell of the jobs that run one command per cell (cleanlab's fold models). The plan (:mod:`limitlab.pipeline.plan`),
the run jobs (:mod:`limitlab.jobs.left_out`) and ``limitlab aggregate`` (:mod:`limitlab.report.run_outputs`) read
them with :func:`read_marker`. The format is a file of a run folder like the others of
:class:`~limitlab.experiment.paths.RunFiles`, so it lives here, where every family that reads run folders may
import it (it was limitlab.jobs.failure_markers, which the report may not import); its shell writer,
:func:`guard_shell`, stays beside the Python one so that the format is written in one module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from limitlab.experiment.paths import RunFiles

FAILED = RunFiles.FAILED
INTERRUPTED = RunFiles.INTERRUPTED

EXIT_OUT_OF_MEMORY = 75  # EX_TEMPFAIL: limitlab's exit status when it ran out of memory or disk space
INTERRUPT_STATUSES = {
    129: "hang-up (SIGHUP)",
    130: "Ctrl-C (SIGINT)",
    137: "killed by SIGKILL (the kernel's OOM killer, kill -9 or a hard time limit)",
    143: "terminated by SIGTERM (preemption, scancel, a time limit or Snakemake stopping)",
    EXIT_OUT_OF_MEMORY: "out of memory or disk space",
}


def out_of_memory(exc: BaseException) -> bool:
    """Whether an exception means the process ran out of (host or GPU) memory: an interruption, not a failure."""
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError"  # torch.cuda.OutOfMemoryError


def out_of_resources(exc: BaseException) -> bool:
    """Whether an exception means the machine ran out of memory, disk space or quota: an interruption (the run
    resumes once there is room again), not a failure that would repeat."""
    import errno

    from limitlab.errors import ResourceExhausted

    return (out_of_memory(exc) or isinstance(exc, ResourceExhausted)
            or isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT))


def write_marker(folder: str | Path, kind: str, exit_status: int, spec: dict, note: str | None = None) -> Path:
    """Write ``failed.json`` (kind 'failed') or ``interrupted.json`` in ``folder`` atomically: the Python side of
    what :func:`guard_shell` writes, with an optional note."""
    from limitlab import io

    data = {"exit_status": exit_status, "spec": spec}
    if note:
        data["note"] = note
    return io.write_json(Path(folder) / (FAILED if kind == "failed" else INTERRUPTED), data)


def guard_shell(command: str) -> str:
    """Snakemake shell of a per-cell job: run ``command`` (it may use "$spec") with its output in {log}.

    Exit status 0 removes any old marker; an interrupt status (:data:`INTERRUPT_STATUSES`) writes
    ``interrupted.json``, any other error ``failed.json`` (both atomically), prints one line saying which and
    why into Snakemake's output, and fails the job with the command's status. Needs params ``spec``, ``failed``
    and ``interrupted``. Braces are doubled for Snakemake's formatting.
    """
    interrupt = "|".join(str(s) for s in sorted(INTERRUPT_STATUSES))
    return (
        "spec={params.spec:q}; failed={params.failed:q}; interrupted={params.interrupted:q}; "
        'rm -f "$failed" "$interrupted"; '
        f"{command} > {{log:q}} 2>&1 && rc=0 || rc=$?; "  # a list, so Snakemake's `set -e` lets us read $?
        'if [ "$rc" -eq 0 ]; then exit 0; fi; '
        f'case "$rc" in {interrupt}) marker="$interrupted"; '
        'why="was interrupted (exit status $rc: a signal or out of memory, not a failure of the cell); the next '
        'run resumes it from its last completed epoch";; '
        '*) marker="$failed"; why="failed (exit status $rc, see {log}); marked failed: later runs skip it until '
        'its spec changes or with --config retry_failed=true";; esac; '
        "printf '{{\"exit_status\": %d, \"spec\": %s}}\\n' \"$rc\" \"$spec\" > \"$marker.tmp\" "
        '&& mv "$marker.tmp" "$marker"; '
        'echo "limitlab: {wildcards.key} $why" >&2; exit "$rc"'
    )


@dataclass(frozen=True)
class Marker:
    kind: str                 # 'failed' or 'interrupted'
    exit_status: int | None   # None: a marker written before exit statuses were recorded
    spec: dict | None         # the spec the job ran with (None: unreadable marker)

    @property
    def reason(self) -> str:
        if self.kind == "interrupted":
            cause = INTERRUPT_STATUSES.get(self.exit_status, f"exit status {self.exit_status}")
            return f"interrupted ({cause}); the next run resumes it"
        cause = {1: "a crash: traceback in the log", 2: "limitlab refused it: error in the log"}.get(
            self.exit_status, f"exit status {self.exit_status}" if self.exit_status is not None else "see the log")
        return f"failed ({cause}; failed.json marker); retry with --config retry_failed=true"


def read_marker(folder: str | Path) -> Marker | None:
    """The marker in ``folder`` (failed before interrupted), or None when there is none."""
    for name, kind in ((FAILED, "failed"), (INTERRUPTED, "interrupted")):
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            return Marker(kind, None, None)
        if isinstance(data, dict) and "exit_status" in data:
            status = data["exit_status"]
            return Marker(kind, status if isinstance(status, int) else None, data.get("spec"))
        return Marker(kind, None, data if isinstance(data, dict) else None)  # older marker: the bare spec
    return None


def failed_with(folder: str | Path, spec_json: str) -> bool:
    """Whether ``folder`` holds a failure marker written for this very spec (a changed spec retries the cell)."""
    marker = read_marker(folder)
    return marker is not None and marker.kind == "failed" and marker.spec == json.loads(spec_json)


def has_marker(folder: str | Path, kind: str) -> bool:
    """Whether ``folder`` holds a ``failed.json`` (kind 'failed') or ``interrupted.json`` marker (a stat, no read)."""
    return (Path(folder) / (FAILED if kind == "failed" else INTERRUPTED)).is_file()
