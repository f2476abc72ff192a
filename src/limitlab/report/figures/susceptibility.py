"""Susceptibility figures (Forouzesh et al. 2023; docs/methods.md, "Susceptibility"), for runs trained with
``training.susceptibility: true``.

``figures/susceptibility_<setting>.png/.pdf``, one per setting with susceptibility data, four panels:

1. training accuracy on the noisy labels per epoch, 2. clean test accuracy per epoch (each method's
noisy-validation-selected point, seed mean), 3. susceptibility ζ(t) (running mean of Δ_t, thick) with the
per-epoch Δ_t (thin), 4. the selection plane of Forouzesh et al.: final training accuracy vs final ζ of every
finished point of every method, split into the four regions at the pool means (Region 1, top left = trainable
and resistant to memorisation), the point the rule selects circled.

Drawn by the one figure driver (:func:`limitlab.report.figures.index.make_figures`), listed in ``figures/index.json``
with the others; the report category and caption are the ``susceptibility`` entry of its ``FAMILIES``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from limitlab.report.cells import Cell, Point
from limitlab.report.figures.style import setup
from limitlab.report.run_outputs import read_history
from limitlab.report.susceptibility_selection import DELTA, ZETA, final_epoch, regions, select

COLUMNS = ("train_acc_noisy", "test_acc", DELTA, ZETA)


def susceptibility_curve(pt: Point) -> pd.DataFrame | None:
    """Seed-mean per-epoch train_acc_noisy, test_acc, Δ_t and ζ(t) of one point (None without susceptibility)."""
    frames = []
    for rec in pt.done:
        df, _ = read_history(rec.run)
        if df is None or ZETA not in df:
            continue
        frames.append(df[["epoch", *[c for c in COLUMNS if c in df]]])
    if not frames:
        return None
    return pd.concat(frames).groupby("epoch").mean().reset_index()


def susceptibility_figure(cells: list[Cell], colors: dict):
    """The four-panel figure of one setting, or None when none of its runs tracked susceptibility."""
    plt, _ = setup()  # the same style as every other figure, whichever figures this process drew before

    curves = [(c, susceptibility_curve(c.selected)) for c in cells if c.selected is not None]
    curves = [(c, df) for c, df in curves if df is not None]
    if not curves:
        return None
    fig, axes = plt.subplots(1, 4, figsize=(19, 4.6))
    for ax, col, title in ((axes[0], "train_acc_noisy", "Training accuracy, noisy labels"),
                           (axes[1], "test_acc", "Clean test accuracy")):
        for cell, df in curves:
            if col in df:
                ax.plot(df["epoch"], 100 * df[col], color=colors[cell.method_id], lw=1.8, label=cell.label)
        ax.set(title=title, xlabel="epoch", ylabel="accuracy (%)", ylim=(0, 101))
    for cell, df in curves:
        axes[2].plot(df["epoch"], df[ZETA], color=colors[cell.method_id], lw=2.0, label=cell.label)
        axes[2].plot(df["epoch"], df[DELTA], color=colors[cell.method_id], lw=0.8, alpha=0.4)
    axes[2].axhline(0, color="0.5", lw=0.8)
    axes[2].set_yscale("symlog", linthresh=0.1)  # a diverging method (e.g. plain BC) reaches ζ ~ 100
    axes[2].set(title="Susceptibility ζ(t) (thin: Δ_t)", xlabel="epoch", ylabel="loss decrease on random labels (symlog)")

    pool = [(c, pt, fin) for c in cells for pt in c.points if (fin := final_epoch(pt)) is not None]
    ax = axes[3]
    if pool:
        frame = pd.DataFrame([fin for _, _, fin in pool])
        acc, zeta = 100 * frame.train_acc_noisy.to_numpy(), frame[ZETA].to_numpy()
        for (c, _, _), a, z in zip(pool, acc, zeta):
            ax.scatter(z, a, color=colors[c.method_id], s=36, edgecolor="white", linewidth=0.5, zorder=3)
        ax.axvline(zeta.mean(), color="0.3", ls="--", lw=1)
        ax.axhline(acc.mean(), color="0.3", ls="--", lw=1)
        pos, _ = select(frame)
        ax.scatter(zeta[pos], acc[pos], s=160, facecolor="none", edgecolor="black", linewidth=1.5, zorder=4,
                   label="selected (Region 1 rule)")
        counts = np.bincount(regions(acc, zeta), minlength=5)[1:]
        ax.set_xscale("symlog", linthresh=0.1)
        ax.set_title("Selection: Region 1 = top left\n" + ", ".join(f"R{i + 1}: {n}" for i, n in enumerate(counts)),
                     fontsize=10)
    ax.set(xlabel="final susceptibility ζ (symlog)", ylabel="final train acc. (noisy, %)")
    c0 = cells[0]
    fig.suptitle(f"Susceptibility to random labels — {c0.dataset}, {c0.noise} noise p = {c0.p:g}, n = {c0.n}",
                 fontsize=11)
    handles, labels = {}, []
    for a in axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    fig.legend([handles[lab] for lab in labels], labels, loc="lower center", ncol=min(6, len(labels)),
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
