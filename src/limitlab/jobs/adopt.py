"""Finished runs of a release whose run folders had no tag: moved into their tagged folders, never retrained.

Before run tags (:mod:`limitlab.experiment.identity`) a run lived in ``data/runs/<key>/`` (and
``data/eval/<key>/``); now its folders end in ``-<tag>``. A run's identity is computed the same way in both
layouts, so an untagged folder whose ``done.json`` records the identity of a run of the grid holds that run's
results: :func:`adopt` moves its two folders (evaluation first, then the run folder whose ``done.json`` marks
the run found, so that an interrupted move completes on the next call) and records in ``done.json`` what that
release did not: the size and checksum of each output, and the identities of the inputs. An untagged folder that records another
identity belongs to another spec and is left where it is.

``limitlab upgrade --params FILE`` adopts every run of a params file at once (seconds, on the login node); the
run jobs also adopt their own runs before anything else, so a pipeline started without it retrains nothing that
was finished.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from limitlab import io
from limitlab.data.content_identity import verified_inputs
from limitlab.errors import LimitlabError
from limitlab.experiment.identity import untagged
from limitlab.experiment.paths import RunFiles
from limitlab.jobs.identity import DONE, file_record, output_name, spec_sha256


def legacy_folders(spec) -> tuple[Path, Path]:
    """The run's folders in the layout before run tags."""
    return untagged(spec.run_dir), untagged(spec.eval_dir)


def adoptable(spec, grid=None) -> bool:
    """Whether this run's own results are in an untagged folder and its tagged folder does not exist yet."""
    if os.path.exists(spec.run_dir):  # first: the plan asks this of every run, and most have their folder
        return False
    old_run, _ = legacy_folders(spec)
    if old_run == Path(spec.run_dir):
        return False
    try:
        done = json.loads((old_run / DONE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(done, dict) and done.get("spec_sha256") == spec_sha256(spec, grid)


def adopt(spec, grid=None) -> bool:
    """Move the run's untagged folders to its tagged ones if they hold its results (:func:`adoptable`)."""
    if not adoptable(spec, grid):
        return False
    old_run, old_eval = legacy_folders(spec)
    Path(spec.run_dir).parent.mkdir(parents=True, exist_ok=True)
    if old_eval.is_dir() and not Path(spec.eval_dir).exists():
        Path(spec.eval_dir).parent.mkdir(parents=True, exist_ok=True)
        os.replace(old_eval, spec.eval_dir)
    os.replace(old_run, spec.run_dir)
    _record(spec)
    return True


def _record(spec) -> None:
    """Add what that release did not record to the adopted run's done.json: the size and checksum of each output
    as found now (so that later damage is found) and the identities of its inputs, when they check out."""
    path = Path(spec.run_dir) / DONE
    done = json.loads(path.read_text())
    names = [(spec.run_dir, n) for n in RunFiles.TRAINED] + [
        (spec.eval_dir, n) for n in (*RunFiles.EVALUATED, *RunFiles.Q_EVALUATED, RunFiles.BOOTSTRAP)]
    files = [Path(folder) / name for folder, name in names if (Path(folder) / name).is_file()]
    done.setdefault("outputs", {output_name(spec, f): file_record(f) for f in files})
    try:
        done.setdefault("inputs", verified_inputs(spec.data_path, spec.labels_path))
    except LimitlabError:
        pass  # the run job refuses the inputs, naming what changed
    io.write_json(path, done)
