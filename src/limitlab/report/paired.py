"""Paired comparisons over splits: does a method beat a reference on the same splits, by how much, how sure are we.

For a method cell and a reference cell of the same setting, both at the point the paper's rule selected
(:mod:`limitlab.report.cells`), the seeds both finished are the pairs: seed s is the same split, the same noisy
labels and the same test set for both. Per pair, the difference of clean test accuracies d_s = acc_method(s) −
acc_reference(s). Reported:

* the mean difference d̄ = (1/n) Σ_s d_s. A study with ``train_seeds`` has several runs per split: acc(s) is the
  mean over the split's training seeds, so the pairs stay the splits;
* a percentile interval (``bootstrap.ci``, ``bootstrap.samples`` draws, ``bootstrap.seed``) from a two-level
  bootstrap: draw n seeds with replacement, and for each drawn seed resample its test set with replacement, the
  same examples for both methods (paired), so the interval carries both the split-to-split spread and the finite
  test set. With one seed it rests on the test resampling alone (marked wherever it is shown). A test-set
  resample of the per-example difference c_i = correct_method(i) − correct_reference(i) ∈ {−1, 0, 1} has mean
  (N₊ − N₋)/T with (N₊, N₋, N₀) ~ Multinomial(T; the observed shares): drawn exactly, without T-sized index arrays
  (with several training seeds per split, c_i is the difference of the seeds' mean correctness, and the multinomial
  runs over its distinct values);
* wins / ties / losses over the pairs;
* a two-sided Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`) on the d_s where there are ≥ 5 pairs; with
  fewer none is done (with 4 pairs the smallest two-sided p is 0.125). With 5 pairs the smallest is 0.0625, so no
  5-split comparison can reach p < 0.05: the interval is the verdict, the p-value its context.

References: ``comparisons.reference`` (CE by default) and, with ``comparisons.best_baseline``, the best baseline
of the setting (the non-LIMIT method with the highest selected test accuracy other than the method itself; no
second row where that is the reference).

Each comparison carries whether the selection of either cell is a coin toss
(:attr:`limitlab.report.selection_reliability.Reliability.coin_toss`; unknown where it was not computed): paired.csv's
``method_coin_toss``, ``reference_coin_toss`` and ``coin_toss`` (either side), the mark in table.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from limitlab.experiment.paths import RunFiles
from limitlab.report.run_outputs import first_best

MIN_PAIRS_FOR_TEST = 5


@dataclass(frozen=True)
class PairedStats:
    """A paired difference (fractions) over the seeds in ``seeds``."""

    seeds: list[int]
    diffs: list[float]
    mean: float
    low: float
    high: float
    interval: str            # how the interval was made
    wins: int
    ties: int
    losses: int
    p_value: float | None
    test: str                # 'wilcoxon' or why none was done

    @property
    def n(self) -> int:
        return len(self.seeds)


def test_correct(rec) -> np.ndarray | None:
    """Per clean-test example (in test-set order), 1 if the run's selected checkpoint classified it right."""
    path = Path(rec.run.spec.eval_dir) / RunFiles.PREDICTIONS
    try:
        with np.load(path) as z:
            logits, labels, index = z["logits"], z["labels"], z["index"]
    except (OSError, KeyError, ValueError):
        return None
    correct = (np.asarray(logits).argmax(1) == np.asarray(labels)).astype(np.int8)
    return correct[np.argsort(index, kind="stable")]


