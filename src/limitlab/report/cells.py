"""Cells and hyperparameter selection (docs/methods.md, "Selection and evaluation").

A *cell* is one method on one data setting without its seed: (study, dataset, noise, p, n, method id). Its runs
are the method's grid points × seeds, taken from ``runs_of(exp)`` (params only, never globbing). Per cell:

1. every point whose seeds all finished is *eligible*; its score is the MEAN best noisy-validation accuracy over
   seeds (the authors' ``result_utils``). The test set is never looked at here;
2. the eligible point with the highest score is selected (ties: the first in params order);
3. we report that point's test accuracy: mean over seeds ± sample std (ddof = 1) with several seeds, or ± the
   bootstrap std of its single run (``bootstrap.json``, ddof = 0) with one seed.

Cell status: ``ok`` (every run finished), ``partial`` (some points unfinished: the selection covers only the
finished ones; shown with ``*``, left out of metrics.json), ``missing`` (no finished point). A cell with a
broken ``eval.json`` or ``bootstrap.json`` is marked ``!`` (:mod:`limitlab.report.run_outputs`).

A cell's key (its table column, metric-key prefix and figure-name part) is
:func:`limitlab.experiment.paths.cell_key`, the one cell key of the report.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from limitlab.experiment.grid import GridIndex, noise_options, runs_of
from limitlab.experiment.paths import RunFiles, Setting, cell_key, point_tag
from limitlab.experiment.schema import Experiment, Study
from limitlab.report.provenance import check_provenance
from limitlab.report.run_outputs import RunRecord, first_best, read_run


def setting_prefixes(exp: Experiment) -> dict[str, str]:
    """Study id → '' normally; → 'STUDY/' when two studies share dataset and noise folder (keys would collide)."""
    seen: dict[tuple, list[str]] = defaultdict(list)
    for study in exp.studies:
        d = study.dataset
        noise_dir = Setting(d.name, study.noise.model, 0.0, "all", 0, d.val_ratio, d.clean_validation,
                            **noise_options(study)).noise_dir
        seen[(d.name, noise_dir)].append(study.id)
    return {sid: (f"{sid}/" if len(ids) > 1 else "") for ids in seen.values() for sid in ids}


def run_setting_key(spec, prefixes: dict[str, str]) -> str:
    """The key of a run's setting (:func:`~limitlab.experiment.paths.cell_key`: every table's 'setting' column);
    ``prefixes`` from :func:`setting_prefixes`."""
    return cell_key(prefixes[spec.study], spec.dataset.name, spec.setting_path.split("/")[1], spec.p, spec.n)


def cleanlab_job_key(spec, prefixes: dict[str, str]) -> dict[str, str]:
    """The columns that name a cleanlab job's rows in the report's tables: its setting (the cell key, as
    :func:`run_setting_key`), its detector ('cleanlab_k<K>') and its label."""
    return {"setting": run_setting_key(spec.fold_specs[0], prefixes), "detector": f"cleanlab_k{spec.folds}",
            "label": f"cleanlab ({spec.folds}-fold {spec.source_id.upper()})"}


@dataclass
class Point:
    """One hyperparameter point of a cell with its runs over seeds."""

    point: dict[str, float]
    records: list[RunRecord] = field(default_factory=list)

    @property
    def tag(self) -> str:
        return point_tag(self.point)

    @property
    def done(self) -> list[RunRecord]:
        return [r for r in self.records if r.done]

    def done_by_split(self) -> dict[int, list[RunRecord]]:
        """The finished runs per split seed (several per split with ``train_seeds``), in grid order."""
        out: dict[int, list[RunRecord]] = {}
        for r in self.done:
            out.setdefault(r.run.spec.seed, []).append(r)
        return out

    @property
    def complete(self) -> bool:
        return bool(self.records) and all(r.done for r in self.records)

    @property
    def mean_val_acc(self) -> float | None:
        vals = [r.result["best_val_acc"] for r in self.done]
        return float(np.mean(vals)) if vals else None

    def mean_of(self, name: str) -> float | None:
        """Seed mean of a number of result.json (test_acc, best_epoch, epochs_run) over the finished runs."""
        vals = [r.result[name] for r in self.done if isinstance(r.result.get(name), (int, float))]
        return float(np.mean(vals)) if vals else None

    @property
    def stopped_early(self) -> int:
        """How many of the finished runs early stopping ended before the epoch cap (patience)."""
        return sum(bool(r.result.get("stopped_early")) for r in self.done)


@dataclass
class Cell:
    study: Study
    dataset: str
    noise: str          # noise folder name (model plus '-cleanval' etc.)
    noise_model: str
    p: float
    n: int | str
    method_id: str
    label: str
    key: str            # cell_key: e.g. 'mnist5k/uniform/p80/nall' (prefixed by the study id only on collisions)
    points: list[Point] = field(default_factory=list)
    selected: Point | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)  # selection rule -> RuleResult (report.selection_rules)
    reliability: Any = None  # report.selection_reliability.Reliability of the paper's rule, when computed
    reliability_note: str | None = None  # why it was not (e.g. runs without val_predictions.npz)

    @functools.cached_property
    def variance(self):
        """Where the spread of the selected point comes from
        (:func:`~limitlab.report.variance_split.cell_variance_split`: None without several runs on one split),
        computed once for table.csv and metrics.json."""
        from limitlab.report.variance_split import cell_variance_split

        return cell_variance_split(self)

    @property
    def status(self) -> str:
        if self.selected is None:
            return "missing"
        return "ok" if all(p.complete for p in self.points) else "partial"

    @property
    def column(self) -> tuple:
        return (self.study.id, self.dataset, self.noise, self.p, self.n)

    @property
    def missing_keys(self) -> list[str]:
        return [r.run.key for p in self.points for r in p.records if not r.done]

    @property
    def broken(self) -> list[str]:
        return [b for p in self.points for r in p.records for b in r.broken]

    @property
    def missing_reasons(self) -> dict[str, str]:
        return {r.run.key: r.problem for p in self.points for r in p.records if not r.done}

    @property
    def diverged(self) -> dict[str, dict]:
        """Finished runs of the cell that diverged (run key → {epoch, reason}); each was tested with its best
        checkpoint from before the divergence and took part in selection, as in the authors' code."""
        return {r.run.key: r.result["diverged"] for p in self.points for r in p.done if r.result.get("diverged")}

    @property
    def file_tag(self) -> str:
        """Setting part of figure names: 'mnist5k_uniform_p80_nall'."""
        return self.key.replace("/", "_")


