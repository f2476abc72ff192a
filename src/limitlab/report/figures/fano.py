"""Theorem 1 of Harutyunyan et al. (ICML 2020; Fano's inequality per example) and its figure ``fano`` (the paper's
Figure A0): memorising label noise is needed to fit noisy labels.

With n i.i.d. examples, K classes, per-example label entropy H(y₁|x₁) and label-noise information I(w; y|x) in the
weights, the expected training error rate r of any classifier satisfies (Remark 1, in bits)

    r ≥ (H(y₁|x₁) − I/n − h(r)) / log₂(K − 1),          h(r) = −r log₂ r − (1 − r) log₂(1 − r).

r appears on both sides; the bound r₀ is the smallest r on a grid (the authors: ``linspace(0.001, 0.999, 1000)``)
that satisfies it. For uniform noise of rate p and deterministic clean labels H(y₁|x₁) = h(p) + p log₂(K − 1).
At I/n = 0 the bound is r₀ = p: a model that stores no label information cannot beat the noise rate.
"""

from __future__ import annotations

import numpy as np

from limitlab.report.figures.style import setup

GRID = np.linspace(0.001, 0.999, 1000)
FANO_RATES = (0.2, 0.4, 0.6, 0.8)  # the noise rates of the figure


def binary_entropy(r: np.ndarray | float) -> np.ndarray:
    """h(r) in bits (0 at r ∈ {0, 1})."""
    r = np.asarray(r, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -r * np.log2(r) - (1 - r) * np.log2(1 - r)
    return np.nan_to_num(h, nan=0.0)


def label_entropy(p: float, K: int) -> float:
    """H(ỹ|x) in bits under uniform "error" noise: entropy of (1 − p, p/(K−1), …, p/(K−1))."""
    return float(binary_entropy(p) + p * np.log2(K - 1))


def fano_error_bound(info_bits_per_example: np.ndarray | float, p: float, K: int = 10,
                     grid: np.ndarray = GRID) -> np.ndarray | float:
    """Lower bound r₀ on the expected training error rate given I(w; y|x)/n bits, uniform noise p, K classes.

    r₀ = min{r ∈ grid : r·log₂(K−1) + h(r) ≥ H(y₁|x₁) − I/n}. The left side increases on [0, (K−1)/K] up to
    log₂ K ≥ H, so a solution exists in that range; NaN is returned only if the grid misses it.
    """
    if K < 3:
        raise ValueError(f"Theorem 1 needs more than two classes (K={K})")
    info = np.asarray(info_bits_per_example, dtype=float)
    lhs = grid * np.log2(K - 1) + binary_entropy(grid)                    # (G,)
    need = label_entropy(p, K) - info[..., None]                           # (..., 1)
    ok = lhs >= need                                                       # (..., G)
    bound = np.where(ok.any(-1), grid[ok.argmax(-1)], np.nan)
    return float(bound) if bound.ndim == 0 else bound


def fano_curve(p: float, K: int = 10, num: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(I/n in bits from 0 to H(y₁|x₁), bound r₀) — the curves of the paper's Figure A0."""
    info = np.linspace(0.0, label_entropy(p, K), num)
    return info, fano_error_bound(info, p, K)


def fano_figure():
    """Figure A0: Theorem 1's bound on the training error rate vs the label information per example."""
    plt, sns = setup()
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    colors = sns.color_palette("rocket", len(FANO_RATES) + 1)
    for color, p in zip(colors, FANO_RATES):
        info, bound = fano_curve(p, K=10)
        ax.plot(info, 100 * bound, color=color, lw=2, label=f"p = {p:g} (H = {label_entropy(p, 10):.2f} bits)")
    ax.set(xlabel="label information per example  I(w; y | x) / n  (bits)",
           ylabel="lower bound on training error (%)", ylim=(0, 100), xlim=(0, None),
           title="Fano bound (Theorem 1), K = 10, uniform label noise")
    # The paper's example: at p = 0.8, one bit of label information per example still leaves ≥ 40.5% error.
    r1 = fano_error_bound(1.0, 0.8, 10, grid=np.linspace(0.001, 0.999, 99_801))  # fine grid for the label
    ax.plot([1.0], [100 * r1], "o", color=colors[len(FANO_RATES) - 1], ms=5)
    ax.annotate(f"{100 * r1:.1f}% at 1 bit", (1.0, 100 * r1), xytext=(8, 6), textcoords="offset points", fontsize=9)
    ax.legend(title="noise rate")
    fig.tight_layout()
    return fig
