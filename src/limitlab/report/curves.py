"""Per-epoch learning curves of selected points: the seed mean of history.csv, and curves.csv of the experiment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from limitlab.report.cells import Cell, Point
from limitlab.report.run_outputs import read_history

CURVE_COLUMNS = ("train_acc_noisy", "train_acc_clean", "val_acc", "test_acc")


def point_curve(pt: Point, messages: list[str] | None = None) -> pd.DataFrame | None:
    """Seed-mean per-epoch curves of one point (epochs where at least one seed ran; n_seeds per epoch)."""
    frames = []
    for rec in pt.done:
        df, why = read_history(rec.run, rec.result)
        if df is None:
            if messages is not None:
                messages.append(why)
            continue
        cols = [c for c in CURVE_COLUMNS if c in df]
        frames.append(df[["epoch", *cols]].assign(seed=rec.run.spec.seed))
    if not frames:
        return None
    all_seeds = pd.concat(frames, ignore_index=True)
    for c in CURVE_COLUMNS:
        if c not in all_seeds:
            all_seeds[c] = np.nan
    out = all_seeds.groupby("epoch")[list(CURVE_COLUMNS)].mean()
    out["n_seeds"] = all_seeds.groupby("epoch")["seed"].nunique()
    return out.reset_index()


def curves_frame(cells: list[Cell], messages: list[str]) -> pd.DataFrame:
    """curves.csv: the curves of every cell's selected point, one row per (cell, epoch)."""
    frames = []
    for cell in cells:
        if cell.selected is None:
            continue
        curve = point_curve(cell.selected, messages)
        if curve is None:
            continue
        frames.append(curve.assign(setting=cell.key, study=cell.study.id, dataset=cell.dataset, noise=cell.noise,
                                   p=cell.p, n=str(cell.n), method_id=cell.method_id, point=cell.selected.tag))
    cols = ["setting", "study", "dataset", "noise", "p", "n", "method_id", "point", "epoch", *CURVE_COLUMNS, "n_seeds"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)
