"""Noise models, the train/validation split and label corruption (methods.md §1.2–§1.4). Pure NumPy.

One labels artifact per setting (dataset, noise model, p, n, seed, val_ratio, clean_validation). Its draw uses
only ``np.random.RandomState(seed)`` created for it (never the global RNG), so it does not depend on which
other settings exist or were generated before. The legacy ``RandomState`` is used because NumPy keeps its
stream stable across versions. Order of draws, all on that one stream (the authors' order):

1. ``perm = rs.permutation(n_raw)``; ``train = perm[:n_train]``, ``val = perm[n_train:]`` with
   ``n_train = int(round((1 - val_ratio) * n_raw))`` (MNIST 48,000/12,000, CIFAR 40,000/10,000, mnist5k 3,200/800);
2. if ``n`` is given: ``train = rs.choice(train, n, replace=False)`` (validation is not shrunk);
3. noisy training labels (in ``train`` order), then noisy validation labels, each by inverse-CDF sampling
   from the rows of T with one ``rs.random_sample(len)`` call (see :func:`sample_noisy_labels`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from limitlab import __version__
from limitlab.errors import LimitlabError
from limitlab.io import save_npz, write_json

ROW_SUM_TOL = 1e-6

# Definitions stored with every labels artifact (users-want.md: name the convention explicitly).
NOISE_MODELS: dict[str, str] = {
    "uniform": "paper's uniform 'error' noise: T_ii = 1-p, T_ij = p/(K-1) for j != i (a corrupted label is "
               "always a different class; expected wrong-label fraction p)",
    "symmetric": "uniform over all K classes: T_ii = 1-p+p/K, T_ij = p/K (the new label may equal the old one; "
                 "expected wrong-label fraction p(K-1)/K)",
    "pair": "one-directional flips src->dst with probability p for the dataset's pairs (cifar10: 9->1, 2->0, "
            "4->7, 3->5): T[src,dst] = p, T[src,src] = 1-p, all other rows identity (LIMIT/DMI 'pair' noise)",
    "matrix": "user-given row-stochastic KxK matrix T[i,j] = P(noisy=j | clean=i) (p is only a label)",
    "none": "no synthetic noise: T = identity (p must be 0)",
}


# ---------------------------------------------------------------------------------------------------------------
# Transition matrices
# ---------------------------------------------------------------------------------------------------------------


def transition_matrix(model: str, p: float, num_classes: int, pairs=None, matrix=None) -> np.ndarray:
    """Row-stochastic ``T[i, j] = P(noisy = j | clean = i)`` (float64, K x K) of a noise model.

    * ``uniform``:   T_ii = 1 - p,          T_ij = p / (K - 1)   (j != i)
    * ``symmetric``: T_ii = 1 - p + p / K,  T_ij = p / K         (j != i)
    * ``pair``:      identity except, for every (src, dst) in ``pairs``: T[src, dst] = p, T[src, src] = 1 - p
    * ``matrix``:    ``matrix`` itself (validated: K x K, finite, non-negative, rows sum to 1 within 1e-6);
      ``p`` is only recorded (the matrix sets the rates)
    * ``none``:      identity; ``p`` must be 0

    ``p`` must lie in [0, 1).
    """
    if model not in NOISE_MODELS:
        raise LimitlabError(f"unknown noise model {model!r}; accepted: {', '.join(NOISE_MODELS)}")
    K = _check_num_classes(num_classes)
    p = _check_p(p)
    if model == "none" and p != 0.0:
        raise LimitlabError(f"noise model 'none' adds no noise, so p must be 0; got p = {p}")
    if model == "uniform":
        if K < 2:
            raise LimitlabError("uniform noise needs at least 2 classes")
        T = np.full((K, K), p / (K - 1))
        np.fill_diagonal(T, 1.0 - p)
    elif model == "symmetric":
        T = np.full((K, K), p / K)
        np.fill_diagonal(T, 1.0 - p + p / K)
    elif model == "pair":
        T = np.eye(K)
        for src, dst in _check_pairs(pairs, K):
            T[src, src] = 1.0 - p
            T[src, dst] = p
    elif model == "matrix":
        T = check_matrix(matrix, K)
    else:
        T = np.eye(K)
    return T


def _check_num_classes(num_classes) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise LimitlabError(f"number of classes must be a positive integer, got {num_classes!r}")
    return int(num_classes)


def _check_p(p) -> float:
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise LimitlabError(f"noise rate p must be a number in [0, 1), got {p!r}") from None
    if not (0.0 <= p < 1.0):  # also rejects NaN
        raise LimitlabError(f"noise rate p = {p} is outside [0, 1); accepted: 0 <= p < 1")
    return p


def _check_pairs(pairs, K: int) -> list[tuple[int, int]]:
    if not pairs:
        raise LimitlabError("noise model 'pair' needs the dataset's (source, destination) class pairs, and none "
                            "are defined for this dataset (pair noise is defined for: cifar10)")
    out = []
    for pair in pairs:
        src, dst = (int(c) for c in pair)
        if not (0 <= src < K and 0 <= dst < K) or src == dst:
            raise LimitlabError(f"pair {tuple(pair)} must name two different classes in 0..{K - 1}")
        out.append((src, dst))
    sources = [s for s, _ in out]
    if len(set(sources)) != len(sources):
        raise LimitlabError(f"pairs {out} flip one source class twice; each source may appear once")
    return out


def check_matrix(matrix, num_classes: int, where: str = "transition matrix") -> np.ndarray:
    """Validate a user transition matrix: square K x K, finite, non-negative, every row summing to 1 (1e-6)."""
    if matrix is None:
        raise LimitlabError("noise model 'matrix' needs a transition matrix (--matrix FILE: .npy, .csv or .txt)")
    try:
        T = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LimitlabError(f"{where} is not numeric ({exc})") from None
    if T.ndim != 2 or T.shape[0] != T.shape[1]:
        raise LimitlabError(f"{where} has shape {T.shape}; it must be square ({num_classes} x {num_classes})")
    if T.shape[0] != num_classes:
        raise LimitlabError(f"{where} is {T.shape[0]} x {T.shape[1]} but the dataset has {num_classes} classes")
    if not np.all(np.isfinite(T)):
        raise LimitlabError(f"{where} has non-finite entries (row {int(np.argwhere(~np.isfinite(T))[0, 0])})")
    if np.any(T < 0):
        r, c = np.argwhere(T < 0)[0]
        raise LimitlabError(f"{where} has a negative entry T[{r},{c}] = {T[r, c]}; entries must be >= 0")
    sums = T.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOL)
    if len(bad):
        raise LimitlabError(f"{where}: row {bad[0]} sums to {sums[bad[0]]:.9g}; every row must sum to 1 "
                            f"(within {ROW_SUM_TOL:g})" + (f" ({len(bad)} bad rows)" if len(bad) > 1 else ""))
    return T


def load_matrix(path: str | os.PathLike, num_classes: int) -> np.ndarray:
    """Read a transition matrix from .npy, .csv (comma separated) or .txt (whitespace separated) and validate it."""
    path = Path(path)
    if not path.is_file():
        raise LimitlabError(f"transition matrix file {path} does not exist")
    try:
        if path.suffix == ".npy":
            T = np.load(path, allow_pickle=False)
        elif path.suffix == ".csv":
            T = np.loadtxt(path, delimiter=",", ndmin=2)
        elif path.suffix == ".txt":
            T = np.loadtxt(path, ndmin=2)
        else:
            raise LimitlabError(f"transition matrix file {path}: unknown format {path.suffix!r}; "
                                "accepted: .npy, .csv, .txt")
    except (ValueError, OSError, EOFError) as exc:
        raise LimitlabError(f"transition matrix file {path} could not be read ({exc})") from exc
    return check_matrix(T, num_classes, where=f"transition matrix {path}")


# ---------------------------------------------------------------------------------------------------------------
# Split and sampling
# ---------------------------------------------------------------------------------------------------------------


def n_train_split(n_raw: int, val_ratio: float) -> int:
    """Size of the training part: ``int(round((1 - val_ratio) * n_raw))`` (the authors' ``int(0.8 * N)``)."""
    return int(round((1.0 - val_ratio) * n_raw))


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


def _check_val_ratio(val_ratio, n_raw: int) -> float:
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


def _split(rs: np.random.RandomState, n_raw: int, val_ratio: float, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    n_train = n_train_split(n_raw, val_ratio)
    perm = rs.permutation(n_raw)
    train, val = perm[:n_train], perm[n_train:]
    if n is not None:
        if n > len(train):
            raise LimitlabError(f"training-set size n = {n} is larger than the training split "
                                f"({len(train)} of {n_raw} examples at val_ratio {val_ratio}); use n <= {len(train)}")
        train = rs.choice(train, n, replace=False)
    return train.astype(np.int64), val.astype(np.int64)


def split_indices(n_raw: int, val_ratio: float, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_index, val_index) into the raw training file: steps 1–2 of the module docstring."""
    n = parse_n(n)
    val_ratio = _check_val_ratio(val_ratio, n_raw)
    return _split(np.random.RandomState(_check_seed(seed)), int(n_raw), val_ratio, n)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise LimitlabError(f"seed must be an integer in 0..2**32-1, got {seed!r}")
    return int(seed)


def _cdf(T: np.ndarray) -> np.ndarray:
    """Row-wise CDF of T, with the tail from each row's last positive entry on set to exactly 1.

    Forcing 1.0 there (instead of a cumsum like 0.9999999999999999) makes sure a uniform u < 1 can never land
    past the last class that has positive probability.
    """
    cdf = np.cumsum(T, axis=1)
    K = T.shape[1]
    last_pos = K - 1 - np.argmax(T[:, ::-1] > 0, axis=1)
    cdf[np.arange(K)[None, :] >= last_pos[:, None]] = 1.0
    return cdf


def sample_noisy_labels(rs: np.random.RandomState, clean: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Draw ``noisy_i ~ T[clean_i, :]`` for all i at once by inverse CDF.

    ``u = rs.random_sample(len(clean))`` (one uniform per example, in order), then
    ``noisy_i = #{j : cdf[clean_i, j] <= u_i}``, i.e. the first class j with ``u_i < cdf[clean_i, j]``;
    so class j is drawn with probability ``cdf[j] - cdf[j-1] = T[clean_i, j]`` and zero-probability classes
    never are.
    """
    u = rs.random_sample(len(clean))
    noisy = (u[:, None] >= _cdf(T)[clean]).sum(axis=1)
    return np.minimum(noisy, T.shape[0] - 1).astype(np.int64)


# ---------------------------------------------------------------------------------------------------------------
# Corruption
# ---------------------------------------------------------------------------------------------------------------


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

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in ("train_index", "val_index", "train_clean", "train_noisy",
                                              "val_clean", "val_noisy", "transition")}


def corrupt(clean_y: np.ndarray, transition: np.ndarray, *, seed: int, n: int | str | None = None,
            val_ratio: float = 0.2, clean_validation: bool = False, dataset: str = "", noise: str = "",
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
    val_ratio = _check_val_ratio(val_ratio, len(clean_y))
    rs = np.random.RandomState(_check_seed(seed))
    train, val = _split(rs, len(clean_y), val_ratio, n)
    train_clean, val_clean = clean_y[train], clean_y[val]
    train_noisy = sample_noisy_labels(rs, train_clean, transition)
    val_noisy = sample_noisy_labels(rs, val_clean, transition)
    if clean_validation:
        val_noisy = val_clean.copy()
    setting = NoiseSetting(dataset, noise, float(p), n, int(seed), val_ratio, bool(clean_validation))
    return NoisyLabels(setting, train, val, train_clean, train_noisy, val_clean, val_noisy,
                       np.asarray(transition, dtype=np.float64))


def fixed_split(train_y: np.ndarray, fixed_val_index: np.ndarray, num_classes: int, *, seed: int,
                n: int | str | None = None, dataset: str = "clothing1m") -> NoisyLabels:
    """Labels for a dataset with its own noisy labels and clean validation list (Clothing1M, methods.md §1.6).

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
    rs = np.random.RandomState(_check_seed(seed))
    if n is not None:
        if n > len(train):
            raise LimitlabError(f"training-set size n = {n} is larger than the training list ({len(train)} examples)")
        train = rs.choice(train, n, replace=False).astype(np.int64)
    setting = NoiseSetting(dataset, "none", 0.0, n, int(seed), None, True)
    return NoisyLabels(setting, train, val, np.full(len(train), -1, dtype=np.int64), train_y[train],
                       train_y[val], train_y[val].copy(), np.eye(num_classes))


# ---------------------------------------------------------------------------------------------------------------
# Summary and artifact
# ---------------------------------------------------------------------------------------------------------------


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
    }


def write_labels(out: str | os.PathLike, labels: NoisyLabels, extra: dict | None = None) -> dict:
    """Write ``labels.npz`` (arrays of :class:`NoisyLabels`) and its summary JSON (``out.with_suffix('.json')``).

    Both files are byte-identical for identical inputs (no timestamps, sorted keys). ``extra`` entries
    (e.g. the data file's sha256) are added to the summary. Returns the summary as written.
    """
    from limitlab.datasets import sha256_file

    out = Path(out)
    if out.suffix != ".npz":
        raise LimitlabError(f"--out {out} must end in .npz (its summary goes to {out.with_suffix('.json')})")
    summary = summarize(labels)
    summary.update(extra or {})
    save_npz(out, **labels.arrays())
    summary["labels_file"] = out.name
    summary["labels_sha256"] = sha256_file(out)
    try:
        write_json(out.with_suffix(".json"), summary)
    except BaseException:
        out.unlink(missing_ok=True)  # labels without their summary would look finished to the pipeline
        raise
    return summary


LABEL_ARRAYS = ("train_index", "train_noisy", "train_clean", "val_index", "val_noisy", "val_clean")


def check_labels(arrays: dict[str, np.ndarray], path, n_pool: int, num_classes: int,
                 n: int | str | None = None) -> dict[str, np.ndarray]:
    """Refuse a labels file that would train on something else than it claims, before any training starts.

    Required: the six arrays of :class:`NoisyLabels`, 1-D integers; per split, index/noisy/clean of one length;
    indices in 0..n_pool-1; noisy labels in 0..K-1, clean labels in -1..K-1 (-1 = unknown, Clothing1M); with an
    integer ``n``, exactly n training examples; a transition matrix, when present, K x K.
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
    if isinstance(n, int) and not isinstance(n, bool) and len(arrays["train_index"]) != n:
        raise LimitlabError(f"{where} has {len(arrays['train_index'])} training examples but this run is n = {n}; "
                            "rebuild it with the corrupt stage")
    T = arrays.get("transition")
    if T is not None and T.shape != (num_classes, num_classes):
        raise LimitlabError(f"{where}: transition has shape {T.shape}, expected ({num_classes}, {num_classes})")
    return arrays
