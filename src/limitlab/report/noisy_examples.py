"""Which of my labels are wrong? One row per training example of a run, most suspicious first.

For a run of any method: its training split's ``train_index`` (the position in the dataset's training file),
the ``given_label`` it trained on and the ``clean_label`` where the dataset knows it (``is_corrupted`` then says
whether the given label is wrong; for a user's own labels the clean one is unknown and left empty), and every
suspicion score the pipeline has for that example, higher = more suspicious:

* ``q_distance`` — LIMIT's (and soft regularisation's) q-network: ‖s(b_i) − e_ỹi‖₂, the distance between the
  label the q-network predicts and the given one (``train_scores.npz`` of the run's evaluation);
* ``ce_loss`` — the trivial detector: the CE model's loss on its own training label (``train_loss.npz``);
* ``cleanlab_score`` — 1 − self-confidence of the setting's cross-validated CE models (cleanlab, for studies
  with a ``cleanlab:`` block).

Rows are sorted by the run's own score (q_distance, else ce_loss, else cleanlab_score; stable, so ties keep the
training order), and ``rank`` numbers them. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from limitlab import io
from limitlab.errors import LimitlabError
from limitlab.experiment.paths import CleanlabFiles, RunFiles

SCORES = ("q_distance", "ce_loss", "cleanlab_score")  # in the order that sorts a run's rows


def _aligned(index: np.ndarray, other_index: np.ndarray, values: np.ndarray, what: Path) -> np.ndarray:
    """``values`` (given per ``other_index``) in the order of ``index``; every example must be there."""
    where = {int(i): k for k, i in enumerate(other_index)}
    missing = [int(i) for i in index if int(i) not in where]
    if missing:
        raise LimitlabError(f"{what} has no score for training example {missing[0]} (and {len(missing) - 1} more): "
                            "it was written for another split; rerun the run's job")
    return np.asarray(values)[[where[int(i)] for i in index]]


def noisy_examples(spec, cleanlab_dir: Path | None = None) -> pd.DataFrame:
    """The table of the module docstring for one run (a RunSpec), from its labels file and evaluation files."""
    labels = io.load_npz(spec.labels_path, "labels file")
    index, given, clean = labels["train_index"], labels["train_noisy"], labels["train_clean"]
    known = bool(len(clean)) and bool((clean >= 0).all())
    frame = pd.DataFrame({"train_index": index, "given_label": given})
    frame["clean_label"] = pd.array(clean, dtype="Int64") if known else pd.array([pd.NA] * len(index), dtype="Int64")
    frame["is_corrupted"] = pd.array((given != clean).astype(int), dtype="Int64") if known else \
        pd.array([pd.NA] * len(index), dtype="Int64")
    sources = [("q_distance", Path(spec.eval_dir) / RunFiles.TRAIN_SCORES, "distance"),
               ("ce_loss", Path(spec.eval_dir) / RunFiles.TRAIN_LOSS, "loss")]
    if cleanlab_dir is not None:
        sources.append(("cleanlab_score", Path(cleanlab_dir) / CleanlabFiles.PROBS, "label_quality"))
    for column, path, key in sources:
        if not path.is_file():
            continue
        arrays = io.load_npz(path, f"{column} scores")
        values = _aligned(index, arrays["train_index"], arrays[key], path)
        frame[column] = 1.0 - values if column == "cleanlab_score" else values
    own = next((c for c in SCORES if c in frame), None)
    if own is not None:
        frame = frame.iloc[np.argsort(-frame[own].to_numpy(), kind="stable")].reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame
