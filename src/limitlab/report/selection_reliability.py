"""How reliable is the paper's selection of a cell's point? (docs/methods.md, "Selection reliability")

A cell's points j = 1..J (its complete grid points, params order) are each trained on splits s = 1..S (seeds).
For run (j, s), ``val_predictions.npz`` (:mod:`limitlab.evaluation.evaluate`) gives c_{js,i} = 1[ŷ_i = ỹ_i] on
the n_s noisy validation labels of split s (same examples for every point) and result.json the test accuracy
t_{js} of that checkpoint. The paper's rule (:func:`limitlab.report.cells.select`) picks argmax_j v̄_j with
v̄_j = (1/S) Σ_s v_{js}, v_{js} = mean_i c_{js,i} (ties: the first in params order), and reports t̄_j = mean_s t_{js}.

**Bootstrap of the validation set.** For b = 1..B (``bootstrap.samples``), draw for each split n_s indices with
replacement from ``numpy.random.default_rng([bootstrap.seed, split seed])`` (so the same resample for every point
of the split, and for every method of the setting), recompute v^b_{js}, and redo the rule: sel_b = argmax_j v̄^b_j.
A study with ``train_seeds`` has several runs per point and split: s then runs over the (split, training seed)
pairs, each resampled with its split's indices, and the means are over the pairs (as the rule's mean is).

* P(select j) = (1/B) Σ_b 1[sel_b = j];
* expected test accuracy of the rule E = (1/B) Σ_b t̄_{sel_b}, its spread sd_b(t̄_{sel_b}) (ddof = 0) and
  percentile interval (``bootstrap.ci``);
* the test-best point o = argmax_j t̄_j (the point whose best-validation checkpoint is best on test; not the
  ``oracle`` rule, which also picks the epoch); P(test-best) = (1/B) Σ_b 1[t̄_{sel_b} = t̄_o] (equal up to
  float32's rounding; every argmax here breaks ties as the rule does, :func:`~.run_outputs.first_best`);
* the good set G = {j : t̄_j ≥ t̄_o − :data:`WITHIN`} (within 1 test point) and P(within 1 point) =
  (1/B) Σ_b 1[sel_b ∈ G]: the cell's **selection reliability**. Below :data:`COIN_TOSS_BELOW` the cell is marked
  a coin toss (:data:`COIN_TOSS_MARK`) wherever its number is shown.

The bootstrap keeps each run's checkpoint (chosen on the full validation set) fixed, and resamples around the
observed means: it overstates reliability, never understates it.

**Labels needed** for a :data:`TARGET` chance of selecting in G. With m noisy validation labels per split the
validation accuracy behaves as v_{js}(m) = μ_{js} + sqrt(n_s/m) δ^b_{js}, δ^b_{js} = v^b_{js} − v_{js} (the
bootstrap deviations: the per-label spread and the pairing of the points on the same examples, scaled to m by the
central limit theorem). With u = 1/sqrt(m), M_j = mean_s μ_{js} and D^b_j = mean_s sqrt(n_s) δ^b_{js}, the rule
picks argmax_j (M_j + u D^b_j); u*_b is the smallest u where that leaves G (0 if argmax M ∉ G, ∞ if never), and

    m_90 = min{m : (1/B) Σ_b 1[u*_b > 1/sqrt(m)] ≥ 0.9} = floor(1 / u_(k)²) + 1,   k = ceil(0.9 B),

u_(k) the k-th largest u*_b (0 when every point is in G; none when u_(k) = 0). μ is the expected noisy validation
accuracy: under a known class-conditional T, μ_{js} = (1/N) Σ_x T[y_x, ŷ_{js}(x)] over the clean test set (the
noise rate enters here: for uniform noise μ = p/(K−1) + λ t with λ = 1 − pK/(K−1)), basis ``test``; otherwise the
observed v_{js}, basis ``validation``. For two points this is the familiar m_90 ≈ n (z_0.9 σ_Δ / Δμ)², σ_Δ the
standard error of v_1 − v_2 at n labels and Δμ = λ Δt under uniform noise: the labels needed grow as 1/λ², 81× at
p = 0.8 with 10 classes. It uses the test set to size the validation set: a diagnostic, never a selection.

**Noise-corrected validation accuracy** (class-conditional noise with transition T, T[i, j] = P(ỹ = j | y = i),
label noise independent of the model's prediction given the clean label): P(ŷ = k, ỹ = j) = Σ_i P(ŷ = k, y = i)
T[i, j], so C_clean = C_noisy T⁻¹ and a_c = tr(C_clean) = (1/n) Σ_i w_i with w_i = (T⁻¹)[ỹ_i, ŷ_i], standard
error sd(w)/sqrt(n) (scipy.stats.sem). Uniform noise: a_c = (a_n − p/(K−1)) / (1 − pK/(K−1)). Per point: the mean
over splits, SE = sqrt(Σ_s SE_s²)/S. Not for instance-dependent, human or file noise (:data:`NOT_CLASS_CONDITIONAL`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from limitlab import io
from limitlab.errors import LimitlabError
from limitlab.experiment.paths import RunFiles
from limitlab.report.run_outputs import ACCURACY_SLACK, first_best

WITHIN = 0.01          # "within 1 test point" of the test-best point (accuracies as fractions)
TARGET = 0.9           # the chance the labels-needed number is for
COIN_TOSS_BELOW = 0.5  # selection reliability (P within 1 point) below this: the cell is a coin toss
COIN_TOSS_MARK = "?"   # its mark in table.md, the results page and `limitlab compare --markdown`
# noise models whose labels are not drawn from a class-level T independently of the image (transition.DRAWN_OWN_WAY
# less 'matrix'): no noise correction for them, and the labels needed rest on the observed validation means
NOT_CLASS_CONDITIONAL = frozenset({"instance", "human", "file"})
ADD_FILES = "limitlab evaluate --params FILE --val-predictions-only"  # adds the file alone, no retraining


def good_set(test_acc: np.ndarray, best: int) -> np.ndarray:
    """G: the points within 1 test point of the test-best one (float32 accuracies: equal up to ACCURACY_SLACK)."""
    return test_acc >= test_acc[best] - WITHIN - ACCURACY_SLACK


@dataclass
class Reliability:
    """One cell's selection reliability (fractions in [0, 1]; arrays over :attr:`points`)."""

    points: list[str]
    seeds: list[int]
    n_val: int | None  # per split (the smallest); None: not read (a one-point cell without the files)
    samples: int | None
    select_prob: np.ndarray
    test_acc: np.ndarray
    val_acc: np.ndarray
    val_acc_se: np.ndarray
    selected: int
    test_best: int
    expected_test: float
    test_std: float
    test_ci: tuple[float, float]
    p_test_best: float
    p_within: float
    labels_needed: int | None
    labels_basis: str
    val_corrected: np.ndarray | None = None
    val_corrected_se: np.ndarray | None = None
    note: str | None = None

    @property
    def good(self) -> np.ndarray:
        return good_set(self.test_acc, self.test_best)

    @property
    def coin_toss(self) -> bool:
        return self.p_within < COIN_TOSS_BELOW


# ---------------------------------------------------------------------------------------------------------------
# The numbers (pure numpy)
# ---------------------------------------------------------------------------------------------------------------


def draw_indices(n: int, samples: int, seed: int, split_seed: int) -> np.ndarray:
    """(samples, n) bootstrap indices of one split's validation set, from default_rng([seed, split_seed])."""
    rng = np.random.default_rng([int(seed) % 2**63, int(split_seed) % 2**63])
    return rng.integers(0, n, size=(samples, n), dtype=np.int32)


def resampled_accuracies(correct: list[np.ndarray], indices: list[np.ndarray]) -> np.ndarray:
    """v^b_{js}, shape (B, J, S): per split s, ``correct[s]`` (J, n_s) of 0/1 resampled by ``indices[s]`` (B, n_s)
    (the same rows for every point j)."""
    if len(correct) != len(indices):
        raise LimitlabError(f"{len(correct)} split(s) of predictions but {len(indices)} of resample indices")
    B = len(indices[0])
    J = len(correct[0])
    out = np.empty((B, J, len(correct)))
    for s, (c, idx) in enumerate(zip(correct, indices)):
        c = np.asarray(c, dtype=float)
        if len(idx) != B or idx.shape[1] != c.shape[1]:
            raise LimitlabError(f"split {s}: indices {idx.shape} do not resample {c.shape[1]} examples {B} times")
        for j in range(J):
            out[:, j, s] = c[j][idx].mean(axis=1)
    return out