def select(points: list[Point]) -> Point | None:
    """The complete point with the highest mean noisy-validation accuracy (first in params order on ties,
    :func:`~limitlab.report.run_outputs.first_best`)."""
    complete = [pt for pt in points if pt.complete]
    return complete[int(first_best([pt.mean_val_acc for pt in complete]))] if complete else None


def cell_stats(pt: Point) -> dict[str, Any]:
    """Reported numbers of a selected point (fractions in [0, 1])."""
    done = pt.done
    tests = np.array([r.result["test_acc"] for r in done], dtype=float)
    stats: dict[str, Any] = {"n_seeds": len(done), "val_acc": pt.mean_val_acc, "test_acc": float(tests.mean()),
                             "test_acc_std": None, "error": "none", "point": pt.point, "point_tag": pt.tag,
                             "seeds": [r.run.spec.seed for r in done], "note": None}
    if len(done) > 1:
        stats["test_acc_std"] = float(tests.std(ddof=1))
        stats["error"] = "seed_std"
    else:
        boot = done[0].bootstrap
        if boot is not None and isinstance(boot.get("std"), (int, float)):
            stats["test_acc_std"] = float(boot["std"])
            stats["error"] = "bootstrap_std"
            stats["bootstrap_samples"] = boot.get("samples")
        elif not done[0].is_broken(RunFiles.BOOTSTRAP):  # a broken one is named once, as a broken file
            stats["note"] = f"no {RunFiles.BOOTSTRAP} for {done[0].run.key}: no error bar"
    for name in ("detection_auc", "detection_ap"):
        vals = [r.eval.get(name) for r in done if r.eval is not None]
        vals = [v for v in vals if isinstance(v, (int, float))]
        stats[name] = float(np.mean(vals)) if vals else None
    return stats


def build_cells(exp: Experiment, records: list[RunRecord] | None = None) -> list[Cell]:
    """Group the experiment's runs into cells (params order) and select one point per cell. Runs whose record names
    another spec or other inputs (:func:`~limitlab.report.provenance.check_provenance`) count as missing."""
    if records is None:
        records = [read_run(r) for r in runs_of(exp)]
        check_provenance(records, GridIndex.of(exp))
    by_key = {r.run.key: r for r in records}
    prefixes = setting_prefixes(exp)
    cells: dict[tuple, Cell] = {}
    for run in runs_of(exp):
        s = run.spec
        study = next(st for st in exp.studies if st.id == s.study)
        noise_dir = s.setting_path.split("/")[1]
        ck = (s.study, noise_dir, s.p, s.n, s.method_id)
        if ck not in cells:
            label = next(m.label or m.row_id for m in study.methods if m.row_id == s.method_id)
            cells[ck] = Cell(study, s.dataset.name, noise_dir, s.noise, s.p, s.n, s.method_id, label,
                             run_setting_key(s, prefixes))
        cell = cells[ck]
        pt = next((p for p in cell.points if p.point == s.point), None)
        if pt is None:
            pt = Point(dict(s.point))
            cell.points.append(pt)
        pt.records.append(by_key[run.key])
    for cell in cells.values():
        cell.selected = select(cell.points)
        if cell.selected is not None:
            cell.stats = cell_stats(cell.selected)
    return list(cells.values())
