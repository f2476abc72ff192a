"""Hyperparameter selection and result tables (methods.md §3 "Hyperparameter selection", §6.1, §7).

A *cell* is one method on one data setting without its seed: (study, dataset, noise, p, n, method id). Its runs
are the method's grid points × seeds, taken from ``exp.runs`` (params only, never globbing). Per cell:

1. every point whose seeds all finished is *eligible*; its score is the MEAN best noisy-validation accuracy over
   seeds (the authors' ``result_utils``). The test set is never looked at here;
2. the eligible point with the highest score is selected (ties: the first in params order);
3. we report that point's test accuracy: mean over seeds ± sample std (ddof = 1) with several seeds, or ± the
   bootstrap std of its single run (``bootstrap.json``, ddof = 0) with one seed.

Cell status: ``ok`` (every run finished), ``partial`` (some points unfinished: the selection covers only the
finished ones; shown with ``*``, left out of metrics.json), ``missing`` (no finished point). A cell with a
broken ``eval.json`` or ``bootstrap.json`` (unreadable, or numbers of the wrong kind) is marked ``!``, and the
file is named in a warning and in table.md; its numbers are left out, never guessed.
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from limitlab import io
from limitlab.jobs import failure_markers as markers
from limitlab.experiment.grid import Run, noise_options, runs_of
from limitlab.experiment.paths import Setting, n_tag, p_tag, point_tag
from limitlab.experiment.schema import Experiment, Study

CURVE_COLUMNS = ("train_acc_noisy", "train_acc_clean", "val_acc", "test_acc")


# ---------------------------------------------------------------------------------------------------------------
# Reading run outputs
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class RunRecord:
    """One run's outputs as found on disk; ``problem`` says why the run counts as missing (None = finished)."""

    run: Run
    result: dict | None = None
    eval: dict | None = None
    bootstrap: dict | None = None
    problem: str | None = None
    broken: list[str] = field(default_factory=list)  # files that exist but cannot be used, each with why

    @property
    def done(self) -> bool:
        return self.problem is None


def _read_json(path: Path) -> tuple[dict | None, str | None]:
    if not path.is_file():
        return None, f"no {path.name}"
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"{path.name} does not hold a JSON object"
    return data, None


def read_run(run: Run) -> RunRecord:
    spec = run.spec
    result, problem = _read_json(Path(spec.run_dir) / "result.json")
    if result is not None:
        val, test = result.get("best_val_acc"), result.get("test_acc")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (val, test)):
            result, problem = None, f"result.json has non-finite accuracies (val {val}, test {test}): diverged"
    if problem == "no result.json":
        marker = markers.read_marker(spec.run_dir)  # the pipeline's note of a failed or interrupted train job
        problem = f"training {marker.reason}" if marker else "not trained or diverged (no result.json)"
    rec = RunRecord(run, result, problem=problem)
    for name, check in (("eval.json", _eval_problem), ("bootstrap.json", _bootstrap_problem)):
        path = Path(spec.eval_dir) / name
        data, why = _read_json(path)
        why = why if data is None else check(data)
        if why is None:
            setattr(rec, name.split(".")[0], data)
        elif path.is_file() and rec.done:  # missing = an unfinished stage; broken must not pass silently
            rec.broken.append(f"{path}: {why}")
    return rec


def _number(v, low: float = -math.inf, high: float = math.inf) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and low <= v <= high


def _eval_problem(d: dict) -> str | None:
    if not _number(d.get("test_acc"), 0, 1):
        return f"test_acc is {d.get('test_acc')!r}, not a number in [0, 1]"
    for k in ("detection_auc", "detection_ap"):
        if d.get(k) is not None and not _number(d[k], 0, 1):
            return f"{k} is {d[k]!r}, not a number in [0, 1] or null"
    return None


def _bootstrap_problem(d: dict) -> str | None:
    if not _number(d.get("std"), 0, 1):
        return f"std is {d.get('std')!r}, not a number in [0, 1]"
    if d.get("samples") is not None and not _number(d["samples"], 1):
        return f"samples is {d['samples']!r}, not a positive number"
    return None


