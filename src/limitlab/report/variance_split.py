"""Where a cell's spread comes from: the split (data, noise draw) or the training run (docs/methods.md, "Two seeds").

A study with ``train_seeds`` trains every split i = 1..a several times, j = 1..n_i (initialisation, batch order,
sampling). For the cell's selected point, with y_ij its runs' clean test accuracies, the one-way random-effects
model y_ij = μ + s_i + e_ij, s_i ~ (0, σ²_split), e_ij ~ (0, σ²_train), estimated by the ANOVA (method of moments)
estimator, which also holds for unbalanced splits (Searle, Casella & McCulloch, *Variance Components*, 1992, §3.5):

    MSB = Σ_i n_i (ȳ_i − ȳ)² / (a − 1),    MSW = Σ_i Σ_j (y_ij − ȳ_i)² / (N − a),    n₀ = (N − Σ_i n_i² / N) / (a − 1)
    σ̂²_train = MSW,    σ̂²_split = max(0, (MSB − MSW) / n₀),    split share = σ̂²_split / (σ̂²_split + σ̂²_train)

(the share is the intraclass correlation), and F = MSB / MSW with its p-value from F(a − 1, N − a), the test of
σ²_split = 0 (:func:`scipy.stats.f`). With training seeds crossed over splits (the same seed list on every split),
the seeds' common effect cancels from the split means, so σ̂²_split still estimates the split's part alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class VarianceSplit:
    splits: int            # a: splits with at least one run
    runs: int              # N
    split_std: float       # σ̂_split (accuracy as a fraction)
    train_std: float       # σ̂_train
    split_share: float     # σ̂²_split / (σ̂²_split + σ̂²_train); nan when both are 0
    f_p_value: float       # P(F(a − 1, N − a) ≥ MSB / MSW); nan when MSW = 0


def variance_split(groups: list[list[float]]) -> VarianceSplit | None:
    """The estimate of the module docstring from the runs of each split (``groups``: one list per split). None
    when it cannot be made: fewer than 2 splits, or no split with 2 runs (no within-split spread to measure)."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    a, N = len(groups), sum(len(g) for g in groups)
    if a < 2 or N - a < 1:
        return None
    n_i = np.array([len(g) for g in groups], dtype=float)
    means = np.array([g.mean() for g in groups])
    grand = np.concatenate(groups).mean()
    msb = float((n_i * (means - grand) ** 2).sum() / (a - 1))
    msw = float(sum(((g - g.mean()) ** 2).sum() for g in groups) / (N - a))
    n0 = (N - (n_i ** 2).sum() / N) / (a - 1)
    var_split = max(0.0, (msb - msw) / n0)
    total = var_split + msw
    p = float(stats.f.sf(msb / msw, a - 1, N - a)) if msw > 0 else float("nan")
    return VarianceSplit(a, N, float(np.sqrt(var_split)), float(np.sqrt(msw)),
                         float(var_split / total) if total > 0 else float("nan"), p)


def cell_variance_split(cell) -> VarianceSplit | None:
    """The variance split of a cell's selected point (:mod:`limitlab.report.cells`); None without several runs on
    one split (a study without ``train_seeds``)."""
    if cell.selected is None:
        return None
    by_split = cell.selected.done_by_split()
    if all(len(recs) < 2 for recs in by_split.values()):
        return None
    return variance_split([[float(r.result["test_acc"]) for r in by_split[s]] for s in sorted(by_split)])


VARIANCE_INT_COLUMNS = ("variance_splits", "variance_runs")


def variance_columns(cell) -> dict:
    """table.csv's columns of the variance split (none for a cell without one: a study without training seeds
    gets no such columns)."""
    v = cell.variance  # cell_variance_split, once per cell (report.cells.Cell.variance)
    if v is None:
        return {}
    return {"variance_splits": v.splits, "variance_runs": v.runs, "split_std_pct": 100 * v.split_std,
            "train_std_pct": 100 * v.train_std, "split_share": v.split_share, "split_f_p_value": v.f_p_value}
