"""The labels artifact of one data setting: ``labels.npz`` + its summary ``labels.json`` (docs/methods.md,
"Noise models").

A setting is (dataset, noise model, p, n, seed, val_ratio, clean_validation) (:class:`NoiseSetting`); its
draw (:class:`NoisyLabels`: split indices, clean and noisy labels, T) is made by one of the models of
:mod:`limitlab.data.noise`. This module owns the file: :func:`write_labels` (byte-identical for identical
inputs), :func:`summarize` (realised and expected noise rates, per-class rates, clean→noisy counts) and
:func:`check_labels` (what training refuses). ``train_clean`` is -1 where the clean label is unknown
(Clothing1M).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from limitlab import __version__
from limitlab.data.content_identity import noise_id
from limitlab.data.noise.transition import NOISE_MODELS
from limitlab.errors import LimitlabError
from limitlab.io import check_npz_out, save_npz, sha256_file, write_json


@dataclass(frozen=True)
class NoiseSetting:
    """Everything that determines one labels artifact."""

    dataset: str
    noise: str
    p: float
    n: int | None
    seed: int
    val_ratio: float | None  # None: the dataset's fixed split (clothing1m)
    clean_validation: bool
    n_val: int | None = None  # a validation size of its own (limitlab.data.split, step 3); None: the held-out part


@dataclass(frozen=True)
class NoisyLabels:
    """Indices into the canonical training set and their clean/noisy labels (int64), plus T (float64).

    ``train_clean`` is -1 where the clean label is unknown (Clothing1M's noisy list).
    """

    setting: NoiseSetting
    train_index: np.ndarray
    val_index: np.ndarray
    train_clean: np.ndarray
    train_noisy: np.ndarray
    val_clean: np.ndarray
    val_noisy: np.ndarray
    transition: np.ndarray
    details: dict = field(default_factory=dict)  # model-specific summary entries (instance, human)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("train_index", "val_index", "train_clean", "train_noisy",
                                              "val_clean", "val_noisy", "transition")}



def _rate(clean: np.ndarray, noisy: np.ndarray) -> float | None:
    if len(clean) == 0 or np.any(clean < 0):
        return None  # empty, or clean labels unknown
    return float(np.mean(clean != noisy))


def _per_class_rate(clean: np.ndarray, noisy: np.ndarray, K: int) -> list[float | None] | None:
    if np.any(clean < 0):
        return None
    total = np.bincount(clean, minlength=K)
    wrong = np.bincount(clean[clean != noisy], minlength=K)
    return [float(w / t) if t else None for w, t in zip(wrong, total)]


def _expected_rate(clean: np.ndarray, T: np.ndarray) -> float | None:
    if len(clean) == 0 or np.any(clean < 0):
        return None
    return float(np.mean(1.0 - T[clean, clean]))


def summarize(labels: NoisyLabels) -> dict:
    """The JSON-ready summary of a labels artifact (without the file's checksum)."""
    s, T = labels.setting, labels.transition
    K = T.shape[0]
    tc, tn, vc, vn = labels.train_clean, labels.train_noisy, labels.val_clean, labels.val_noisy
    known = not np.any(tc < 0)
    counts = np.bincount(tc * K + tn, minlength=K * K).reshape(K, K).tolist() if known else None
    return {
        "dataset": s.dataset,
        "noise": s.noise,
        "noise_definition": NOISE_MODELS.get(s.noise, ""),
        "p": s.p,
        "n": s.n if s.n is not None else "all",
        "seed": s.seed,
        "val_ratio": s.val_ratio,
        "split": "random (RandomState(seed).permutation)" if s.val_ratio is not None else "fixed (dataset lists)",
        "clean_validation": s.clean_validation,
        **({"n_val": s.n_val} if s.n_val is not None else {}),  # absent by default: older summaries stay as written
        "num_classes": K,
        "sizes": {"train": int(len(tc)), "val": int(len(vc))},
        "expected_noise_rate": {"train": _expected_rate(tc, T),
                                "val": 0.0 if s.clean_validation else _expected_rate(vc, T)},
        "realised_noise_rate": {"train": _rate(tc, tn), "val": _rate(vc, vn)},
        "realised_noise_rate_per_class": {"train": _per_class_rate(tc, tn, K), "val": _per_class_rate(vc, vn, K)},
        "class_counts": {
            "train_clean": np.bincount(tc, minlength=K).tolist() if known else None,
            "train_noisy": np.bincount(tn, minlength=K).tolist(),
            "val_noisy": np.bincount(vn, minlength=K).tolist(),
        },
        "transition_counts_train": counts,
        "corrupted_mask": "train_clean != train_noisy (and val_clean != val_noisy)",
        "rng": "numpy.random.RandomState(seed): permutation, [choice], random_sample(train), random_sample(val)",
        "limitlab_version": __version__,
        **labels.details,
    }


def write_labels(out: str | os.PathLike, labels: NoisyLabels, extra: dict | None = None) -> dict:
    """Write ``labels.npz`` (arrays of :class:`NoisyLabels`) and its summary JSON (``out.with_suffix('.json')``).

    Both files are byte-identical for identical inputs (no timestamps, sorted keys). ``extra`` entries
    (e.g. the data file's sha256) are added to the summary. Returns the summary as written.
    """
    out = check_npz_out(out, "summary")
    summary = summarize(labels)
    summary.update(extra or {})
    save_npz(out, **labels.arrays())
    summary["labels_file"] = out.name
    summary["labels_sha256"] = sha256_file(out)
    summary["noise_id"] = noise_id(labels.arrays())  # the realisation's content identity
    try:
        write_json(out.with_suffix(".json"), summary)
    except BaseException:
        out.unlink(missing_ok=True)  # labels without their summary would look finished to the pipeline
        raise
    return summary


def _first_few(values: np.ndarray, shown: int = 5) -> str:
    """The first ``shown`` of sorted ``values`` for a message, with '…' when there are more."""
    return ", ".join(str(v) for v in values[:shown]) + (", …" if len(values) > shown else "")


LABEL_ARRAYS = ("train_index", "train_noisy", "train_clean", "val_index", "val_noisy", "val_clean")


def check_labels(arrays: dict[str, np.ndarray], path, n_pool: int, num_classes: int,
                 n: int | str | None = None) -> dict[str, np.ndarray]:
    """Refuse a labels file that would train on something else than it claims, before any training starts.

    Required: the six arrays of :class:`NoisyLabels`, 1-D integers; per split, index/noisy/clean of one length;
    indices in 0..n_pool-1, each at most once per split and never in both splits (a leak); noisy labels in
    0..K-1, clean labels in -1..K-1 (-1 = unknown, Clothing1M); with an integer ``n``, exactly n training
    examples; a transition matrix, when present, K x K.
    """
    where = f"labels file {path}"
    missing = [k for k in LABEL_ARRAYS if k not in arrays]
    if missing:
        raise LimitlabError(f"{where} lacks {missing} (has {sorted(arrays)}); rebuild it with the corrupt stage "
                            "(limitlab corrupt, or delete it and rerun the pipeline)")
    for name in LABEL_ARRAYS:
        a = arrays[name]
        if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
            raise LimitlabError(f"{where}: {name} must be a 1-D integer array, got {a.dtype} with shape {a.shape}; "
                                "labels and indices are never rounded")
    for split in ("train", "val"):
        sizes = {k: len(arrays[f"{split}_{k}"]) for k in ("index", "noisy", "clean")}
        if len(set(sizes.values())) != 1:
            raise LimitlabError(f"{where}: the {split} arrays differ in length ("
                                + ", ".join(f"{split}_{k}: {v}" for k, v in sizes.items()) + "); they must match")
        idx = arrays[f"{split}_index"]
        if len(idx) and (idx.min() < 0 or idx.max() >= n_pool):
            raise LimitlabError(f"{where}: {split}_index has entries outside 0..{n_pool - 1} (min {idx.min()}, max "
                                f"{idx.max()}); it was written for another dataset")
        for kind, low in (("noisy", 0), ("clean", -1)):
            y = arrays[f"{split}_{kind}"]
            if len(y) and (y.min() < low or y.max() >= num_classes):
                raise LimitlabError(f"{where}: {split}_{kind} has labels outside {low}..{num_classes - 1} "
                                    f"(min {y.min()}, max {y.max()}); the dataset has {num_classes} classes")
    if len(arrays["train_index"]) == 0:
        raise LimitlabError(f"{where}: the training split is empty")
    for split in ("train", "val"):
        values, counts = np.unique(arrays[f"{split}_index"], return_counts=True)
        repeated = values[counts > 1]
        if len(repeated):
            # a repeated example is trained (or validated) on more often than the others: another distribution
            raise LimitlabError(f"{where}: {split}_index: {len(repeated)} index value(s) occur more than once "
                                f"({_first_few(repeated)}); every example must appear once. Rebuild it with the "
                                "corrupt stage")
    leaked = np.intersect1d(arrays["train_index"], arrays["val_index"])
    if len(leaked):
        raise LimitlabError(f"{where}: {len(leaked)} example(s) are in both train_index and val_index "
                            f"({_first_few(leaked)}): a leak, model selection would see training examples. The "
                            "splits must be disjoint; rebuild it with the corrupt stage")
    if isinstance(n, int) and not isinstance(n, bool):
        # a cross-validation fold's file (limitlab cleanlab split) trains on the setting's n minus its held-out fold
        expected = n - len(arrays["heldout_position"]) if "heldout_position" in arrays else n
        if len(arrays["train_index"]) != expected:
            what = f"this run is n = {n}" + (f" less a held-out fold of {n - expected}" if expected != n else "")
            raise LimitlabError(f"{where} has {len(arrays['train_index'])} training examples but {what}; "
                                "rebuild it with the corrupt stage")
    T = arrays.get("transition")
    if T is not None and T.shape != (num_classes, num_classes):
        raise LimitlabError(f"{where}: transition has shape {T.shape}, expected ({num_classes}, {num_classes})")
    return arrays
