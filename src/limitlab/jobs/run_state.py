"""Is a run finished, and if not, which of its stages run and why: the one place that decides it.

Three identities meet here, each kept by its own module:

* the **run identity** (:mod:`limitlab.experiment.identity`): the hash of what the run's spec asks for;
* the **done record** (``done.json``, :mod:`limitlab.jobs.done_record`): which stages finished for that identity,
  the size and checksum of each output, and the identities of the inputs the stages consumed;
* the **input identities** (:mod:`limitlab.data.content_identity`): what the dataset and labels files hold now.

A run is finished when its done record is for its identity, says that training, evaluation and the bootstrap (with
the present bootstrap settings) finished, was made from the inputs the files hold now, and every output is as it
was written. Otherwise the first stage that is not finished, or whose outputs are missing or damaged, runs again
with every stage after it: a changed input retrains, a damaged prediction file re-evaluates, a changed bootstrap
setting only re-bootstraps.

Two callers ask, each once per run:

* the run job (:mod:`limitlab.jobs.execute`) asks :func:`job_state` after the run's inputs checked out, and runs
  exactly the stages it lists (every output checksummed);
* the plan (:mod:`limitlab.pipeline.plan`) asks :func:`plan_problems` of every run of the params file before
  Snakemake starts, to force the jobs of finished runs that must run again: sizes, the checksums of the small
  outputs only, and the outputs the record lists (a run finished by a release that wrote fewer outputs is not
  resubmitted for that alone; when its job runs for another reason, :func:`job_state` rebuilds what is missing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from limitlab.data.content_identity import input_changes, verified_inputs
from limitlab.experiment.paths import RunFiles
from limitlab.jobs.adopt import adoptable
from limitlab.jobs.done_record import DONE, damaged, read_done, run_files, spec_sha256, stages_finished

STAGES = ("train", "evaluate", "bootstrap")
PLAN_CHECKSUMS_UP_TO = 1 << 16  # bytes: planning hashes the small outputs (JSON); larger ones by size only


@dataclass(frozen=True)
class RunState:
    """What a run job does with one run: ``to_run`` (the stages, in order, that run again: a stage that runs makes
    every later stage run), ``reasons`` (what its log says of why, beyond "not finished yet"), ``identity`` (the run
    identity its done record gets) and ``inputs`` (the input identities the stages consume)."""

    identity: str
    inputs: dict
    to_run: tuple[str, ...]
    reasons: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return not self.to_run


def job_state(spec, uses_q: bool, bootstrap: dict, grid=None, inputs: dict | None = None) -> RunState:
    """The run's state for a run job: ``inputs`` are its input identities, checked
    (:func:`~limitlab.data.content_identity.verified_inputs`, called here when not given: it raises
    :class:`~limitlab.errors.InputRefused`); ``uses_q`` whether the method writes the Q network's outputs;
    ``bootstrap`` the present bootstrap settings."""
    if inputs is None:
        inputs = verified_inputs(spec.data_path, spec.labels_path)
    done, reasons = read_done(spec, grid), []
    if done.get("inputs", inputs) != inputs:
        # its resume state was trained on the old inputs too: limitlab.training.checkpoints discards it
        reasons.append(f"its inputs changed since it trained ({input_changes(done['inputs'], inputs)}): it trains "
                       "again from epoch 0")
        done = {}
    files = run_files(spec, uses_q)
    n_trained = len(RunFiles.TRAINED)
    outputs = {"train": files[:n_trained], "evaluate": files[n_trained:-1], "bootstrap": files[-1:]}
    recorded = {"train": done.get("train") is True, "evaluate": done.get("evaluate") is True,
                "bootstrap": done.get("bootstrap") == bootstrap}
    to_run: tuple[str, ...] = ()
    for i, stage in enumerate(STAGES):
        problems = damaged(spec, done, outputs[stage]) if recorded[stage] else []
        # a missing file is news only when the record says it was written; else the stage simply has not run
        reasons += [f"{p}: rebuilt" for p in problems if "(missing)" not in p or done.get("outputs")]
        if problems or not recorded[stage]:
            to_run = STAGES[i:]
            break
    return RunState(spec_sha256(spec, grid), inputs, to_run, tuple(reasons))


def plan_problems(spec, grid=None) -> list[str]:
    """Why the plan must send a run whose job finished back to its job: finished in an earlier release's folders
    (its job moves it), an input deleted to be drawn again, not finished for its identity, or an output the record
    lists missing or damaged (by size; by checksum up to :data:`PLAN_CHECKSUMS_UP_TO` bytes). [] when none.
    (os.stat and small reads only: the plan asks this of every run of the params file.)"""
    if adoptable(spec, grid):
        return [f"{spec.run_dir} (finished in an earlier release's folders: moved, not retrained)"]
    missing = [f"{path} (missing: the pipeline writes it again)" for path in (spec.data_path, spec.labels_path)
               if not os.path.exists(path)]
    if missing:  # deleted to be regenerated: Snakemake alone would not rebuild an input of a finished job
        return missing
    done = read_done(spec, grid)
    if not stages_finished(done):
        return [f"{Path(spec.run_dir) / DONE} (missing: the run has not finished for its spec)"]
    recorded = done.get("outputs")
    run_dir, eval_dir = os.fspath(spec.run_dir), os.fspath(spec.eval_dir)
    files = ([os.path.join(run_dir if name.startswith("run/") else eval_dir, name.split("/", 1)[1])
              for name in recorded] if isinstance(recorded, dict) else _basic_outputs(spec))
    return damaged(spec, done, files, checksums_up_to=PLAN_CHECKSUMS_UP_TO)


def _basic_outputs(spec) -> list[Path]:
    """Outputs every finished run has (a done.json written before the record of outputs)."""
    return ([Path(spec.run_dir) / name for name in RunFiles.TRAINED]
            + [Path(spec.eval_dir) / name for name in (*RunFiles.EVALUATED, RunFiles.BOOTSTRAP)])