def read_history(run: Run) -> tuple[pd.DataFrame | None, str | None]:
    """The run's per-epoch history, or (None, why) when it is missing, unreadable or empty."""
    path = Path(run.spec.run_dir) / "history.csv"
    if not path.is_file():
        return None, f"{run.key}: no history.csv"
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        return None, f"{run.key}: history.csv is empty or unreadable ({exc})"
    if df.empty or "epoch" not in df:
        return None, f"{run.key}: history.csv has no epochs"
    return df, None


# ---------------------------------------------------------------------------------------------------------------
# Cells and selection
# ---------------------------------------------------------------------------------------------------------------


def _key_part(text: str) -> str:
    """A metric-key/file-name part without dots or slashes (DVC flattens nested keys with '.')."""
    return str(text).replace(".", "_").replace("/", "_")


def setting_prefixes(exp: Experiment) -> dict[str, str]:
    """Study id → '' normally; → 'STUDY/' when two studies share dataset and noise folder (keys would collide)."""
    seen: dict[tuple, list[str]] = defaultdict(list)
    for study in exp.studies:
        d = study.dataset
        noise_dir = Setting(d.name, study.noise.model, 0.0, "all", 0, d.val_ratio, d.clean_validation,
                            **noise_options(study)).noise_dir
        seen[(d.name, noise_dir)].append(study.id)
    return {sid: (f"{sid}/" if len(ids) > 1 else "") for ids in seen.values() for sid in ids}


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

    @property
    def complete(self) -> bool:
        return bool(self.records) and all(r.done for r in self.records)

    @property
    def mean_val_acc(self) -> float | None:
        vals = [r.result["best_val_acc"] for r in self.done]
        return float(np.mean(vals)) if vals else None


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
    key: str            # e.g. 'mnist5k/uniform/p80/nall' (prefixed by the study id only on collisions)
    points: list[Point] = field(default_factory=list)
    selected: Point | None = None
    stats: dict[str, Any] = field(default_factory=dict)

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
    """The complete point with the highest mean noisy-validation accuracy (first in params order on ties)."""
    best = None
    for pt in points:
        if pt.complete and (best is None or pt.mean_val_acc > best.mean_val_acc):
            best = pt
    return best


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
        else:
            stats["note"] = f"no bootstrap.json for {done[0].run.key}: no error bar"
    for name in ("detection_auc", "detection_ap"):
        vals = [r.eval.get(name) for r in done if r.eval is not None]
        vals = [v for v in vals if isinstance(v, (int, float))]
        stats[name] = float(np.mean(vals)) if vals else None
    return stats


def build_cells(exp: Experiment, records: list[RunRecord] | None = None) -> list[Cell]:
    """Group the experiment's runs into cells (params order) and select one point per cell."""
    records = records if records is not None else [read_run(r) for r in runs_of(exp)]
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
            key = prefixes[s.study] + "/".join(_key_part(x) for x in (s.dataset.name, noise_dir, p_tag(s.p), n_tag(s.n)))
            cells[ck] = Cell(study, s.dataset.name, noise_dir, s.noise, s.p, s.n, s.method_id, label, key)
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


# ---------------------------------------------------------------------------------------------------------------
# Curves
# ---------------------------------------------------------------------------------------------------------------


def point_curve(pt: Point, messages: list[str] | None = None) -> pd.DataFrame | None:
    """Seed-mean per-epoch curves of one point (epochs where at least one seed ran; n_seeds per epoch)."""
    frames = []
    for rec in pt.done:
        df, why = read_history(rec.run)
        if df is None:
            if messages is not None:
                messages.append(why)
            continue
        cols = [c for c in CURVE_COLUMNS if c in df]
        frames.append(df[["epoch", *cols]].assign(seed=rec.run.spec.seed))
    if not frames:
        return None
    all_seeds = pd.concat(frames, ignore_index=True)
    for c in CURVE_COLUMNS:
        if c not in all_seeds:
            all_seeds[c] = np.nan
    out = all_seeds.groupby("epoch")[list(CURVE_COLUMNS)].mean()
    out["n_seeds"] = all_seeds.groupby("epoch")["seed"].nunique()
    return out.reset_index()


