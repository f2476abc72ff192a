"""What the grid found, on top of table.md and the results page: per setting, the best method and by how much.

Per setting (study, dataset, noise, p, n), from table.csv's frame (:func:`limitlab.report.tables.long_frame`) and
paired.csv's (:func:`limitlab.report.paired.paired_frame`), :func:`summary_frame` gives

* the *best method*: among the method rows (the params file's methods, not the susceptibility rows), the one with
  the highest clean test accuracy at the point the paper's rule selected (``test_acc_pct``; ties: the first in
  params order). It is the best on this grid's test set: the summary says what the grid found, it selects nothing;
* its paired difference to the reference (``comparisons.reference``, CE by default) and to the best baseline (the
  non-LIMIT method with the highest accuracy other than itself, as :func:`limitlab.report.paired.compare_cells`
  picks it): paired.csv's row of that pair as it is (mean, interval, splits higher / equal / lower, pairs). No
  statistic is computed here; a pair paired.csv lacks (``comparisons.best_baseline: false``, no common seed) stays
  empty;
* whether the selection of each cell is a coin toss (table.csv's ``coin_toss``,
  :mod:`limitlab.report.selection_reliability`), for the mark.

:func:`summary_view` turns it into a :class:`View`: display text plus caption, the form in which table.md
(:func:`limitlab.report.render.view_markdown`) and the results page (:func:`limitlab.report.render.view_html`)
render a table, with one rule for both: a row whose values all read "—" is left out, and the table says how many
were and why.

The second reading rule of both: detection in a setting whose training labels hold no corrupted label
(:func:`no_noise_settings`: p = 0, or a realised noise count of 0) has nothing to find, so its numbers read
:data:`NO_NOISE`, never 0.0; detection.csv keeps them empty (numeric columns stay numeric) with a ``no_noise``
column saying why (:func:`without_detection_numbers`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from limitlab.errors import LimitlabError
from limitlab.experiment.schema import Experiment
from limitlab.report.detection_budget import budget_view
from limitlab.report.paired import baseline_ids
from limitlab.report.run_outputs import first_best
from limitlab.report.selection_reliability import COIN_TOSS_BELOW, COIN_TOSS_MARK

DASH = "—"
PARTIAL_MARK = "*"  # after a number or label: its cell has unfinished points, so it was selected on a sub-grid
NO_NOISE = "no noise"  # a detection number where the training labels hold no corrupted label
ONE_SEED = "¹"
PAIR_NUMBERS = ("diff_pct", "ci_low_pct", "ci_high_pct", "wins", "ties", "losses", "n_pairs")
SIDES = ("reference", "baseline")
COLUMNS = ["setting", "study", "dataset", "noise", "p", "n", "best_id", "best_label", "best_test_acc_pct",
           "best_test_acc_std_pct", "best_coin_toss",
           *[f"{side}_{k}" for side in SIDES for k in ("id", "label", "coin_toss", *PAIR_NUMBERS)]]


@dataclass
class View:
    """A table as display text (``frame``: one string per cell; ``marks``: True where the coin-toss mark follows
    the cell). The first ``keys`` columns name a row; a row whose other cells all read "—" (or nothing) is left out,
    and the table says how many were and ``why_empty``. ``align``: 'l' or 'r' per column in markdown (default:
    the keys left, the values right)."""

    frame: pd.DataFrame
    keys: int = 1
    why_empty: str = "nothing to show"
    marks: pd.DataFrame | None = None
    align: str | None = None

    def __post_init__(self):
        if self.marks is None:
            self.marks = pd.DataFrame(False, index=self.frame.index, columns=self.frame.columns)
        if list(self.marks.columns) != list(self.frame.columns) or not self.marks.index.equals(self.frame.index):
            raise LimitlabError("a View's marks must have the shape, columns and index of its frame")
        if self.align is not None and len(self.align) != self.frame.shape[1]:
            raise LimitlabError(f"a View's align {self.align!r} must name one of 'l', 'r' per column "
                                f"({self.frame.shape[1]})")

    @property
    def _empty(self) -> pd.Series:
        values = self.frame.iloc[:, self.keys:].astype(str).apply(lambda col: col.str.strip().isin((DASH, "")))
        return values.all(axis=1) if values.shape[1] else pd.Series(False, index=self.frame.index)

    def shown(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the rows to show, their marks): every row but those holding only "—"."""
        keep = ~self._empty
        return self.frame[keep], self.marks[keep]

    @property
    def left_out(self) -> int:
        return int(self._empty.sum())

    def left_out_text(self) -> str:
        n = self.left_out
        return "" if not n else f"{n} row{'s' if n > 1 else ''} left out: only {DASH} ({self.why_empty})."


