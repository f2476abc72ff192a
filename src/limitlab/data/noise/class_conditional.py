"""Class-conditional label noise: split, then noisy labels drawn from one class-level T (docs/methods.md,
"Noise models"; the uniform and pair noise of Harutyunyan et al., ICML 2020, Tables 1–2), and Clothing1M's fixed
split with its real noise (Xiao et al., CVPR 2015).

Order of draws, all on the setting's one ``np.random.RandomState(seed)`` (the authors' order):

1–2. the train/validation split and the optional subsample of ``n`` (:mod:`limitlab.data.split`);
3. noisy training labels (in ``train`` order), then noisy validation labels, each by inverse-CDF sampling
   from the rows of T with one ``rs.random_sample(len)`` call
   (:func:`limitlab.data.noise.transition.sample_noisy_labels`).
"""

from __future__ import annotations

import numpy as np

from limitlab.data.labels_file import NoiseSetting, NoisyLabels
from limitlab.data.noise.transition import sample_noisy_labels
from limitlab.data.split import check_n_val, check_seed, check_val_ratio, draw_split, parse_n
from limitlab.errors import LimitlabError


def corrupt(clean_y: np.ndarray, transition: np.ndarray, *, seed: int, n: int | str | None = None,
            val_ratio: float = 0.2, n_val: int | None = None, clean_validation: bool = False, dataset: str = "",
            noise: str = "",
            p: float = 0.0) -> NoisyLabels:
    """Split the raw training labels ``clean_y`` and corrupt them with ``transition`` (module docstring, 1–3).

    With ``clean_validation`` the validation labels stay clean; their uniforms are still drawn (and discarded)
    so the stream is the same as for a noisy validation set. ``dataset``/``noise``/``p`` only label the result.
    """
    clean_y = np.asarray(clean_y, dtype=np.int64)
    K = transition.shape[0]
    if len(clean_y) and (clean_y.min() < 0 or clean_y.max() >= K):
        raise LimitlabError(f"clean labels lie in [{clean_y.min()}, {clean_y.max()}]; the transition matrix "
                            f"has {K} classes")
    n = parse_n(n)
    val_ratio = check_val_ratio(val_ratio, len(clean_y))
    n_val = check_n_val(n_val, len(clean_y), val_ratio, n)
    rs = np.random.RandomState(check_seed(seed))
    train, val = draw_split(rs, len(clean_y), val_ratio, n, n_val)
    train_clean, val_clean = clean_y[train], clean_y[val]
    train_noisy = sample_noisy_labels(rs, train_clean, transition)
    val_noisy = sample_noisy_labels(rs, val_clean, transition)
    if clean_validation:
        val_noisy = val_clean.copy()
    setting = NoiseSetting(dataset, noise, float(p), n, int(seed), val_ratio, bool(clean_validation), n_val)
    return NoisyLabels(setting, train, val, train_clean, train_noisy, val_clean, val_noisy,
                       np.asarray(transition, dtype=np.float64))


def fixed_split(train_y: np.ndarray, fixed_val_index: np.ndarray, num_classes: int, *, seed: int,
                n: int | str | None = None, dataset: str = "clothing1m") -> NoisyLabels:
    """Labels for a dataset with its own noisy labels and clean validation list (Clothing1M; Harutyunyan et al.,
    ICML 2020, Table 2; docs/methods.md, "Datasets").

    train = the non-validation positions (ascending), optionally subsampled with
    ``RandomState(seed).choice(train, n, replace=False)``; val = ``fixed_val_index``. No synthetic noise:
    train_noisy is the list's label, train_clean is -1 (unknown); val_clean = val_noisy (human-checked).
    """
    train_y = np.asarray(train_y, dtype=np.int64)
    val = np.asarray(fixed_val_index, dtype=np.int64)
    is_val = np.zeros(len(train_y), dtype=bool)
    is_val[val] = True
    train = np.flatnonzero(~is_val).astype(np.int64)
    n = parse_n(n)
    rs = np.random.RandomState(check_seed(seed))
    if n is not None:
        if n > len(train):
            raise LimitlabError(f"training-set size n = {n} is larger than the training list ({len(train)} examples)")
        train = rs.choice(train, n, replace=False).astype(np.int64)
    setting = NoiseSetting(dataset, "none", 0.0, n, int(seed), None, True)
    return NoisyLabels(setting, train, val, np.full(len(train), -1, dtype=np.int64), train_y[train],
                       train_y[val], train_y[val].copy(), np.eye(num_classes))