def curves_frame(cells: list[Cell], messages: list[str]) -> pd.DataFrame:
    frames = []
    for cell in cells:
        if cell.selected is None:
            continue
        curve = point_curve(cell.selected, messages)
        if curve is None:
            continue
        frames.append(curve.assign(setting=cell.key, study=cell.study.id, dataset=cell.dataset, noise=cell.noise,
                                   p=cell.p, n=str(cell.n), method_id=cell.method_id, point=cell.selected.tag))
    cols = ["setting", "study", "dataset", "noise", "p", "n", "method_id", "point", "epoch", *CURVE_COLUMNS, "n_seeds"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


# ---------------------------------------------------------------------------------------------------------------
# Tables, metrics
# ---------------------------------------------------------------------------------------------------------------


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}"


def column_label(cell: Cell, prefixed: bool) -> str:
    head = f"{cell.study.id}: " if prefixed else ""
    return f"{head}{cell.dataset} {cell.noise}{_rate_text(cell.noise, cell.p, ' ')} n={cell.n}"


def _rate_text(noise_dir: str, p: float, sep: str) -> str:
    """' p=0.4' in a column name; nothing for human labels, whose rate comes from the label file (p is 0)."""
    return "" if noise_dir.startswith("human") else f"{sep}p={p:g}"


def error_caption(cells: list[Cell]) -> tuple[str, bool]:
    """Caption sentence on the error bars; True when bootstrap cells must be marked (kinds are mixed)."""
    kinds = {c.stats["error"] for c in cells if c.selected is not None}
    seeds = sorted({c.stats["n_seeds"] for c in cells if c.selected is not None and c.stats["error"] == "seed_std"})
    samples = sorted({c.stats.get("bootstrap_samples") for c in cells
                      if c.selected is not None and c.stats["error"] == "bootstrap_std"} - {None})
    parts = []
    if "seed_std" in kinds:
        parts.append(f"sample std over seeds (ddof = 1; {', '.join(map(str, seeds))} seeds)")
    if "bootstrap_std" in kinds:
        parts.append(f"std of {', '.join(map(str, samples))} bootstrap resamples of the test set (ddof = 0)"
                     f"{' [marked ᵇ]' if 'seed_std' in kinds else ''}")
    if "none" in kinds:
        parts.append("no error bar where the bootstrap has not run")
    mixed = "seed_std" in kinds and "bootstrap_std" in kinds
    return ("± = " + "; ".join(parts) + "." if parts else "No finished cells yet."), mixed


def cell_text(cell: Cell, mark_bootstrap: bool) -> str:
    if cell.selected is None:
        return "missing" + ("!" if cell.broken else "")
    st = cell.stats
    text = _pct(st["test_acc"])
    if st["test_acc_std"] is not None:
        text += f" ± {_pct(st['test_acc_std'])}"
        if mark_bootstrap and st["error"] == "bootstrap_std":
            text += "ᵇ"
    diverged = any(r.result.get("diverged") for r in cell.selected.done)
    return (text + ("*" if cell.status == "partial" else "") + ("†" if diverged else "")
            + ("!" if cell.broken else ""))


def layout(exp: Experiment, cells: list[Cell]) -> tuple[list[tuple[str, str]], list[tuple], dict]:
    """Rows (method id, label) in params order, columns in study/p/n order, and {(row, column): cell}."""
    rows: list[tuple[str, str]] = []
    cols: list[tuple] = []
    grid = {}
    for cell in cells:
        if cell.method_id not in [r for r, _ in rows]:
            rows.append((cell.method_id, cell.label))
        if cell.column not in cols:
            cols.append(cell.column)
        grid[(cell.method_id, cell.column)] = cell
    return rows, cols, grid


def long_frame(cells: list[Cell]) -> pd.DataFrame:
    """table.csv: one row per cell with every number (accuracies in %, as in the paper)."""
    from limitlab.report.paper_numbers import lookup

    rows = []
    for c in cells:
        st = c.stats
        paper = lookup(c.dataset, c.noise, c.p, c.n, c.method_id) if c.noise == c.noise_model else None
        ours = None if c.selected is None else 100 * st["test_acc"]
        rows.append({
            "setting": c.key, "study": c.study.id, "dataset": c.dataset, "noise": c.noise, "p": c.p, "n": str(c.n),
            "method_id": c.method_id, "label": c.label, "status": c.status,
            "selected_point": c.selected.tag if c.selected else None, "n_seeds": st.get("n_seeds"),
            "val_acc_pct": None if c.selected is None else 100 * st["val_acc"], "test_acc_pct": ours,
            "test_acc_std_pct": None if st.get("test_acc_std") is None else 100 * st["test_acc_std"],
            "error": st.get("error"),
            "detection_auc_pct": None if st.get("detection_auc") is None else 100 * st["detection_auc"],
            "detection_ap_pct": None if st.get("detection_ap") is None else 100 * st["detection_ap"],
            "paper_test_acc_pct": paper.mean if paper else None,
            "paper_std_pct": paper.std if paper else None, "paper_source": paper.source if paper else None,
            "diff_pct": None if (paper is None or ours is None) else ours - paper.mean,
            "missing_runs": len(c.missing_keys), "diverged_runs": len(c.diverged),
            "broken_files": "; ".join(c.broken) or None,
        })
    return pd.DataFrame(rows)


