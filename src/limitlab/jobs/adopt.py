"""Finished runs of earlier releases' folder layouts: moved into their present folders, never retrained.

Two layouts came before this one, and a run finished in either is adopted by :func:`adopt`:

* **Before run tags** a run lived in ``data/runs/<key>/`` (and ``data/eval/<key>/``); now its folders end in
  ``-<tag>``. A run's identity is computed the same way in both layouts, so an untagged folder whose
  ``done.json`` records the identity of a run of the grid holds that run's results.
* **Before source tags** a setting drawn from a file the user gives (a noise file, human labels) had its labels
  folder named after the file's name only; now it ends in ``-<tag>`` of the file's content
  (:attr:`~limitlab.experiment.paths.Setting.folder`), and with the labels path the run's identity changed. The
  run of the earlier layout is the one whose spec has the labels path without that tag; it is adopted only when
  the earlier labels summary (``labels.json``) records the very content the file has now (its ``*_sha256``) and
  the run's ``done.json`` records the noise realisation drawn from it, so a run trained on another version of the
  file is never taken for this one.

:func:`adopt` moves the two folders (evaluation first, then the run folder whose ``done.json`` marks the run
found, so that an interrupted move completes on the next call) and records in ``done.json`` the present identity
and what the earlier release did not: the size and checksum of each output, and the identities of the inputs. A
folder that records another identity belongs to another spec and is left where it is.

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
from limitlab.experiment.identity import FOLDERS, run_identity, tagged, untagged
from limitlab.experiment.paths import RunFiles
from limitlab.jobs.done_record import DONE, file_record, output_name, spec_sha256

_RECORDED = {"noise_file": "noise_file_sha256", "human_file": "human_file_sha256"}  # labels.json of such settings


def legacy_folders(spec) -> tuple[Path, Path]:
    """The run's folders in the layout before run tags."""
    return untagged(spec.run_dir), untagged(spec.eval_dir)


def before_source_tags(spec, grid=None):
    """The run as the layout before source tags named it (its labels folder without the content tag, its folders
    tagged with that spec's identity), or None when its setting has no such tag."""
    labels_dir = Path(spec.labels_path).parent
    if untagged(labels_dir) == labels_dir:  # the content tag has the shape of a run tag (Setting.folder)
        return None
    src = grid.init_source(spec) if grid is not None else None
    old_src = before_source_tags(src, grid) if src is not None else None
    bare = spec.model_copy(update={"labels_path": untagged(labels_dir) / Path(spec.labels_path).name,
                                   **{f: untagged(getattr(spec, f)) for f in FOLDERS if getattr(spec, f) is not None}})
    identity = run_identity(bare, old_src[1] if old_src is not None else None)
    update = {"run_dir": tagged(bare.run_dir, identity), "eval_dir": tagged(bare.eval_dir, identity)}
    if old_src is not None:
        update["init_dir"] = old_src[0].run_dir
    return bare.model_copy(update=update), identity


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _drawn_from_the_same_files(old_spec, spec, done: dict) -> bool:
    """Whether the earlier labels summary records the files' present content (the shas it records give the
    present folder's tag) and the run was trained on the noise realisation drawn from them."""
    from limitlab.data.content_identity import sources_tag

    summary = _read(Path(old_spec.labels_path).with_suffix(".json"))
    ids = {role: summary[key] for role, key in _RECORDED.items() if isinstance(summary.get(key), str)}
    inputs = done.get("inputs")
    return (bool(ids) and Path(spec.labels_path).parent.name.endswith(f"-{sources_tag(ids)}")
            and isinstance(inputs, dict) and inputs.get("noise") == summary.get("noise_id"))


def _earlier(spec, grid=None) -> tuple[Path, Path] | None:
    """(run folder, eval folder) of this run in an earlier layout, when they hold its finished results."""
    if os.path.exists(spec.run_dir):  # first: the plan asks this of every run, and most have their folder
        return None
    old_run, old_eval = legacy_folders(spec)
    if old_run != Path(spec.run_dir) and _read(old_run / DONE).get("spec_sha256") == spec_sha256(spec, grid):
        return old_run, old_eval
    before = before_source_tags(spec, grid)
    if before is not None:
        old_spec, identity = before
        done = _read(Path(old_spec.run_dir) / DONE)
        if done.get("spec_sha256") == identity and done.get("train") and _drawn_from_the_same_files(old_spec, spec,
                                                                                                    done):
            return Path(old_spec.run_dir), Path(old_spec.eval_dir)
    return None


def adoptable(spec, grid=None) -> bool:
    """Whether this run's own results are in a folder of an earlier layout and its folder does not exist yet."""
    return _earlier(spec, grid) is not None


def adopt(spec, grid=None, inputs: dict | None = None) -> bool:
    """Move the run's folders of an earlier layout to its present ones if they hold its results (:func:`adoptable`).
    ``inputs``: the run's input identities when the caller checked them already."""
    earlier = _earlier(spec, grid)
    if earlier is None:
        return False
    old_run, old_eval = earlier
    Path(spec.run_dir).parent.mkdir(parents=True, exist_ok=True)
    if old_eval.is_dir() and not Path(spec.eval_dir).exists():
        Path(spec.eval_dir).parent.mkdir(parents=True, exist_ok=True)
        os.replace(old_eval, spec.eval_dir)
    os.replace(old_run, spec.run_dir)
    _record(spec, spec_sha256(spec, grid), inputs)
    return True


def _record(spec, identity: str, inputs: dict | None) -> None:
    """Record the adopted run's present identity in its done.json, and what an earlier release did not: the size
    and checksum of each output as found now (so that later damage is found) and the identities of its inputs,
    when they check out."""
    path = Path(spec.run_dir) / DONE
    done = json.loads(path.read_text())
    done["spec_sha256"] = identity
    names = [(spec.run_dir, n) for n in RunFiles.TRAINED] + [
        (spec.eval_dir, n) for n in (*RunFiles.EVALUATED, *RunFiles.Q_EVALUATED, RunFiles.BOOTSTRAP)]
    files = [Path(folder) / name for folder, name in names if (Path(folder) / name).is_file()]
    done.setdefault("outputs", {output_name(spec, f): file_record(f) for f in files})
    try:
        done.setdefault("inputs", inputs if inputs is not None else verified_inputs(spec.data_path, spec.labels_path))
    except LimitlabError:
        pass  # the run job refuses the inputs, naming what changed
    io.write_json(path, done)
