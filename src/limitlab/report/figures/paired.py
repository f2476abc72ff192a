"""``paired_differences``: the forest plot of the paired comparisons (:mod:`limitlab.report.paired`): per setting,
every method's mean difference to the reference on the same splits with its interval."""

from __future__ import annotations

from limitlab.report.figures.style import setup


def paired_figure(paired, colors: dict):
    """One panel per setting; a row per method: mean difference (points) and its interval, from paired.csv
    (:func:`limitlab.report.paired.paired_frame`). Hollow marker: the interval rests on one seed. None without
    comparisons against the reference."""
    rows = paired[paired["reference_kind"] == "reference"]
    if rows.empty:
        return None
    plt, _ = setup()
    settings = list(dict.fromkeys(rows["setting"]))
    heights = [max(1, int((rows["setting"] == s).sum())) for s in settings]
    fig, axes = plt.subplots(len(settings), 1, figsize=(8, 0.42 * sum(heights) + 1.2 * len(settings)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False, sharex=True)
    for ax, setting in zip(axes[:, 0], settings):
        group = rows[rows["setting"] == setting].iloc[::-1]  # the first method at the top
        for y, r in enumerate(group.itertuples()):
            color, one = colors.get(r.method_id, "0.3"), r.n_pairs == 1
            ax.errorbar(r.diff_pct, y, xerr=[[r.diff_pct - r.ci_low_pct], [r.ci_high_pct - r.diff_pct]], fmt="o",
                        color=color, mfc="white" if one else color, ms=6, capsize=3, lw=1.6)
            ax.annotate(f"{r.wins}/{r.n_pairs}", (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color="0.35")
        ax.set_yticks(range(len(group)), list(group["label"]))
        ax.axvline(0, color="0.3", lw=1, ls="--")
        ax.set_title(f"{setting}: method − {group['reference_label'].iloc[0]}", fontsize=10, loc="left")
        ax.set_ylim(-0.7, len(group) - 0.3)
    axes[-1, 0].set_xlabel("difference in clean test accuracy (points), 95 % interval")
    one_seed = bool((rows["n_pairs"] == 1).any())
    fig.suptitle("Paired differences over splits (right: splits where the method was higher)"
                 + ("\nhollow: the interval rests on one seed (its test set only)" if one_seed else ""), fontsize=10)
    fig.tight_layout()
    return fig