def selection_frame(cells: list[Cell]) -> pd.DataFrame:
    """selection.csv: every point of every cell with its mean val accuracy; the selected one flagged."""
    rows = []
    for c in cells:
        for pt in c.points:
            rows.append({"setting": c.key, "study": c.study.id, "method_id": c.method_id, "point": pt.tag,
                         **{f"hp_{k}": v for k, v in pt.point.items()}, "seeds_done": len(pt.done),
                         "seeds_expected": len(pt.records), "complete": pt.complete,
                         "mean_val_acc": pt.mean_val_acc, "selected": pt is c.selected})
    return pd.DataFrame(rows)


def metrics_dict(cells: list[Cell]) -> dict:
    """Nested dict for DVC: key parts from params (no dots); only complete cells; null values left out."""
    out: dict = {}
    for c in cells:
        if c.status != "ok":
            continue
        node = out
        for part in (*c.key.split("/"), c.method_id):
            node = node.setdefault(part, {})
        for name in ("test_acc", "test_acc_std", "val_acc", "detection_auc", "detection_ap", "n_seeds"):
            if c.stats.get(name) is not None:
                node[name] = c.stats[name]
    return out


def cleanlab_results(exp: Experiment, messages: list[str] | None = None) -> list[dict]:
    """cleanlab.json of every cleanlab job of the grid (studies with a ``cleanlab:`` block), keyed like the cells.

    Each row: setting (cell key), detector ('cleanlab_k<K>'), label and cleanlab.json's numbers; jobs whose
    file is missing or unreadable are left out with a message."""
    from limitlab.experiment.grid import cleanlab_specs

    prefixes = setting_prefixes(exp)
    rows = []
    for spec in cleanlab_specs(exp):
        path = Path(spec.out_dir) / "cleanlab.json"
        data, problem = _read_json(path)
        if data is None:
            if messages is not None:
                messages.append(f"cleanlab {spec.key}: {problem} ({path})")
            continue
        f = spec.fold_specs[0]
        key = prefixes[spec.study] + "/".join(_key_part(x) for x in (
            f.dataset.name, spec.setting_path.split("/")[1], p_tag(f.p), n_tag(f.n)))
        rows.append({**data, "setting": key, "detector": f"cleanlab_k{spec.folds}",
                     "label": f"cleanlab ({spec.folds}-fold {spec.source_id.upper()})", "seed": spec.seed})
    return rows


def detection_frame(cells: list[Cell], cleanlab: list[dict]) -> pd.DataFrame:
    """detection.csv: per setting, every detector's ROC AUC / AP (%) for finding the corrupted training labels:
    the q-network methods (selected point, seed mean) and cleanlab (with its own estimates beside the truth)."""
    rows = [{"setting": c.key, "detector": c.method_id, "label": c.label, "p": c.p,
             "detection_auc_pct": 100 * c.stats["detection_auc"],
             "detection_ap_pct": None if c.stats.get("detection_ap") is None else 100 * c.stats["detection_ap"]}
            for c in cells if c.selected is not None and c.stats.get("detection_auc") is not None]
    for r in cleanlab:
        rows.append({"setting": r["setting"], "detector": r["detector"], "label": r["label"], "p": r["p"],
                     "detection_auc_pct": None if r["detection_auc"] is None else 100 * r["detection_auc"],
                     "detection_ap_pct": None if r["detection_ap"] is None else 100 * r["detection_ap"],
                     "n_issues": r["n_issues"], "issues_precision": r["issues_precision"],
                     "issues_recall": r["issues_recall"], "noise_rate_estimate": r["noise_rate_estimate"],
                     "noise_rate_true": r["noise_rate_true"], "noise_matrix_mae": r["noise_matrix_mae"],
                     "noise_matrix_estimate": json.dumps(r["noise_matrix_estimate"]),
                     "noise_matrix_true": json.dumps(r["noise_matrix_true"])})
    cols = ["setting", "detector", "label", "p", "detection_auc_pct", "detection_ap_pct", "n_issues",
            "issues_precision", "issues_recall", "noise_rate_estimate", "noise_rate_true", "noise_matrix_mae",
            "noise_matrix_estimate", "noise_matrix_true"]
    return pd.DataFrame(rows, columns=cols)