def paired_stats(a: dict[int, float], b: dict[int, float] | float, samples: int, seed: int, ci: float,
                 correct_a: dict[int, np.ndarray] | None = None,
                 correct_b: dict[int, np.ndarray] | None = None) -> PairedStats | None:
    """The paired difference a − b over the seeds in both (``b`` a number: against that constant). With the
    per-example ``correct_*`` vectors of every pair, the interval resamples the test sets too. None: no pair."""
    seeds = sorted(a) if not isinstance(b, dict) else sorted(set(a) & set(b))
    if not seeds:
        return None
    diffs = np.array([a[s] - (b[s] if isinstance(b, dict) else b) for s in seeds], dtype=float)
    rng = np.random.default_rng(seed)
    paired_tests = (isinstance(b, dict) and correct_a is not None and correct_b is not None
                    and all(s in correct_a and s in correct_b and correct_a[s].shape == correct_b[s].shape
                            for s in seeds))
    if paired_tests:
        per_seed = np.empty((len(seeds), samples))
        for k, s in enumerate(seeds):
            c = np.asarray(correct_a[s], dtype=float) - correct_b[s]
            t = len(c)
            values = np.array([1.0, -1.0, 0.0]) if np.isin(c, (-1.0, 0.0, 1.0)).all() else np.unique(c)
            shares = np.array([(c == v).sum() for v in values], dtype=float) / t
            counts = rng.multinomial(t, shares, size=samples)
            # centred on the run's own accuracy difference (which can differ from the test-set one only by
            # rounding in result.json)
            per_seed[k] = counts @ values / t - c.mean() + diffs[k]
        how = "two-level bootstrap: seeds, then each seed's test set (paired)"
    else:
        per_seed = np.repeat(diffs[:, None], samples, axis=1)
        how = "bootstrap over seeds"
    if len(seeds) > 1:
        draw = rng.integers(len(seeds), size=(samples, len(seeds)))
        boot = per_seed[draw, np.arange(samples)[:, None]].mean(axis=1)
    else:
        boot = per_seed[0]
        how = ("bootstrap of the test set of one seed (paired)" if paired_tests
               else "one seed and no test predictions: no interval")
    low, high = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2])
    p_value, test = None, f"no test: {len(seeds)} pair(s), the signed-rank test needs {MIN_PAIRS_FOR_TEST}"
    if len(seeds) >= MIN_PAIRS_FOR_TEST:
        test = "wilcoxon"
        if np.all(diffs == 0):
            p_value = 1.0
        else:
            from scipy.stats import wilcoxon

            p_value = float(wilcoxon(diffs, alternative="two-sided").pvalue)
    eps = 1e-12
    return PairedStats(seeds, [float(d) for d in diffs], float(diffs.mean()), float(low), float(high), how,
                       int((diffs > eps).sum()), int((np.abs(diffs) <= eps).sum()), int((diffs < -eps).sum()),
                       p_value, test)


# ---------------------------------------------------------------------------------------------------------------
# Cells against their references
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    setting: str
    method_id: str
    label: str
    reference_id: str
    reference_label: str
    kind: str                # 'reference' (comparisons.reference) or 'best_baseline'
    stats: PairedStats
    notes: list[str] = field(default_factory=list)
    method_coin_toss: bool | None = None     # the selection of the method's cell is a coin toss (None: not known)
    reference_coin_toss: bool | None = None

    @property
    def coin_toss(self) -> bool | None:
        """Either side's selection is a coin toss (None: neither is known to be, and one is not known)."""
        sides = (self.method_coin_toss, self.reference_coin_toss)
        return True if True in sides else (None if None in sides else False)


def seed_values(point, metric: str = "test_acc") -> dict[int, float]:
    """Split seed → the metric of the point's finished runs: test_acc (result.json), detection_auc (eval.json) or
    train_acc_noisy_last (the last row of history.csv); the mean over the split's training seeds where it has
    several."""
    out = {}
    for seed, recs in point.done_by_split().items():
        vals = [v for v in (_value(rec, metric) for rec in recs) if v is not None]
        if vals:
            out[seed] = vals[0] if len(vals) == 1 else float(np.mean(vals))
    return out


def _value(rec, metric: str) -> float | None:
    """One finished run's number for :func:`seed_values` (None when missing or not finite)."""
    if metric == "test_acc":
        v = rec.result.get("test_acc")
    elif metric == "detection_auc":
        v = (rec.eval or {}).get("detection_auc")
    else:
        from limitlab.report.run_outputs import read_history

        df, _ = read_history(rec.run, rec.result)
        v = None if df is None or "train_acc_noisy" not in df or df.empty else float(df["train_acc_noisy"].iloc[-1])
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def seed_correct(point) -> dict[int, np.ndarray]:
    """Split seed → per test example, whether the run got it right (0/1); with several training seeds the mean over
    them (a split where one of them lacks predictions is left out)."""
    out = {}
    for seed, recs in point.done_by_split().items():
        correct = [test_correct(rec) for rec in recs]
        if all(c is not None for c in correct) and len({c.shape for c in correct}) == 1:
            out[seed] = correct[0] if len(correct) == 1 else np.mean(correct, axis=0)
    return out


def baseline_ids(study) -> set[str]:
    """The method ids of the study that are not LIMIT (the paper's baselines: CE, CE + GN / LN, MAE, FW, DMI, Soft
    reg., and the others)."""
    return {m.row_id for m in study.methods if m.method != "limit"}


def is_baseline(cell) -> bool:
    return cell.method_id in baseline_ids(cell.study)


def coin_toss(cell) -> bool | None:
    """Whether the paper's rule's selection of the cell is a coin toss; None where its reliability was not computed."""
    return None if cell.reliability is None else bool(cell.reliability.coin_toss)


