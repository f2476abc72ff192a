"""``detection``: ROC AUC and average precision (%) for finding the corrupted training labels, per setting, of
every q-network method (LIMIT's distance ‖s(b) − e_ỹ‖₂) beside cleanlab (from detection.csv's frame)."""

from __future__ import annotations

import pandas as pd

from limitlab.report.figures.style import legend_below, setup


def detection_figure(frame: pd.DataFrame):
    """ROC AUC and AP (%) of each detector per setting (tables.detection_frame: LIMIT rows and cleanlab)."""
    plt, sns = setup()
    frame = frame.dropna(subset=["detection_auc_pct"])
    if frame.empty:
        return None
    long = frame.melt(id_vars=["setting", "label"], value_vars=["detection_auc_pct", "detection_ap_pct"],
                      var_name="metric", value_name="value").dropna(subset=["value"])
    long["metric"] = long["metric"].map({"detection_auc_pct": "ROC AUC (%)", "detection_ap_pct": "average precision (%)"})
    settings = list(dict.fromkeys(frame["setting"]))
    fig, axes = plt.subplots(1, 2, figsize=(6 + 2.2 * len(settings), 4.6), sharey=True, layout="constrained")
    labels = list(dict.fromkeys(frame["label"]))
    palette = dict(zip(labels, sns.color_palette("tab10" if len(labels) <= 10 else "husl", len(labels))))
    for ax, metric in zip(axes, ["ROC AUC (%)", "average precision (%)"]):
        sns.barplot(long[long["metric"] == metric], x="setting", y="value", hue="label", hue_order=labels,
                    order=settings, palette=palette, ax=ax, legend=ax is axes[0])
        ax.set(title=metric, xlabel="", ylabel="%", ylim=(0, 100))
        ax.tick_params(axis="x", labelrotation=15)
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    legend_below(fig, axes, ncol_max=4)
    fig.suptitle("Finding the corrupted training labels: LIMIT (distance ‖s(b) − e_ỹ‖₂) vs cleanlab "
                 "(1 − self-confidence, K-fold CE)", fontsize=11)
    return fig