def _md_table(rows, cols, header, cell_fn) -> str:
    lines = ["| Method | " + " | ".join(header) + " |", "| --- |" + " --- |" * len(cols)]
    for rid, label in rows:
        lines.append(f"| {label} | " + " | ".join(cell_fn(rid, col) for col in cols) + " |")
    return "\n".join(lines)


def markdown(exp: Experiment, cells: list[Cell], missing: list[str], cleanlab: list[dict] | None = None) -> str:
    reasons = {k: v for c in cells for k, v in c.missing_reasons.items()}
    from limitlab.report.paper_numbers import lookup

    rows, cols, grid = layout(exp, cells)
    prefixed = len(exp.studies) > 1
    header = [column_label(next(c for c in cells if c.column == col), prefixed) for col in cols]
    caption, mixed = error_caption(cells)
    out = [f"# {exp.name}: clean test accuracy (%)", "",
           (exp.description + "\n") if exp.description else "",
           "Per cell, the hyperparameter point with the best mean noisy-validation accuracy over seeds is selected "
           "(the test set is never used for selection); the table reports that point's clean test accuracy. "
           + caption + " `*` = some runs of the cell are unfinished (selection over the finished points only); "
           "`†` = a run of the selected point diverged (its best checkpoint before the divergence is reported); "
           "`missing` = no finished point; `!` = a broken eval.json or bootstrap.json (listed below, not used); "
           "`—` = not in this experiment's grid.", "",
           _md_table(rows, cols, header, lambda r, col: cell_text(grid[(r, col)], mixed) if (r, col) in grid else "—")]

    def paper_text(r, col):
        cell = grid.get((r, col))
        if cell is None or cell.noise != cell.noise_model:
            return "—"
        num = lookup(cell.dataset, cell.noise, cell.p, cell.n, r)
        return "—" if num is None else num.text()

    if any(paper_text(r, col) != "—" for r, _ in rows for col in cols):
        out += ["", "## Paper", "", "The paper's numbers for the matching settings (Tables 1, 2, 4 of Harutyunyan "
                "et al. 2020; MNIST ± over 5 splits, CIFAR-100/Clothing1M ± bootstrap).", "",
                _md_table(rows, cols, header, paper_text)]
    det = [c for c in cells if c.stats.get("detection_auc") is not None]
    if det or cleanlab:
        det_rows = [r for r in rows if any(c.method_id == r[0] for c in det)]
        by_setting = {c.key: col for col in cols for c in cells if c.column == col}
        clean_rows = {(r["detector"], by_setting[r["setting"]]): r for r in cleanlab or [] if r["setting"] in by_setting}
        det_rows += list(dict.fromkeys((d, r["label"]) for (d, _), r in clean_rows.items()))

        def det_text(r, col, name):
            if (r, col) in clean_rows:
                return _pct(clean_rows[(r, col)][name], 2)
            cell = grid.get((r, col))
            return _pct(cell.stats.get(name), 2) if cell is not None and cell.selected else "—"

        out += ["", "## Noisy-label detection", "", "Finding the corrupted training labels: ROC AUC (%) and average "
                "precision (%), as AUC / AP. LIMIT rows score each example by the distance ‖s(b) − e_ỹ‖₂ between the q-network's "
                "prediction and the given label (selected point, mean over seeds); cleanlab rows by 1 − "
                "self-confidence of out-of-sample predicted probabilities from K-fold cross-validated models "
                "(cleanlab's label quality score; its own estimates: detection.csv).", "",
                _md_table(det_rows, cols, header, lambda r, col: f"{det_text(r, col, 'detection_auc')} / "
                          f"{det_text(r, col, 'detection_ap')}" if det_text(r, col, "detection_auc") != "—" else "—")]
        if clean_rows:
            out += ["", "cleanlab's own estimates next to the truth (this training split's realised noise):", "",
                    "| Setting | detector | issues found (precision / recall %) | noise rate: estimate / true (%) | "
                    "noise matrix mean abs. error |", "| --- | --- | --- | --- | --- |"]
            for r in cleanlab or []:
                pr = f"{_pct(r['issues_precision'])} / {_pct(r['issues_recall'])}"
                out.append(f"| {r['setting']} | {r['label']} | {r['n_issues']} ({pr}) | "
                           f"{_pct(r['noise_rate_estimate'])} / {_pct(r['noise_rate_true'])} | "
                           f"{r['noise_matrix_mae']:.4f} |")
    diverged = {k: v for c in cells for k, v in c.diverged.items()}
    if diverged:
        out += ["", f"## Diverged runs ({len(diverged)})", "", "Each kept the best checkpoint saved before the "
                "non-finite loss, which was tested and competed in model selection (the authors' behaviour).", "",
                *[f"- `{k}`: epoch {v.get('epoch')}: {v.get('reason')}" for k, v in sorted(diverged.items())]]
    if missing:
        out += ["", f"## Missing runs ({len(missing)})", "",
                *[f"- `{m}`: {reasons.get(m, 'missing')}" for m in missing]]
    broken = [b for c in cells for b in c.broken]
    if broken:
        out += ["", f"## Broken files ({len(broken)})", "", "Rerun the stage that writes each (delete it first).", "",
                *[f"- {b}" for b in dict.fromkeys(broken)]]
    return "\n".join(out) + "\n"


