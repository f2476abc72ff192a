"""Where each number of the report comes from: every run is checked against the spec its params file asks for
and against the inputs of its setting before the report uses it, and the inputs' identities are listed.

A run's ``done.json`` (written by the run jobs, :mod:`limitlab.jobs.identity`) records the identity of the spec
it was trained for and the content identities of the dataset and the noise realisation it was trained on
(:mod:`limitlab.data.content_identity`). A run whose record names another spec, or other inputs than the
setting's files hold now, is not used: the report marks it missing and says why (its job retrains it on the
next run of the pipeline). Runs without ``done.json`` (written by ``limitlab train`` by hand) are used as they
are. ``inputs.csv`` lists each setting's labels file with the two identities and, for noisy labels read from a
file (noise models 'file' and 'human'), that file and its sha256 as ``labels.json`` recorded them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from limitlab.data.content_identity import SHOWN, verified_inputs
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import GridIndex
from limitlab.experiment.paths import RunFiles

RERUN = "rerun the pipeline: its job trains it again"


def check_provenance(records, grid: GridIndex) -> dict[str, dict]:
    """Mark the records (:class:`~limitlab.report.run_outputs.RunRecord`) whose done.json does not match; returns
    labels file -> {'dataset_id', 'noise_id'} or {'problem'} for every setting of the records."""
    inputs: dict[str, dict] = {}
    for rec in records:
        spec = rec.run.spec
        labels = str(spec.labels_path)
        if labels not in inputs:
            try:
                ids = verified_inputs(spec.data_path, spec.labels_path)
                inputs[labels] = {"dataset_id": ids["dataset"], "noise_id": ids["noise"]}
            except LimitlabError as exc:
                inputs[labels] = {"problem": str(exc)}
        if not rec.done:
            continue
        try:
            done = json.loads((Path(spec.run_dir) / RunFiles.DONE).read_text())
        except (OSError, ValueError):
            continue  # no record: a run trained by hand
        if not isinstance(done, dict):
            continue
        if done.get("spec_sha256") != grid.identity(spec):
            rec.problem = f"{spec.run_dir} holds a run of another spec (its done.json); {RERUN}"
        elif "problem" in inputs[labels]:
            rec.problem = f"its inputs are refused: {inputs[labels]['problem']}"
        elif isinstance(done.get("inputs"), dict):
            now = {"dataset": inputs[labels]["dataset_id"], "noise": inputs[labels]["noise_id"]}
            changed = [k for k in ("dataset", "noise") if done["inputs"].get(k) != now[k]]
            if changed:
                rec.problem = (f"trained on another {' and '.join(changed)} than {spec.labels_path} and "
                               f"{spec.data_path} hold now; {RERUN}")
    return inputs


def inputs_frame(grid: GridIndex, inputs: dict[str, dict]) -> pd.DataFrame:
    """One row per setting: its labels file and the content identities of its dataset and noise realisation."""
    rows, seen = [], set()
    for spec in grid.specs:
        labels = str(spec.labels_path)
        if labels in seen or labels not in inputs:
            continue
        seen.add(labels)
        ids = inputs[labels]
        rows.append({"setting": spec.setting_path, "labels_file": labels, "dataset_file": str(spec.data_path),
                     "dataset_id": ids.get("dataset_id", ""), "noise_id": ids.get("noise_id", ""),
                     **noise_source(spec.labels_path), "problem": ids.get("problem", "")})
    return pd.DataFrame(rows, columns=["setting", "labels_file", "dataset_file", "dataset_id", "noise_id", "noise_file",
                                       "noise_file_sha256", "problem"])


def noise_source(labels_path) -> dict[str, str]:
    """The file a setting's noisy labels were read from, as its labels.json records it: ``noise_file`` (noise model
    'file', the path the params name) or ``human_file`` (CIFAR-N), with its sha256; empty for drawn noise."""
    try:
        record = json.loads(Path(labels_path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):
        return {"noise_file": "", "noise_file_sha256": ""}
    for key in ("noise_file", "human_file"):
        if isinstance(record.get(key), str):
            return {"noise_file": record[key], "noise_file_sha256": str(record.get(f"{key}_sha256", ""))}
    return {"noise_file": "", "noise_file_sha256": ""}


def short(identity: str) -> str:
    return identity[:SHOWN]
