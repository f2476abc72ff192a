"""The report's sections, each built once from the tables ``limitlab aggregate`` writes, as one
:class:`~limitlab.report.render.Section` (a caption and a :class:`~limitlab.report.summary.View` of the table),
which table.md and the results page both write (:mod:`limitlab.report.render`).

In reading order: the selection rules and the selection reliability of each cell (table.csv), where each cell's
spread comes from (table.csv), detection at a budget (detection.csv), the paired differences (paired.csv), the
paper's claims (claims.csv) and the inputs (inputs.csv). Each builder takes the frame as aggregate made it or as
read back from its CSV (booleans and integers come back as text or floats: :func:`~limitlab.report.summary.flag`, :func:`integer`), and
returns None when the section has nothing to show.
"""

from __future__ import annotations

import pandas as pd

from limitlab.report.render import Section
from limitlab.report.selection_reliability import ADD_FILES, COIN_TOSS_BELOW, COIN_TOSS_MARK, TARGET
from limitlab.report.summary import (DASH, NO_NOISE, PARTIAL_MARK, View, budget_shown, coin_tosses, flag,
                                     no_noise)


def is_missing(value) -> bool:
    """None or NaN (an empty CSV cell); text is never missing."""
    return value is None or (not isinstance(value, str) and pd.isna(value))


def number(value, digits: int = 1, sign: bool = False) -> str:
    """'61.0' ('+6.0' with ``sign``), or '—' for a missing value."""
    return DASH if is_missing(value) else f"{float(value):{'+' if sign else ''}.{digits}f}"


def integer(value) -> int | None:
    return None if is_missing(value) else int(float(value))


def _with_std(value, std) -> str:
    return number(value) + ("" if is_missing(value) or is_missing(std) else f" ± {number(std)}")


def _marked(label, coin: bool, partial: bool = False) -> str:
    """A label with the partial-cell mark (its selection covers a sub-grid) and the coin-toss mark."""
    return str(label) + (f" {PARTIAL_MARK}" if partial else "") + (f" {COIN_TOSS_MARK}" if coin else "")


def _view(rows: list[list], marks: list[list] | None, columns: list[str], **kw) -> View:
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return View(frame, marks=None if marks is None else pd.DataFrame(marks, columns=columns, dtype=bool), **kw)


# --- selection (table.csv) ----------------------------------------------------------------------------------------


def rules_section(table: pd.DataFrame, methods: set[tuple[str, str]]) -> Section | None:
    """Each cell's clean test accuracy under the three selection rules (:mod:`limitlab.report.selection_rules`).
    ``methods``: (study, method id) of the params file's methods; the other rows (chosen by susceptibility) have no
    number under these rules and are left out with the cells without a finished point."""
    if "test_acc_oracle_pct" not in table or table["test_acc_pct"].isna().all():
        return None
    coins = coin_tosses(table)
    ruled = [k in methods for k in zip(table["study"], table["method_id"])]
    numbers = ("test_acc_pct", "test_acc_last_epoch_pct", "test_acc_oracle_pct")
    rows, marks = [], []
    for (_, r), ok in zip(table.iterrows(), ruled):
        point = r.get("oracle_point")
        rows.append([str(r["label"]), str(r["setting"]),
                     *(_with_std(r[n], r.get(n.replace("_pct", "_std_pct"))) if ok else DASH for n in numbers),
                     DASH if not ok or is_missing(point) else str(point)])
        marks.append([False, False, ok and (r["setting"], r["method_id"]) in coins, False, False, False])
    ruled = pd.Series(ruled, index=table.index)
    why = [w for w, n in (("the rows chosen by susceptibility, which none of these rules selects", (~ruled).sum()),
                          ("cells without a finished point", (ruled & table["test_acc_pct"].isna()).sum())) if n]
    view = _view(rows, marks, ["method", "setting", "paper's rule", "last epoch", "oracle (upper bound)",
                               "oracle point"], keys=2, why_empty="; ".join(why) or "no number under any rule",
                 align="llrrrl")
    return Section("Selection rules: clean test accuracy (%)",
                   "Each cell (mean ± std over seeds) under three rules: the paper's (best noisy-validation point and "
                   "epoch: the accuracy table), the last epoch of that point, and the oracle (best clean-test point "
                   "and epoch). **The oracle is an upper bound selected on the test set, not a result**: its distance "
                   "to the paper's rule is what selection on noisy labels costs.", view, "rules-table")