def first_exit(M: np.ndarray, D: np.ndarray, good: np.ndarray) -> float:
    """The smallest u ≥ 0 at which argmax_j (M_j + u D_j) leaves ``good`` (0: it starts outside, or the best M is
    shared with a point outside; inf: never). Walks the upper envelope of the lines from u = 0+ (ties at a
    crossing: the steeper line leads)."""
    top = np.flatnonzero(M >= M.max() - ACCURACY_SLACK)  # equal means (float32 accuracies) share the top
    j = int(top[np.argmax(D[top])])
    if not good[top].all():
        return 0.0
    u = 0.0
    while True:
        steeper = np.flatnonzero(D > D[j])
        if steeper.size == 0:
            return math.inf
        cross = (M[j] - M[steeper]) / (D[steeper] - D[j])  # where each steeper line overtakes j (≥ u)
        first = cross.min()
        tied = steeper[cross == first]
        j, u = int(tied[np.argmax(D[tied])]), max(u, float(first))
        if not good[j]:
            return u


def labels_needed(mu: np.ndarray, deviations: np.ndarray, n_val: np.ndarray, good: np.ndarray,
                  target: float = TARGET) -> int | None:
    """m_90 of the module docstring: mu (J, S) expected noisy validation accuracies, deviations (B, J, S) the
    bootstrap deviations at n_val (S,) labels; 0 when every point is good, None when no number of labels does."""
    if good.all():
        return 0
    M = mu.mean(axis=1)
    D = (deviations * np.sqrt(np.asarray(n_val, dtype=float))).mean(axis=2)  # (B, J)
    exits = np.sort([first_exit(M, d, good) for d in D])[::-1]
    k = math.ceil(target * len(exits) - 1e-9)
    u = exits[k - 1]
    if u == 0:
        return None
    return 1 if math.isinf(u) else math.floor(1 / u**2) + 1


def reliability_numbers(v_obs: np.ndarray, v_b: np.ndarray, test: np.ndarray, mu: np.ndarray | None,
                        n_val: np.ndarray, ci: float = 0.95) -> dict:
    """Every number of :class:`Reliability` but the corrected accuracy: v_obs (J, S) observed noisy validation
    accuracies, v_b (B, J, S) resampled ones, test (J, S) test accuracies, mu (J, S) expected noisy validation
    accuracies (None: v_obs, basis 'validation')."""
    t = test.mean(axis=1)
    sel_b = first_best(v_b.mean(axis=2), axis=1)  # the rule, with its tie-break
    best = int(first_best(t))
    good = good_set(t, best)
    picked = t[sel_b]
    lo, hi = np.percentile(picked, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2])
    return {
        "select_prob": np.bincount(sel_b, minlength=len(t)) / len(sel_b),
        "selected": int(first_best(v_obs.mean(axis=1))), "test_best": best, "test_acc": t,
        "expected_test": float(picked.mean()), "test_std": float(picked.std()), "test_ci": (float(lo), float(hi)),
        "p_test_best": float(np.mean(picked >= t[best] - ACCURACY_SLACK)), "p_within": float(np.mean(good[sel_b])),
        "labels_needed": labels_needed(v_obs if mu is None else mu, v_b - v_obs[None], n_val, good),
        "labels_basis": "validation" if mu is None else "test",
    }


