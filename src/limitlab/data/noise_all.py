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
from dataclasses import dataclass, field
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
    "instance": "instance-dependent 'part-dependent'/IDN noise of Xia et al. (NeurIPS 2020): example i flips with its "
                "own rate q_i ~ N(p, flip_std^2) truncated to [0, 1]; the wrong class j != y_i is drawn with "
                "probability softmax_j(x_i^T W_{y_i}) over j != y_i, W a seeded standard-normal projection of the "
                "raw pixels; 'transition' holds the class-level mean of the per-example rows",
    "human": "real human labels (CIFAR-10N / CIFAR-100N, Wei et al. ICLR 2022) from the authors' label file; "
             "'transition' holds the empirical clean->noisy frequencies of the training split (p is only a label)",
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
    details: dict = field(default_factory=dict)  # model-specific summary entries (instance, human)

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
# Instance-dependent noise (Xia et al., "Part-dependent label noise: towards instance-dependent label noise",
# NeurIPS 2020; the generator its experiments use, as released in the authors' repository
# xiaoboxia/Part-dependent-label-noise, tools.get_instance_noisy_label, and stated in the paper's appendix)
# ---------------------------------------------------------------------------------------------------------------


def instance_features(images: np.ndarray) -> np.ndarray:
    """Flattened raw pixels, float64, in (C, H, W) order: ``x_i`` of the generator.

    Xia et al. project the unnormalised pixel values 0..255 (their data.py turns the stored uint8 images into
    floats without scaling); CIFAR's stored rows are channel-major, the same (C, H, W) order as ours.
    """
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float64)


def draw_flip_rates(rs: np.random.RandomState, p: float, flip_std: float, size: int) -> np.ndarray:
    """Per-example flip rates ``q_i ~ N(p, flip_std^2)`` truncated to [0, 1] (Xia et al., step 1).

    ``scipy.stats.truncnorm((0 - p)/std, (1 - p)/std, loc=p, scale=std).rvs(size)`` as the authors, drawn from
    ``rs``. Their mean is p only while the truncation is far away (p = 0.4, std 0.1: 4 std to 0); near p = 0 it
    is larger (p = 0 gives mean 0.08): see :func:`expected_flip_rate`. ``flip_std = 0`` gives q_i = p.
    """
    if flip_std == 0.0:
        return np.full(size, p)
    from scipy.stats import truncnorm

    dist = truncnorm((0.0 - p) / flip_std, (1.0 - p) / flip_std, loc=p, scale=flip_std)
    return np.asarray(dist.rvs(size=size, random_state=rs), dtype=np.float64).reshape(size)


def expected_flip_rate(p: float, flip_std: float) -> float:
    """Mean of the truncated normal of :func:`draw_flip_rates` (= the expected wrong-label fraction)."""
    if flip_std == 0.0:
        return float(p)
    from scipy.stats import truncnorm

    return float(truncnorm.mean((0.0 - p) / flip_std, (1.0 - p) / flip_std, loc=p, scale=flip_std))


def draw_projection(rs: np.random.RandomState, num_features: int, num_classes: int) -> np.ndarray:
    """``W`` of shape (K, d, K) with standard-normal entries (Xia et al., step 2: ``np.random.randn(K, d, K)``);
    ``W[y]`` is the d x K projection used for examples of clean class y."""
    return rs.standard_normal((num_classes, num_features, num_classes))


