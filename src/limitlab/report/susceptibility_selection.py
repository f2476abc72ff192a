"""Model selection by susceptibility (Forouzesh, Sedghi & Thiran, ICLR 2023; docs/methods.md, "Susceptibility"):
the selection rule, and the extra table rows "<label> (susceptibility sel.)" it chooses.

The rule (the authors' README): over a pool of trained models, split at the pool's mean training accuracy (noisy
labels) and mean ζ into Region 1 (accuracy ≥ mean, ζ ≤ mean: trainable and resistant), 2 (≥, >), 3 (<, ≤) and
4 (<, >); pick Region 1, inside it the highest training accuracy (our tie-break). If Region 1 is empty (possible
with few models) we take the least susceptible model among those with training accuracy ≥ the mean (our
fallback). Inclusive bounds make a one-model pool select its model.

The history columns :data:`DELTA` (Δ_t) and :data:`ZETA` (ζ(t)) are named here; the training probe that writes
them (:mod:`limitlab.training.susceptibility`) imports the names from this module. Torch-free.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from limitlab.experiment.paths import SUSCEPTIBILITY_DELTA as DELTA
from limitlab.experiment.paths import SUSCEPTIBILITY_ZETA as ZETA
from limitlab.report.cells import Cell, Point
from limitlab.report.run_outputs import read_history

SUSCEPTIBILITY_SUFFIX = "_sus_sel"  # method id of the extra rows (and their metric keys)
ANY_METHOD = "any_method"           # the row whose pool is every method of the setting


# ---------------------------------------------------------------------------------------------------------------
# The rule
# ---------------------------------------------------------------------------------------------------------------


def regions(train_acc, zeta) -> np.ndarray:
    """Region (1-4) of each model: split at the pool means of training accuracy and ζ (inclusive toward 1)."""
    acc, z = np.asarray(train_acc, dtype=float), np.asarray(zeta, dtype=float)
    high, low = acc >= acc.mean(), z <= z.mean()
    return np.select([high & low, high, low], [1, 2, 3], 4)


def select(pool: pd.DataFrame, train_acc: str = "train_acc_noisy", zeta: str = ZETA) -> tuple[int, int | str]:
    """Row position of the model the rule selects, and its region (1, or 'fallback').

    ``pool`` has one row per model (e.g. per hyperparameter point, seed-averaged) with its final-epoch training
    accuracy on the noisy labels and its final ζ; rows with missing values are ignored. Region 1 → highest
    training accuracy (first row on ties); empty Region 1 → lowest ζ among models with accuracy ≥ the mean.
    """
    ok = pool[[train_acc, zeta]].notna().all(axis=1).to_numpy()
    if not ok.any():
        raise ValueError("no model in the pool has both a training accuracy and a susceptibility")
    rows = np.flatnonzero(ok)
    acc = pool[train_acc].to_numpy(dtype=float)[rows]
    z = pool[zeta].to_numpy(dtype=float)[rows]
    reg = regions(acc, z)
    if (reg == 1).any():
        inside = np.flatnonzero(reg == 1)
        return int(rows[inside[np.argmax(acc[inside])]]), 1
    trainable = np.flatnonzero(acc >= acc.mean())
    return int(rows[trainable[np.argmin(z[trainable])]]), "fallback"


# ---------------------------------------------------------------------------------------------------------------
# The extra rows of the tables
# ---------------------------------------------------------------------------------------------------------------


def final_epoch(pt: Point) -> dict | None:
    """Seed means of a complete point's final-epoch train_acc_noisy, ζ, val_acc and test_acc (None when a seed's
    history lacks any of them, e.g. trained without ``susceptibility: true``)."""
    if not pt.complete:
        return None
    rows = []
    for rec in pt.done:
        df, _ = read_history(rec.run)
        if df is None or not {ZETA, "train_acc_noisy", "val_acc", "test_acc"} <= set(df):
            return None
        rows.append(df.iloc[-1])
    tests = np.array([r["test_acc"] for r in rows], dtype=float)
    out = {k: float(np.mean([r[k] for r in rows])) for k in ("train_acc_noisy", ZETA, "val_acc")}
    return {**out, "test_acc": float(tests.mean()), "test_acc_std": float(tests.std(ddof=1)) if len(rows) > 1 else None,
            "seeds": [r.run.spec.seed for r in pt.done]}


def susceptibility_cells(cells: list[Cell]) -> tuple[list[Cell], pd.DataFrame]:
    """Extra cells selected by susceptibility instead of noisy validation, and the pool table behind them.

    Per method cell, and per setting over every method's points ("Any method"), the point chosen by
    :func:`select` (Region 1 of final-epoch training accuracy on the noisy labels vs final ζ, thresholds at the
    pool means; inside it the highest training accuracy). Its reported number is the FINAL-epoch clean test
    accuracy (seed mean; ± seed std with several seeds): no validation label is used.
    """
    extra: list[Cell] = []
    pool_rows: list[dict] = []
    by_setting: dict[str, list[tuple[Cell, Point, dict]]] = defaultdict(list)
    for cell in cells:
        for pt in cell.points:
            fin = final_epoch(pt)
            if fin is not None:
                by_setting[cell.key].append((cell, pt, fin))

    def add(template: Cell, method_id: str, label: str, members: list[tuple[Cell, Point, dict]], pool: str):
        frame = pd.DataFrame([fin for _, _, fin in members])
        pos, region = select(frame)
        for i, ((c, pt, fin), reg) in enumerate(zip(members, regions(frame.train_acc_noisy, frame[ZETA]))):
            pool_rows.append({"setting": template.key, "pool": pool, "method_id": c.method_id, "point": pt.tag,
                              "train_acc_noisy": fin["train_acc_noisy"], "susceptibility": fin[ZETA],
                              "region": int(reg), "selected": i == pos, "final_test_acc": fin["test_acc"]})
        chosen_cell, chosen, fin = members[pos]
        points = [pt for c in cells if c.key == template.key and pool in (ANY_METHOD, c.method_id) for pt in c.points]
        new = Cell(template.study, template.dataset, template.noise, template.noise_model, template.p, template.n,
                   method_id, label, template.key, points=points, selected=chosen)
        new.stats = {"n_seeds": len(fin["seeds"]), "val_acc": fin["val_acc"], "test_acc": fin["test_acc"],
                     "test_acc_std": fin["test_acc_std"],
                     "error": "seed_std" if fin["test_acc_std"] is not None else "final_epoch",
                     "point": chosen.point, "point_tag": chosen.tag, "seeds": fin["seeds"], "note": None,
                     "detection_auc": None, "detection_ap": None, "train_acc_noisy": fin["train_acc_noisy"],
                     "susceptibility": fin[ZETA], "region": region, "selected_method": chosen_cell.method_id}
        extra.append(new)

    for key, members in by_setting.items():
        for cell in cells:
            mine = [m for m in members if m[0] is cell]
            if mine:
                add(cell, cell.method_id + SUSCEPTIBILITY_SUFFIX, f"{cell.label} (susceptibility sel.)", mine,
                    cell.method_id)
        if len({c.method_id for c, _, _ in members}) > 1:
            add(members[0][0], ANY_METHOD + SUSCEPTIBILITY_SUFFIX, "Any method (susceptibility sel.)", members, ANY_METHOD)
    return extra, pd.DataFrame(pool_rows)