def reliability_section(table: pd.DataFrame) -> Section | None:
    """Each cell's selection reliability (table.csv's reliability_* columns,
    :mod:`limitlab.report.selection_reliability`) and its noisy validation accuracy beside the noise-corrected one;
    the cells left out, with why."""
    if "reliability_p_within_1pt" not in table:
        return None
    done = table[table["reliability_p_within_1pt"].notna()]
    left = table[table["reliability_p_within_1pt"].isna() & table["reliability_note"].notna()]
    if done.empty and left.empty:
        return None
    rows, marks = [], []
    for _, r in done.iterrows():
        need = integer(r["reliability_labels_needed_90"])
        have = integer(r["reliability_n_val"])
        selected = r.get("reliability_p_selected")
        val = number(r["val_acc_pct"]) + ("" if is_missing(r["val_acc_noisy_se_pct"])
                                        else f" ± {number(r['val_acc_noisy_se_pct'])}")
        if not is_missing(r["val_acc_corrected_pct"]):
            val += f" → {number(r['val_acc_corrected_pct'])} ± {number(r['val_acc_corrected_se_pct'])}"
        rows.append([str(r["label"]), str(r["setting"]), integer(r["reliability_points"]),
                     DASH if is_missing(selected) else f"{r.get('selected_point')} ({float(selected):.2f})",
                     f"{r['reliability_test_best_point']} ({float(r['reliability_p_test_best']):.2f})",
                     f"{float(r['reliability_p_within_1pt']):.2f}",
                     f"{number(r['reliability_expected_test_acc_pct'])} ± {number(r['reliability_test_acc_std_pct'])}",
                     number(r["test_acc_pct"]),
                     ("never" if need is None else f"{need:,}") + ("" if have is None else f" (have {have:,})"), val])
        marks.append([flag(r.get("coin_toss"))] + [False] * 9)
    view = (_view(rows, marks, ["method", "setting", "points", "selected point (P)", "test-best point (P)",
                                "P within 1 pt", "expected test", "paper's rule", "labels needed",
                                "validation: noisy → corrected"],
                  keys=2, align="llrllrrrrl") if rows else None)
    samples = next((integer(s) for s in done.get("reliability_samples", []) if integer(s)), None) or "B"
    notes = []
    if not left.empty:
        groups: dict[str, list[str]] = {}
        for _, r in left.iterrows():
            groups.setdefault(str(r["reliability_note"]).split(" (")[0], []).append(f"{r['setting']} {r['label']}")
        notes = ["Left out of this section:", *[f"- {why}: {', '.join(names)}" for why, names in groups.items()]]
        if left["reliability_note"].astype(str).str.contains("val_predictions").any():
            notes.append(f"Runs evaluated before the validation predictions were saved get them without retraining, "
                         f"and without changing any other file: `{ADD_FILES}`.")
    return Section("Selection reliability",
                   f"How often the paper's rule, redone on {samples} bootstrap resamples of each split's noisy "
                   "validation set (the same resample for every point of a cell), picks the selected point, the "
                   "test-best point, and a point within 1 test point of it (the cell's **selection "
                   "reliability**); the rule's expected test accuracy ± its spread beside the number it reports; and "
                   f"the noisy validation labels per split that would give a {TARGET:.0%} chance of a point within 1 "
                   f"test point. `{COIN_TOSS_MARK}` = reliability below {COIN_TOSS_BELOW:g}: a coin toss, marked in "
                   "every table; read its number, its distance to the paper and its paired differences with that in "
                   "mind. Validation accuracy: noisy ± SE → the estimate of the clean one from the noisy labels and "
                   "the noise matrix ± SE (class-conditional noise). The test-best point is found on the test set: a "
                   "diagnostic, never a result.", view, "reliability-table", notes)


def variance_section(table: pd.DataFrame) -> Section | None:
    """Where each cell's spread comes from (table.csv's variance columns, :mod:`limitlab.report.variance_split`);
    None when no cell has them (a study without training seeds)."""
    if "split_std_pct" not in table or table["split_std_pct"].isna().all():
        return None
    rows = table[table["split_std_pct"].notna()]
    frame = pd.DataFrame({
        "method": rows["label"].astype(str), "setting": rows["setting"].astype(str),
        "splits × runs": [f"{int(a)} × {int(n) / int(a):g}" for a, n in zip(rows["variance_splits"],
                                                                          rows["variance_runs"])],
        "test acc. (%)": rows["test_acc_pct"].map("{:.1f}".format),
        "split std": rows["split_std_pct"].map("{:.2f}".format),
        "training std": rows["train_std_pct"].map("{:.2f}".format),
        "split share": rows["split_share"].map("{:.2f}".format),
        "p (F)": rows["split_f_p_value"].map("{:.3g}".format)}).reset_index(drop=True)
    return Section("Where the variance comes from",
                   "Each cell's selected point, trained on every split with several training seeds: the spread of its "
                   "clean test accuracy split into the part between splits (the data split and its noise draw) and the "
                   "part within a split (initialisation, batch order, sampling), by the one-way random-effects (ANOVA) "
                   "estimator; share = the split's part of the variance; p = the F test of no split effect. Standard "
                   "deviations in test points.", View(frame, keys=2, align="llrrrrrr"), "variance-table")