def rich_table(exp: Experiment, cells: list[Cell], title: str = "clean test accuracy (%)"):
    from rich.markup import escape
    from rich.table import Table

    from limitlab.report.paper_numbers import lookup

    rows, cols, grid = layout(exp, cells)
    caption, mixed = error_caption(cells)
    has_paper = any(lookup(c.dataset, c.noise, c.p, c.n, c.method_id) for c in cells if c.noise == c.noise_model)
    table = Table(title=escape(f"{exp.name}: {title}"),
                  caption="Point selected by mean noisy-validation accuracy. " + escape(caption)
                  + (" Dim: the paper's number." if has_paper else ""), title_justify="left",
                  caption_justify="left")
    table.add_column("Method", no_wrap=True)
    for col in cols:
        study, dataset, noise, p, n = col
        table.add_column(escape((f"{study}\n" if len(exp.studies) > 1 else "") + f"{dataset} {noise}{_rate_text(noise, p, chr(10))} n={n}"),
                         justify="right")
    for rid, label in rows:
        texts = []
        for col in cols:
            cell = grid.get((rid, col))
            if cell is None:
                texts.append("—")
                continue
            t = escape(cell_text(cell, mixed))
            t = f"[red]{t}[/]" if t == "missing" else t
            paper = lookup(cell.dataset, cell.noise, cell.p, cell.n, rid) if cell.noise == cell.noise_model else None
            texts.append(t + (f"\n[dim]{paper.text()}[/]" if paper else ""))
        table.add_row(escape(label), *texts)
    return table


@dataclass
class Summary:
    cells: list[Cell]
    missing: list[str]
    messages: list[str]
    files: dict[str, Path]