def compare_cells(cells: list, reference: str, best_baseline: bool, boot) -> list[Comparison]:
    """Every method cell with a selected point against the reference (and the best baseline) of its setting."""
    by_setting: dict[str, list] = {}
    for c in cells:
        if c.selected is not None:
            by_setting.setdefault(c.key, []).append(c)
    out = []
    cache: dict[int, tuple] = {}

    def data(cell):
        if id(cell) not in cache:
            cache[id(cell)] = (seed_values(cell.selected), seed_correct(cell.selected))
        return cache[id(cell)]

    for key, group in by_setting.items():
        refs = []
        ref = next((c for c in group if c.method_id == reference), None)
        if ref is not None:
            refs.append(("reference", ref))
        if best_baseline:
            baselines = [c for c in group if is_baseline(c)]
            for cell in group:
                rivals = [b for b in baselines if b is not cell]
                if rivals:
                    best = rivals[int(first_best([b.stats["test_acc"] for b in rivals]))]
                    if best.method_id != reference:  # else the reference row already is this comparison
                        refs.append(("best_baseline", (cell, best)))
        for kind, target in refs:
            pairs = ([(cell, target) for cell in group if cell is not target] if kind == "reference" else [target])
            for cell, r in pairs:
                (va, ca), (vb, cb) = data(cell), data(r)
                stats = paired_stats(va, vb, boot.samples, boot.seed, boot.ci, ca, cb)
                if stats is None:
                    continue
                notes = ["interval from one seed"] if stats.n == 1 else []
                out.append(Comparison(key, cell.method_id, cell.label, r.method_id, r.label, kind, stats, notes,
                                      coin_toss(cell), coin_toss(r)))
    return out


COIN_COLUMNS = ("method_coin_toss", "reference_coin_toss", "coin_toss")  # in paired.csv and claims.csv


def paired_frame(comparisons: list[Comparison]):
    """paired.csv: one row per (setting, method, reference), differences in percentage points."""
    import pandas as pd

    rows = [{"setting": c.setting, "method_id": c.method_id, "label": c.label, "reference_kind": c.kind,
             "reference_id": c.reference_id, "reference_label": c.reference_label, "n_pairs": c.stats.n,
             "seeds": " ".join(map(str, c.stats.seeds)), "diff_pct": 100 * c.stats.mean,
             "ci_low_pct": 100 * c.stats.low, "ci_high_pct": 100 * c.stats.high, "interval": c.stats.interval,
             "wins": c.stats.wins, "ties": c.stats.ties, "losses": c.stats.losses,
             "wilcoxon_p": c.stats.p_value, "test": c.stats.test,
             "per_seed_diff_pct": " ".join(f"{100 * d:.2f}" for d in c.stats.diffs), "note": "; ".join(c.notes),
             "method_coin_toss": c.method_coin_toss, "reference_coin_toss": c.reference_coin_toss,
             "coin_toss": c.coin_toss}
            for c in comparisons]
    cols = ["setting", "method_id", "label", "reference_kind", "reference_id", "reference_label", "n_pairs", "seeds",
            "diff_pct", "ci_low_pct", "ci_high_pct", "interval", "wins", "ties", "losses", "wilcoxon_p", "test",
            "per_seed_diff_pct", "note", *COIN_COLUMNS]
    return pd.DataFrame(rows, columns=cols).astype({c: "boolean" for c in COIN_COLUMNS})  # unknown: empty, not False


def add_paired_metrics(metrics: dict, comparisons: list[Comparison], cells: list) -> dict:
    """metrics.json keys ``<cell>.<method>.vs_<ref>_{diff, ci_low, ci_high, wins, n_pairs, wilcoxon_p}`` for complete
    cells only, like the cells' own keys. Only the fixed reference: the best baseline is whichever baseline leads,
    so its keys would change for every method when one baseline changes, and `dvc metrics diff` would blame them
    all (paired.csv has those rows)."""
    complete = {(c.key, c.method_id) for c in cells if c.status == "ok"}
    for c in comparisons:
        if (c.setting, c.method_id) not in complete or c.kind != "reference":
            continue
        node = metrics
        for part in (*c.setting.split("/"), c.method_id):
            node = node.setdefault(part, {})
        prefix = f"vs_{c.reference_id}"
        values = {"diff": c.stats.mean, "ci_low": c.stats.low, "ci_high": c.stats.high, "wins": c.stats.wins,
                  "n_pairs": c.stats.n, "wilcoxon_p": c.stats.p_value}
        node.update({f"{prefix}_{k}": v for k, v in values.items() if v is not None})
    return metrics


