"""Figure A1 of Harutyunyan et al. (ICML 2020): ``limit_beta_<setting>``, LIMIT's curves at every β of the grid
(other hyperparameters at the selected point)."""

from __future__ import annotations

from limitlab.report.cells import Cell
from limitlab.report.curves import point_curve
from limitlab.report.figures.style import SMOOTH_SIGMA, epoch_axis, plot_series, point_label, setup, title_setting


def limit_beta_figure(cells: list[Cell], messages: list[str]):
    """Figure A1: train/test curves of each LIMIT method at every β (other hyperparameters as selected)."""
    plt, sns = setup()
    rows = []
    for cell in cells:
        if cell.selected is None or "beta" not in cell.selected.point:
            continue
        fixed = {k: v for k, v in cell.selected.point.items() if k != "beta"}
        pts = sorted((pt for pt in cell.points if pt.complete and pt.point.get("beta") is not None
                      and {k: v for k, v in pt.point.items() if k != "beta"} == fixed),
                     key=lambda pt: pt.point["beta"])
        if len(pts) > 1:
            rows.append((cell, pts, fixed))
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 3.9 * len(rows) + 0.6), sharey=True, squeeze=False)
    for (cell, pts, fixed), (ax_tr, ax_te) in zip(rows, axes):
        palette = sns.color_palette("viridis", len(pts))
        for color, pt in zip(palette, pts):
            df = point_curve(pt, messages)
            if df is None:
                continue
            label = f"β = {pt.point['beta']:g}" + (" (selected)" if pt is cell.selected else "")
            plot_series(ax_tr, df["epoch"], df["train_acc_noisy"], color, label)
            if df["test_acc"].notna().all():
                plot_series(ax_te, df["epoch"], df["test_acc"], color, label)
        extra = point_label(fixed)
        ax_tr.set(title=f"{cell.label}: training accuracy, noisy labels" + (f" ({extra})" if extra else ""),
                  xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 101))
        ax_te.set(title=f"{cell.label}: clean test accuracy", xlabel="epoch", ylim=(0, 101))
        if cell.p > 0:
            ax_tr.axhline(100 * (1 - cell.p), color="0.3", ls="--", lw=1.2, label="correct labels (1 − p)")
            ax_tr.legend(handles=ax_tr.get_lines()[-1:], loc="upper left", fontsize=8)
        ax_te.legend(loc="lower right", fontsize=8)
        epoch_axis(ax_tr)
        epoch_axis(ax_te)
    fig.suptitle(f"LIMIT at different β — {title_setting(rows[0][0])} (thick: smoothed σ = {SMOOTH_SIGMA:g}, "
                 "thin: raw; higher β = less label information)", fontsize=11)
    fig.tight_layout()
    return fig
