"""``beta_curve_<setting>``: LIMIT's clean test accuracy over its whole β grid, one figure per setting.

Per LIMIT method of the setting and per β: the point the paper's rule would pick among that β's points (best mean
noisy-validation accuracy; the only one for − S), its test accuracy at each seed's best noisy-validation epoch
(mean ± sample std over seeds, solid), the oracle at that β (mean of each seed's best clean-test epoch, dashed: an
upper bound, never a result) and the β the paper's rule selected (a ring). CE of the same setting is the grey
band (mean ± std). β = 0 sits on a linear stretch of the symmetric-log axis.
"""

from __future__ import annotations

import numpy as np

from limitlab.report.cells import Cell, Point, select
from limitlab.report.figures.style import method_linestyle, setup, title_setting
from limitlab.report.selection_rules import test_curves


def is_limit(cell: Cell) -> bool:
    return any(m.row_id == cell.method_id and m.method == "limit" for m in cell.study.methods)


def beta_points(cell: Cell) -> list[tuple[float, Point]]:
    """(β, the paper rule's point among that β's complete points), by β; empty without two such β values."""
    by_beta: dict[float, list[Point]] = {}
    for pt in cell.points:
        if pt.complete and pt.point.get("beta") is not None:
            by_beta.setdefault(float(pt.point["beta"]), []).append(pt)
    out = [(beta, select(pts)) for beta, pts in sorted(by_beta.items())]
    return out if len(out) > 1 else []


def _seed_stats(values: list[float]) -> tuple[float, float]:
    a = 100 * np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def beta_curve_figure(cells: list[Cell], colors: dict, messages: list[str]):
    """The β curve of every LIMIT method of one setting (None when none has two finished β values)."""
    rows = [(c, beta_points(c)) for c in cells if is_limit(c)]
    rows = [(c, pts) for c, pts in rows if pts]
    if not rows:
        return None
    plt, _ = setup()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ce = next((c for c in cells if c.method_id == "ce" and c.selected is not None), None)
    if ce is not None:
        mean, std = 100 * ce.stats["test_acc"], 100 * (ce.stats["test_acc_std"] or 0.0)
        ax.axhspan(mean - std, mean + std, color="0.85", zorder=0)
        ax.axhline(mean, color="0.45", lw=1.2, label=f"{ce.label} ({mean:.1f})", zorder=1)
    betas = sorted({b for _, pts in rows for b, _ in pts})
    for cell, pts in rows:
        color = colors.get(cell.method_id)
        x = [b for b, _ in pts]
        stats = [_seed_stats([r.result["test_acc"] for r in pt.done]) for _, pt in pts]
        ax.errorbar(x, [m for m, _ in stats], yerr=[s for _, s in stats], color=color, marker="o", ms=4,
                    lw=1.8, capsize=3, ls=method_linestyle(cell), label=f"{cell.label} (best validation epoch)")
        oracle = []
        for _, pt in pts:
            curves = test_curves(pt, messages)
            oracle.append(None if curves is None else _seed_stats([np.nanmax(c) for c in curves])[0])
        if any(v is not None for v in oracle):
            ax.plot(x, [np.nan if v is None else v for v in oracle], color=color, ls="--", lw=1.2,
                    label=f"{cell.label} oracle (upper bound)")
        chosen = [(b, m) for (b, pt), (m, _) in zip(pts, stats) if pt is not None and cell.selected is not None
                  and pt.point == cell.selected.point]
        if chosen:
            ax.plot(*zip(*chosen), ls="none", marker="o", ms=13, mfc="none", mec=color, mew=2,
                    label=f"{cell.label}: selected β")
    ax.set_xscale("symlog", linthresh=min([b for b in betas if b > 0] or [1.0]))
    ax.set_xticks(betas, [f"{b:g}" for b in betas])
    ax.set(xlabel="β (larger: less label information in the weights)", ylabel="clean test accuracy (%)",
           title=f"LIMIT over β — {title_setting(rows[0][0])}")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig
