"""The q-network's figures (Harutyunyan et al., ICML 2020): ``gradient_histograms_<setting>`` (Figures A2/A3:
predicted-gradient norms and distances to the given label, correct vs corrupted labels) and
``confusing_<setting>`` (Figure 3: the training images whose given label the q-network finds least plausible).

Both use the q-network method (LIMIT) whose selected point has the best mean validation accuracy, at its first
finished seed with train_scores.npz (:func:`pick_q_run`). The ROC AUC in the histograms' title is the one the
evaluation wrote to the run's eval.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from limitlab import io
from limitlab.experiment.paths import RunFiles
from limitlab.report.cells import Cell
from limitlab.report.figures.style import CORRECT_COLOR, CORRUPTED_COLOR, point_label, setup, title_setting

CONFUSING_COUNT = 24        # images in the Figure 3 grid
_CANON_CACHE: dict[str, Any] = {}


def pick_q_run(cells: list[Cell]) -> tuple[Cell, Any] | None:
    """The q-network cell with the best selected mean val accuracy, and its first finished seed with scores."""
    candidates = []
    for cell in cells:
        if cell.selected is None:
            continue
        for rec in cell.selected.done:
            if (Path(rec.run.spec.eval_dir) / RunFiles.TRAIN_SCORES).is_file():
                candidates.append((cell.stats["val_acc"], -len(candidates), cell, rec))
                break
    if not candidates:
        return None
    _, _, cell, rec = max(candidates, key=lambda t: (t[0], t[1]))
    return cell, rec


def gradient_histograms_figure(cell: Cell, rec) -> Any:
    """Figures A2/A3: predicted-gradient norms and predicted-vs-CE distances, correct vs corrupted labels."""
    plt, sns = setup()
    scores = io.load_npz(Path(rec.run.spec.eval_dir) / RunFiles.TRAIN_SCORES, "train scores file")
    # The evaluation scored the same file into eval.json (ROC AUC / AP of the distance); read, never recomputed.
    det = rec.eval or {"detection_auc": None, "detection_note": f"not available: no usable {RunFiles.EVAL}"}
    df = pd.DataFrame({"grad_norm": scores["grad_norm"], "distance": scores["distance"],
                       "label": np.where(scores["is_corrupted"].astype(bool), "corrupted label", "correct label")})
    hue_order = [h for h in ("correct label", "corrupted label") if h in set(df["label"])]
    palette = {"correct label": CORRECT_COLOR, "corrupted label": CORRUPTED_COLOR}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    panels = [("grad_norm", "Predicted gradient norm (Fig. A2)", "‖s(a) − s(b)‖₂"),
              ("distance", "Distance to the cross-entropy gradient (Fig. A3)", "‖s(b) − e_ỹ‖₂")]
    for ax, (col, title, xlabel) in zip(axes, panels):
        sns.histplot(df, x=col, hue="label", hue_order=hue_order, palette=palette, bins=40, stat="density",
                     common_norm=False, element="step", alpha=0.35, ax=ax)
        ax.set(title=title, xlabel=xlabel, ylabel="density (per group)")
    auc, ap = det.get("detection_auc"), det.get("detection_ap")
    auc_text = (f"ROC AUC for finding corrupted labels by distance = {100 * auc:.2f}%"
                + (f", AP = {100 * ap:.2f}%" if ap is not None else "") if auc is not None
                else "ROC AUC undefined (" + str(det.get("detection_note")).split(": ", 1)[-1] + ")")
    n_bad = int(np.sum(scores["is_corrupted"]))
    fig.suptitle(f"{cell.label} ({point_label(cell.selected.point) or 'no hyperparameters'}, seed {rec.run.spec.seed})"
                 f" — {title_setting(cell)}\n"
                 f"{len(df):,} training examples, {n_bad:,} corrupted — {auc_text}", fontsize=11)
    fig.tight_layout()
    return fig


def _training_image(canon, index: int) -> np.ndarray | None:
    if canon.train_x is not None:
        img = canon.train_x[index]
        return img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
    path = Path(str(canon.train_files[index]))
    if not path.is_file():
        return None
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB").resize((128, 128)))


def confusing_figure(cell: Cell, rec, count: int = CONFUSING_COUNT):
    """Figure 3: the training examples whose given label is farthest from the q-network's prediction."""
    from limitlab.data.canonical import load_canonical  # the one data import of the report (report/__init__.py)

    plt, _ = setup()
    suspicious = pd.read_csv(Path(rec.run.spec.eval_dir) / RunFiles.SUSPICIOUS, nrows=count)
    if suspicious.empty:
        return None
    data_path = str(rec.run.spec.data_path)
    if data_path not in _CANON_CACHE:
        _CANON_CACHE.clear()  # one dataset in memory at a time
        _CANON_CACHE[data_path] = load_canonical(data_path)
    canon = _CANON_CACHE[data_path]
    names = canon.info.class_names
    ncol = 8
    nrow = int(np.ceil(len(suspicious) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.8 * ncol, 2.3 * nrow + 0.9), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, row in zip(axes.ravel(), suspicious.itertuples()):
        img = _training_image(canon, int(row.train_index))
        if img is None:
            ax.text(0.5, 0.5, "image\nnot found", ha="center", va="center", fontsize=8)
        else:
            ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None, interpolation="nearest")
        wrong = bool(row.is_corrupted)
        ax.set_title(f"#{row.rank}  d = {row.score:.3f}\ngiven: {names[row.given_label]}\n"
                     f"q-net: {names[row.predicted_label]}", fontsize=8, color=CORRUPTED_COLOR if wrong else "black",
                     fontweight="bold" if wrong else "normal")
    fig.suptitle(f"Most suspicious training labels — {cell.label} ({point_label(cell.selected.point)}, "
                 f"seed {rec.run.spec.seed}), "
                 f"{title_setting(cell)}\nranked by d = ‖s(b) − e_given‖₂; red title = the given label is known "
                 "to be corrupted", fontsize=10)
    fig.tight_layout()
    return fig
