"""Bootstrap error bars of a test accuracy (the single-run CIFAR/Clothing1M columns of Harutyunyan et al., ICML 2020).

Resample the test set B times with replacement (same size n), recompute the accuracy of each resample and report
the mean, the NumPy ``std`` (ddof = 0, as the authors) and a percentile interval. All resamples are drawn at once
as one (B × n) index matrix from ``numpy.random.default_rng(seed)``, so the result depends only on the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from limitlab import io
from limitlab.errors import LimitlabError


def bootstrap_accuracy(correct: np.ndarray, samples: int = 1000, seed: int = 0, ci: float = 0.95) -> dict:
    """Bootstrap statistics of ``mean(correct)``; ``correct`` is a boolean (or 0/1) vector, one entry per example.

    accuracy_b = mean(correct[idx_b]), idx_b ~ Uniform{0..n−1}ⁿ for b = 1..B;
    std = sqrt(mean_b (accuracy_b − mean)²) (ddof = 0); interval = percentiles (1 ± ci)/2 of accuracy_b.
    """
    correct = np.asarray(correct, dtype=bool).reshape(-1)
    n = len(correct)
    if n == 0:
        raise LimitlabError("cannot bootstrap an empty test set")
    if samples < 1:
        raise LimitlabError(f"--samples must be positive, got {samples}")
    if not 0 < ci < 1:
        raise LimitlabError(f"--ci must be in (0, 1), got {ci}")
    idx = np.random.default_rng(seed).integers(0, n, size=(samples, n))
    accs = correct[idx].mean(axis=1)
    lo, hi = np.percentile(accs, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return {
        "accuracy": float(correct.mean()), "mean": float(accs.mean()), "std": float(accs.std()),
        "ci": ci, "ci_low": float(lo), "ci_high": float(hi), "samples": samples, "seed": seed, "n": n,
        "method": "percentile bootstrap of the clean test set; std with ddof=0 (numpy, as the authors)",
    }


def load_predictions(path: str | Path) -> dict[str, np.ndarray]:
    """predictions.npz of ``limitlab evaluate``: logits (n, K) float32, labels (n,), index (n,)."""
    arrays = io.load_npz(path, "predictions file")
    missing = {"logits", "labels"} - set(arrays)
    if missing:
        raise LimitlabError(f"predictions file {path} lacks {sorted(missing)}; it must come from `limitlab evaluate`")
    if arrays["logits"].ndim != 2 or len(arrays["logits"]) != len(arrays["labels"]):
        raise LimitlabError(f"predictions file {path}: logits {arrays['logits'].shape} do not match labels "
                            f"{arrays['labels'].shape}")
    return arrays


def bootstrap_file(predictions: str | Path, out: str | Path, samples: int = 1000, seed: int = 0,
                   ci: float = 0.95) -> dict:
    pred = load_predictions(predictions)
    result = bootstrap_accuracy(pred["logits"].argmax(1) == pred["labels"], samples, seed, ci)
    result["predictions"] = str(predictions)
    io.write_json(out, result, make_parents=True)
    return result
