"""Noisy-label detection: LIMIT's gradient scores, their ranking, and ROC AUC / AP against the truth.

With a = classifier logits and b = q-network logits of a training example with given label ỹ (eval mode, no
augmentation), s the softmax and e_ỹ the one-hot vector of ỹ (Harutyunyan et al., ICML 2020, appendix Figures
A2–A3):

* ``grad_norm`` = ‖s(a) − s(b)‖₂, the norm of the predicted gradient μ of the cross-entropy w.r.t. a;
* ``distance``  = ‖μ − ξ‖₂ = ‖s(b) − e_ỹ‖₂, predicted vs actual cross-entropy gradient ξ = s(a) − e_ỹ: the
  detection score (a large distance means the q-network disagrees with the given label).

:func:`detection_metrics` scores any detector the same way (LIMIT's distance, cleanlab's 1 − self-confidence).
Torch is imported only by :func:`gradient_scores`, so the report can score detectors without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch


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


def gradient_scores(logits_a: torch.Tensor, logits_b: torch.Tensor, given: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-example ‖s(a) − s(b)‖₂ (predicted-gradient norm) and ‖s(b) − e_ỹ‖₂ (distance to the CE gradient)."""
    import torch

    sa = torch.softmax(logits_a.float(), 1)
    sb = torch.softmax(logits_b.float(), 1)
    onehot = torch.nn.functional.one_hot(given, sb.shape[1]).float()
    return {"grad_norm": (sa - sb).norm(dim=1).cpu().numpy(), "distance": (sb - onehot).norm(dim=1).cpu().numpy()}


def ranked_suspicious(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """All training examples sorted by distance, largest first (stable, so ties keep the training order)."""
    order = np.argsort(-scores["distance"], kind="stable")
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "train_index": scores["train_index"][order],
        "given_label": scores["given_label"][order],
        "predicted_label": scores["predicted_label"][order],
        "score": scores["distance"][order],
        "is_corrupted": scores["is_corrupted"][order].astype(int),
    })
