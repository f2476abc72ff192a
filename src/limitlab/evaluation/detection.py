"""Noisy-label detection by LIMIT: its gradient scores and their ranking.

With a = classifier logits and b = q-network logits of a training example with given label ỹ (eval mode, no
augmentation), s the softmax and e_ỹ the one-hot vector of ỹ (Harutyunyan et al., ICML 2020, appendix Figures
A2–A3):

* ``grad_norm`` = ‖s(a) − s(b)‖₂, the norm of the predicted gradient μ of the cross-entropy w.r.t. a;
* ``distance``  = ‖μ − ξ‖₂ = ‖s(b) − e_ỹ‖₂, predicted vs actual cross-entropy gradient ξ = s(a) − e_ỹ: the
  detection score (a large distance means the q-network disagrees with the given label).

Any detector (LIMIT's distance, cleanlab's 1 − self-confidence, the CE loss) is scored the same way by
:mod:`limitlab.detection_metrics`, which the report uses too. Torch is imported only by
:func:`gradient_scores`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch


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
