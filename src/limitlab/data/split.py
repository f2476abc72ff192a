"""The train/validation split of a raw training file, and the checks of its parameters (docs/methods.md,
"Datasets"; Harutyunyan et al., ICML 2020, hold out 20 % of the training file for validation).

Every labels artifact draws on one ``np.random.RandomState(seed)`` created for it (never the global RNG), so a
setting's draw does not depend on which other settings exist or were generated before; the legacy
``RandomState`` is used because NumPy keeps its stream stable across versions. The split takes the first draws
of that stream (the authors' order):

1. ``perm = rs.permutation(n_raw)``; ``train = perm[:n_train]``, ``val = perm[n_train:]`` with
   ``n_train = int(round((1 - val_ratio) * n_raw))`` (MNIST 48,000/12,000, CIFAR 40,000/10,000, mnist5k 3,200/800);
2. if ``n`` is given: ``train = rs.choice(train, n, replace=False)`` (validation is not shrunk);
3. if a validation size ``n_val`` is given: ``val`` = the first ``n_val`` of ``val`` followed by the training
   part's examples that step 2 left out, in ``perm`` order. No draw is taken, so the training set and the rest of
   the stream are those of step 2, and the validation sets of one seed are nested (200 ⊂ 800 ⊂ 2,000): a sweep over
   ``n_val`` changes the validation set only. ``n_val`` equal to the held-out part's size is the default split.

The noise models (:mod:`limitlab.data.noise`) continue on the same stream. Pure NumPy.
"""

from __future__ import annotations

import numpy as np

from limitlab.errors import LimitlabError


def n_train_split(n_raw: int, val_ratio: float) -> int:
    """Size of the training part: ``int(round((1 - val_ratio) * n_raw))`` (the authors' ``int(0.8 * N)``)."""
    return int(round((1.0 - val_ratio) * n_raw))


def held_out_size(n_raw: int, val_ratio: float) -> int:
    """Size of the held-out (validation) part of step 1: the default validation size."""
    return n_raw - n_train_split(n_raw, val_ratio)


def parse_n(n) -> int | None:
    """``'all'``/None → None (the whole training split); otherwise a positive integer."""
    if n is None or (isinstance(n, str) and n.strip().lower() == "all"):
        return None
    try:
        value = int(n)
        if isinstance(n, float) and n != value:
            raise ValueError
    except (TypeError, ValueError):
        raise LimitlabError(f"training-set size n must be a positive integer or 'all', got {n!r}") from None
    if value < 1:
        raise LimitlabError(f"training-set size n must be a positive integer or 'all', got {n!r}")
    return value


def check_val_ratio(val_ratio, n_raw: int) -> float:
    """``val_ratio`` as a float in (0, 1) that leaves at least one example on each side of the split."""
    try:
        val_ratio = float(val_ratio)
    except (TypeError, ValueError):
        raise LimitlabError(f"val_ratio must be a number in (0, 1), got {val_ratio!r}") from None
    if not (0.0 < val_ratio < 1.0):
        raise LimitlabError(f"val_ratio = {val_ratio} is outside (0, 1); the paper uses 0.2")
    n_train = n_train_split(n_raw, val_ratio)
    if n_train < 1 or n_train >= n_raw:
        raise LimitlabError(f"val_ratio = {val_ratio} leaves {n_train} of {n_raw} examples for training; "
                            "both training and validation need at least one")
    return val_ratio


def max_n_val(n_raw: int, val_ratio: float, n: int | None) -> int:
    """The largest validation size step 3 can give: the held-out part plus what the subsample of ``n`` leaves."""
    return held_out_size(n_raw, val_ratio) + (0 if n is None else max(n_train_split(n_raw, val_ratio) - n, 0))


def check_n_val(n_val, n_raw: int, val_ratio: float, n: int | None) -> int | None:
    """``n_val`` as a positive integer that step 3 can give; None for the held-out part's own size (the default
    split, so that such a setting shares the default's labels and runs)."""
    if n_val is None:
        return None
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or n_val < 1:
        raise LimitlabError(f"validation size n_val must be a positive integer, got {n_val!r}")
    most = max_n_val(n_raw, val_ratio, n)
    if n_val > most:
        raise LimitlabError(
            f"validation size n_val = {n_val} is larger than what the split leaves outside the training set "
            f"({most} of {n_raw} examples at val_ratio {val_ratio:g}, n = {'all' if n is None else n}); "
            f"accepted: 1..{most}")
    return None if n_val == held_out_size(n_raw, val_ratio) else int(n_val)


def draw_split(rs: np.random.RandomState, n_raw: int, val_ratio: float,
               n: int | None, n_val: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Steps 1–3 of the module docstring on the stream ``rs`` (arguments already checked); int64 indices."""
    n_train = n_train_split(n_raw, val_ratio)
    perm = rs.permutation(n_raw)
    train, val = perm[:n_train], perm[n_train:]
    if n is not None:
        if n > len(train):
            raise LimitlabError(f"training-set size n = {n} is larger than the training split "
                                f"({len(train)} of {n_raw} examples at val_ratio {val_ratio}); use n <= {len(train)}")
        pool = train
        train = rs.choice(train, n, replace=False)
        if n_val is not None and n_val > len(val):
            val = np.concatenate([val, pool[~np.isin(pool, train)]])
    if n_val is not None:
        val = val[:n_val]
    return train.astype(np.int64), val.astype(np.int64)


def split_indices(n_raw: int, val_ratio: float, n: int | None, seed: int,
                  n_val: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, val_index) into the raw training file: steps 1–3 of the module docstring."""
    n = parse_n(n)
    val_ratio = check_val_ratio(val_ratio, n_raw)
    n_val = check_n_val(n_val, n_raw, val_ratio, n)
    return draw_split(np.random.RandomState(check_seed(seed)), int(n_raw), val_ratio, n, n_val)


def check_seed(seed) -> int:
    """A seed ``np.random.RandomState`` accepts: an integer (not a bool) in 0..2**32-1."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise LimitlabError(f"seed must be an integer in 0..2**32-1, got {seed!r}")
    return int(seed)
