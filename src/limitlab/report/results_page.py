"""What Snakemake's HTML report shows (``snakemake --report results/<name>/report.html``, workflow/rules/report.smk).

``limitlab report-assets`` writes into ``results_dir/report/``:

* ``results.html`` — one self-contained page: first the summary (per setting the best method, its paired
  differences to CE and to the best baseline, with the coin-toss mark: :mod:`limitlab.report.summary`), then the
  clean test accuracy of every method and setting with the paper's number and the difference beside ours, the three selection rules side by side and each cell's selection
  reliability with the coin-toss mark (from table.csv; the mark also on the paired differences and the claims), where
  each cell's spread comes from when the study has training seeds (between and within splits, table.csv), the
  noisy-label detection table (LIMIT and cleanlab, from detection.csv; "no noise" where the training labels hold
  no corrupted label), cleanlab's own estimates next to the realised noise, and the content identities of every
  setting's dataset and noise realisation (from inputs.csv). Tables given as a :class:`~limitlab.report.summary.View`
  are written by :func:`view_html`, which leaves out the rows holding only "—" and says how many and why;
* ``figures/<family>/<name>.png`` — every PNG that ``limitlab plot`` listed in figures/index.json, hard-linked
  (copied across file systems) into one folder per figure family, so the report files each family under its
  own category. The family names and their captions are the one figure index,
  :data:`limitlab.report.figures.index.FAMILIES`.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from limitlab import io
from limitlab.errors import LimitlabError
from limitlab.experiment.paths import ResultFiles
from limitlab.experiment.schema import Experiment
from limitlab.report.figures.index import family_name
from limitlab.report.selection_reliability import ADD_FILES, COIN_TOSS_BELOW, COIN_TOSS_MARK, TARGET
from limitlab.report.summary import (DASH, NO_NOISE, View, budget_shown, coin_tosses, no_noise, summary_frame,
                                     summary_view)
from limitlab.report.tables import read_optional_csv
from limitlab.report.variance_split import VARIANCE_CAPTION, variance_view


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed: a copy shows the same
        shutil.copyfile(src, dst)


def collect_figures(results_dir: Path, out_dir: Path) -> list[Path]:
    """Link every PNG listed in figures/index.json into out_dir/<family>/; return the written paths."""
    index_path = results_dir / ResultFiles.FIGURE_INDEX
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LimitlabError(f"{index_path} is missing or not valid JSON ({exc}); run `limitlab plot` first") from None
    entries = list(index.get("figures", []))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    written = []
    for fig in entries:
        src = results_dir / ResultFiles.FIGURES / fig["png"]
        if not src.is_file():
            raise LimitlabError(f"{index_path} lists {fig['png']} but {src} does not exist; run `limitlab plot` again")
        dst = out_dir / family_name(fig.get("kind", "other")) / fig["png"]
        _link(src, dst)
        written.append(dst)
    return written


def _fmt(x, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and pd.isna(x)) else f"{x:.{digits}f}"


def _mark(coin: bool) -> str:
    return (f"<sup class='coin' title='a coin toss: selection reliability below {COIN_TOSS_BELOW:g}'>"
            f"{COIN_TOSS_MARK}</sup>") if coin else ""


def view_html(view: View, table_id: str) -> str:
    """A :class:`~limitlab.report.summary.View` as an HTML table (its key columns as row headers, the coin-toss mark
    after the marked cells), leaving out the rows that hold only "—", then how many were and why."""
    shown, marks = view.shown()
    left = f"<p class='left-out'>{html.escape(view.left_out_text())}</p>" if view.left_out else ""
    if shown.empty:
        return left

    align = view.align or "l" * view.keys + "r" * (shown.shape[1] - view.keys)

    def cell(i: int, value, mark: bool) -> str:
        text = html.escape(str(value)) + _mark(bool(mark))
        return (f"<th class='method'>{text}</th>" if i < view.keys else
                f"<td class='text'>{text}</td>" if align[i] == "l" else f"<td>{text}</td>")

    head = "".join(("<th class='method'>" if i < view.keys else "<th>") + html.escape(str(c)) + "</th>"
                   for i, c in enumerate(shown.columns))
    rows = "".join("<tr>" + "".join(cell(i, v, m) for i, (v, m) in enumerate(zip(values, flags))) + "</tr>"
                   for values, flags in zip(shown.itertuples(index=False), marks.itertuples(index=False)))
    return f"<table id='{table_id}'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{left}"


def summary_section(exp: Experiment, table: pd.DataFrame, paired: pd.DataFrame | None) -> str:
    """The summary on top of the page (:mod:`limitlab.report.summary`), from table.csv and paired.csv."""
    view, caption = summary_view(summary_frame(exp, table, paired), exp.comparisons.reference, exp.bootstrap.ci)
    missing = ("" if paired is not None else
               " (paired.csv is missing: run `limitlab aggregate` again for the differences)")
    return (f"<h2 id='summary'>Summary</h2><p>{html.escape(caption + missing)}</p>"
            + view_html(view, "summary-table"))


def accuracy_table(table: pd.DataFrame) -> str:
    """HTML: one row per method, per setting our accuracy ± error and, where the paper has a number for any cell of
    the grid, the paper's number and the difference (a grid the paper never ran shows ours alone)."""
    settings = list(dict.fromkeys(table["setting"]))
    with_paper = bool(table["paper_test_acc_pct"].notna().any())
    width = 3 if with_paper else 1
    head1 = "".join(f'<th colspan="{width}">{html.escape(s)}</th>' for s in settings)
    head2 = ("<th>ours</th><th>paper</th><th>ours − paper</th>" if with_paper else "<th>ours</th>") * len(settings)
    rows = []
    coins = coin_tosses(table)
    for label, group in table.groupby("label", sort=False):
        cells = []
        for s in settings:
            r = group[group["setting"] == s]
            if r.empty:
                cells.append("<td>—</td>" * width)
                continue
            r = r.iloc[0]
            ours = "missing" if pd.isna(r["test_acc_pct"]) else _fmt(r["test_acc_pct"])
            if not pd.isna(r["test_acc_pct"]) and not pd.isna(r["test_acc_std_pct"]):
                ours += f" ± {_fmt(r['test_acc_std_pct'])}"
            cells.append(f"<td>{ours}{_mark((s, r['method_id']) in coins)}</td>")
            if with_paper:
                paper = _fmt(r["paper_test_acc_pct"]) + (
                    f" ± {_fmt(r['paper_std_pct'])}" if not pd.isna(r["paper_std_pct"]) else "")
                cells.append(f"<td class='paper'>{paper}</td><td>{_fmt(r['diff_pct'])}</td>")
        rows.append(f"<tr><th class='method'>{html.escape(str(label))}</th>{''.join(cells)}</tr>")
    return (f'<table id="results-table"><thead><tr><th rowspan="2">Method</th>{head1}</tr><tr>{head2}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def rules_table(table: pd.DataFrame, methods: set[tuple[str, str]]) -> str:
    """HTML: per cell, the clean test accuracy under the three selection rules (report.selection_rules). ``methods``:
    (study, method id) of the params file's methods; the other rows (chosen by susceptibility) have no number under
    these rules, so they hold only "—" and are left out, as are the cells without a finished point."""
    if "test_acc_oracle_pct" not in table or table["test_acc_pct"].isna().all():
        return ""

    def acc(r, name: str) -> str:
        std = r.get(name.replace("_pct", "_std_pct"))
        return _fmt(r[name]) + (f" ± {_fmt(std)}" if std is not None and not pd.isna(std) else "")

    coins = coin_tosses(table)
    ruled = pd.Series([k in methods for k in zip(table["study"], table["method_id"])], index=table.index)
    rows, marks = [], []
    for (_, r), ok in zip(table.iterrows(), ruled):
        numbers = ("test_acc_pct", "test_acc_last_epoch_pct", "test_acc_oracle_pct")
        rows.append([str(r["label"]), str(r["setting"]), *(acc(r, name) if ok else DASH for name in numbers)])
        marks.append([False, False, ok and (r["setting"], r["method_id"]) in coins, False, False])
    cols = ["method", "setting", "paper's rule", "last epoch", "oracle (upper bound)"]
    why = [w for w, n in (("the rows chosen by susceptibility, which none of these rules selects", (~ruled).sum()),
                          ("cells without a finished point", (ruled & table["test_acc_pct"].isna()).sum())) if n]
    view = View(pd.DataFrame(rows, columns=cols), keys=2, why_empty="; ".join(why) or "no number under any rule",
                marks=pd.DataFrame(marks, columns=cols, dtype=bool))
    return ("<h2>Selection rules: clean test accuracy (%)</h2><p>The paper's rule (best noisy-validation point and "
            "epoch: the table above), the last epoch of that point, and the oracle (best clean-test point and epoch). "
            "<strong>The oracle is an upper bound selected on the test set, not a result</strong>: its distance to the "
            "paper's rule is what selection on noisy labels costs.</p>" + view_html(view, "rules-table"))


def reliability_table(table: pd.DataFrame) -> str:
    """HTML: each cell's selection reliability (table.csv's reliability_* columns, report.selection_reliability)
    and its noisy validation accuracy beside the noise-corrected one; the cells left out, with why."""
    if "reliability_p_within_1pt" not in table:
        return ""
    done = table[table["reliability_p_within_1pt"].notna()]
    left = table[table["reliability_p_within_1pt"].isna() & table["reliability_note"].notna()]
    if done.empty and left.empty:
        return ""
    coins = coin_tosses(table)
    rows = []
    for _, r in done.iterrows():
        need = r["reliability_labels_needed_90"]
        need = ("never" if pd.isna(need) else f"{int(need):,}") + (
            "" if pd.isna(r["reliability_n_val"]) else f" (have {int(r['reliability_n_val']):,})")
        val = _fmt(r["val_acc_pct"]) + (f" ± {_fmt(r['val_acc_noisy_se_pct'])}"
                                         if not pd.isna(r["val_acc_noisy_se_pct"]) else "")
        corrected = ("—" if pd.isna(r["val_acc_corrected_pct"]) else
                     f"{_fmt(r['val_acc_corrected_pct'])} ± {_fmt(r['val_acc_corrected_se_pct'])}")
        rows.append(f"<tr><th class='method'>{html.escape(str(r['label']))}"
                    f"{_mark((r['setting'], r['method_id']) in coins)}</th><td>{html.escape(str(r['setting']))}</td>"
                    f"<td>{int(r['reliability_points'])}</td><td>{r['reliability_p_within_1pt']:.2f}</td>"
                    f"<td>{r['reliability_p_test_best']:.2f} ({html.escape(str(r['reliability_test_best_point']))})</td>"
                    f"<td>{_fmt(r['reliability_expected_test_acc_pct'])} ± {_fmt(r['reliability_test_acc_std_pct'])}"
                    f"</td><td>{_fmt(r['test_acc_pct'])}</td><td>{need}</td><td>{val}</td><td>{corrected}</td></tr>")
    out = [f"<h2>Selection reliability</h2><p>The paper's rule redone on bootstrap resamples of each split's noisy "
           "validation set (the same resample for every point of a cell): how often it picks a point within 1 test "
           "point of the cell's test-best point (the <em>selection reliability</em>) and the test-best point itself, "
           "its expected test accuracy ± spread beside the number it reports, and the noisy validation labels per "
           f"split that would give a {TARGET:.0%} chance of a point within 1 test point. "
           f"<strong>{COIN_TOSS_MARK} = a coin toss</strong> (reliability below {COIN_TOSS_BELOW:g}): read its "
           "number, its distance to the paper and its paired differences with that in mind. The test-best point is "
           "found on the test set: a diagnostic, never a result. Validation accuracy: noisy ± SE, and the estimate "
           "of the clean one from the noisy labels and the noise matrix (class-conditional noise).</p>"]
    if rows:
        out.append("<table id='reliability-table'><thead><tr><th class='method'>method</th><th>setting</th>"
                   "<th>points</th><th>P within 1 pt</th><th>P test-best (point)</th><th>expected test</th>"
                   "<th>paper's rule</th><th>labels needed</th><th>validation, noisy</th><th>noise-corrected</th>"
                   "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    if not left.empty:
        items = "".join(f"<li>{html.escape(str(r['label']))}, {html.escape(str(r['setting']))}: "
                        f"{html.escape(str(r['reliability_note']))}</li>" for _, r in left.iterrows())
        out.append(f"<p>Not computed for:</p><ul>{items}</ul>")
        if left["reliability_note"].astype(str).str.contains("val_predictions").any():
            out.append(f"<p>Add the missing files without retraining: <code>{html.escape(ADD_FILES)}</code>.</p>")
    return "".join(out)


def variance_table(table: pd.DataFrame) -> str:
    """HTML: where each cell's spread comes from (report.variance_split, the view table.md writes too); nothing for
    a study without training seeds."""
    view = variance_view(table)
    if view is None:
        return ""
    return (f"<h2>Where the variance comes from</h2><p>{html.escape(VARIANCE_CAPTION)}</p>"
            + view_html(view, "variance-table"))


def detection_tables(det: pd.DataFrame) -> str:
    if det.empty:
        return "<p>No detection scores: no evaluated q-network run and no cleanlab result.</p>"
    settings = list(dict.fromkeys(det["setting"]))
    quiet = set(det.loc[no_noise(det), "setting"])
    head = "".join(f"<th>{html.escape(s)}</th>" for s in settings)
    rows = []
    for label, group in det.groupby("label", sort=False):
        cells = []
        for s in settings:
            r = group[group["setting"] == s]
            cells.append("<td>—</td>" if r.empty else f"<td>{NO_NOISE}</td>" if s in quiet else
                         f"<td>{_fmt(r.iloc[0]['detection_auc_pct'], 2)} / {_fmt(r.iloc[0]['detection_ap_pct'], 2)}</td>")
        rows.append(f"<tr><th class='method'>{html.escape(str(label))}</th>{''.join(cells)}</tr>")
    out = [f'<table id="detection-table"><thead><tr><th>Detector</th>{head}</tr></thead>'
           f"<tbody>{''.join(rows)}</tbody></table>"]
    clean = det[det["detector"].astype(str).str.startswith("cleanlab")]
    if not clean.empty:
        out.append("<h3>cleanlab's own estimates next to the realised noise</h3>"
                   '<table id="cleanlab-table"><thead><tr><th>Setting</th><th>issues found</th><th>precision (%)</th>'
                   "<th>recall (%)</th><th>noise rate estimate (%)</th><th>true noise rate (%)</th>"
                   "<th>noise matrix mean abs. error</th></tr></thead><tbody>")
        for r in clean.itertuples():
            pct = lambda x: _fmt(None if pd.isna(x) else 100 * x)  # noqa: E731
            found = (f"<td>{NO_NOISE}</td>" * 2 if r.setting in quiet else
                     f"<td>{pct(r.issues_precision)}</td><td>{pct(r.issues_recall)}</td>")
            out.append(f"<tr><th>{html.escape(r.setting)}</th><td>{int(r.n_issues)}</td>{found}"
                       f"<td>{pct(r.noise_rate_estimate)}</td>"
                       f"<td>{pct(r.noise_rate_true)}</td><td>{_fmt(r.noise_matrix_mae, 4)}</td></tr>")
        out.append("</tbody></table>")
        out.append("<p>The noise matrices (the noise model's, the realised one and cleanlab's estimate) are drawn as "
                   "heatmaps in the report's \"Noise matrices\" category; their numbers are in detection.csv.</p>")
    if quiet:
        out.append(f"<p>{NO_NOISE} = the setting's training labels hold no corrupted label: nothing to find "
                   "(detection.csv: <code>no_noise</code>, its numbers empty).</p>")
    return "".join(out)


STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;font-size:.9em}th.method{text-align:left}
td.paper{color:#777}thead th{background:#f2f2f2}sup.coin{color:#b00;font-weight:bold}table.matrix td{font-size:.75em}
p.left-out{color:#555;font-size:.85em}td.text{text-align:left}#summary-table td{white-space:nowrap}"""


def results_html(exp: Experiment, results_dir: Path, params_file: str) -> str:
    """The page: the summary first, then every table (the module docstring)."""
    results_dir = Path(results_dir)
    try:
        table = pd.read_csv(results_dir / ResultFiles.TABLE)
        det = pd.read_csv(results_dir / ResultFiles.DETECTION)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise LimitlabError(f"cannot read the tables in {results_dir} ({exc}); run `limitlab aggregate` first") from None
    paired, coins = read_optional_csv(results_dir / ResultFiles.PAIRED), coin_tosses(table)
    methods = {(s.id, m.row_id) for s in exp.studies for m in s.methods}
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(exp.name)} results"
            f"</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(exp.name)}: results</h1><p>{html.escape(exp.description)}</p>"
            f"<p>Params file: <code>{html.escape(params_file)}</code>.</p>"
            + summary_section(exp, table, paired)
            + "<h2 id='accuracy'>Clean test accuracy (%)</h2><p>Per cell, the hyperparameter point with the best "
            "mean noisy-validation accuracy is selected; ± is the error bar of table.md (std over seeds, or of the "
            "bootstrap of the test set with one seed). "
            + ("Paper: Harutyunyan et al. 2020 (Tables 1, 2, 4), grey; — = no paper number for this setting."
               if table["paper_test_acc_pct"].notna().any() else
               "The paper reports no number for any setting of this grid, so no paper column is shown.")
            + (f" {_mark(True)} = a coin toss: the selection of this cell is less likely than not to land within 1 "
               "test point of its grid's test-best point (\"Selection reliability\" below); read its number, its "
               "distance to the paper and its paired differences with that in mind." if coins else "")
            + "</p>"
            + accuracy_table(table) + rules_table(table, methods) + reliability_table(table) + variance_table(table)
            + "<h2>Noisy-label detection: ROC AUC / average precision (%)</h2>"
            + "<p>Finding the corrupted training labels. LIMIT: distance ‖s(b) − e_ỹ‖₂ between the q-network's "
              "prediction and the given label. cleanlab: 1 − self-confidence of out-of-sample predicted "
              "probabilities from K-fold cross-validated CE models.</p>"
            + detection_tables(det) + budget_table(det) + paired_table(paired, coins)
            + claims_table(results_dir / ResultFiles.CLAIMS)
            + inputs_table(results_dir / ResultFiles.INPUTS) + "</body></html>\n")


def budget_table(det: pd.DataFrame) -> str:
    """Detection at a budget (detection.csv's budget columns, report.detection_budget)."""
    shown = budget_shown(det)
    if shown.empty:
        return ""
    rows = []
    for r, quiet in zip(shown.itertuples(), no_noise(shown)):
        if quiet:
            rows.append(f"<tr><th class='method'>{html.escape(str(r.label))}</th><td>{html.escape(str(r.setting))}</td>"
                        + f"<td>{NO_NOISE}</td>" * 4 + "</tr>")
            continue
        own = "—" if pd.isna(r.k_estimate) else (f"{_fmt(r.precision_at_estimate_pct)} / "
                                                 f"{_fmt(r.recall_at_estimate_pct)} (k = {int(r.k_estimate)})")
        rows.append(f"<tr><th class='method'>{html.escape(str(r.label))}</th><td>{html.escape(str(r.setting))}</td>"
                    f"<td>{_fmt(r.precision_at_noise_rate_pct)}</td><td>{own}</td>"
                    f"<td>{_fmt(r.precision_at_100_pct)}</td><td>{_fmt(r.precision_at_1000_pct)}</td></tr>")
    return ("<h3>Detection at a budget (%)</h3><p>Flag the k most suspicious training examples: k = the true number of "
            "corrupted labels (precision = recall), k = the detector's own estimate, k = 100 and 1,000 (— where the "
            "training set is smaller). CE loss: the trivial detector, the CE model's own loss on its training "
            f"labels.{f' {NO_NOISE}: no corrupted label to find.' if no_noise(shown).any() else ''}</p><table id='budget-table'><thead><tr><th class='method'>detector</th><th>setting</th>"
            "<th>P = R at the noise count</th><th>P / R at own estimate</th><th>P@100</th><th>P@1000</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>")


def _flag(value) -> bool:
    """A True / False column read back from CSV (empty: not known, not set)."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def paired_table(df: pd.DataFrame | None, coins: set[tuple[str, str]] = frozenset()) -> str:
    """Every method against the reference and the best baseline of its setting (paired.csv, report.paired); the
    coin-toss mark on either side whose selection is a coin toss (paired.csv's ``method_coin_toss`` /
    ``reference_coin_toss``; for a file from before them, ``coins``: (setting, method id) of table.csv)."""
    if df is None or df.empty:
        return ""
    rows = []
    for r in df.itertuples():
        coin_m, coin_r = ((_flag(r.method_coin_toss), _flag(r.reference_coin_toss)) if "method_coin_toss" in df else
                          ((r.setting, r.method_id) in coins, (r.setting, r.reference_id) in coins))
        ref = (html.escape(str(r.reference_label)) + _mark(coin_r)
               + (" (best baseline)" if r.reference_kind == "best_baseline" else ""))
        one = "<sup>1</sup>" if r.n_pairs == 1 else ""
        p = "—" if pd.isna(r.wilcoxon_p) else f"{r.wilcoxon_p:.3g}"
        rows.append(f"<tr><th class='method'>{html.escape(str(r.label))}{_mark(coin_m)}"
                    f"</th><td>{html.escape(str(r.setting))}</td><td>{ref}</td><td>{r.diff_pct:+.1f}{one}</td><td>[{r.ci_low_pct:+.1f}, {r.ci_high_pct:+.1f}]</td>"
                    f"<td>{r.wins} / {r.ties} / {r.losses}</td><td>{p}</td></tr>")
    return ("<h2>Paired differences over splits (points)</h2><p>Method − reference in clean test accuracy on the same "
            "splits, at the points the paper's rule selected. Interval: 95 % two-level bootstrap (splits, then each "
            "split's test set, the same examples for both); <sup>1</sup> = it rests on one seed. Higher / equal / "
            "lower: splits. Wilcoxon signed-rank p (two-sided) with 5 or more splits."
            + (f" {_mark(True)} = the selection of that cell is a coin toss." if "<sup class='coin'" in "".join(rows)
               else "") + "</p>"
            "<table id='paired-table'><thead><tr><th class='method'>method</th><th>setting</th><th>reference</th>"
            "<th>difference</th><th>interval</th><th>higher / equal / lower</th><th>Wilcoxon p</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def claims_table(path: Path) -> str:
    """The paper's claims with what this grid measured and the verdict (claims.csv, report.claims)."""
    df = read_optional_csv(path)
    if df is None or df.empty:
        return ""
    rows = []
    for claim_id, g in df.groupby("claim_id", sort=False):
        first = g.iloc[0]
        if pd.isna(first.get("setting")):
            measured = html.escape(str(first.why_not_testable)) + (
                f"; tested by <code>{html.escape(str(first.tested_by))}</code>" if not pd.isna(first.tested_by) else "")
        else:
            measured = "<br>".join(
                f"{html.escape(str(r.method))}{_mark(_flag(getattr(r, 'method_coin_toss', None)))} − "
                f"{html.escape(str(r.reference))}{_mark(_flag(getattr(r, 'reference_coin_toss', None)))}, "
                f"{html.escape(str(r.setting))}: "
                f"{r.diff_pct:+.1f} [{r.ci_low_pct:+.1f}, {r.ci_high_pct:+.1f}]{'' if r.meets else ' ✗'}"
                for r in g.itertuples())
        rows.append(f"<tr><th class='method'>{html.escape(str(claim_id))}: {html.escape(str(first.claim))}</th>"
                    f"<td style='text-align:left'>{html.escape(str(first['where']))}</td>"
                    f"<td style='text-align:left'>{measured}</td><td>{html.escape(str(first.verdict))}"
                    + (f"<br><small>{html.escape(str(first.coverage))}</small>" if isinstance(first.coverage, str)
                       and first.coverage else "") + "</td></tr>")
    return ("<h2>The paper's claims on this grid</h2><p>Each claim as paired comparisons (difference in points "
            "with its interval); ✗ = a comparison that does not meet the claim. Not testable = the grid has none "
            "of the claim's cells."
            + (f" {_mark(True)} = the paper's rule's selection of that cell is a coin toss: a verdict resting on it "
               "says as much about the draw of the validation labels as about the claim."
               if "coin_toss" in df and df["coin_toss"].map(_flag).any() else "") + "</p><table id='claims-table'><thead><tr><th class='method'>claim</th>"
            "<th>where in the paper</th><th>measured</th><th>verdict</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def inputs_table(path: Path) -> str:
    """The inputs of every setting with their content identities (inputs.csv of ``limitlab aggregate``)."""
    try:
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return ""  # results aggregated before inputs.csv existed
    out = ["<h2>Inputs</h2><p>The content identity (first 12 hex digits of a SHA-256) of each setting's dataset "
           "and noise realisation; every run in the tables was trained on these (its done.json records them). "
           "Noisy labels read from a file (noise models <code>file</code> and <code>human</code>) name it.</p>",
           "<table id='inputs-table'><thead><tr><th class='method'>setting</th><th>dataset</th>"
           "<th>noise realisation</th><th class='method'>labels file</th><th class='method'>noise file</th>"
           "</tr></thead><tbody>"]
    for r in rows.itertuples():
        ids = (f"<td><code>{html.escape(r.dataset_id[:12])}</code></td><td><code>{html.escape(r.noise_id[:12])}"
               "</code></td>" if not r.problem else f"<td colspan='2'>{html.escape(r.problem)}</td>")
        source, sha = getattr(r, "noise_file", ""), getattr(r, "noise_file_sha256", "")  # absent before file noise
        source = (f"<code>{html.escape(source)}</code>" + (f" (sha256 <code>{html.escape(sha[:12])}</code>)" if sha
                                                          else "")) if source else ""
        out.append(f"<tr><th class='method'>{html.escape(r.setting)}</th>{ids}"
                   f"<td style='text-align:left'><code>{html.escape(r.labels_file)}</code></td>"
                   f"<td style='text-align:left'>{source}</td></tr>")
    return "".join(out) + "</tbody></table>"


def write_assets(exp: Experiment, params_file: str, results_dir: Path | None = None) -> dict:
    results_dir = Path(results_dir or exp.results_path)
    (results_dir / ResultFiles.REPORT).mkdir(parents=True, exist_ok=True)
    page = io.write_text(results_dir / ResultFiles.RESULTS_PAGE, results_html(exp, results_dir, params_file))
    figures = collect_figures(results_dir, results_dir / ResultFiles.REPORT_FIGURES)
    return {"results_html": page, "figures": figures}
