"""detection.csv: every detector of the corrupted training labels
(the q-network methods, cleanlab, the trivial CE-loss detector) per setting (docs/methods.md, "Detection")."""

from __future__ import annotations

import json

import pandas as pd

from limitlab.report.cells import Cell
from limitlab.report.summary import no_noise_settings, without_detection_numbers


def detection_frame(cells: list[Cell], cleanlab: list[dict], budget: list[dict] | None = None) -> pd.DataFrame:
    """detection.csv: per setting, every detector's ROC AUC / AP (%) for finding the corrupted training labels:
    the q-network methods (selected point, seed mean) and cleanlab (with its own estimates beside the truth);
    with ``budget`` (:func:`limitlab.report.detection_budget.budget_rows`) also the trivial CE-loss detector and,
    for every detector, precision / recall (%) when flagging as many examples as the true noise count and as its
    own estimate, and precision at 100 and 1,000. ``no_noise``: the setting's training labels hold no corrupted
    label; those rows' detection numbers are empty (:func:`~limitlab.report.summary.without_detection_numbers`)."""
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
    pct = lambda v: None if v is None else 100 * v  # noqa: E731
    by_key = {(r["setting"], r["detector"]): r for r in rows}
    for b in budget or []:
        row = by_key.get((b["setting"], b["detector"]))
        if row is None:  # the CE-loss detector: only here
            row = {"setting": b["setting"], "detector": b["detector"], "label": b["label"], "p": b["p"],
                   "detection_auc_pct": pct(b["detection_auc"]), "detection_ap_pct": pct(b["detection_ap"])}
            rows.append(row)
            by_key[(b["setting"], b["detector"])] = row
        row.update({f"{name}_pct": pct(b[name]) for name in BUDGET_PCT}, k_estimate=b["k_estimate"],
                   n_train=b["n_train"], n_corrupted=b["n_corrupted"], budget_seeds=b["n_seeds"])
    cols = ["setting", "detector", "label", "p", "detection_auc_pct", "detection_ap_pct",
            *[f"{name}_pct" for name in BUDGET_PCT], "k_estimate", "n_train", "n_corrupted", "budget_seeds",
            "n_issues", "issues_precision", "issues_recall", "noise_rate_estimate", "noise_rate_true",
            "noise_matrix_mae", "noise_matrix_estimate", "noise_matrix_true"]
    order = {s: i for i, s in enumerate(dict.fromkeys([c.key for c in cells] + [r["setting"] for r in rows]))}
    rows.sort(key=lambda r: order[r["setting"]])  # stable: detectors keep their order within a setting
    return without_detection_numbers(pd.DataFrame(rows, columns=cols), no_noise_settings(cells, cleanlab, budget))


BUDGET_PCT = ("precision_at_noise_rate", "recall_at_noise_rate", "precision_at_estimate", "recall_at_estimate",
              "precision_at_100", "precision_at_1000")


