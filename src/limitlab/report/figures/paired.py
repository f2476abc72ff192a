"""``paired_differences``: the forest plot of the paired comparisons (:mod:`limitlab.report.paired`): per setting,
every method's mean difference to the reference on the same splits with its interval."""

from __future__ import annotations

from limitlab.report.figures.style import setup


def paired_figure(comparisons: list, colors: dict):
    """One panel per setting; a row per method: mean difference (points) and its interval. Hollow marker: the
    interval rests on one seed. None without comparisons against the reference."""
    rows = [c for c in comparisons if c.kind == "reference"]
    if not rows:
        return None
    plt, _ = setup()
    settings = list(dict.fromkeys(c.setting for c in rows))
    heights = [max(1, sum(c.setting == s for c in rows)) for s in settings]
    fig, axes = plt.subplots(len(settings), 1, figsize=(8, 0.42 * sum(heights) + 1.2 * len(settings)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False, sharex=True)
    for ax, setting in zip(axes[:, 0], settings):
        group = [c for c in rows if c.setting == setting]
        for y, c in enumerate(reversed(group)):
            s, color = c.stats, colors.get(c.method_id, "0.3")
            one = s.n == 1
            ax.errorbar(100 * s.mean, y, xerr=[[100 * (s.mean - s.low)], [100 * (s.high - s.mean)]], fmt="o",
                        color=color, mfc="white" if one else color, ms=6, capsize=3, lw=1.6)
            ax.annotate(f"{s.wins}/{s.n}", (1.0, y), xycoords=("axes fraction", "data"), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=8, color="0.35")
        ax.set_yticks(range(len(group)), [c.label for c in reversed(group)])
        ax.axvline(0, color="0.3", lw=1, ls="--")
        ref = group[0].reference_label
        ax.set_title(f"{setting}: method − {ref}", fontsize=10, loc="left")
        ax.set_ylim(-0.7, len(group) - 0.3)
    axes[-1, 0].set_xlabel("difference in clean test accuracy (points), 95 % interval")
    one_seed = any(c.stats.n == 1 for c in rows)
    fig.suptitle("Paired differences over splits (right: splits where the method was higher)"
                 + ("\nhollow: the interval rests on one seed (its test set only)" if one_seed else ""), fontsize=10)
    fig.tight_layout()
    return fig