def aggregate(exp: Experiment, results_dir: Path | None = None, console=None) -> Summary:
    """Select, tabulate and write table.md/.csv, selection.csv, metrics.json and curves.csv to the results folder."""
    from rich.console import Console
    from rich.markup import escape

    # Off a terminal (cluster logs) rich would wrap at 80 columns; a wide table reads better unwrapped.
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    err = Console(stderr=True)
    results_dir = Path(results_dir or exp.results_path)
    results_dir.mkdir(parents=True, exist_ok=True)
    cells = build_cells(exp)
    missing = [k for c in cells for k in c.missing_keys]
    messages = [f"broken file, not used (cell marked '!'): {b}" for c in cells for b in c.broken]
    messages += [c.stats["note"] for c in cells if c.stats.get("note")]
    curves = curves_frame(cells, messages)
    sus_cells, sus_pool = susceptibility_cells(cells)  # extra rows selected by susceptibility (methods.md §9.3)
    method_cells = cells  # the main table; the susceptibility rows get their own small table
    cells = cells + sus_cells
    cleanlab = cleanlab_results(exp, messages)
    metrics = metrics_dict(cells)
    for r in cleanlab:  # metrics.json: <setting>.<cleanlab_kK>.{detection_auc, detection_ap, n_issues, ...}
        node = metrics
        for part in (*r["setting"].split("/"), r["detector"]):
            node = node.setdefault(part, {})
        node.update({k: r[k] for k in ("detection_auc", "detection_ap", "n_issues", "noise_rate_estimate",
                                       "noise_rate_true", "noise_matrix_mae") if r[k] is not None})
    files = {
        "table_md": io.write_text(results_dir / "table.md",
                                  markdown(exp, method_cells, missing, cleanlab) + susceptibility_markdown(exp, sus_cells)),
        "table_csv": io.write_text(results_dir / "table.csv", long_frame(cells).to_csv(index=False)),
        "selection_csv": io.write_text(results_dir / "selection.csv", selection_frame(cells).to_csv(index=False)),
        "metrics": io.write_json(results_dir / "metrics.json", metrics),
        "detection_csv": io.write_text(results_dir / "detection.csv",
                                       detection_frame(cells, cleanlab).to_csv(index=False)),
        "curves_csv": io.write_text(results_dir / "curves.csv", curves.to_csv(index=False)),
    }
    if not sus_pool.empty:
        files["susceptibility_csv"] = io.write_text(results_dir / "susceptibility.csv", sus_pool.to_csv(index=False))
    console.print(rich_table(exp, method_cells))
    if sus_cells:
        console.print(rich_table(exp, sus_cells, "susceptibility selection, final-epoch clean test accuracy (%)"))
    if missing:
        shown = ", ".join(missing[:20]) + (f", … and {len(missing) - 20} more" if len(missing) > 20 else "")
        err.print(f"[yellow]warning:[/] {len(missing)} run(s) missing (not trained, failed or diverged): "
                  f"{escape(shown)}. Cells without a finished point show 'missing'; full list in "
                  f"{escape(str(files['table_md']))}.", highlight=False)
    for m in messages:
        err.print(f"[yellow]warning:[/] {escape(m)}", highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in files.values())}", highlight=False)
    return Summary(cells, missing, messages, files)


# ---------------------------------------------------------------------------------------------------------------
# Susceptibility selection (methods.md §9.3, issue 6): extra rows "<label> (susceptibility sel.)"
# ---------------------------------------------------------------------------------------------------------------

SUSCEPTIBILITY_SUFFIX = "_sus_sel"  # method id of the extra rows (and their metric keys)
ANY_METHOD = "any_method"           # the row whose pool is every method of the setting


def final_epoch(pt: Point) -> dict | None:
    """Seed means of a complete point's final-epoch train_acc_noisy, ζ, val_acc and test_acc (None when a seed's
    history lacks any of them, e.g. trained without ``susceptibility: true``)."""
    if not pt.complete:
        return None
    rows = []
    for rec in pt.done:
        df, _ = read_history(rec.run)
        if df is None or not {"susceptibility", "train_acc_noisy", "val_acc", "test_acc"} <= set(df):
            return None
        rows.append(df.iloc[-1])
    tests = np.array([r["test_acc"] for r in rows], dtype=float)
    out = {k: float(np.mean([r[k] for r in rows])) for k in ("train_acc_noisy", "susceptibility", "val_acc")}
    return {**out, "test_acc": float(tests.mean()), "test_acc_std": float(tests.std(ddof=1)) if len(rows) > 1 else None,
            "seeds": [r.run.spec.seed for r in pt.done]}


