"""Noise-model definitions, class-level transition matrices and sampling from them (docs/methods.md,
"Noise models").

``T[i, j] = P(noisy = j | clean = i)``, row-stochastic, K x K. Harutyunyan et al. (ICML 2020) corrupt MNIST and
CIFAR with uniform noise (Table 1, Table 2) and CIFAR-10 also with pair noise (Table 2); ``symmetric``, ``matrix``,
``none`` and the definitions of ``instance`` (Xia et al., NeurIPS 2020) and ``human`` (Wei et al., ICLR 2022) are
the other models limitlab offers. :data:`NOISE_MODELS` holds the one-line definition of each that every labels
artifact records. Noisy labels are drawn by inverse CDF, one uniform per example (:func:`sample_noisy_labels`,
:func:`sample_rows`). Pure NumPy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from limitlab.errors import LimitlabError
from limitlab.registry import LiveMapping, Registry

ROW_SUM_TOL = 1e-6

# Definitions stored with every labels artifact: each names its convention explicitly (uniform vs
# symmetric differ in whether a corrupted label may stay the same class; docs/methods.md, "Noise models").
# These models are drawn by their own modules (a user's matrix, per-example rates, human labels, a file); the
# class-conditional ones given by a transition matrix are entries of NOISE_REGISTRY (below), open to plugins.
DRAWN_OWN_WAY: dict[str, str] = {
    "matrix": "user-given row-stochastic KxK matrix T[i,j] = P(noisy=j | clean=i) (p is only a label)",
    "instance": "instance-dependent 'part-dependent'/IDN noise of Xia et al. (NeurIPS 2020): example i flips with its "
                "own rate q_i ~ N(p, flip_std^2) truncated to [0, 1]; the wrong class j != y_i is drawn with "
                "probability softmax_j(x_i^T W_{y_i}) over j != y_i, W a seeded standard-normal projection of the "
                "raw pixels; 'transition' holds the class-level mean of the per-example rows",
    "human": "real human labels (CIFAR-10N / CIFAR-100N, Wei et al. ICLR 2022) from the authors' label file; "
             "'transition' holds the empirical clean->noisy frequencies of the training split (p is only a label)",
    "file": "noisy labels from a user file (CSV, .npy or a CIFAR-N-style .pt, indexed by the original training index; "
            "limitlab labels export writes one); 'transition' holds the empirical clean->noisy frequencies of the "
            "training split (p is only a label)",
}


@dataclass(frozen=True)
class ClassConditional:
    """A noise model given by its class-level transition matrix: the shape a noise-model plugin registers.

    ``matrix(p, num_classes, pairs)`` returns ``T[i, j] = P(noisy = j | clean = i)`` for rate ``p`` (``pairs``: the
    dataset's class pairs, for models that use them); it is validated as every user matrix is (square, finite,
    non-negative, rows summing to 1) and drawn by :func:`sample_noisy_labels`. ``definition`` is the one line
    every labels artifact records; ``needs_p``: whether ``p`` must be given."""

    definition: str
    matrix: Callable[[float, int, Any], np.ndarray]
    needs_p: bool = True


# limitlab's class-conditional models and those of installed packages (entry-point group limitlab.noise_models)
NOISE_REGISTRY: Registry[ClassConditional] = Registry("noise model", "limitlab.noise_models")


def register_noise_model(name: str, definition: str, needs_p: bool = True):
    """Decorator: register ``matrix(p, num_classes, pairs)`` as the class-conditional noise model ``name``."""
    def add(matrix: Callable[[float, int, Any], np.ndarray]):
        NOISE_REGISTRY.register(name, ClassConditional(definition, matrix, needs_p))
        return matrix
    return add


@register_noise_model("uniform", "paper's uniform 'error' noise: T_ii = 1-p, T_ij = p/(K-1) for j != i (a corrupted "
                      "label is always a different class; expected wrong-label fraction p)")
def _uniform(p: float, K: int, pairs=None) -> np.ndarray:
    if K < 2:
        raise LimitlabError("uniform noise needs at least 2 classes")
    T = np.full((K, K), p / (K - 1))
    np.fill_diagonal(T, 1.0 - p)
    return T


@register_noise_model("symmetric", "uniform over all K classes: T_ii = 1-p+p/K, T_ij = p/K (the new label may equal "
                      "the old one; expected wrong-label fraction p(K-1)/K)")
def _symmetric(p: float, K: int, pairs=None) -> np.ndarray:
    T = np.full((K, K), p / K)
    np.fill_diagonal(T, 1.0 - p + p / K)
    return T


@register_noise_model("pair", "one-directional flips src->dst with probability p for the dataset's pairs (cifar10: "
                      "9->1, 2->0, 4->7, 3->5): T[src,dst] = p, T[src,src] = 1-p, all other rows identity (LIMIT/DMI "
                      "'pair' noise)")
def _pair(p: float, K: int, pairs=None) -> np.ndarray:
    T = np.eye(K)
    for src, dst in _check_pairs(pairs, K):
        T[src, src] = 1.0 - p
        T[src, dst] = p
    return T


@register_noise_model("none", "no synthetic noise: T = identity (p must be 0)", needs_p=False)
def _none(p: float, K: int, pairs=None) -> np.ndarray:
    if p != 0.0:
        raise LimitlabError(f"noise model 'none' adds no noise, so p must be 0; got p = {p}")
    return np.eye(K)


LISTED_FIRST = ("uniform", "symmetric", "pair", "matrix", "none", "instance", "human", "file")  # limitlab's, as listed


def _definitions() -> dict[str, str]:
    every = {**{name: entry.definition for name, entry in NOISE_REGISTRY.items()}, **DRAWN_OWN_WAY}
    return {name: every[name] for name in (*LISTED_FIRST, *(n for n in every if n not in LISTED_FIRST))}


# Every noise model's one-line definition, by name: the registry's (plugins included) and those drawn their own way,
# read when asked, so that a plugin registered later is in it.
NOISE_MODELS: Mapping[str, str] = LiveMapping(_definitions)


def transition_matrix(model: str, p: float, num_classes: int, pairs=None, matrix=None) -> np.ndarray:
    """Row-stochastic ``T[i, j] = P(noisy = j | clean = i)`` (float64, K x K) of a noise model.

    * ``uniform``:   T_ii = 1 - p,          T_ij = p / (K - 1)   (j != i)
    * ``symmetric``: T_ii = 1 - p + p / K,  T_ij = p / K         (j != i)
    * ``pair``:      identity except, for every (src, dst) in ``pairs``: T[src, dst] = p, T[src, src] = 1 - p
    * ``matrix``:    ``matrix`` itself (validated: K x K, finite, non-negative, rows sum to 1 within 1e-6);
      ``p`` is only recorded (the matrix sets the rates)
    * ``none``:      identity; ``p`` must be 0
    * a model of another package (:data:`NOISE_REGISTRY`, entry-point group ``limitlab.noise_models``): its own
      matrix function, validated like a user matrix

    ``p`` must lie in [0, 1).
    """
    if model not in NOISE_MODELS:
        raise LimitlabError(f"unknown noise model {model!r}; accepted: {', '.join(NOISE_MODELS)}")
    K = check_num_classes(num_classes)
    p = check_p(p)
    if model == "matrix":
        return check_matrix(matrix, K)
    if model not in NOISE_REGISTRY:  # instance, human, file: drawn per example, no class-conditional T
        # never the identity matrix (it would report 0 % noise and exit 0)
        raise LimitlabError(f"noise model {model!r} has no class-conditional transition matrix; models with one: "
                            f"{', '.join(['matrix', *NOISE_REGISTRY])}")
    T = NOISE_REGISTRY[model].matrix(p, K, pairs)
    origin = NOISE_REGISTRY.origin(model)
    return check_matrix(T, K, where=f"the transition matrix of noise model {model!r}"
                        + ("" if origin.builtin else f" ({origin})"))


def check_num_classes(num_classes) -> int:
    """``num_classes`` as a positive int (not a bool)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise LimitlabError(f"number of classes must be a positive integer, got {num_classes!r}")
    return int(num_classes)