# --- detection at a budget (detection.csv) ------------------------------------------------------------------------


def budget_section(det: pd.DataFrame) -> Section | None:
    """Detection at a budget, one row per (setting, detector) with per-example scores
    (:mod:`limitlab.report.detection_budget`)."""
    shown = budget_shown(det)
    if shown.empty:
        return None
    quiet = no_noise(shown)
    rows = []
    for r, nothing in zip(shown.itertuples(), quiet):
        if nothing:
            rows.append([str(r.setting), str(r.label), *[NO_NOISE] * 6])
            continue
        own = (DASH if is_missing(r.k_estimate) else
               f"{number(r.precision_at_estimate_pct)} / {number(r.recall_at_estimate_pct)} ({integer(r.k_estimate)})")
        rows.append([str(r.setting), str(r.label), number(r.detection_auc_pct), number(r.detection_ap_pct),
                     number(r.precision_at_noise_rate_pct), own, number(r.precision_at_100_pct),
                     number(r.precision_at_1000_pct)])
    view = _view(rows, None, ["setting", "detector", "ROC AUC", "AP", "P = R at the noise count",
                              "P / R at own estimate (k)", "P@100", "P@1000"], keys=2)
    return Section("Detection at a budget (%)",
                   "Flag the k training examples each detector finds most suspicious and count the corrupted ones: "
                   "k = the true number of corrupted labels (precision = recall there), k = the detector's own "
                   "estimate (cleanlab), and k = 100 and 1,000 (precision; — where the training set is smaller). "
                   "`CE loss` is the trivial detector: the CE model's own loss on its training labels, in-sample. "
                   "Mean over seeds."
                   + (f" {NO_NOISE} = the setting's training labels hold no corrupted label: nothing to find."
                      if quiet.any() else ""), view, "budget-table")


# --- paired differences (paired.csv) and the paper's claims (claims.csv) ------------------------------------------


def paired_section(paired: pd.DataFrame | None, coins: set[tuple[str, str]] = frozenset()) -> Section | None:
    """Every method against the reference and the best baseline of its setting (:mod:`limitlab.report.paired`); the
    coin-toss mark on a side whose selection is a coin toss (paired.csv's ``method_coin_toss`` /
    ``reference_coin_toss``; for a file from before them, ``coins``: (setting, method id) of table.csv)."""
    if paired is None or paired.empty:
        return None
    rows, marks, any_coin = [], [], False
    for r in paired.itertuples():
        coin_m, coin_r = ((flag(r.method_coin_toss), flag(r.reference_coin_toss)) if "method_coin_toss" in paired
                          else ((r.setting, r.method_id) in coins, (r.setting, r.reference_id) in coins))
        ref = _marked(r.reference_label, coin_r) + (" (best baseline)" if r.reference_kind == "best_baseline" else "")
        rows.append([str(r.setting), str(r.label), ref, number(r.diff_pct, sign=True) + ("¹" if integer(r.n_pairs) == 1
                                                                                     else ""),
                     f"[{number(r.ci_low_pct, sign=True)}, {number(r.ci_high_pct, sign=True)}]",
                     f"{integer(r.wins)} / {integer(r.ties)} / {integer(r.losses)}",
                     DASH if is_missing(r.wilcoxon_p) else f"{float(r.wilcoxon_p):.3g}"])
        marks.append([False, coin_m, False, False, False, False, False])
        any_coin = any_coin or coin_m or coin_r
    interval = str(paired["interval"].iloc[0]).split(":")[0] if "interval" in paired else "bootstrap"
    view = _view(rows, marks, ["setting", "method", "reference", "difference", "interval", "higher / equal / lower",
                               "Wilcoxon p"], keys=2, align="lllrlrr")
    return Section("Paired differences over splits (points)",
                   "Method − reference in clean test accuracy on the same splits, at the points the paper's rule "
                   f"selected: mean, interval ({interval}), how many splits the method was higher / equal / lower on, "
                   "and the two-sided Wilcoxon signed-rank p with 5 or more splits (with 5 the smallest possible p is "
                   "0.0625). ¹ = the interval rests on one seed (its test set only)."
                   + (f" `{COIN_TOSS_MARK}` after a method = its selection is a coin toss (reliability below "
                      f"{COIN_TOSS_BELOW:g}): the difference says as much about the draw of the validation labels as "
                      "about the methods." if any_coin else ""), view, "paired-table")


