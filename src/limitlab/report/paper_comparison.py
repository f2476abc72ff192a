"""Our cells beside the paper's numbers, under each selection rule, with the measured cause of every gap.

Input: an experiment's ``table.csv`` and ``selection.csv`` (:mod:`limitlab.report.tables`); output: one row per
(method, p, n, selection rule) of every cell the paper reports (:mod:`limitlab.report.paper_numbers`), with

* ``ours_mean_pct`` / ``ours_std_pct`` (sample std over seeds) and ``seeds`` (how many finished);
* ``grid``: ``full`` when the cell ran every value of the paper's grid (:data:`~limitlab.report.paper_numbers.MNIST_GRIDS`)
  on at least the paper's number of splits, else ``sub-grid`` with what is missing in ``grid_note``;
* ``difference_pct`` = ours − paper, and ``within``: |difference| ≤ the tolerance, which is the paper's ± where
  the paper gives one (Table 4: std over its 5 splits) and our own seed std otherwise (Table 1's p = 0.8 column);
* ``selection_cost_pct`` = the oracle's mean − this rule's mean: what choosing on the noisy validation set (or
  taking the last epoch) costs against the best clean-test point and epoch. It is measured on every row, also a
  row within the tolerance: at p = 0.8 the tolerance is our own seed std, and a wide spread can make a row within
  that a better selection would move;
* ``cause``, for a row not within: every measured reason that applies, in this order —
  unfinished runs; a sub-grid; the selected hyperparameter at the edge of the grid it was chosen from; training
  that had not stopped (mean best epoch in the last 20 % of the epoch cap, or runs that reached the cap); the
  selection (the oracle row, chosen on the test set, is within the paper's range or above it while the paper's
  rule is not); else ``unexplained``. The oracle is an upper bound, never a result: its own rows say so.

The rules are those of :mod:`limitlab.report.selection_rules`. The paper reports only its own rule; the other two
rows of a cell compare what the paper's number would be under them, not a number the paper gives.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from limitlab.errors import LimitlabError
from limitlab.report.paper_numbers import MNIST_GRIDS, PAPER, PaperGrid, lookup
from limitlab.report.run_outputs import ACCURACY_SLACK
from limitlab.report.summary import PARTIAL_MARK

RULES = {  # rule -> (table.csv mean column, std column)
    "paper": ("test_acc_pct", "test_acc_std_pct"),
    "last_epoch": ("test_acc_last_epoch_pct", "test_acc_last_epoch_std_pct"),
    "oracle": ("test_acc_oracle_pct", "test_acc_oracle_std_pct"),
}
GRIDS = {"mnist": MNIST_GRIDS}  # paper dataset -> its rows' grids
LATE_EPOCH = 0.8  # a mean best epoch past this fraction of the cap counts as "still improving at the cap"
COLUMNS = ["method_id", "label", "p", "n", "rule", "ours_mean_pct", "ours_std_pct", "seeds", "grid", "grid_note",
           "paper_mean_pct", "paper_std_pct", "paper_source", "difference_pct", "tolerance_pct", "tolerance_from",
           "within", "selection_cost_pct", "cause", "selected_point", "best_epoch_mean", "epoch_cap",
           "runs_stopped_by_patience", "status", "setting"]


def _num(x) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def paper_noise(folder) -> str | None:
    """The paper's noise model of one of our noise folders: 'uniform', 'pair' or 'none', also with another
    validation share ('uniform-val0.5': a deviation the setting column shows); None for anything else."""
    if not isinstance(folder, str):
        return None
    model, _, rest = folder.partition("-")
    ok = model in ("uniform", "pair", "none") and (not rest or re.fullmatch(r"val[0-9._]+", rest) is not None)
    return model if ok else None


def _n_value(n) -> int | str:
    return "all" if str(n) == "all" else int(float(n))


def grid_used(points: pd.DataFrame, grid: PaperGrid | None, seeds: int | None) -> tuple[str, str]:
    """('full' | 'sub-grid' | 'unknown', what is missing) of a cell's points (selection.csv rows) vs the paper's."""
    if grid is None:
        return "unknown", "the paper's grid for this row is not known"
    missing = []
    for name, values in grid.values.items():
        col = f"hp_{name}"
        ours = set() if col not in points else {round(float(v), 12) for v in points[col].dropna()}
        lacking = [v for v in values if round(float(v), 12) not in ours]
        if lacking:
            missing.append(f"{name} {len(values) - len(lacking)} of {len(values)} values "
                           f"(without {', '.join(f'{v:g}' for v in lacking)})")
    if seeds is not None and seeds < grid.seeds:
        missing.append(f"{seeds} of the paper's {grid.seeds} splits")
    return ("sub-grid", "; ".join(missing)) if missing else ("full", "")


def _edge(selected_point: str | None, points: pd.DataFrame) -> list[str]:
    """'β = 100 is the top of its grid' for each hyperparameter of the selected point at the edge of 3+ values."""
    if points.empty or not selected_point:
        return []
    row = points[points["point"] == selected_point]
    if row.empty:
        return []
    out = []
    for col in [c for c in points.columns if c.startswith("hp_")]:
        values = sorted(set(points[col].dropna()))
        v = row.iloc[0][col]
        if len(values) >= 3 and _num(v) is not None and v in (values[0], values[-1]):
            name = {"beta": "β", "lamb": "λ", "sigma": "σ"}.get(col[3:], col[3:])
            out.append(f"{name} = {v:g} is the {'top' if v == values[-1] else 'bottom'} of its grid")
    return out


def _epochs(row) -> list[str]:
    cap, best = _num(row.get("epoch_cap")), _num(row.get("best_epoch_mean"))
    seeds, stopped = _num(row.get("n_seeds")), _num(row.get("runs_stopped_by_patience"))
    out = []
    if cap and best is not None and best >= LATE_EPOCH * cap:
        out.append(f"best epoch {best:.0f} of a {cap:.0f}-epoch cap")
    if cap and seeds and stopped is not None and stopped < seeds:
        out.append(f"{seeds - stopped:.0f} of {seeds:.0f} runs reached the {cap:.0f}-epoch cap before patience")
    return out


def _cause(rule: str, row, ours: float, paper: float, tol: float | None, grid: str, grid_note: str,
           points: pd.DataFrame) -> str:
    if rule == "oracle":
        if tol is not None and ours < paper - tol:
            return "below the paper even on the test set's best point and epoch: not the selection"
        return "upper bound (selected on the test set), not comparable to the paper's number"
    causes = []
    if str(row.get("status")) != "ok":
        causes.append(f"{int(_num(row.get('missing_runs')) or 0)} run(s) of the cell unfinished")
    if grid != "full":
        causes.append(f"{grid}: {grid_note}")
    causes += _edge(row.get("selected_point"), points)
    causes += _epochs(row)
    if rule == "last_epoch":
        causes.append("no early stopping: the paper's number is its best-validation epoch")
    oracle = _num(row.get("test_acc_oracle_pct"))
    if rule == "paper" and oracle is not None and tol is not None and ours < paper - tol <= oracle:
        causes.append(f"selection on the noisy validation set: the oracle reaches {oracle:.1f}")
    if not causes:
        causes.append("above the paper, unexplained" if ours > paper else "unexplained")
    return "; ".join(causes)


def compare(table: pd.DataFrame, selection: pd.DataFrame, paper_dataset: str) -> pd.DataFrame:
    """The comparison rows (:data:`COLUMNS`) of every cell of ``table`` that the paper reports for
    ``paper_dataset`` (our dataset may differ: e.g. mnist5k against the paper's MNIST column of the same n)."""
    grids = GRIDS.get(paper_dataset, {})
    rows = []
    for _, row in table.iterrows():
        model = paper_noise(row["noise"])
        if model is None:
            continue  # clean validation, human labels, other noise models: nothing in the paper to compare with
        paper = lookup(paper_dataset, model, float(row["p"]), _n_value(row["n"]), row["method_id"])
        if paper is None:
            continue
        points = selection[(selection["setting"] == row["setting"]) & (selection["method_id"] == row["method_id"])
                           & (selection["study"] == row["study"])]
        seeds = _num(row.get("n_seeds"))
        grid = grids.get(row["method_id"])
        if _num(row.get("test_acc_pct")) is None:
            used, note = "not run", "no finished point"
        else:
            done = points[points["complete"].astype(bool)] if "complete" in points else points
            used, note = grid_used(done, grid, None if seeds is None else int(seeds))
        for rule, (mean_col, std_col) in RULES.items():
            ours, std = _num(row.get(mean_col)), _num(row.get(std_col))
            tol, tol_from = (paper.std, "paper") if paper.std is not None else (std, "ours" if std is not None else None)
            diff = None if ours is None else ours - paper.mean
            oracle = _num(row.get(RULES["oracle"][0]))
            cost = None if ours is None or oracle is None else oracle - ours
            within = None if diff is None or tol is None else abs(diff) <= tol + 100 * ACCURACY_SLACK
            if ours is None:
                cause = "not run" if used == "not run" else "no per-epoch test accuracy (training.log_test)"
            elif within:
                cause = ""
            else:
                cause = _cause(rule, row, ours, paper.mean, tol, used, note, points)
            rows.append({
                "method_id": row["method_id"], "label": row["label"], "p": float(row["p"]), "n": str(row["n"]),
                "rule": rule, "ours_mean_pct": ours, "ours_std_pct": std,
                "seeds": None if seeds is None else int(seeds), "grid": used, "grid_note": note,
                "paper_mean_pct": paper.mean, "paper_std_pct": paper.std, "paper_source": paper.source,
                "difference_pct": diff, "tolerance_pct": tol, "tolerance_from": tol_from, "within": within,
                "selection_cost_pct": cost, "cause": cause,
                "selected_point": row.get("oracle_point") if rule == "oracle" else row.get("selected_point"),
                "best_epoch_mean": _num(row.get("best_epoch_mean")), "epoch_cap": _num(row.get("epoch_cap")),
                "runs_stopped_by_patience": _num(row.get("runs_stopped_by_patience")),
                "status": row["status"], "setting": row["setting"]})
    if not rows:
        known = sorted({k[0] for k in PAPER})
        raise LimitlabError(f"no cell of this table has a number in the paper for dataset {paper_dataset!r} "
                            f"(accepted: {', '.join(known)}; cells need the paper's noise model, p, n and method "
                            "ids: see limitlab.report.paper_numbers)")
    order = {rule: i for i, rule in enumerate(RULES)}
    rows.sort(key=lambda r: (r["p"], r["n"], order[r["rule"]]))  # stable: methods keep the table's order
    return pd.DataFrame(rows, columns=COLUMNS)


KEY = ["method_id", "p", "n", "rule", "setting"]  # one comparison row


def keep_finished(frame: pd.DataFrame, earlier: pd.DataFrame, source: str = "the earlier comparison"
                  ) -> tuple[pd.DataFrame, int]:
    """``frame`` with each row that its results leave "not run" replaced by ``earlier``'s row of the same
    (method, p, n, rule, setting) where that one has a result: a study whose runs were made on several machines or
    sessions, not all of whose run folders are here. Rows with a result of their own are never replaced. Returns
    (merged frame, rows taken from ``earlier``)."""
    lacking = [c for c in COLUMNS if c not in earlier.columns]
    if lacking:
        raise LimitlabError(f"{source} is not a comparison CSV of this version: it lacks the column(s) "
                            f"{', '.join(lacking)} (accepted: a file written by limitlab compare)")
    earlier = earlier[COLUMNS].copy()
    earlier["p"] = earlier["p"].astype(float)
    earlier["n"] = earlier["n"].astype(str)
    for col in ("cause", "grid_note"):  # a CSV reads "" back as NaN (a float column when all are empty)
        earlier[col] = earlier[col].astype(object).where(earlier[col].notna(), "")
    earlier = earlier[earlier["ours_mean_pct"].notna()]
    dup = earlier.duplicated(KEY)
    if dup.any():
        first = earlier[dup].iloc[0]
        raise LimitlabError(f"{source} has more than one row for {first['method_id']} p = {first['p']:g} "
                            f"n = {first['n']} rule {first['rule']} ({first['setting']}): one row per cell and rule")
    by_key = {tuple(r[k] for k in KEY): r for _, r in earlier.iterrows()}
    rows, kept = [], 0
    for _, r in frame.iterrows():
        old = by_key.get(tuple(r[k] for k in KEY))
        if r["grid"] == "not run" and old is not None:
            rows.append(old)
            kept += 1
        else:
            rows.append(r)
    merged = pd.DataFrame(rows, columns=COLUMNS).reset_index(drop=True)
    # a CSV round trip reads booleans with gaps as objects; keep True / False / empty
    merged["within"] = merged["within"].map(lambda v: None if v is None or v != v else bool(v))
    return merged, kept


def markdown(frame: pd.DataFrame, rule: str = "paper") -> str:
    """The comparison of one rule as a markdown table (methods × p, ours vs paper, within, the oracle of the same
    cell with what the rule costs against it, cause); ``*`` marks a cell with unfinished runs (its selection covers
    the finished points only)."""
    sub = frame[frame["rule"] == rule]

    def num(x, d=1):
        return "—" if _num(x) is None else f"{x:.{d}f}"

    lines = ["| method | p | n | ours | seeds | grid | paper | ours − paper | within | oracle (upper bound) | cause |",
             "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | :---: | ---: | --- |"]
    for _, r in sub.iterrows():
        ours = num(r["ours_mean_pct"]) + ("" if _num(r["ours_std_pct"]) is None else f" ± {r['ours_std_pct']:.1f}")
        ours += PARTIAL_MARK if _num(r["ours_mean_pct"]) is not None and r["status"] != "ok" else ""
        paper = num(r["paper_mean_pct"]) + ("" if _num(r["paper_std_pct"]) is None else f" ± {r['paper_std_pct']:.1f}")
        within = {True: "yes", False: "no"}.get(r["within"], "—")
        cost = _num(r["selection_cost_pct"])
        oracle = "—" if cost is None else f"{r['ours_mean_pct'] + cost:.1f} (+{cost:.1f})"
        lines.append(f"| {r['label']} | {r['p']:g} | {r['n']} | {ours} | {'—' if r['seeds'] is None or r['seeds'] != r['seeds'] else int(r['seeds'])} | "
                     f"{r['grid']} | {paper} | {num(r['difference_pct'])} | {within} | {oracle} | {r['cause'] or ''} |")
    return "\n".join(lines) + "\n"
