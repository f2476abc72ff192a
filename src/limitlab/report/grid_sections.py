"""The report's method × setting grids, each built once from the tables ``limitlab aggregate`` writes and written
by table.md and the results page alike (:mod:`limitlab.report.render`): the clean test accuracy of every cell
(table.csv), the paper's numbers beside it, and noisy-label detection (detection.csv), with cleanlab's own
estimates next to the realised noise.

Rows are methods (detectors) in params order, columns settings in params order (:func:`setting_columns`). A cell
of the accuracy grid reads "61.0 ± 1.4" with its marks: ``*`` some runs of the cell unfinished, ``†`` a run of the
selected point diverged, ``!`` a broken output file, ``ᵇ`` a bootstrap error bar among seed ones, and the
coin-toss mark; "missing" without a finished point; "—" outside the grid.
"""

from __future__ import annotations

import pandas as pd

from limitlab.experiment.paths import RunFiles
from limitlab.experiment.schema import Experiment
from limitlab.report.render import Section
from limitlab.report.sections import integer, is_missing, number
from limitlab.report.selection_reliability import COIN_TOSS_BELOW, COIN_TOSS_MARK
from limitlab.report.summary import (DASH, NO_NOISE, PARTIAL_MARK, View, coin_tosses, flag, no_noise, params_methods,
                                     setting_text)

BOOTSTRAP_MARK = "ᵇ"


def setting_columns(table: pd.DataFrame, prefixed: bool) -> dict[str, str]:
    """Setting key -> its column name ('mnist5k uniform p=0.8 n=1000', the study first when ``prefixed``), in the
    order of table.csv."""
    out = {}
    for r in table.drop_duplicates("setting").itertuples():
        out[r.setting] = setting_text(r.dataset, r.noise, r.p, r.n, r.study if prefixed else None)
    return out


def grid_view(table: pd.DataFrame, key: str, columns: dict[str, str], text, mark=None,
              row_name: str = "Method") -> View:
    """Rows: the methods of ``table`` (its ``key`` column, in order, named by their label under ``row_name``);
    columns: ``columns``; a cell: ``text(row)`` of the method's row in that setting, "—" where it has none, with the
    coin-toss mark where ``mark(row)``."""
    labels: dict[str, str] = {}
    for method, label in zip(table[key].astype(str), table["label"].astype(str)):
        labels.setdefault(method, label)  # in order of appearance, each named by its first label
    by = {(str(r[key]), r["setting"]): r for _, r in table.iterrows()}
    rows, marks = [], []
    for method, label in labels.items():
        cells = [by.get((method, s)) for s in columns]
        rows.append([label, *(DASH if r is None else text(r) for r in cells)])
        marks.append([False, *(r is not None and mark is not None and mark(r) for r in cells)])
    names = [row_name, *columns.values()]
    return View(pd.DataFrame(rows, columns=names, dtype=object), keys=1,
                marks=pd.DataFrame(marks, columns=names, dtype=bool), why_empty="no setting of the grid has it")


# --- clean test accuracy (table.csv) ------------------------------------------------------------------------------


def _params_rows(table: pd.DataFrame, exp: Experiment) -> pd.DataFrame:
    """The rows of table.csv of the params file's own methods (the susceptibility rows have their own table)."""
    methods = params_methods(exp)
    return table[[k in methods for k in zip(table["study"], table["method_id"])]]


def error_caption(table: pd.DataFrame, exp: Experiment) -> tuple[str, bool]:
    """The sentence on the error bars; True when bootstrap error bars are marked (among seed ones)."""
    done = table[table["test_acc_pct"].notna()]
    kinds = set(done["error"].dropna().astype(str))
    seeds = sorted({integer(n) for n in done.loc[done["error"] == "seed_std", "n_seeds"]} - {None})
    parts = []
    if "seed_std" in kinds and any(s.train_seeds for s in exp.studies):
        parts.append(f"sample std over runs (ddof = 1; {', '.join(map(str, seeds))} runs: splits × training seeds; "
                     "\"Where the variance comes from\" splits it)")
    elif "seed_std" in kinds:
        parts.append(f"sample std over seeds (ddof = 1; {', '.join(map(str, seeds))} seeds)")
    if "bootstrap_std" in kinds:
        parts.append(f"std of {exp.bootstrap.samples} bootstrap resamples of the test set (ddof = 0)"
                     f"{f' [marked {BOOTSTRAP_MARK}]' if 'seed_std' in kinds else ''}")
    if "none" in kinds:
        broken = done.loc[done["error"] == "none", "broken_files"].astype(str).str.contains(RunFiles.BOOTSTRAP).any()
        parts.append("no error bar where the bootstrap has not run"
                     + (f" or its {RunFiles.BOOTSTRAP} is broken (marked !)" if broken else ""))
    mixed = {"seed_std", "bootstrap_std"} <= kinds
    return ("± = " + "; ".join(parts) + "." if parts else "No finished cells yet."), mixed


def accuracy_text(r, mark_bootstrap: bool) -> str:
    """One cell of the accuracy grid, from its row of table.csv, without the coin-toss mark (the View's)."""
    broken = "" if is_missing(r.get("broken_files")) or not str(r.get("broken_files")) else "!"
    if is_missing(r["test_acc_pct"]):
        return "missing" + broken
    text = number(r["test_acc_pct"])
    if not is_missing(r["test_acc_std_pct"]):
        text += f" ± {number(r['test_acc_std_pct'])}"
        if mark_bootstrap and r["error"] == "bootstrap_std":
            text += BOOTSTRAP_MARK
    return (text + (PARTIAL_MARK if r["status"] == "partial" else "")
            + ("†" if flag(r.get("selected_diverged")) else "") + broken)


