"""Figures 1/2 of Harutyunyan et al. (ICML 2020): ``curves_<setting>``, memorisation of the noisy labels per
epoch by every method's selected point."""

from __future__ import annotations

from limitlab.report.cells import Cell
from limitlab.report.curves import point_curve
from limitlab.report.figures.style import (SMOOTH_SIGMA, epoch_axis, legend_below, method_linestyle, plot_series,
                                           point_label, setup, title_setting)


def curves_figure(cells: list[Cell], colors: dict, messages: list[str]):
    """Figures 1/2: training accuracy (noisy and clean labels) and clean test accuracy per epoch per method."""
    plt, _ = setup()
    curves = [(c, point_curve(c.selected, messages)) for c in cells if c.selected is not None]
    curves = [(c, df) for c, df in curves if df is not None]
    if not curves:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True, layout="constrained")
    panels = [("train_acc_noisy", "Training accuracy, noisy labels"),
              ("train_acc_clean", "Training accuracy, clean labels"),
              ("test_acc", "Clean test accuracy")]
    for ax, (col, title) in zip(axes, panels):
        for cell, df in curves:
            if df[col].notna().all():
                label = cell.label + (f" ({point_label(cell.selected.point)})" if cell.selected.point else "")
                plot_series(ax, df["epoch"], df[col], colors[cell.method_id], label, ls=method_linestyle(cell))
        ax.set(title=title, xlabel="epoch", ylim=(0, 101))
        epoch_axis(ax)
    p = cells[0].p
    if p > 0:
        axes[0].axhline(100 * (1 - p), color="0.3", ls="--", lw=1.2, label="correct labels (1 − p)")
    axes[0].set_ylabel("accuracy (%)")
    seeds = sorted({c.stats.get("n_seeds", 0) for c, _ in curves})
    fig.suptitle(f"Memorisation of noisy labels — {title_setting(cells[0])} "
                 f"(selected point per method, mean of {'/'.join(map(str, seeds))} seed(s); "
                 f"thick: smoothed σ = {SMOOTH_SIGMA:g} epochs, thin: raw)", fontsize=11)
    legend_below(fig, axes)
    return fig
