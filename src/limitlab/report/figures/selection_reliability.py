"""``selection_reliability_<setting>``: per cell of a setting, how often the paper's rule picks each grid point on
resampled validation sets, beside the test accuracy of every point (:mod:`limitlab.report.selection_reliability`).

One row per cell with two or more points and a computed reliability: on the left the selection probability of each
point (bars; the point the rule picked on the full validation set outlined), on the right each point's mean test
accuracy at its best-validation checkpoints (the whole curve, never used to select), the test-best point (star) and
the band within 1 test point of it (shaded: the points counted as good). The row title gives P(within 1 point),
the labels needed for a 90 % chance and the coin-toss mark. Drawn from selection.csv and table.csv, so it shows
the very numbers of the tables.
"""

from __future__ import annotations

import pandas as pd

from limitlab.report.figures.style import setup
from limitlab.report.selection_reliability import COIN_TOSS_BELOW, COIN_TOSS_MARK, TARGET, WITHIN
from limitlab.report.summary import flag


def reliability_cells(table: pd.DataFrame, selection: pd.DataFrame,
                      setting: str) -> list[tuple[pd.Series, pd.DataFrame]]:
    """(table.csv row, its points in selection.csv) of every cell of ``setting`` with a reliability and 2+ points."""
    if "reliability_p_within_1pt" not in table or "selection_probability" not in selection:
        return []
    out = []
    for _, row in table[(table["setting"] == setting) & table["reliability_p_within_1pt"].notna()].iterrows():
        pts = selection[(selection["setting"] == setting) & (selection["method_id"] == row["method_id"])
                        & (selection["study"] == row["study"]) & selection["selection_probability"].notna()]
        if len(pts) >= 2:
            out.append((row, pts))
    return out


def selection_reliability_figure(table: pd.DataFrame, selection: pd.DataFrame, setting: str, colors: dict):
    """The figure of one setting (None when no cell of it has a reliability over two or more points)."""
    cells = reliability_cells(table, selection, setting)
    if not cells:
        return None
    plt, _ = setup()
    width = max(7.5, 4 + 0.32 * max(len(p) for _, p in cells))
    fig, axes = plt.subplots(len(cells), 2, figsize=(width, 3.0 * len(cells) + 0.8), squeeze=False)
    for (row, pts), (ax_p, ax_t) in zip(cells, axes):
        color = colors.get(row["method_id"], "0.35")
        x = range(len(pts))
        tags = list(pts["point"])
        picked = pts["selected"].map(flag).to_numpy()
        prob = pts["selection_probability"].to_numpy(dtype=float)
        ax_p.bar(x, prob, color=color, alpha=0.75, linewidth=0)
        ax_p.bar([i for i in x if picked[i]], prob[picked], fill=False, edgecolor="black", linewidth=1.8)
        ax_p.set_ylim(0, 1.05)
        ax_p.set_ylabel("P(selected)")
        test = 100 * pts["mean_test_acc"].astype(float)
        best = float(test.max())
        ax_t.axhspan(best - 100 * WITHIN, best, color="0.88", zorder=0, label="within 1 point of the test-best")
        ax_t.plot(x, test, color=color, marker="o", ms=4, lw=1.6, label="test accuracy (best-val. epoch)")
        top = pts["test_best"].map(flag).to_numpy()
        ax_t.plot([i for i in x if top[i]], test[top], ls="none", marker="*", ms=14, color=color, mec="black",
                  label="test-best point")
        ax_t.plot([i for i in x if picked[i]], test[picked], ls="none", marker="o", ms=12, mfc="none", mec="black",
                  mew=1.6, label="the rule's pick")
        ax_t.set_ylabel("clean test acc. (%)")
        ax_t.margins(y=0.15)  # room for the star at the top
        crowded = len(tags) > 6 or sum(map(len, tags)) > 36  # long tags (beta30_lamb5000) collide even when few
        for ax in (ax_p, ax_t):
            ax.set_xticks(list(x), tags, rotation=60 if crowded else 0, ha="right" if crowded else "center",
                          fontsize=8)
        need = row.get("reliability_labels_needed_90")
        need = "never" if pd.isna(need) else f"{int(need):,}"
        coin = flag(row.get("coin_toss"))
        ax_p.set_title(f"{row['label']}{' ' + COIN_TOSS_MARK if coin else ''}: P(within 1 pt) = "
                       f"{row['reliability_p_within_1pt']:.2f}", fontsize=9, loc="left",
                       color="#b00" if coin else "black")
        ax_t.set_title(f"labels for {TARGET:.0%}: {need} (have {int(row['reliability_n_val']):,} per split)",
                       fontsize=9, loc="left")
    # one legend under the panels: inside a panel it hides points of a curve that spans the panel
    fig.legend(*axes[0, 1].get_legend_handles_labels(), loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle(f"Selection reliability — {setting} (outlined bar: the rule's pick; {COIN_TOSS_MARK}: reliability "
                 f"below {COIN_TOSS_BELOW:g})", fontsize=10)
    # tight_layout leaves the suptitle out: keep 0.45 in for it above the panels, 0.35 in for the legend below
    fig.tight_layout(rect=(0, 0.35 / fig.get_figheight(), 1, 1 - 0.45 / fig.get_figheight()))
    return fig