def corrected_accuracy(predicted: np.ndarray, given: np.ndarray, transition: np.ndarray) -> tuple[float, float]:
    """(a_c, its standard error): the clean accuracy estimated from noisy labels, a_c = mean_i (T⁻¹)[ỹ_i, ŷ_i]
    (module docstring); an error for a transition matrix that is not square, not row-stochastic or singular."""
    T = np.asarray(transition, dtype=float)
    if T.ndim != 2 or T.shape[0] != T.shape[1] or not np.allclose(T.sum(axis=1), 1, atol=1e-6) or (T < 0).any():
        raise LimitlabError(f"the transition matrix (shape {T.shape}) is not square and row-stochastic")
    if np.linalg.cond(T) > 1e10:
        raise LimitlabError("the transition matrix is singular (e.g. uniform noise at p = (K−1)/K): the noisy "
                            "labels carry no information about the clean accuracy")
    w = np.linalg.inv(T)[np.asarray(given), np.asarray(predicted)]
    return float(w.mean()), float(stats.sem(w)) if len(w) > 1 else math.nan


# ---------------------------------------------------------------------------------------------------------------
# A cell
# ---------------------------------------------------------------------------------------------------------------


def _load(path: Path, keys: tuple[str, ...]) -> dict:
    arrays = io.load_npz(path, "predictions file")
    lacking = [k for k in keys if k not in arrays]
    if lacking:
        raise LimitlabError(f"{path} lacks {', '.join(lacking)}")
    return arrays


def _split(runs: list[dict], slot: tuple[int, int], class_conditional: bool, messages: list[str]) -> dict:
    """One split (and training seed) of a cell: its points' validation correctness (J, n), their standard errors and
    test accuracies, and, under a known class-conditional T, the expected noisy accuracies mu and the corrected
    accuracies."""
    recs = [by[slot] for by in runs]
    seed = slot[0]
    preds = [_load(Path(r.run.spec.eval_dir) / RunFiles.VAL_PREDICTIONS, ("logits", "given_label", "index"))
             for r in recs]
    if any(not np.array_equal(p["index"], preds[0]["index"]) or not np.array_equal(p["given_label"],
                                                                                 preds[0]["given_label"])
           for p in preds):
        raise LimitlabError(f"split {seed}: its runs' {RunFiles.VAL_PREDICTIONS} hold different validation examples")
    c = np.stack([p["logits"].argmax(1) == p["given_label"] for p in preds])
    for r, acc in zip(recs, c.mean(axis=1)):
        if abs(acc - r.result["best_val_acc"]) > 0.5 / c.shape[1]:
            messages.append(f"{r.run.key}: its {RunFiles.VAL_PREDICTIONS} give a noisy validation accuracy of "
                            f"{acc:.4f}, result.json {r.result['best_val_acc']:.4f} (the checkpoint predicts "
                            "differently now, e.g. on another device)")
    out = {"correct": c, "se": [stats.sem(row) for row in c.astype(float)],
           "test": [r.result["test_acc"] for r in recs], "mu": None, "corr": None, "why": None}
    T = preds[0].get("transition") if class_conditional else None
    if class_conditional and T is None:
        out["why"] = f"the runs' {RunFiles.VAL_PREDICTIONS} hold no transition matrix: no noise-corrected accuracy"
    if T is not None:
        tests = [_load(Path(r.run.spec.eval_dir) / RunFiles.PREDICTIONS, ("logits", "labels")) for r in recs]
        out["mu"] = [np.asarray(T, dtype=float)[t["labels"], t["logits"].argmax(1)].mean() for t in tests]
        try:
            out["corr"] = [corrected_accuracy(p["logits"].argmax(1), p["given_label"], T) for p in preds]
        except LimitlabError as exc:
            out["why"] = f"no noise-corrected accuracy: {exc}"
    return out