def check_text(r) -> str:
    """'LIMIT_L − S − CE, SETTING: +13.2 [+9.8, +16.0] pts, 5/5 higher' from a row of claims.csv (a named tuple)."""
    def side(name: str) -> str:
        label = getattr(r, f"{name}_label", None)
        return _marked(getattr(r, name) if is_missing(label) else label,  # ids in files from before the labels
                       flag(getattr(r, f"{name}_coin_toss", None)), flag(getattr(r, f"{name}_partial", None)))

    metric = "" if str(r.metric) in ("test_acc", "nan") else f" ({r.metric})"
    n = integer(r.n_pairs)
    return (f"{side('method')} − {side('reference')}{metric}, {r.setting}: "
            f"{number(r.diff_pct, sign=True)} [{number(r.ci_low_pct, sign=True)}, "
            f"{number(r.ci_high_pct, sign=True)}] pts, "
            f"{integer(r.wins)}/{n} higher" + (" (one seed)" if n == 1 else "")
            + ("" if flag(r.meets) else f" — expected {r.expect}"))


def claims_section(claims: pd.DataFrame | None) -> Section | None:
    """The paper's claims with what this grid measured and the verdict (:mod:`limitlab.report.claims`)."""
    if claims is None or claims.empty:
        return None
    rows = []
    for claim_id, g in claims.groupby("claim_id", sort=False):
        first = g.iloc[0]
        if is_missing(first.get("setting")):
            measured = str(first["why_not_testable"]) + ("" if is_missing(first.get("tested_by"))
                                                         else f"; tested by {first['tested_by']}")
        else:
            measured = "\n".join(check_text(r) for r in g.itertuples())
        coverage = first.get("coverage")
        verdict = str(first["verdict"]) + ("" if is_missing(coverage) or not str(coverage)
                                           else f" ({coverage}: the others lack cells here)")
        rows.append([f"{claim_id}: {first['claim']}", str(first["where"]), measured, verdict])
    view = _view(rows, None, ["claim", "where", "measured", "verdict"], keys=1, align="llll")
    return Section("The paper's claims on this grid",
                   "Each claim as paired comparisons over the splits both methods finished: the difference in points "
                   "with its interval [low, high] (two-level bootstrap over seeds and test sets) and how many splits "
                   "the method was higher on. Supported = every comparison this grid can make meets the claim; not "
                   "testable = this grid has none of its cells (the params file named would test it)."
                   + claim_marks(claims), view, "claims-table")


def claim_marks(claims: pd.DataFrame) -> str:
    """What the marks after a method in a claims table mean, for the marks that ``claims`` (claims.csv) carries."""
    has = lambda column: column in claims and claims[column].map(flag).any()  # noqa: E731
    return ((f" `{PARTIAL_MARK}` after a method = its cell has unfinished points: the rule selected among the "
             "finished ones, and the verdict may change when the grid is finished."
             if has("method_partial") or has("reference_partial") else "")
            + (f" `{COIN_TOSS_MARK}` after a method = the paper's rule's selection of its cell is a coin toss "
               f"(reliability below {COIN_TOSS_BELOW:g}): a verdict resting on it says as much about the draw of the "
               "validation labels as about the claim." if has("coin_toss") else ""))


# --- inputs (inputs.csv) ------------------------------------------------------------------------------------------


def inputs_section(inputs: pd.DataFrame | None) -> Section | None:
    """The inputs of every setting with their content identities (:mod:`limitlab.report.provenance`)."""
    if inputs is None or inputs.empty:
        return None
    inputs = inputs.fillna("").astype(str)
    rows = []
    for r in inputs.itertuples():
        source, sha = getattr(r, "noise_file", ""), getattr(r, "noise_file_sha256", "")  # absent before file noise
        ids = [r.problem, ""] if r.problem else [r.dataset_id[:12], r.noise_id[:12]]
        rows.append([r.setting, *ids, r.labels_file, source + (f" (sha256 {sha[:12]})" if sha else "")])
    view = _view(rows, None, ["setting", "dataset", "noise realisation", "labels file", "noise file"], keys=1,
                 align="lllll")
    return Section("Inputs",
                   "The content identity (first 12 hex digits of a SHA-256) of each setting's dataset and noise "
                   "realisation; every run in the tables was trained on these (its done.json records them). Noisy "
                   "labels read from a file (noise models `file` and `human`) name it.", view, "inputs-table")
