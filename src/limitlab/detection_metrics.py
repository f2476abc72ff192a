"""How well a detector finds the corrupted labels of a noise realisation: ROC AUC, average precision, and
detection at a budget. Scores are per training example, higher = more likely corrupted; the truth is the
realisation's ``is_corrupted`` (noisy label != clean label).

Used by the evaluation (LIMIT's gradient-score distance in ``eval.json``, cleanlab's scores) and by the report
(every detector of a setting in ``detection.csv``), so it is a top-level module that both may import (it was in
limitlab.evaluation.detection, which the report may not import). numpy; scikit-learn for the AUC and AP.
"""

from __future__ import annotations

import numpy as np


def detection_metrics(scores: np.ndarray, is_corrupted: np.ndarray) -> dict:
    """ROC AUC and average precision of ``scores`` for finding corrupted labels (positives = corrupted).

    Both are undefined when only one class is present (e.g. p = 0); they are then None with a note saying why.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    is_corrupted = np.asarray(is_corrupted, dtype=bool)
    n_pos = int(is_corrupted.sum())
    out = {"n_train": int(len(is_corrupted)), "n_corrupted": n_pos, "detection_auc": None, "detection_ap": None,
           "detection_note": None}
    if n_pos == 0 or n_pos == len(is_corrupted):
        which = "no" if n_pos == 0 else "only"
        out["detection_note"] = f"undefined: the training set has {which} corrupted labels (one class present)"
        return out
    out["detection_auc"] = float(roc_auc_score(is_corrupted, scores))
    out["detection_ap"] = float(average_precision_score(is_corrupted, scores))
    return out


BUDGET_KS = (100, 1000)  # precision at k: the examples a person could check by hand


def budget_metrics(scores: np.ndarray, is_corrupted: np.ndarray, estimate: int | None = None) -> dict:
    """Detection at a budget: flag the k examples with the highest ``scores`` (ties in index order) and count.

    * k = the true number of corrupted labels K: precision = recall = TP / K (one number, reported as both);
    * k = the detector's own estimate of that number (``estimate``, e.g. cleanlab's issues), where it has one;
    * precision at k for k in :data:`BUDGET_KS` up to the training-set size.
    Fractions in [0, 1]; None where undefined (no corrupted label, or no estimate).
    """
    is_corrupted = np.asarray(is_corrupted, dtype=bool)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    hits = np.cumsum(is_corrupted[order])  # hits[k - 1] = corrupted among the top k
    n, positives = len(is_corrupted), int(is_corrupted.sum())

    def precision(k: int) -> float | None:
        return None if k <= 0 or k > n else float(hits[k - 1] / k)

    out = {"precision_at_noise_rate": precision(positives) if positives else None}
    out["recall_at_noise_rate"] = out["precision_at_noise_rate"]
    out["k_estimate"] = None if estimate is None else int(estimate)
    out["precision_at_estimate"] = None if estimate is None else precision(int(estimate))
    out["recall_at_estimate"] = (None if estimate is None or not positives or not 0 < estimate <= n
                                 else float(hits[int(estimate) - 1] / positives))
    for k in BUDGET_KS:
        out[f"precision_at_{k}"] = precision(k)
    return out