def susceptibility_cells(cells: list[Cell]) -> tuple[list[Cell], pd.DataFrame]:
    """Extra cells selected by susceptibility instead of noisy validation, and the pool table behind them.

    Per method cell, and per setting over every method's points ("Any method"), the point chosen by
    :func:`limitlab.training.susceptibility.select` (Region 1 of final-epoch training accuracy on the noisy labels vs
    final ζ, thresholds at the pool means; inside it the highest training accuracy). Its reported number is the
    FINAL-epoch clean test accuracy (seed mean; ± seed std with several seeds): no validation label is used.
    """
    from limitlab.training.susceptibility import regions, select

    extra: list[Cell] = []
    pool_rows: list[dict] = []
    by_setting: dict[str, list[tuple[Cell, Point, dict]]] = defaultdict(list)
    for cell in cells:
        for pt in cell.points:
            fin = final_epoch(pt)
            if fin is not None:
                by_setting[cell.key].append((cell, pt, fin))

    def add(template: Cell, method_id: str, label: str, members: list[tuple[Cell, Point, dict]], pool: str):
        frame = pd.DataFrame([fin for _, _, fin in members])
        pos, region = select(frame)
        for i, ((c, pt, fin), reg) in enumerate(zip(members, regions(frame.train_acc_noisy, frame.susceptibility))):
            pool_rows.append({"setting": template.key, "pool": pool, "method_id": c.method_id, "point": pt.tag,
                              "train_acc_noisy": fin["train_acc_noisy"], "susceptibility": fin["susceptibility"],
                              "region": int(reg), "selected": i == pos, "final_test_acc": fin["test_acc"]})
        chosen_cell, chosen, fin = members[pos]
        points = [pt for c in cells if c.key == template.key and pool in (ANY_METHOD, c.method_id) for pt in c.points]
        new = Cell(template.study, template.dataset, template.noise, template.noise_model, template.p, template.n,
                   method_id, label, template.key, points=points, selected=chosen)
        new.stats = {"n_seeds": len(fin["seeds"]), "val_acc": fin["val_acc"], "test_acc": fin["test_acc"],
                     "test_acc_std": fin["test_acc_std"],
                     "error": "seed_std" if fin["test_acc_std"] is not None else "final_epoch",
                     "point": chosen.point, "point_tag": chosen.tag, "seeds": fin["seeds"], "note": None,
                     "detection_auc": None, "detection_ap": None, "train_acc_noisy": fin["train_acc_noisy"],
                     "susceptibility": fin["susceptibility"], "region": region, "selected_method": chosen_cell.method_id}
        extra.append(new)

    for key, members in by_setting.items():
        for cell in cells:
            mine = [m for m in members if m[0] is cell]
            if mine:
                add(cell, cell.method_id + SUSCEPTIBILITY_SUFFIX, f"{cell.label} (susceptibility sel.)", mine,
                    cell.method_id)
        if len({c.method_id for c, _, _ in members}) > 1:
            add(members[0][0], ANY_METHOD + SUSCEPTIBILITY_SUFFIX, "Any method (susceptibility sel.)", members, ANY_METHOD)
    return extra, pd.DataFrame(pool_rows)


def susceptibility_markdown(exp: Experiment, extra: list[Cell]) -> str:
    """table.md section with the susceptibility rows' own table, naming the model each one picked."""
    if not extra:
        return ""
    rows, cols, grid = layout(exp, extra)
    header = [column_label(next(c for c in extra if c.column == col), len(exp.studies) > 1) for col in cols]
    _, mixed = error_caption(extra)
    lines = ["", "## Susceptibility selection", "",
             _md_table(rows, cols, header, lambda r, col: cell_text(grid[(r, col)], mixed) if (r, col) in grid else "—"),
             "",
             "Rows marked \"(susceptibility sel.)\" choose, among the finished points of the method (\"Any method\": "
             "of every method of the setting), the model in Region 1 of final-epoch training accuracy on the noisy "
             "labels vs final susceptibility ζ (thresholds at the pool means; inside Region 1 the highest training "
             "accuracy; Forouzesh et al. 2023, methods.md §9.3) and report its final-epoch clean test accuracy: no "
             "validation labels are used. Every pool member and its region: susceptibility.csv.", ""]
    for c in extra:
        region = "Region 1" if c.stats["region"] == 1 else "Region 1 empty, least ζ among the trainable"
        lines.append(f"- {c.key}, {c.label}: {c.stats['selected_method']} at {c.stats['point_tag']} ({region}; "
                     f"train acc {100 * c.stats['train_acc_noisy']:.1f}%, ζ {c.stats['susceptibility']:.4f})")
    return "\n".join(lines) + "\n"
