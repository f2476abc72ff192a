"""Three selection rules side by side for every cell: what model selection costs, and what stopping early buys.

* ``paper`` — the paper's rule (:mod:`limitlab.report.cells`): the point with the best mean noisy-validation
  accuracy over seeds; per seed, the test accuracy of its best noisy-validation epoch (result.json). The result.
* ``last_epoch`` — the same point; per seed, the test accuracy of the last epoch it trained (the last row of
  history.csv): what early stopping on the noisy validation set adds or costs.
* ``oracle`` — the point with the best mean over seeds of each seed's best clean-test epoch (history.csv). An
  upper bound that looks at the test set: it shows how much the paper's rule loses to selection, and is never a
  result (every table and page that shows it says so).

Each rule gives the mean over seeds ± the sample std (ddof = 1; none with one seed) and the point it used. The
last-epoch and oracle numbers need the per-epoch clean test accuracy (``training.log_test``, on by default); a
cell whose runs did not log it gets none, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from limitlab.report.cells import Cell, Point
from limitlab.report.run_outputs import first_best, read_history

RULES = {
    "paper": "best noisy-validation point and epoch (the paper's rule)",
    "last_epoch": "the paper's point, last epoch",
    "oracle": "best clean-test point and epoch (an upper bound: selected on the test set, not a result)",
}


@dataclass(frozen=True)
class RuleResult:
    """One rule's number for one cell (fractions in [0, 1])."""

    test_acc: float | None
    test_acc_std: float | None
    point: str | None
    n_seeds: int
    note: str | None = None


def _mean_std(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    a = np.asarray(values, dtype=float)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else None)


def test_curves(pt: Point, messages: list[str]) -> list[np.ndarray] | None:
    """Per seed, the clean test accuracy of every epoch of the point's finished runs (None: one is not logged)."""
    curves = []
    for rec in pt.done:
        df, why = read_history(rec.run, rec.result)
        if df is None:
            messages.append(why)
            return None
        if "test_acc" not in df or df["test_acc"].isna().all():
            return None
        curves.append(df["test_acc"].to_numpy(dtype=float))
    return curves


def rule_results(cell: Cell, messages: list[str] | None = None) -> dict[str, RuleResult]:
    """The cell's number under each of :data:`RULES` (empty when the cell has no selected point)."""
    messages = [] if messages is None else messages
    if cell.selected is None:
        return {}
    st = cell.stats
    out = {"paper": RuleResult(st["test_acc"], st["test_acc_std"] if st.get("error") == "seed_std" else None,
                               cell.selected.tag, st["n_seeds"])}
    selected = test_curves(cell.selected, messages)
    no_log = "the runs did not log the clean test accuracy per epoch (training.log_test)"
    if selected is None:
        out["last_epoch"] = RuleResult(None, None, cell.selected.tag, 0, no_log)
    else:
        mean, std = _mean_std([c[-1] for c in selected])
        out["last_epoch"] = RuleResult(mean, std, cell.selected.tag, len(selected))
    logged: list[tuple[float, Point, float | None, int]] = []
    for pt in cell.points:
        if not pt.complete:
            continue
        curves = test_curves(pt, messages)
        if curves is None:
            continue
        mean, std = _mean_std([np.nanmax(c) for c in curves])
        logged.append((mean, pt, std, len(curves)))
    if logged:
        mean, pt, std, n = logged[int(first_best([row[0] for row in logged]))]
        out["oracle"] = RuleResult(mean, std, pt.tag, n)
    else:
        out["oracle"] = RuleResult(None, None, None, 0, no_log)
    return out
