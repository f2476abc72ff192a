"""Where each number of the report comes from: every run is checked against the spec its params file asks for
and against the inputs of its setting before the report uses it, and the inputs' identities are listed.

A run's ``done.json`` (written by the run jobs, :mod:`limitlab.jobs.done_record`) records the identity of the spec
it was trained for and the content identities of the dataset and the noise realisation it was trained on
(:mod:`limitlab.data.content_identity`). A run whose record names another spec, or other inputs than the
setting's files hold now, is not used: the report marks it missing and says why (its job retrains it on the
next run of the pipeline). Runs without ``done.json`` (written by ``limitlab train`` by hand) are used as they
are. ``inputs.csv`` lists each setting's labels file with the two identities and, for noisy labels read from a
file (noise models 'file' and 'human'), that file and its sha256 as ``labels.json`` recorded them.

Which experiment a results folder is of: ``experiment.json`` (:attr:`~limitlab.experiment.paths.ResultFiles.EXPERIMENT`, written by ``limitlab aggregate``
with the tables) records the experiment's name, the params file it was aggregated from, the identity of its grid
(:func:`grid_identity`) and the sha256 of the tables that ``limitlab compare`` reads. :func:`check_record` refuses a
folder whose record names another grid, whose tables are not the ones recorded, or that has no record.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from limitlab.data.content_identity import SHOWN, verified_inputs
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import GridIndex
from limitlab.experiment.paths import ResultFiles, RunFiles
from limitlab.experiment.schema import Experiment

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


def labels_record(labels_path) -> dict | None:
    """A setting's labels.json (the summary the corrupt stage wrote beside labels.npz); None when unreadable."""
    try:
        record = json.loads(Path(labels_path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def validation_size(labels_path) -> int | None:
    """How many (noisy) validation labels a setting has, as its labels.json records it."""
    size = ((labels_record(labels_path) or {}).get("sizes") or {}).get("val")
    return size if isinstance(size, int) else None


def noise_source(labels_path) -> dict[str, str]:
    """The file a setting's noisy labels were read from, as its labels.json records it: ``noise_file`` (noise model
    'file', the path the params name) or ``human_file`` (CIFAR-N), with its sha256; empty for drawn noise."""
    record = labels_record(labels_path)
    if record is None:
        return {"noise_file": "", "noise_file_sha256": ""}
    for key in ("noise_file", "human_file"):
        if isinstance(record.get(key), str):
            return {"noise_file": record[key], "noise_file_sha256": str(record.get(f"{key}_sha256", ""))}
    return {"noise_file": "", "noise_file_sha256": ""}


def short(identity: str) -> str:
    return identity[:SHOWN]




def grid_identity(grid: GridIndex) -> str:
    """SHA-256 of every run key of the grid with its identity: changes when a run is added, left out or changed."""
    h = hashlib.sha256()
    for key, identity in sorted((s.key, grid.identity(s)) for s in grid.specs):
        h.update(f"{key} {identity}\n".encode())
    return h.hexdigest()


def results_record(exp: Experiment, grid: GridIndex, source: str | None, files: dict[str, bytes]) -> dict:
    """experiment.json: the experiment, its params file (as named on the command line), its grid's identity and
    the sha256 of the tables compare reads (``files``: name -> the bytes written)."""
    return {"experiment": exp.name, "params_file": source, "grid_sha256": grid_identity(grid),
            "runs": len(grid.specs),
            "files_sha256": {name: hashlib.sha256(files[name]).hexdigest() for name in ResultFiles.RECORDED if name in files}}


def read_results(folder: Path, exp: Experiment, source: str, also: tuple[str, ...] = (), option: str = "") -> dict:
    """The tables ``limitlab compare`` and ``limitlab claims`` read from an experiment's results folder (name ->
    DataFrame): the recorded ones (``ResultFiles.RECORDED``) and ``also``, after checking that the folder holds
    them and that they are ``exp``'s (:func:`check_record`, which the recorded ones must pass)."""
    import io as bytes_io

    import pandas as pd

    names = (*ResultFiles.RECORDED, *also)
    missing = [name for name in names if not (Path(folder) / name).is_file()]
    if missing:
        raise LimitlabError(f"{folder} has no {', '.join(missing)}: aggregate the experiment first "
                            f"(limitlab aggregate --params {source}{option}, or the pipeline's `all` target)")
    data = {name: (Path(folder) / name).read_bytes() for name in names}
    # the tables must be this experiment's: another experiment's results folder would pass its cells off as ours
    check_record(folder, exp, source, {name: data[name] for name in ResultFiles.RECORDED}, option)
    return {name: pd.read_csv(bytes_io.BytesIO(raw)) for name, raw in data.items()}


def check_record(folder: Path, exp: Experiment, source: str, tables: dict[str, bytes], option: str = "") -> None:
    """Refuse a results folder whose tables are not of ``exp`` (params file ``source``): its experiment.json names
    another grid, is missing or damaged, or ``tables`` (name -> bytes read) are not the ones it records.
    ``option`` is how the folder was given (' --results-dir DIR'), for the command that aggregates it again."""
    again = f"limitlab aggregate --params {source}{option}"
    path = Path(folder) / ResultFiles.EXPERIMENT
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LimitlabError(f"{folder} has no {ResultFiles.EXPERIMENT}, the record of the experiment its tables are "
                            "of (tables aggregated before limitlab wrote one, or not by limitlab aggregate), so nothing says "
                            f"they are {exp.name}'s: aggregate again ({again}), then compare") from None
    except (OSError, ValueError) as exc:
        raise LimitlabError(f"{path} is damaged ({exc}): aggregate again ({again}), then compare") from None
    if not isinstance(record, dict) or not isinstance(record.get("grid_sha256"), str):
        raise LimitlabError(f"{path} is not a record of limitlab aggregate (no grid_sha256): aggregate again "
                            f"({again}), then compare")
    name, made_from = record.get("experiment"), record.get("params_file")
    if record["grid_sha256"] != grid_identity(GridIndex.of(exp)):
        if name != exp.name:
            raise LimitlabError(
                f"{folder} holds the results of experiment {name!r}"
                + (f" (aggregated from {made_from})" if made_from else "")
                + f", not of {source} ({exp.name!r}): its cells are of another grid. Give {exp.name}'s own results "
                f"folder (default: its results_dir, {exp.results_path}), or aggregate {source} into this one first")
        raise LimitlabError(f"{folder} was aggregated from another grid of {exp.name!r} than {source} asks for now "
                            f"(the params changed since): aggregate again ({again}), then compare")
    recorded = record.get("files_sha256") if isinstance(record.get("files_sha256"), dict) else {}
    for table, data in tables.items():
        if recorded.get(table) != hashlib.sha256(data).hexdigest():
            raise LimitlabError(f"{Path(folder) / table} is not the file limitlab aggregate wrote with "
                                f"{ResultFiles.EXPERIMENT} (changed, or restored from another aggregation since): aggregate again ({again}), "
                                "then compare")
