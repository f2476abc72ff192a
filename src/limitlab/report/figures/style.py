"""The look shared by every figure: matplotlib/seaborn setup, one colour per method, the smoothing of curves
(as the authors' plotting helper), the one-legend-for-all-panels helper and the labels of points and settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from limitlab.report.cells import Cell

SMOOTH_SIGMA = 2.0          # epochs, scipy.ndimage.gaussian_filter1d (the authors' plotting helper)
CORRECT_COLOR, CORRUPTED_COLOR = "#3b75af", "#d1495b"
GREEK = {"beta": "β", "lamb": "λ", "sigma": "σ"}


def setup():
    """The shared style (Agg backend, seaborn theme, rcParams); every figure calls it first. Returns (plt, sns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold",
                         "legend.frameon": False, "pdf.fonttype": 42})
    return plt, sns


def method_colors(cells: list[Cell]) -> dict[str, Any]:
    """One colour per method id, fixed for the whole experiment (params order)."""
    import seaborn as sns

    ids = list(dict.fromkeys(c.method_id for c in cells))
    palette = sns.color_palette("tab10" if len(ids) <= 10 else "husl", len(ids))
    return dict(zip(ids, palette))


def smooth(y: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(y, dtype=float), SMOOTH_SIGMA)


def plot_series(ax, epochs, values, color, label, raw: bool = True) -> None:
    values = np.asarray(values, dtype=float)
    if raw:
        ax.plot(epochs, 100 * values, color=color, lw=0.8, alpha=0.35)
    ax.plot(epochs, 100 * smooth(values), color=color, lw=2.0, label=label)


def epoch_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def legend_below(fig, axes, ncol_max: int = 5, spare_ax=None) -> None:
    """One legend for all panels: in an unused panel when there is one, else under the figure (constrained layout)."""
    handles, labels = {}, []
    for ax in np.ravel(axes):
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if not labels:
        return
    if spare_ax is not None:
        spare_ax.legend([handles[lab] for lab in labels], labels, loc="center", title="method")
    else:
        fig.legend([handles[lab] for lab in labels], labels, loc="outside lower center",
                   ncol=min(ncol_max, len(labels)))


def point_label(point: dict[str, float]) -> str:
    """{'beta': 0.1, 'lamb': 50} -> 'β = 0.1, λ = 50' ('' for a method without hyperparameters)."""
    return ", ".join(f"{GREEK.get(k, k)} = {v:g}" for k, v in sorted(point.items()))


def title_setting(cell: Cell) -> str:
    n = "all" if cell.n == "all" else f"{cell.n:,}"
    return f"{cell.dataset}, {cell.noise} noise p = {cell.p:g}, n = {n}"
