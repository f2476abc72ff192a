"""The look shared by every figure: matplotlib/seaborn setup, one colour per method (a shade of its family's hue)
and one line style per variant (± S, + init.), the smoothing of curves
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


# Method families, each with its own hue family, so a reader can tell baselines from LIMIT at a glance even with
# a dozen methods: (family, seaborn sequential palette). LIMIT_G and LIMIT_L get warm hues, baselines cool ones.
FAMILIES = {"ce": "Blues", "correction": "Greens", "regulariser": "Purples", "limit_g": "YlOrBr",
            "limit_l": "Reds", "other": "Greys"}
# (strongest, weakest, a lone method's) shade taken from a family's map; other maps (0.9, 0.45, 0.7)
SHADES = {"YlOrBr": (0.68, 0.38, 0.55)}
_FAMILY_OF = {"ce": "ce", "noisy_grad": "ce", "mae": "ce", "gce": "ce", "fw": "correction", "dmi": "correction",
              "soft_reg": "regulariser"}


def _method_entry(cell: Cell):
    return next((m for m in cell.study.methods if m.row_id == cell.method_id), None)


def method_family(cell: Cell) -> str:
    """'ce' (CE, noisy gradients, robust losses), 'correction' (FW, DMI), 'regulariser' (soft reg.), 'limit_g',
    'limit_l' (by the q-network's distribution), 'other' (the rest and the susceptibility rows)."""
    m = _method_entry(cell)
    if m is None:
        return "other"
    if m.method == "limit":
        return "limit_l" if getattr(m, "q_dist", "gaussian") == "laplace" else "limit_g"
    return _FAMILY_OF.get(m.method, "other")


def method_linestyle(cell: Cell) -> str:
    """Solid; dashed for LIMIT with sampling (+ S); dotted for a run initialised from another method (+ init.)."""
    m = _method_entry(cell)
    if m is not None and getattr(m, "init", None) is not None and m.method == "limit":
        return ":"
    return "--" if m is not None and getattr(m, "sample", False) else "-"


def method_colors(cells: list[Cell]) -> dict[str, Any]:
    """One colour per method id, fixed for the whole experiment: a shade of its family's hue (params order)."""
    import matplotlib

    first = {}
    for c in cells:
        first.setdefault(c.method_id, c)
    members: dict[str, list[str]] = {}
    for mid, c in first.items():
        members.setdefault(method_family(c), []).append(mid)
    out = {}
    for family, ids in members.items():
        cmap = matplotlib.colormaps[FAMILIES[family]]
        # shades from the strong end of the map (its light end is too pale on white), the first method strongest;
        # YlOrBr stops before its dark brown, which is hard to tell from the dark reds of LIMIT_L
        strong, weak, lone = SHADES.get(FAMILIES[family], (0.9, 0.45, 0.7))
        where = np.linspace(strong, weak, len(ids)) if len(ids) > 1 else [lone]
        out.update((mid, tuple(float(v) for v in cmap(float(x))[:3])) for mid, x in zip(ids, where))
    return out


def method_linestyles(cells: list[Cell]) -> dict[str, str]:
    return {c.method_id: method_linestyle(c) for c in cells}


def smooth(y: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    return gaussian_filter1d(np.asarray(y, dtype=float), SMOOTH_SIGMA)


def plot_series(ax, epochs, values, color, label, raw: bool = True, ls: str = "-") -> None:
    values = np.asarray(values, dtype=float)
    if raw:
        ax.plot(epochs, 100 * values, color=color, lw=0.8, alpha=0.35, ls=ls)
    ax.plot(epochs, 100 * smooth(values), color=color, lw=2.0, label=label, ls=ls)


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