def _single_point(pt, seeds: list[int]) -> Reliability:
    """A one-point cell whose runs lack val_predictions.npz: nothing to select, so P = 1 everywhere and no labels
    are needed; its validation accuracy is result.json's, without standard error or noise correction."""
    test = float(np.mean([r.result["test_acc"] for r in pt.done]))
    return Reliability(points=[pt.tag], seeds=seeds, n_val=None, samples=None, select_prob=np.ones(1),
                       test_acc=np.array([test]), val_acc=np.array([pt.mean_val_acc]), val_acc_se=np.array([math.nan]),
                       selected=0, test_best=0, expected_test=test, test_std=0.0, test_ci=(test, test),
                       p_test_best=1.0, p_within=1.0, labels_needed=0, labels_basis="one point",
                       note=f"one point, nothing to select; no {RunFiles.VAL_PREDICTIONS}, so no noise-corrected "
                            "accuracy")


def cell_reliability(cell, bootstrap, messages: list[str] | None = None) -> tuple[Reliability | None, str | None]:
    """(the cell's :class:`Reliability`, None) or (None, why not) for a cell of :mod:`limitlab.report.cells`;
    ``bootstrap`` is the params file's bootstrap block (samples, seed, ci). Runs without val_predictions.npz leave
    the cell out (they were evaluated before the file existed; :data:`ADD_FILES` adds it without retraining)."""
    messages = [] if messages is None else messages
    if cell.selected is None:
        return None, None
    points = [pt for pt in cell.points if pt.complete]
    # a run's slot: (split seed, training seed); a split with several training seeds is several slots, each
    # resampled with its split's indices
    slots = [r.run.spec.split_and_training_seed for r in points[0].done]
    if any(sorted(r.run.spec.split_and_training_seed for r in pt.done) != sorted(slots) for pt in points):
        return None, "its points were trained on different seeds"
    runs = [{r.run.spec.split_and_training_seed: r for r in pt.done} for pt in points]
    seeds = [seed for seed, _ in slots]
    lacking = [by[s].run.key for by in runs for s in slots
               if not (Path(by[s].run.spec.eval_dir) / RunFiles.VAL_PREDICTIONS).is_file()]
    if lacking and len(points) == 1:
        return _single_point(points[0], sorted(set(seeds))), None
    if lacking:
        return None, (f"its runs lack {RunFiles.VAL_PREDICTIONS} ({len(lacking)} of {len(points) * len(seeds)}: "
                      f"evaluated before it existed; `{ADD_FILES}` adds it without retraining)")
    spec = points[0].done[0].run.spec
    class_conditional = spec.dataset.clean_validation or cell.noise_model not in NOT_CLASS_CONDITIONAL
    try:
        splits = [_split(runs, s, class_conditional, messages) for s in slots]
    except LimitlabError as exc:
        return None, str(exc)
    why_not = (None if class_conditional else
               f"{cell.noise_model} noise is not class-conditional: no noise-corrected accuracy")
    why_not = why_not or next((sp["why"] for sp in splits if sp["why"]), None)
    correct = [sp["correct"] for sp in splits]
    n_val = np.array([c.shape[1] for c in correct])
    indices = [draw_indices(int(n), bootstrap.samples, bootstrap.seed, s) for n, s in zip(n_val, seeds)]
    v_obs = np.array([c.mean(axis=1) for c in correct]).T  # (J, S)
    mu = np.array([sp["mu"] for sp in splits]).T if all(sp["mu"] is not None for sp in splits) else None
    numbers = reliability_numbers(v_obs, resampled_accuracies(correct, indices),
                                  np.array([sp["test"] for sp in splits], dtype=float).T, mu, n_val, bootstrap.ci)
    S = len(seeds)
    combine = lambda se: np.sqrt((np.asarray(se, dtype=float).T ** 2).sum(axis=1)) / S  # noqa: E731
    rel = Reliability(points=[pt.tag for pt in points], seeds=sorted(set(seeds)), n_val=int(n_val.min()),
                      samples=bootstrap.samples, val_acc=v_obs.mean(axis=1),
                      val_acc_se=combine([sp["se"] for sp in splits]), note=why_not, **numbers)
    if all(sp["corr"] is not None for sp in splits):
        rel.val_corrected = np.array([[a for a, _ in sp["corr"]] for sp in splits]).T.mean(axis=1)
        rel.val_corrected_se = combine([[e for _, e in sp["corr"]] for sp in splits])
    if points[rel.selected] is not cell.selected:
        messages.append(f"{cell.key} {cell.method_id}: on {RunFiles.VAL_PREDICTIONS} the paper's rule picks "
                        f"{points[rel.selected].tag}, on result.json {cell.selected.tag}")
    return rel, None