def instance_flip_distributions(x: np.ndarray, clean: np.ndarray, flip_rate: np.ndarray,
                                projection: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Per-example rows ``P[i, j] = P(noisy = j | x_i, y_i)`` (Xia et al., step 3), float64 (N, K).

    ``s = x_i^T W[y_i]`` (K scores), ``s[y_i] = -inf``, then ``P[i] = q_i softmax(s)`` and ``P[i, y_i] += 1 - q_i``:
    the label stays with probability 1 - q_i and otherwise moves to class j != y_i with probability
    ``softmax_j`` over the other classes. With raw pixels the scores are large, so the softmax is nearly one-hot:
    each image has, in effect, one wrong class, chosen by its pixels. ``x`` may be the uint8 images themselves:
    they are turned into features (:func:`instance_features`) one chunk at a time (CIFAR's 40,000 x 3,072 pixels
    would take 1 GB as float64 at once).
    """
    clean = np.asarray(clean, dtype=np.int64)
    K = projection.shape[0]
    out = np.empty((len(clean), K))
    for start in range(0, len(clean), chunk):
        sl = slice(start, start + chunk)
        xs, ys = instance_features(x[sl]), clean[sl]
        scores = np.empty((len(ys), K))
        for c in np.unique(ys):
            # einsum without BLAS: the same sums in the same order whatever the BLAS thread count, so the
            # bytes of labels.npz do not depend on the machine's threading (a BLAS matmul changed T by 1e-215)
            scores[ys == c] = np.einsum("nd,dk->nk", xs[ys == c], projection[c], optimize=False)
        rows = np.arange(len(ys))
        scores[rows, ys] = -np.inf
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        probs *= flip_rate[sl, None]
        probs[rows, ys] += 1.0 - flip_rate[sl]
        out[sl] = probs
    return out


def sample_rows(rs: np.random.RandomState, rows: np.ndarray) -> np.ndarray:
    """Draw ``noisy_i ~ rows[i, :]`` by inverse CDF with one ``rs.random_sample(N)`` call (as
    :func:`sample_noisy_labels`, with one row per example instead of one per class)."""
    u = rs.random_sample(len(rows))
    noisy = (u[:, None] >= _cdf(rows)).sum(axis=1)
    return np.minimum(noisy, rows.shape[1] - 1).astype(np.int64)


def class_transition(clean: np.ndarray, rows: np.ndarray, num_classes: int) -> np.ndarray:
    """Class-level T: row c = mean of the per-example rows of the examples of clean class c (identity row when the
    class is absent). ``mean(1 - T[y_i, y_i])`` over the examples is then their mean flip rate."""
    T = np.eye(num_classes)
    for c in range(num_classes):
        if np.any(clean == c):
            T[c] = rows[clean == c].mean(axis=0)
    return T


def _check_flip_std(flip_std) -> float:
    try:
        flip_std = float(flip_std)
    except (TypeError, ValueError):
        raise LimitlabError(f"flip_std must be a number >= 0, got {flip_std!r}") from None
    if not (0.0 <= flip_std < float("inf")):
        raise LimitlabError(f"flip_std = {flip_std} must be a finite number >= 0 (Xia et al. use 0.1)")
    return flip_std


def corrupt_instance(images: np.ndarray, clean_y: np.ndarray, num_classes: int, *, p: float, seed: int,
                     flip_std: float = 0.1, n: int | str | None = None, val_ratio: float = 0.2,
                     clean_validation: bool = False, dataset: str = "") -> NoisyLabels:
    """Split and corrupt with instance-dependent noise. Draws on ``RandomState(seed)``, in order:

    1–2. the split of the module docstring;
    3. flip rates ``q`` of the training examples, then of the validation examples (:func:`draw_flip_rates`);
    4. the projection ``W`` (:func:`draw_projection`);
    5. the noisy training labels, then the validation labels (:func:`sample_rows` of
       :func:`instance_flip_distributions`).

    The authors draw q for the whole training file, then W, then the labels, and split afterwards; the same
    distribution, drawn on the setting's stream. ``transition`` is the class-level mean T of the training rows.
    """
    images = np.asarray(images)
    clean_y = np.asarray(clean_y, dtype=np.int64)
    K = _check_num_classes(num_classes)
    if K < 2:
        raise LimitlabError("instance-dependent noise needs at least 2 classes")
    if len(images) != len(clean_y):
        raise LimitlabError(f"{len(images)} images but {len(clean_y)} labels; instance noise needs one image per label")
    if len(clean_y) and (clean_y.min() < 0 or clean_y.max() >= K):
        raise LimitlabError(f"clean labels lie in [{clean_y.min()}, {clean_y.max()}]; the dataset has {K} classes")
    p, flip_std = _check_p(p), _check_flip_std(flip_std)
    n = parse_n(n)
    val_ratio = _check_val_ratio(val_ratio, len(clean_y))
    rs = np.random.RandomState(_check_seed(seed))
    train, val = _split(rs, len(clean_y), val_ratio, n)
    q_train = draw_flip_rates(rs, p, flip_std, len(train))
    q_val = draw_flip_rates(rs, p, flip_std, len(val))
    W = draw_projection(rs, int(np.prod(images.shape[1:])), K)
    rows_train = instance_flip_distributions(images[train], clean_y[train], q_train, W)
    rows_val = instance_flip_distributions(images[val], clean_y[val], q_val, W)
    train_noisy, val_noisy = sample_rows(rs, rows_train), sample_rows(rs, rows_val)
    if clean_validation:
        val_noisy = clean_y[val].copy()
    setting = NoiseSetting(dataset, "instance", p, n, int(seed), val_ratio, bool(clean_validation))
    details = {
        "instance_noise": {
            "flip_std": flip_std,
            "flip_rate_expected_mean": expected_flip_rate(p, flip_std),
            "flip_rate_train": {"mean": float(q_train.mean()) if len(q_train) else None,
                                "min": float(q_train.min()) if len(q_train) else None,
                                "max": float(q_train.max()) if len(q_train) else None},
            "features": "raw pixel values 0..255, flattened in (C, H, W) order",
            "projection": f"W ~ N(0, 1) of shape ({K}, {W.shape[1]}, {K})",
            "reference": "Xia et al. NeurIPS 2020, tools.get_instance_noisy_label (xiaoboxia/Part-dependent-label-noise)",
        },
        "rng": "numpy.random.RandomState(seed): permutation, [choice], truncnorm q(train), q(val), standard_normal W, "
               "random_sample(train), random_sample(val)",
    }
    return NoisyLabels(setting, train, val, clean_y[train], train_noisy, clean_y[val], val_noisy,
                       class_transition(clean_y[train], rows_train, K), details)


# ---------------------------------------------------------------------------------------------------------------
# Human labels: CIFAR-10N / CIFAR-100N (Wei et al., "Learning with noisy labels revisited: a study using
# real-world human annotations", ICLR 2022; label files CIFAR-10_human.pt / CIFAR-100_human.pt of
# github.com/UCSC-REAL/cifar-10-100n: a torch-saved dict of arrays over the 50,000 training images in the order
# of the CIFAR training batches)
# ---------------------------------------------------------------------------------------------------------------

# label set (our name) -> key in the authors' file
HUMAN_LABEL_SETS: dict[str, dict[str, str]] = {
    "cifar10": {"aggregate": "aggre_label", "random1": "random_label1", "random2": "random_label2",
                "random3": "random_label3", "worst": "worse_label"},
    "cifar100": {"noisy": "noisy_label"},
}
HUMAN_CLEAN_KEY = "clean_label"
# Noise rates over all 50,000 training images as published (Wei et al. 2022, Table 1 / the CIFAR-N README).
PUBLISHED_HUMAN_NOISE_RATES: dict[tuple[str, str], float] = {
    ("cifar10", "aggregate"): 0.0903, ("cifar10", "random1"): 0.1723, ("cifar10", "random2"): 0.1812,
    ("cifar10", "random3"): 0.1764, ("cifar10", "worst"): 0.4021, ("cifar100", "noisy"): 0.4020,
}
# numpy objects a label file saved with torch.save may reference (numpy 1 and 2 names); nothing else is unpickled.
_NUMPY_PICKLE_GLOBALS = ("numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
                         "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
                         "numpy._core.multiarray.scalar")


def _numpy_global(name: str):
    import importlib

    if name in _NUMPY_PICKLE_GLOBALS:
        module, attr = name.rsplit(".", 1)
        try:  # numpy 2 moved numpy.core to numpy._core (files saved under numpy 1 name the old module)
            return getattr(importlib.import_module(module.replace("numpy.core.", "numpy._core.")), attr)
        except ImportError:
            return getattr(importlib.import_module(module), attr)
    if name.startswith("numpy.dtypes.") and name.endswith("DType"):
        import numpy.dtypes

        return getattr(numpy.dtypes, name.rsplit(".", 1)[1], None)
    return None


def read_human_file(path: str | os.PathLike) -> dict:
    """Read a CIFAR-N label file (``torch.save`` of a dict of arrays) without running arbitrary pickled code:
    ``torch.load(weights_only=True)`` with only NumPy's array reconstruction allowed."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise LimitlabError(f"human label file {path} does not exist (give the local path of CIFAR-10_human.pt or "
                            "CIFAR-100_human.pt from github.com/UCSC-REAL/cifar-10-100n; it is never downloaded)")
    if not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):
        raise LimitlabError(f"reading human label file {path} safely needs torch >= 2.5 (found {torch.__version__})")
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        allowed = [(_numpy_global(name), name) for name in names]
        refused = [name for obj, name in allowed if obj is None]
        if refused:
            raise LimitlabError(f"human label file {path} references {refused}; a CIFAR-N label file holds only "
                                "arrays (refused, to run no code from the file)")
        # dtype classes are only found while loading (not listed above); they are plain type objects
        allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
        with torch.serialization.safe_globals(allowed):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise LimitlabError(f"human label file {path} could not be read as a torch-saved dict ({exc})") from None
    if not isinstance(data, dict):
        raise LimitlabError(f"human label file {path} holds a {type(data).__name__}; expected a dict of label arrays "
                            f"(keys like {HUMAN_CLEAN_KEY!r}, 'worse_label', 'noisy_label')")
    return data


