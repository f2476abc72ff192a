"""``detection``: ROC AUC and average precision (%) for finding the corrupted training labels, per setting, of
every q-network method (LIMIT's distance ‖s(b) − e_ỹ‖₂) beside cleanlab and the trivial CE-loss detector (from
detection.csv's frame), and the precision when flagging as many examples as there are corrupted labels."""

from __future__ import annotations

import pandas as pd

from limitlab.report.figures.style import legend_below, setup


def detection_figure(frame: pd.DataFrame):
    """ROC AUC and AP (%) of each detector per setting (detection_tables.detection_frame: LIMIT rows and cleanlab)."""
    plt, sns = setup()
    frame = frame.dropna(subset=["detection_auc_pct"])
    if frame.empty:
        return None
    names = {"detection_auc_pct": "ROC AUC (%)", "detection_ap_pct": "average precision (%)",
             "precision_at_noise_rate_pct": "precision = recall at the noise count (%)"}
    names = {k: v for k, v in names.items() if k in frame and frame[k].notna().any()}
    long = frame.melt(id_vars=["setting", "label"], value_vars=list(names), var_name="metric",
                      value_name="value").dropna(subset=["value"])
    long["metric"] = long["metric"].map(names)
    settings = list(dict.fromkeys(frame["setting"]))
    fig, axes = plt.subplots(1, len(names), figsize=(3 + 1.6 * len(names) * max(1, len(settings)), 4.6),
                             sharey=True, layout="constrained")
    labels = list(dict.fromkeys(frame["label"]))
    palette = dict(zip(labels, sns.color_palette("tab10" if len(labels) <= 10 else "husl", len(labels))))
    for ax, metric in zip(axes, names.values()):
        sns.barplot(long[long["metric"] == metric], x="setting", y="value", hue="label", hue_order=labels,
                    order=settings, palette=palette, ax=ax, legend=ax is axes[0])
        ax.set(title=metric, xlabel="", ylabel="%", ylim=(0, 100))
        ax.tick_params(axis="x", labelrotation=15)
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    legend_below(fig, axes, ncol_max=4)
    fig.suptitle("Finding the corrupted training labels: LIMIT (distance ‖s(b) − e_ỹ‖₂), cleanlab "
                 "(1 − self-confidence, K-fold CE) and CE's own training loss (trivial)", fontsize=11)
    return fig
