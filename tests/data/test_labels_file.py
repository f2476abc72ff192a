"""check_labels (limitlab.data.labels_file): what training refuses in a labels file, and that every file the
pipeline writes (a setting's labels.npz, Clothing1M's fixed split, a cross-validation fold's file) passes."""

from __future__ import annotations

import numpy as np
import pytest

from limitlab.data.labels_file import check_labels
from limitlab.data.noise.class_conditional import corrupt, fixed_split
from limitlab.data.noise.transition import transition_matrix
from limitlab.errors import LimitlabError
from limitlab.evaluation.cleanlab_detection import fold_labels

K = 10
N_POOL = 1_000


def setting_arrays(n: int | str = "all") -> dict[str, np.ndarray]:
    clean = np.arange(N_POOL, dtype=np.int64) % K
    return corrupt(clean, transition_matrix("uniform", 0.4, K), seed=3, n=n).arrays()


def test_files_the_pipeline_writes_pass():
    check_labels(setting_arrays(), "labels.npz", N_POOL, K)
    check_labels(setting_arrays(300), "labels.npz", N_POOL, K, 300)
    # Clothing1M: the fixed validation list at the end of the pool, a subsample of the rest for training
    clothing = fixed_split(np.arange(N_POOL) % K, np.arange(900, N_POOL), K, seed=1, n=500).arrays()
    check_labels(clothing, "clothing1m.npz", N_POOL, K, 500)
    # every fold of `limitlab cleanlab split`: the training split minus the held-out fold, validation unchanged
    setting = setting_arrays(300)
    for fold in range(3):
        arrays = fold_labels(setting, 3, fold, seed=5)
        check_labels(arrays, f"fold{fold}.npz", N_POOL, K, 300)
        assert np.intersect1d(arrays["train_index"], arrays["val_index"]).size == 0


def test_repeated_training_indices_are_refused():
    arrays = setting_arrays()
    arrays["train_index"][[10, 20, 30]] = arrays["train_index"][[0, 1, 2]]
    with pytest.raises(LimitlabError) as exc:
        check_labels(arrays, "/runs/labels.npz", N_POOL, K)
    message = str(exc.value)
    first = ", ".join(str(i) for i in np.sort(arrays["train_index"][[0, 1, 2]]))
    assert "/runs/labels.npz" in message and "train_index" in message
    assert "3 index value(s) occur more than once" in message and first in message


def test_repeated_validation_indices_are_refused():
    arrays = setting_arrays()
    arrays["val_index"][5] = arrays["val_index"][4]
    repeated = arrays["val_index"][4]
    with pytest.raises(LimitlabError, match=rf"val_index: 1 index value\(s\) occur more than once \({repeated}\)"):
        check_labels(arrays, "labels.npz", N_POOL, K)


def test_validation_overlapping_training_is_refused_as_a_leak():
    arrays = setting_arrays()
    leaked = arrays["train_index"][:7].copy()
    arrays["val_index"][:7] = leaked
    with pytest.raises(LimitlabError) as exc:
        check_labels(arrays, "/runs/labels.npz", N_POOL, K)
    message = str(exc.value)
    shown = ", ".join(str(i) for i in np.sort(leaked)[:5])
    assert "/runs/labels.npz" in message and "7 example(s)" in message and "leak" in message
    assert f"{shown}, …" in message and "train_index" in message and "val_index" in message