def check_human_labels(data: dict, where: str, dataset: str, label_set: str, clean_y: np.ndarray,
                       num_classes: int) -> np.ndarray:
    """Validate a CIFAR-N dict against the dataset and return the chosen label set as int64 (N,).

    Checks: the dataset has human labels and ``label_set`` is one of them; the file has ``clean_label`` and the
    set's key; both are 1-D integer arrays with one label per training image, in 0..K-1; and ``clean_label``
    equals the dataset's training labels (same images, same order).
    """
    sets = HUMAN_LABEL_SETS.get(dataset)
    if sets is None:
        raise LimitlabError(f"human labels exist for {', '.join(HUMAN_LABEL_SETS)} only, not {dataset!r}")
    if label_set not in sets:
        raise LimitlabError(f"label set {label_set!r} is not one of {dataset}'s human label sets; accepted: "
                            f"{', '.join(sets)}")
    key, N = sets[label_set], len(clean_y)
    missing = [k for k in (HUMAN_CLEAN_KEY, key) if k not in data]
    if missing:
        raise LimitlabError(f"{where}: no {' and no '.join(repr(k) for k in missing)} entry (it has: "
                            f"{', '.join(map(repr, sorted(map(str, data))))}); a {dataset} label file "
                            f"{'CIFAR-10_human.pt' if dataset == 'cifar10' else 'CIFAR-100_human.pt'} has "
                            f"{', '.join(repr(k) for k in (HUMAN_CLEAN_KEY, *sets.values()))}")
    arrays = {}
    for k in (HUMAN_CLEAN_KEY, key):
        value = data[k]
        arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if arr.ndim != 1 or len(arr) != N:
            raise LimitlabError(f"{where}: {k!r} has shape {tuple(arr.shape)}; {dataset} has {N:,} training images, "
                                f"so it must have shape ({N},)")
        if arr.dtype.kind not in "iu" or (N and (arr.min() < 0 or arr.max() >= num_classes)):
            shown = f"[{arr.min()}, {arr.max()}]" if arr.dtype.kind in "iuf" and N else str(arr.dtype)
            raise LimitlabError(f"{where}: {k!r} holds {shown}; expected integer labels in 0..{num_classes - 1}")
        arrays[k] = arr.astype(np.int64)
    differ = np.flatnonzero(arrays[HUMAN_CLEAN_KEY] != clean_y)
    if len(differ):
        raise LimitlabError(f"{where}: {HUMAN_CLEAN_KEY!r} differs from {dataset}'s training labels at {len(differ):,} "
                            f"of {N:,} images (first at index {differ[0]}): the file is for another dataset or another "
                            "image order (CIFAR-N follows the order of the CIFAR training batches 1-5)")
    return arrays[key]