def accuracy_section(table: pd.DataFrame, exp: Experiment) -> Section:
    """Every cell's clean test accuracy at the point the paper's rule selected (the params file's methods only:
    the rows chosen by susceptibility have their own table)."""
    rows = _params_rows(table, exp)
    caption, mixed = error_caption(rows, exp)
    coins = coin_tosses(rows)
    view = grid_view(rows, "method_id", setting_columns(rows, len(exp.studies) > 1),
                     lambda r: accuracy_text(r, mixed), lambda r: (r["setting"], r["method_id"]) in coins)
    return Section("Every cell", "Per cell, the hyperparameter point with the best mean noisy-validation accuracy over "
                   "seeds is selected (the test set is never used for selection); the table reports that point's "
                   f"clean test accuracy (%). {caption} `*` = some runs of the cell are unfinished (selection over "
                   "the finished points only); `†` = a run of the selected point diverged (its best checkpoint before "
                   "the divergence is reported); `missing` = no finished point; `!` = a broken "
                   f"{RunFiles.EVAL} or {RunFiles.BOOTSTRAP} (listed below, not used); `{COIN_TOSS_MARK}` = a coin "
                   "toss: resampling the validation set, the rule picks a point within 1 test point of the cell's "
                   f"test-best point less often than {COIN_TOSS_BELOW:g} (\"Selection reliability\"; no mark where it "
                   "was not computed); `—` = not in this experiment's grid."
                   + (" The paper reports no number for any setting of this grid, so no paper table is shown."
                      if rows["paper_test_acc_pct"].isna().all() else " The paper's numbers: the next table."),
                   view, "results-table", level=0)


def paper_section(table: pd.DataFrame, exp: Experiment) -> Section | None:
    """The paper's number for every cell of a matching setting, with ours − paper; None when the paper has none."""
    rows = _params_rows(table, exp)
    if rows["paper_test_acc_pct"].isna().all():
        return None

    def text(r) -> str:
        if is_missing(r["paper_test_acc_pct"]):
            return DASH
        paper = number(r["paper_test_acc_pct"]) + ("" if is_missing(r["paper_std_pct"])
                                                   else f" ± {number(r['paper_std_pct'])}")
        return paper + ("" if is_missing(r["diff_pct"]) else f" ({number(r['diff_pct'], sign=True)})")

    view = grid_view(rows, "method_id", setting_columns(rows, len(exp.studies) > 1), text)
    return Section("Paper", "The paper's numbers for the matching settings (Tables 1, 2, 4 of Harutyunyan et al. 2020; "
                   "MNIST ± over 5 splits, CIFAR-100/Clothing1M ± bootstrap), in brackets ours − the paper's (points).",
                   view, "paper-table")


# --- noisy-label detection (detection.csv) ------------------------------------------------------------------------


def detection_sections(det: pd.DataFrame, table: pd.DataFrame, prefixed: bool) -> list[Section]:
    """Every detector's ROC AUC / AP per setting, and cleanlab's own estimates next to the realised noise."""
    if det.empty:
        return [Section("Noisy-label detection", "No detection scores: no evaluated q-network run and no cleanlab "
                        "result.")]
    quiet = set(det.loc[no_noise(det), "setting"])
    names = setting_columns(table, prefixed)
    columns = {s: names.get(s, s) for s in dict.fromkeys(det["setting"])}

    def text(r) -> str:
        if r["setting"] in quiet:
            return NO_NOISE
        return f"{number(r['detection_auc_pct'], 2)} / {number(r['detection_ap_pct'], 2)}"

    out = [Section("Noisy-label detection", "Finding the corrupted training labels: ROC AUC (%) and average precision "
                   "(%), as AUC / AP. LIMIT rows score each example by the distance ‖s(b) − e_ỹ‖₂ between the "
                   "q-network's prediction and the given label (selected point, mean over seeds); cleanlab rows by 1 − "
                   "self-confidence of out-of-sample predicted probabilities from K-fold cross-validated CE models "
                   "(cleanlab's label quality score); CE loss: the CE model's own loss on its training labels."
                   + (f" {NO_NOISE} = the setting's training labels hold no corrupted label: nothing to find."
                      if quiet else ""),
                   grid_view(det, "detector", columns, text, row_name="Detector"), "detection-table")]
    clean = det[det["detector"].astype(str).str.startswith("cleanlab")]
    if not clean.empty:
        pct = lambda x: number(None if is_missing(x) else 100 * float(x))  # noqa: E731
        rows = [[str(r.setting), str(r.label), integer(r.n_issues),
                 *([NO_NOISE] * 2 if r.setting in quiet else [pct(r.issues_precision), pct(r.issues_recall)]),
                 pct(r.noise_rate_estimate), pct(r.noise_rate_true), number(r.noise_matrix_mae, 4)]
                for r in clean.itertuples()]
        view = View(pd.DataFrame(rows, dtype=object, columns=[
            "setting", "detector", "issues found", "precision (%)", "recall (%)", "noise rate estimate (%)",
            "true noise rate (%)", "noise matrix mean abs. error"]), keys=2)
        out.append(Section("cleanlab's own estimates next to the realised noise",
                           "This training split's realised noise against cleanlab's estimates; the noise matrices (the "
                           "noise model's, the realised one and cleanlab's estimate) are drawn as heatmaps in the "
                           "report's \"Noise matrices\" category, their numbers are in detection.csv.", view,
                           "cleanlab-table", level=3))
    return out