def flag(value) -> bool:
    """A True / False column of a results CSV as read back (booleans with gaps come back as text or floats; empty:
    not known, not set)."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def params_methods(exp: Experiment) -> set[tuple[str, str]]:
    """(study id, method row id) of the params file's own methods: the rows of table.csv that the paper's rule
    selected (the others are chosen by susceptibility)."""
    return {(s.id, m.row_id) for s in exp.studies for m in s.methods}


def coin_tosses(table: pd.DataFrame) -> set[tuple[str, str]]:
    """(setting, method id) of the coin-toss cells of table.csv (none in a table.csv from before the column)."""
    if "coin_toss" not in table:
        return set()
    flagged = table[table["coin_toss"].map(flag)]
    return set(zip(flagged["setting"], flagged["method_id"]))


def setting_text(dataset: str, noise: str, p: float, n, study: str | None = None) -> str:
    """'mnist5k uniform p=0.8 n=all' ('STUDY: ' first when given); no p for human labels or a noise file, whose rate
    comes from the file (p is 0)."""
    rate = "" if str(noise).startswith(("human", "file")) else f" p={float(p):g}"
    return f"{f'{study}: ' if study else ''}{dataset} {noise}{rate} n={n}"


def _pair(side: str, other: pd.Series, best: pd.Series, paired: pd.DataFrame | None, coins: set) -> dict:
    out = {f"{side}_id": other["method_id"], f"{side}_label": other["label"],
           f"{side}_coin_toss": (other["setting"], other["method_id"]) in coins}
    if other["method_id"] == best["method_id"] or paired is None or paired.empty:
        return out
    rows = paired[(paired["setting"] == best["setting"]) & (paired["method_id"] == best["method_id"])
                  & (paired["reference_id"] == other["method_id"])]
    if not rows.empty:
        out.update({f"{side}_{k}": rows.iloc[0][k] for k in PAIR_NUMBERS})
    return out


def summary_frame(exp: Experiment, table: pd.DataFrame, paired: pd.DataFrame | None) -> pd.DataFrame:
    """One row per setting of ``table`` (table.csv's frame), in its order: the best method and its paired
    differences to the reference and the best baseline from ``paired`` (paired.csv's frame; None: not written)."""
    lacking = [c for c in ("setting", "study", "method_id", "label", "test_acc_pct") if c not in table]
    if lacking:
        raise LimitlabError(f"the results table lacks column(s) {', '.join(lacking)}: run `limitlab aggregate` again")
    methods = params_methods(exp)
    baselines = {(s.id, b) for s in exp.studies for b in baseline_ids(s)}
    coins = coin_tosses(table)
    rows = []
    for setting, group in table.groupby("setting", sort=False):
        first = group.iloc[0]
        row = {"setting": setting, **{k: first.get(k) for k in ("study", "dataset", "noise", "p", "n")}}
        listed = pd.Series([k in methods for k in zip(group["study"], group["method_id"])], index=group.index)
        mine = group[listed & group["test_acc_pct"].notna()]
        if not mine.empty:
            best = mine.iloc[int(first_best(mine["test_acc_pct"].to_numpy(dtype=float) / 100))]  # ties: params order
            row.update(best_id=best["method_id"], best_label=best["label"], best_test_acc_pct=best["test_acc_pct"],
                       best_test_acc_std_pct=best.get("test_acc_std_pct"),
                       best_coin_toss=(setting, best["method_id"]) in coins)
            ref = mine[mine["method_id"] == exp.comparisons.reference]
            if not ref.empty:
                row.update(_pair("reference", ref.iloc[0], best, paired, coins))
            rivals = mine[[(s, m) in baselines and m != best["method_id"]
                           for s, m in zip(mine["study"], mine["method_id"])]]
            if not rivals.empty:
                top = rivals.iloc[int(first_best(rivals["test_acc_pct"].to_numpy(dtype=float) / 100))]
                row.update(_pair("baseline", top, best, paired, coins))
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _yes(value) -> bool:
    """A flag of the frame: True / False, or NaN where not known (counts as not set)."""
    return bool(pd.notna(value) and value)


def _difference(r: pd.Series, side: str) -> tuple[str, str, bool]:
    """(difference [interval], higher / equal / lower, marked) of the best method against one side."""
    mark = _yes(r["best_coin_toss"]) or _yes(r[f"{side}_coin_toss"])
    if pd.isna(r[f"{side}_id"]):
        return DASH, DASH, False
    if r[f"{side}_id"] == r["best_id"]:
        return f"({r[f'{side}_label']} itself)", DASH, False
    if pd.isna(r[f"{side}_diff_pct"]):
        return DASH, DASH, False
    one = ONE_SEED if r[f"{side}_n_pairs"] == 1 else ""
    return (f"{r[f'{side}_diff_pct']:+.1f} [{r[f'{side}_ci_low_pct']:+.1f}, {r[f'{side}_ci_high_pct']:+.1f}]{one}",
            f"{int(r[f'{side}_wins'])} / {int(r[f'{side}_ties'])} / {int(r[f'{side}_losses'])}", mark)


def summary_view(frame: pd.DataFrame, reference: str, ci: float) -> tuple[View, str]:
    """(the summary as a :class:`View`, its caption as plain text); ``reference`` the reference's label where no
    row names it, ``ci`` the interval's coverage (``bootstrap.ci``)."""
    labels = frame["reference_label"].dropna()
    ref = str(labels.iloc[0]) if not labels.empty else reference
    prefixed = frame["study"].nunique() > 1
    cols = ["setting", "best method", "clean test accuracy (%)", f"vs {ref} (points)",
            f"splits higher / equal / lower than {ref}", "best baseline", "vs best baseline (points)",
            "splits higher / equal / lower than the best baseline"]
    text, marks = [], []
    for _, r in frame.iterrows():
        where = setting_text(r["dataset"], r["noise"], r["p"], r["n"], r["study"] if prefixed else None)
        if pd.isna(r["best_id"]):
            text.append([where] + [DASH] * (len(cols) - 1))
            marks.append([False] * len(cols))
            continue
        acc = f"{r['best_test_acc_pct']:.1f}" + (f" ± {r['best_test_acc_std_pct']:.1f}"
                                                 if pd.notna(r["best_test_acc_std_pct"]) else "")
        vs_ref, ref_splits, ref_mark = _difference(r, "reference")
        vs_base, base_splits, base_mark = _difference(r, "baseline")
        base = DASH if pd.isna(r["baseline_label"]) else str(r["baseline_label"])
        text.append([where, str(r["best_label"]), acc, vs_ref, ref_splits, base, vs_base, base_splits])
        marks.append([False, _yes(r["best_coin_toss"]), False, ref_mark, False, _yes(r["baseline_coin_toss"]),
                      base_mark, False])
    view = View(pd.DataFrame(text, columns=cols), keys=1, why_empty="no method has a finished cell in the setting",
                marks=pd.DataFrame(marks, columns=cols, dtype=bool), align="llrrrlrr")
    caption = (f"Per setting, the method with the highest clean test accuracy at the point the paper's rule selected "
               f"(± as in the table of every cell), and its paired difference in points to {ref} and to the best "
               f"baseline (the non-LIMIT method with the highest accuracy, other than itself) on the same splits: "
               f"mean [{100 * ci:g} % interval] and the splits it was higher / equal / lower on (the rows of \"Paired "
               f"differences over splits\", paired.csv). The best method is the best on this grid's test set: what "
               f"the grid found, not a selection.")
    if (frame[[f"{s}_n_pairs" for s in SIDES]] == 1).any(axis=None):
        caption += f" {ONE_SEED} = the interval rests on one seed (its test set only)."
    if view.marks.any(axis=None):
        caption += (f" {COIN_TOSS_MARK} = a coin toss: the selection of this method's cell, or of the one it is "
                    f"compared with, lands within 1 test point of its grid's test-best point less often than "
                    f"{COIN_TOSS_BELOW:g} (\"Selection reliability\"): read the number and the difference with that "
                    f"in mind.")
    return view, caption


# ---------------------------------------------------------------------------------------------------------------
# Settings without corrupted labels: detection has nothing to find
# ---------------------------------------------------------------------------------------------------------------

# detection.csv's numbers that count corrupted labels found (empty where there are none); the detectors' own
# estimates (issues flagged, noise rate, noise matrix) stay
NOTHING_TO_FIND = ("detection_auc_pct", "detection_ap_pct", "precision_at_noise_rate_pct", "recall_at_noise_rate_pct",
                   "precision_at_estimate_pct", "recall_at_estimate_pct", "precision_at_100_pct",
                   "precision_at_1000_pct", "issues_precision", "issues_recall")


def no_noise_settings(cells: list, cleanlab: list[dict] | None = None, budget: list[dict] | None = None) -> set[str]:
    """Keys of the settings whose training labels hold no corrupted label. Decided by the realised count wherever
    one was recorded (eval.json of the q-network runs, cleanlab's true noise rate, the budget rows' n_corrupted:
    every one 0), else by p = 0 under a noise model that p drives (labels from a file, ``human`` or ``file``, carry
    their own noise at p = 0)."""
    realised: dict[str, list[float]] = {}
    for c in cells:
        for r in (r for pt in c.points for r in pt.done if isinstance((r.eval or {}).get("n_corrupted"), (int, float))):
            realised.setdefault(c.key, []).append(r.eval["n_corrupted"])
    for key, value in [(r["setting"], r.get("noise_rate_true")) for r in cleanlab or []] + [
            (b["setting"], b.get("n_corrupted")) for b in budget or []]:
        if value is not None:
            realised.setdefault(key, []).append(value)
    by_p = {c.key for c in cells if c.p == 0 and c.noise_model not in ("human", "file")}
    return {k for k in {c.key for c in cells} | set(realised)
            if (all(v == 0 for v in realised[k]) if k in realised else k in by_p)}


def without_detection_numbers(detection: pd.DataFrame, quiet: set[str]) -> pd.DataFrame:
    """detection.csv's frame with a ``no_noise`` column (True for the settings in ``quiet``) and, on those rows,
    the numbers of :data:`NOTHING_TO_FIND` empty."""
    out = detection.assign(no_noise=detection["setting"].isin(quiet))
    out.loc[out["no_noise"], [c for c in NOTHING_TO_FIND if c in out]] = float("nan")
    return out


def no_noise(detection: pd.DataFrame) -> pd.Series:
    """Per row of detection.csv: its setting has no corrupted label (its ``no_noise`` column; for a file from before
    the column, a true noise count or rate of 0 anywhere in the setting)."""
    if "no_noise" in detection:
        return detection["no_noise"].map(flag)
    zero = pd.Series(False, index=detection.index)
    for col in ("n_corrupted", "noise_rate_true"):
        if col in detection:
            zero |= detection[col].eq(0)
    return detection["setting"].isin(set(detection.loc[zero, "setting"]))


def budget_shown(detection: pd.DataFrame) -> pd.DataFrame:
    """The rows of the budget tables (table.md and the results page): :func:`~limitlab.report.detection_budget.
    budget_view`'s, and in a setting without corrupted labels each detector with per-example scores (its numbers
    read :data:`NO_NOISE`)."""
    if detection.empty or "budget_seeds" not in detection:
        return budget_view(detection)
    return detection[detection.index.isin(budget_view(detection).index)
                     | (no_noise(detection) & detection["budget_seeds"].notna())]
