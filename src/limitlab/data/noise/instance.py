"""Instance-dependent ('part-dependent' / IDN) label noise of Xia et al., "Part-dependent label noise: towards
instance-dependent label noise", NeurIPS 2020 (docs/methods.md, "Noise models").

The generator its experiments use, as released in the authors' repository xiaoboxia/Part-dependent-label-noise
(``tools.get_instance_noisy_label``) and stated in the paper's appendix: example i flips with its own rate
``q_i ~ N(p, flip_std^2)`` truncated to [0, 1]; the wrong class ``j != y_i`` is drawn with probability
``softmax_j(x_i^T W_{y_i})`` over ``j != y_i``, W a seeded standard-normal projection of the raw pixels.
The labels artifact's ``transition`` is the class-level mean of the per-example rows. SciPy is imported lazily.
"""

from __future__ import annotations

import numpy as np

from limitlab.data.labels_file import NoiseSetting, NoisyLabels
from limitlab.data.noise.rules import flip_std_problem
from limitlab.data.noise.transition import check_num_classes, check_p, sample_rows
from limitlab.data.split import check_n_val, check_seed, check_val_ratio, draw_split, parse_n
from limitlab.errors import LimitlabError


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


def class_transition(clean: np.ndarray, rows: np.ndarray, num_classes: int) -> np.ndarray:
    """Class-level T: row c = mean of the per-example rows of the examples of clean class c (identity row when the
    class is absent). ``mean(1 - T[y_i, y_i])`` over the examples is then their mean flip rate."""
    T = np.eye(num_classes)
    for c in range(num_classes):
        if np.any(clean == c):
            T[c] = rows[clean == c].mean(axis=0)
    return T


def _check_flip_std(flip_std) -> float:
    """``flip_std`` as a float in the range where the truncated normal of :func:`draw_flip_rates` means something
    (:func:`limitlab.data.noise.rules.flip_std_problem`)."""
    problem = flip_std_problem(flip_std)
    if problem is not None:
        raise LimitlabError(problem)
    return float(flip_std)


def corrupt_instance(images: np.ndarray, clean_y: np.ndarray, num_classes: int, *, p: float, seed: int,
                     flip_std: float = 0.1, n: int | str | None = None, val_ratio: float = 0.2,
                     n_val: int | None = None, clean_validation: bool = False,
                     dataset: str = "") -> NoisyLabels:
    """Split and corrupt with instance-dependent noise. Draws on ``RandomState(seed)``, in order:

    1–2. the split of :mod:`limitlab.data.split`;
    3. flip rates ``q`` of the training examples, then of the validation examples (:func:`draw_flip_rates`);
    4. the projection ``W`` (:func:`draw_projection`);
    5. the noisy training labels, then the validation labels (:func:`sample_rows` of
       :func:`instance_flip_distributions`).

    The authors draw q for the whole training file, then W, then the labels, and split afterwards; the same
    distribution, drawn on the setting's stream. ``transition`` is the class-level mean T of the training rows.
    """
    images = np.asarray(images)
    clean_y = np.asarray(clean_y, dtype=np.int64)
    K = check_num_classes(num_classes)
    if K < 2:
        raise LimitlabError("instance-dependent noise needs at least 2 classes")
    if len(images) != len(clean_y):
        raise LimitlabError(f"{len(images)} images but {len(clean_y)} labels; instance noise needs one image per label")
    if len(clean_y) and (clean_y.min() < 0 or clean_y.max() >= K):
        raise LimitlabError(f"clean labels lie in [{clean_y.min()}, {clean_y.max()}]; the dataset has {K} classes")
    p, flip_std = check_p(p), _check_flip_std(flip_std)
    n = parse_n(n)
    val_ratio = check_val_ratio(val_ratio, len(clean_y))
    n_val = check_n_val(n_val, len(clean_y), val_ratio, n)
    rs = np.random.RandomState(check_seed(seed))
    train, val = draw_split(rs, len(clean_y), val_ratio, n, n_val)
    q_train = draw_flip_rates(rs, p, flip_std, len(train))
    q_val = draw_flip_rates(rs, p, flip_std, len(val))
    W = draw_projection(rs, int(np.prod(images.shape[1:])), K)
    rows_train = instance_flip_distributions(images[train], clean_y[train], q_train, W)
    rows_val = instance_flip_distributions(images[val], clean_y[val], q_val, W)
    train_noisy, val_noisy = sample_rows(rs, rows_train), sample_rows(rs, rows_val)
    if clean_validation:
        val_noisy = clean_y[val].copy()
    setting = NoiseSetting(dataset, "instance", p, n, int(seed), val_ratio, bool(clean_validation), n_val)
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