def corrupt_human(clean_y: np.ndarray, human_y: np.ndarray, num_classes: int, *, seed: int, label_set: str,
                  n: int | str | None = None, val_ratio: float = 0.2, clean_validation: bool = False,
                  dataset: str = "") -> NoisyLabels:
    """Split as every other model (steps 1–2 of the module docstring) and take the human labels of the chosen
    images: the validation labels come from the same human label set (they exist for all 50,000 training images).
    No random labels are drawn. ``transition`` is the empirical clean->noisy frequency matrix of the training split
    (identity row for an absent class)."""
    clean_y = np.asarray(clean_y, dtype=np.int64)
    human_y = np.asarray(human_y, dtype=np.int64)
    K = _check_num_classes(num_classes)
    n = parse_n(n)
    val_ratio = _check_val_ratio(val_ratio, len(clean_y))
    rs = np.random.RandomState(_check_seed(seed))
    train, val = _split(rs, len(clean_y), val_ratio, n)
    counts = np.bincount(clean_y[train] * K + human_y[train], minlength=K * K).reshape(K, K).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    T = np.where(totals > 0, counts / np.maximum(totals, 1), np.eye(K))
    val_noisy = clean_y[val].copy() if clean_validation else human_y[val]
    setting = NoiseSetting(dataset, "human", 0.0, n, int(seed), val_ratio, bool(clean_validation))
    published = PUBLISHED_HUMAN_NOISE_RATES.get((dataset, label_set))
    file_rate = float(np.mean(human_y != clean_y)) if len(clean_y) else None
    details = {
        "human_labels": {
            "label_set": label_set,
            "key": HUMAN_LABEL_SETS.get(dataset, {}).get(label_set),
            "noise_rate_all_images": file_rate,
            "published_noise_rate": published,
            # the published rates are rounded to 0.01 %; a file that realises another rate is another file
            "matches_published": (None if published is None or file_rate is None
                                  else bool(abs(file_rate - published) <= 5e-5 + 1e-12)),
            "reference": "Wei et al. ICLR 2022 (CIFAR-10N / CIFAR-100N), github.com/UCSC-REAL/cifar-10-100n",
        },
        "rng": "numpy.random.RandomState(seed): permutation, [choice] (labels from the file)",
    }
    return NoisyLabels(setting, train, val, clean_y[train], human_y[train], clean_y[val], val_noisy, T, details)


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
        **labels.details,
    }


def write_labels(out: str | os.PathLike, labels: NoisyLabels, extra: dict | None = None) -> dict:
    """Write ``labels.npz`` (arrays of :class:`NoisyLabels`) and its summary JSON (``out.with_suffix('.json')``).

    Both files are byte-identical for identical inputs (no timestamps, sorted keys). ``extra`` entries
    (e.g. the data file's sha256) are added to the summary. Returns the summary as written.
    """
    from limitlab.data.datasets import sha256_file

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
