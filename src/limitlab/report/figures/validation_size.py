"""``validation_size_<setting>``: what model selection costs against the number of noisy validation labels, for a
study that sweeps ``n_val`` (its settings differ only in their validation sets, nested over the size:
:mod:`limitlab.data.split`, step 3).

Per method, against the validation size (log scale): the clean test accuracy of the paper's rule and the oracle
(dashed: best clean-test point and epoch, an upper bound selected on the test set); the selection cost, oracle −
paper's rule; and, where it was computed, the selection reliability (the chance of a pick within 1 test point of
the test-best point) with the coin-toss line. Drawn from table.csv, so it shows the very numbers of the tables.
"""

from __future__ import annotations

import re

import pandas as pd

from limitlab.report.figures.style import setup
from limitlab.report.selection_reliability import COIN_TOSS_BELOW

_N_VAL = re.compile(r"-nval\d+(?=/)")


def sweep_key(setting: str) -> str:
    """A setting's key without its validation size: the settings of one sweep share it."""
    return _N_VAL.sub("", setting)


def sweeps(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Sweep key → the table.csv rows of the cells whose setting differs only in validation size, where a method has
    a number at two or more sizes."""
    if "val_size" not in table:
        return {}
    rows = table[table["test_acc_pct"].notna() & table["val_size"].notna()].copy()
    rows["sweep"] = rows["setting"].map(sweep_key)
    out = {}
    for key, group in rows.groupby("sweep", sort=False):
        if (group.groupby(["study", "method_id"])["val_size"].nunique() >= 2).any():
            out[key] = group
    return out


def validation_size_figure(group: pd.DataFrame, colors: dict):
    """The figure of one sweep (rows of :func:`sweeps`); None when no method has two sizes."""
    methods = [(s, m) for (s, m), g in group.groupby(["study", "method_id"], sort=False) if g["val_size"].nunique() >= 2]
    if not methods:
        return None
    plt, _ = setup()
    reliable = "reliability_p_within_1pt" in group and group["reliability_p_within_1pt"].notna().any()
    fig, axes = plt.subplots(1, 3 if reliable else 2, figsize=(13 if reliable else 9, 3.8), squeeze=False)
    axes = axes[0]
    for study, method_id in methods:
        g = group[(group["study"] == study) & (group["method_id"] == method_id)].sort_values("val_size")
        color, label = colors.get(method_id, "0.3"), str(g["label"].iloc[0])
        axes[0].plot(g["val_size"], g["test_acc_pct"], "o-", color=color, label=label)
        if g["test_acc_oracle_pct"].notna().any():
            axes[0].plot(g["val_size"], g["test_acc_oracle_pct"], "--", color=color, lw=1, alpha=0.8)
            axes[1].plot(g["val_size"], g["test_acc_oracle_pct"] - g["test_acc_pct"], "o-", color=color)
        if reliable:
            axes[2].plot(g["val_size"], g["reliability_p_within_1pt"], "o-", color=color)
    axes[0].set_ylabel("clean test accuracy (%)")
    axes[0].set_title("paper's rule (solid), oracle (dashed)", fontsize=10)
    axes[1].set_ylabel("oracle − paper's rule (points)")
    axes[1].set_title("selection cost", fontsize=10)
    axes[1].axhline(0, color="0.5", lw=0.8)
    if reliable:
        axes[2].set_ylabel("P(pick within 1 test point)")
        axes[2].set_title("selection reliability", fontsize=10)
        axes[2].axhline(COIN_TOSS_BELOW, color="0.4", lw=1, ls=":")
        axes[2].set_ylim(-0.03, 1.03)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("noisy validation labels per split")
        sizes = sorted(group["val_size"].unique())
        ax.set_xticks(sizes, [f"{int(v):,}" for v in sizes])
        ax.minorticks_off()
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(f"{group['sweep'].iloc[0]}: selection against validation size", fontsize=10)
    fig.tight_layout()
    return fig