# ---------------------------------------------------------------------------------------------------------------
# Table columns and the table.md section
# ---------------------------------------------------------------------------------------------------------------


def _pct(x) -> float | None:
    return None if x is None or not math.isfinite(x) else 100 * float(x)


def _at(rel: Reliability, tag: str | None) -> int | None:
    return rel.points.index(tag) if tag in rel.points else None


TABLE_COLUMNS = ("reliability_p_within_1pt", "reliability_p_selected", "reliability_p_test_best", "reliability_expected_test_acc_pct",
                 "reliability_test_acc_std_pct", "reliability_test_best_point", "reliability_labels_needed_90",
                 "reliability_labels_basis", "reliability_n_val", "reliability_points", "reliability_samples",
                 "coin_toss", "reliability_note", "val_acc_noisy_se_pct", "val_acc_corrected_pct",
                 "val_acc_corrected_se_pct")
INT_COLUMNS = ("reliability_labels_needed_90", "reliability_n_val", "reliability_points", "reliability_samples")


def reliability_columns(cell) -> dict:
    """table.csv's columns of the cell's selection reliability (empty where it was not computed, with why)."""
    rel: Reliability | None = cell.reliability
    if rel is None:
        return {**dict.fromkeys(TABLE_COLUMNS), "reliability_note": cell.reliability_note}
    i = _at(rel, cell.selected.tag if cell.selected is not None else None)
    corrected = rel.val_corrected is not None and i is not None
    return {
        "reliability_p_within_1pt": rel.p_within, "reliability_p_test_best": rel.p_test_best,
        "reliability_p_selected": None if i is None else float(rel.select_prob[i]),
        "reliability_expected_test_acc_pct": _pct(rel.expected_test), "reliability_test_acc_std_pct": _pct(rel.test_std),
        "reliability_test_best_point": rel.points[rel.test_best], "reliability_labels_needed_90": rel.labels_needed,
        "reliability_labels_basis": rel.labels_basis, "reliability_n_val": rel.n_val,
        "reliability_points": len(rel.points), "reliability_samples": rel.samples, "coin_toss": rel.coin_toss,
        "reliability_note": rel.note,
        "val_acc_noisy_se_pct": None if i is None else _pct(rel.val_acc_se[i]),
        "val_acc_corrected_pct": _pct(rel.val_corrected[i]) if corrected else None,
        "val_acc_corrected_se_pct": _pct(rel.val_corrected_se[i]) if corrected else None,
    }


def point_columns(cell, tag: str) -> dict:
    """selection.csv's columns of one point: how often the rule picks it on resampled validation sets, whether it
    is within 1 test point of the test-best point, and its noise-corrected validation accuracy (fractions)."""
    rel: Reliability | None = cell.reliability
    i = None if rel is None else _at(rel, tag)
    if i is None:
        return {"selection_probability": None, "within_1pt_of_test_best": None, "test_best": None,
                "val_acc_corrected": None, "val_acc_corrected_se": None}
    return {"selection_probability": float(rel.select_prob[i]), "within_1pt_of_test_best": bool(rel.good[i]),
            "test_best": i == rel.test_best,
            "val_acc_corrected": None if rel.val_corrected is None else float(rel.val_corrected[i]),
            "val_acc_corrected_se": None if rel.val_corrected_se is None else float(rel.val_corrected_se[i])}
