"""Detection at a budget for every detector of a setting, from the per-example scores the pipeline wrote.

Detectors, each scoring every training example (higher = more likely corrupted):

* the q-network methods (LIMIT): the distance ‖s(b) − e_ỹ‖₂ (``train_scores.npz``), at the selected point;
* the trivial detector, ``ce_loss``: the CE model's own loss on its training labels, in-sample (``train_loss.npz``
  of the CE runs, :mod:`limitlab.evaluation.evaluate`), at CE's selected point;
* cleanlab: 1 − self-confidence of out-of-sample probabilities (``pred_probs.npz``), whose own estimate of the
  number of issues gives the second budget.

Per detector and setting: ROC AUC, AP and :func:`limitlab.detection_metrics.budget_metrics`, each the mean over
the seeds whose score file exists (``n_seeds``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from limitlab.detection_metrics import budget_metrics, detection_metrics
from limitlab.experiment.grid import cleanlab_specs
from limitlab.experiment.paths import CleanlabFiles, RunFiles
from limitlab.report.cells import cleanlab_job_key, setting_prefixes

CE_LOSS, CE_LOSS_LABEL = "ce_loss", "CE loss (in-sample, trivial)"
NUMBERS = ("detection_auc", "detection_ap", "precision_at_noise_rate", "recall_at_noise_rate", "k_estimate",
           "precision_at_estimate", "recall_at_estimate", "precision_at_100", "precision_at_1000")


def _load(path: Path, score: str) -> tuple[np.ndarray, np.ndarray, dict] | None:
    try:
        with np.load(path) as z:
            if score == "label_quality":
                return 1.0 - z["label_quality"], z["is_corrupted"].astype(bool), {"estimate": int(z["is_label_issue"].sum())}
            return z[score], z["is_corrupted"].astype(bool), {}
    except (OSError, KeyError, ValueError):
        return None


def _row(files: list[tuple[Path, str]]) -> dict | None:
    per_seed = []
    for path, score in files:
        loaded = _load(path, score)
        if loaded is None:
            continue
        scores, corrupted, extra = loaded
        per_seed.append({**detection_metrics(scores, corrupted), **budget_metrics(scores, corrupted, extra.get("estimate"))})
    if not per_seed:
        return None
    row = {"n_seeds": len(per_seed), "n_train": per_seed[0]["n_train"],
           "n_corrupted": float(np.mean([r["n_corrupted"] for r in per_seed]))}
    for name in NUMBERS:
        values = [r[name] for r in per_seed if r[name] is not None]
        row[name] = float(np.mean(values)) if values else None
    return row


def budget_view(detection):
    """The rows of detection.csv (:func:`limitlab.report.detection_tables.detection_frame`) that the budget tables show, in
    table.md and on the results page alike: detectors with per-example scores (a precision at the noise count or at
    k = 100). Empty when the file has no budget numbers (written before them, or no score files)."""
    if (detection.empty or "precision_at_noise_rate_pct" not in detection
            or detection["precision_at_noise_rate_pct"].isna().all()):
        return detection.iloc[0:0]
    return detection[detection["precision_at_noise_rate_pct"].notna() | detection["precision_at_100_pct"].notna()]


def budget_rows(cells: list, exp) -> list[dict]:
    """One row per (setting, detector) with a score file: LIMIT methods, the CE-loss detector and cleanlab."""
    rows = []
    for c in cells:
        if c.selected is None:
            continue
        is_ce = any(m.row_id == c.method_id and m.method == "ce" for m in c.study.methods)
        files = [(Path(r.run.spec.eval_dir) / RunFiles.TRAIN_SCORES, "distance") for r in c.selected.done]
        detector, label = c.method_id, c.label
        if is_ce:
            files = [(Path(r.run.spec.eval_dir) / RunFiles.TRAIN_LOSS, "loss") for r in c.selected.done]
            detector, label = (CE_LOSS, CE_LOSS_LABEL) if c.method_id == "ce" else (f"{c.method_id}_loss",
                                                                                     f"{c.label} loss (in-sample)")
        row = _row(files)
        if row is not None:
            rows.append({"setting": c.key, "detector": detector, "label": label, "p": c.p, **row})
    prefixes = setting_prefixes(exp)
    for spec in cleanlab_specs(exp):
        row = _row([(Path(spec.out_dir) / CleanlabFiles.PROBS, "label_quality")])
        if row is not None:
            rows.append({**cleanlab_job_key(spec, prefixes), "p": spec.p, **row})
    return rows
