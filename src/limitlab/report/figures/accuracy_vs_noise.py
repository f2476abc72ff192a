"""``accuracy_vs_noise``: clean test accuracy of every method's selected point against the noise rate, one
panel per (study, dataset, noise, n), with the table's error bars."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from limitlab.report.cells import Cell
from limitlab.report.figures.style import legend_below, method_linestyle, setup


def accuracy_vs_noise_figure(cells: list[Cell], colors: dict):
    """Test accuracy (selected point) vs noise rate, one panel per (study, n), with the table's error bars."""
    plt, _ = setup()
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for c in cells:
        if c.selected is not None:
            groups[(c.study.id, c.dataset, c.noise, c.n)].append(c)
    if not groups:
        return None
    ncol = min(3, len(groups))
    nrow = int(np.ceil(len(groups) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.6 * ncol, 4.3 * nrow + 0.8), squeeze=False, layout="constrained")
    for ax in axes.ravel()[len(groups):]:
        ax.axis("off")
    spare = axes.ravel()[len(groups)] if len(groups) < axes.size else None
    for ax, ((study, dataset, noise, n), group) in zip(axes.ravel(), groups.items()):
        by_method: dict[str, list[Cell]] = defaultdict(list)
        for c in group:
            by_method[c.method_id].append(c)
        rates = sorted({c.p for c in group})
        offsets = np.linspace(-0.6, 0.6, len(by_method)) if len(by_method) > 1 else [0.0]
        for off, (mid, cs) in zip(offsets, by_method.items()):
            cs = sorted(cs, key=lambda c: c.p)
            x = np.array([100 * c.p for c in cs]) + off  # small dodge so error bars do not hide each other
            y = [100 * c.stats["test_acc"] for c in cs]
            err = [100 * (c.stats["test_acc_std"] or 0.0) for c in cs]
            ax.errorbar(x, y, yerr=err, color=colors[mid], marker="o", ms=4, lw=1.5, capsize=3, label=cs[0].label,
                        ls=method_linestyle(cs[0]))
        n_txt = "all" if n == "all" else f"{n:,}"
        ax.set(title=f"{dataset}, {noise} noise, n = {n_txt}" + (f" [{study}]" if len(groups) > 1 else ""),
               xlabel="noise rate p (%)", ylabel="clean test accuracy (%)", xticks=[100 * r for r in rates])
    kinds = {c.stats["error"] for g in groups.values() for c in g}
    err_txt = " / ".join(k for k, on in (("std over seeds", "seed_std" in kinds),
                                         ("bootstrap std", "bootstrap_std" in kinds)) if on) or "none"
    fig.suptitle(f"Clean test accuracy vs noise rate\n(selected point per method; error bars: {err_txt})",
                 fontsize=11)
    legend_below(fig, axes, spare_ax=spare)
    return fig