def check_p(p) -> float:
    """The noise rate ``p`` as a float in [0, 1)."""
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


def empirical_transition(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """``T[i, j] = #{clean = i, noisy = j} / #{clean = i}``: the clean->noisy frequencies of labels that were not
    drawn from a matrix (human labels, a noise file); the identity row for a class that does not occur."""
    K = num_classes
    counts = np.bincount(clean * K + noisy, minlength=K * K).reshape(K, K).astype(np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    return np.where(totals > 0, counts / np.maximum(totals, 1), np.eye(K))


def row_cdf(T: np.ndarray) -> np.ndarray:
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
    noisy = (u[:, None] >= row_cdf(T)[clean]).sum(axis=1)
    return np.minimum(noisy, T.shape[0] - 1).astype(np.int64)


def sample_rows(rs: np.random.RandomState, rows: np.ndarray) -> np.ndarray:
    """Draw ``noisy_i ~ rows[i, :]`` by inverse CDF with one ``rs.random_sample(N)`` call (as
    :func:`sample_noisy_labels`, with one row per example instead of one per class)."""
    u = rs.random_sample(len(rows))
    noisy = (u[:, None] >= row_cdf(rows)).sum(axis=1)
    return np.minimum(noisy, rows.shape[1] - 1).astype(np.int64)
