"""The results page and table.md at a glance (issue 35): the summary on top (report.summary) on a hand-built table
and through `limitlab aggregate`, the rule that leaves out rows holding only "—", "no noise" where the training
labels hold no corrupted label, and the coin-toss mark on the paired differences and the claims."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from limitlab import io
from limitlab.errors import LimitlabError
from limitlab.report.aggregate import aggregate
from limitlab.report.render import section_html, section_markdown, view_html, view_markdown
from limitlab.report.results_page import results_html
from limitlab.report.sections import rules_section
from limitlab.report.summary import PARTIAL_MARK, View, no_noise_settings, summary_frame, summary_view
from fake_runs import experiment, method_runs, study
from reliability_case import hand_study, write_hand_case

S50, S80, S0 = "mnist/uniform/p50/nall", "mnist/uniform/p80/nall", "mnist/uniform/p0/nall"
METHODS = [{"method": "ce", "label": "CE"}, {"method": "mae", "label": "MAE"},
           {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}]


def row(setting, method_id, label, acc, std=None, coin=False, p=0.5):
    return {"setting": setting, "study": "u", "dataset": "mnist", "noise": "uniform", "p": p, "n": "all",
            "method_id": method_id, "label": label, "test_acc_pct": acc, "test_acc_std_pct": std, "coin_toss": coin,
            "test_acc_last_epoch_pct": None if acc is None else acc - 1, "test_acc_oracle_pct": None if acc is None
            else acc + 1}


def pair(setting, method_id, ref, kind, diff, low, high, wins, ties, losses, n=5):
    return {"setting": setting, "method_id": method_id, "reference_id": ref, "reference_kind": kind, "diff_pct": diff,
            "ci_low_pct": low, "ci_high_pct": high, "wins": wins, "ties": ties, "losses": losses, "n_pairs": n}


# p = 0.5: LIMIT_G is best (80.0, its selection a coin toss); the susceptibility row above it is not a method and
# must not win. p = 0.8: LIMIT_G has no finished point, CE is best, the best baseline besides it is MAE. p = 0:
# nothing finished. paired.csv's rows carry numbers the summary must copy, never recompute; a decoy row (MAE − CE)
# must not be read for LIMIT_G.
TABLE = pd.DataFrame([
    row(S50, "ce", "CE", 70.0, 1.0), row(S50, "mae", "MAE", 74.0, 1.2), row(S50, "limit_g", "LIMIT_G", 80.0, 0.9, True),
    row(S50, "limit_g_sus_sel", "LIMIT_G (susceptibility sel.)", 85.0),
    row(S80, "ce", "CE", 40.0, 2.0, p=0.8), row(S80, "mae", "MAE", 35.0, 2.5, p=0.8),
    row(S80, "limit_g", "LIMIT_G", None, p=0.8),
    row(S0, "ce", "CE", None, p=0.0), row(S0, "limit_g", "LIMIT_G", None, p=0.0)])
PAIRED = pd.DataFrame([
    pair(S50, "mae", "ce", "reference", 4.0, 1.0, 7.0, 4, 0, 1),
    pair(S50, "limit_g", "ce", "reference", 10.0, 8.0, 12.0, 5, 0, 0),
    pair(S50, "limit_g", "mae", "best_baseline", 6.0, 4.0, 8.5, 4, 0, 1),
    pair(S80, "mae", "ce", "reference", -5.0, -9.0, -1.0, 1, 1, 3),
    pair(S80, "ce", "mae", "best_baseline", 5.0, 1.0, 9.0, 3, 1, 1)])


def test_summary_of_a_hand_built_table(tmp_path):
    exp = experiment(tmp_path, [study(methods=METHODS)])
    frame = summary_frame(exp, TABLE, PAIRED).set_index("setting")
    assert list(frame.index) == [S50, S80, S0]
    s50 = frame.loc[S50]
    assert (s50.best_id, s50.best_test_acc_pct, bool(s50.best_coin_toss)) == ("limit_g", 80.0, True)
    assert (s50.reference_diff_pct, s50.reference_ci_low_pct, s50.reference_ci_high_pct) == (10.0, 8.0, 12.0)
    assert (s50.reference_wins, s50.reference_ties, s50.reference_losses, s50.reference_n_pairs) == (5, 0, 0, 5)
    assert (s50.baseline_id, s50.baseline_diff_pct, s50.baseline_wins, s50.baseline_losses) == ("mae", 6.0, 4, 1)
    s80 = frame.loc[S80]
    assert s80.best_id == "ce" and s80.reference_id == "ce" and pd.isna(s80.reference_diff_pct)  # CE itself
    assert (s80.baseline_id, s80.baseline_diff_pct, s80.baseline_ties) == ("mae", 5.0, 1)
    assert pd.isna(frame.loc[S0, "best_id"])

    view, caption = summary_view(frame.reset_index(), "ce", 0.95)
    md = view_markdown(view)
    assert md[0].startswith("| setting | best method | clean test accuracy (%) | vs CE (points) |")
    assert md[1] == "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |"
    # the coin toss of LIMIT_G's selection marks its name and both of its differences
    assert md[2] == ("| mnist uniform p=0.5 n=all | LIMIT_G? | 80.0 ± 0.9 | +10.0 [+8.0, +12.0]? | 5 / 0 / 0 | MAE | "
                     "+6.0 [+4.0, +8.5]? | 4 / 0 / 1 |")
    assert md[3] == ("| mnist uniform p=0.8 n=all | CE | 40.0 ± 2.0 | (CE itself) | — | MAE | +5.0 [+1.0, +9.0] | "
                     "3 / 1 / 1 |")
    assert md[4:] == ["", "1 row left out: only — (no method has a finished cell in the setting)."]
    assert "95 % interval" in caption and "? = a coin toss" in caption and "¹" not in caption
    page = view_html(view, "summary-table")
    assert page.count("<tr>") == 3 and "p=0 n=all" not in page and "1 row left out" in page
    assert "LIMIT_G<sup class='coin'" in page and "+10.0 [+8.0, +12.0]<sup class='coin'" in page

    # without paired.csv: the best method still, no difference made up
    bare = summary_frame(exp, TABLE, None).set_index("setting")
    assert bare.loc[S50, "best_id"] == "limit_g"
    assert bare[["reference_diff_pct", "baseline_diff_pct"]].isna().all(axis=None)
    with pytest.raises(LimitlabError, match="lacks column"):
        summary_frame(exp, TABLE.drop(columns="test_acc_pct"), PAIRED)


def test_rows_holding_only_dashes_are_left_out_and_counted():
    frame = pd.DataFrame({"method": ["A", "B", "C"], "x": ["1.0", "—", "—"], "y": ["—", "—", ""]})
    view = View(frame, keys=1, why_empty="not run")
    shown, _ = view.shown()
    assert list(shown["method"]) == ["A"] and view.left_out == 2
    assert view.left_out_text() == "2 rows left out: only — (not run)."
    assert view_markdown(view) == ["| method | x | y |", "| --- | ---: | ---: |", "| A | 1.0 | — |", "",
                                   "2 rows left out: only — (not run)."]
    assert View(frame.iloc[:1], keys=1).left_out == 0 and view_markdown(View(frame.iloc[1:], keys=1)) == [
        "2 rows left out: only — (nothing to show)."]
    with pytest.raises(LimitlabError, match="marks"):
        View(frame, marks=pd.DataFrame(False, index=frame.index, columns=["method", "x"]))
    # the selection-rules section: the susceptibility row and the cells without a finished point have no number
    # under these rules; table.md and the results page show the same rows
    section = rules_section(TABLE, {("u", "ce"), ("u", "mae"), ("u", "limit_g")})
    page, md = section_html(section), section_markdown(section)
    assert page.count("<tr>") == 1 + 5 and "susceptibility sel." not in page
    assert sum(line.startswith("| ") for line in md) == 2 + 5
    left = ("4 rows left out: only — (the rows chosen by susceptibility, which none of these rules selects; cells "
            "without a finished point).")
    assert left in page and left in md


def test_no_noise_settings_follow_the_realised_count_then_p():
    def cell(key, p, model="uniform", n_corrupted=None):
        done = [SimpleNamespace(eval={"n_corrupted": n_corrupted})] if n_corrupted is not None else []
        return SimpleNamespace(key=key, p=p, noise_model=model, points=[SimpleNamespace(done=done)])

    cells = [cell("a/p0", 0.0), cell("b/file/p0", 0.0, "file"), cell("c/p10", 0.1, n_corrupted=0),
             cell("d/p0", 0.0, n_corrupted=3), cell("e/p50", 0.5)]
    assert no_noise_settings(cells) == {"a/p0", "c/p10"}  # a file's labels carry their own noise at p = 0
    assert no_noise_settings(cells, budget=[{"setting": "e/p50", "n_corrupted": 0.0}],
                             cleanlab=[{"setting": "a/p0", "noise_rate_true": 0.01}]) == {"c/p10", "e/p50"}


def write_detection_run(run, test: float, corrupted: np.ndarray) -> None:
    """A finished run with its detection files: eval.json (a q-network's: AUC only with both classes present,
    n_corrupted), train_scores.npz (q-network) or train_loss.npz (CE), the corrupted examples scored highest."""
    spec = run.spec
    for d in (spec.run_dir, spec.eval_dir):
        Path(d).mkdir(parents=True, exist_ok=True)
    (Path(spec.run_dir) / "result.json").write_text(json.dumps(
        {"key": spec.key, "best_val_acc": test, "test_acc": test, "best_epoch": 1, "epochs_run": 2}))
    q_network = spec.method_id != "ce"
    auc = 1.0 if q_network and 0 < corrupted.sum() < len(corrupted) else None
    (Path(spec.eval_dir) / "eval.json").write_text(json.dumps(
        {"key": spec.key, "test_acc": test, "detection_auc": auc, "detection_ap": auc,
         **({"n_train": len(corrupted), "n_corrupted": int(corrupted.sum())} if q_network else {})}))
    scores = corrupted + np.linspace(0, 0.5, len(corrupted))
    if spec.method_id == "ce":
        io.save_npz(Path(spec.eval_dir) / "train_loss.npz", loss=scores, is_corrupted=corrupted)
    else:
        io.save_npz(Path(spec.eval_dir) / "train_scores.npz", distance=scores, is_corrupted=corrupted)


def test_detection_without_corrupted_labels_reads_no_noise(tmp_path):
    exp = experiment(tmp_path, [study(noise={"model": "uniform", "p": [0.0, 0.8]}, methods=[
        {"method": "ce", "label": "CE"}, {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [1.0]}])])
    for run in method_runs(exp, "ce") + method_runs(exp, "limit_g"):
        corrupted = np.zeros(200, bool) if run.spec.p == 0 else np.arange(200) < 160
        write_detection_run(run, 0.9 if run.spec.p == 0 else 0.4, corrupted)
    aggregate(exp)
    results = Path(exp.results_path)
    det = pd.read_csv(results / "detection.csv")
    assert list(dict.fromkeys(det.setting)) == [S0, S80]  # in the grid's order
    quiet, noisy = det[det.setting == S0], det[det.setting == S80]
    assert quiet.no_noise.all() and not noisy.no_noise.any() and len(quiet) == 2  # LIMIT_G and the CE loss
    # numbers stay numbers: empty where there is nothing to find, never a 0.0 precision
    for col in ("detection_auc_pct", "precision_at_100_pct", "precision_at_noise_rate_pct"):
        assert det[col].dtype == float and quiet[col].isna().all()
    assert (noisy.precision_at_100_pct == 100.0).all() and (quiet.n_corrupted == 0).all()
    table = pd.read_csv(results / "table.csv").set_index(["setting", "method_id"])
    assert bool(table.loc[(S0, "limit_g"), "no_noise"]) and not bool(table.loc[(S80, "limit_g"), "no_noise"])

    md = (results / "table.md").read_text()
    assert "| LIMIT_G | no noise | 100.00 / 100.00 |" in md  # the detection grid
    assert f"| {S0} | LIMIT_G |" + " no noise |" * 6 in md and f"| {S0} | CE loss (in-sample, trivial) |" in md
    assert "| 0.0 |" not in md.split("## Detection at a budget")[1].split("\n## ")[0]
    page = results_html(exp, results, "params.yaml")
    detection = page.split("id='detection-table'")[1].split("</table>")[0]
    assert "<td>no noise</td>" in detection and "<td>100.00 / 100.00</td>" in detection
    budget = page.split("id='budget-table'")[1].split("</table>")[0]
    assert budget.count("<td>no noise</td>") == 2 * 6 and "<td>0.0</td>" not in budget


def test_summary_and_the_coin_toss_mark_through_aggregate(tmp_path):
    """The hand case of test_selection_reliability: LIMIT_G's selection is a coin toss, CE's is not (one point). The
    summary copies paired.csv's row; the paired section, paired.csv, the claims and claims.csv carry the mark."""
    claims = tmp_path / "claims.yaml"
    claims.write_text(json.dumps({"claims": [
        {"id": "A", "claim": "LIMIT above CE", "where": "here", "settings": {"datasets": ["mnist"]},
         "comparisons": [{"method": "limit_g", "reference": "ce", "expect": "above"},
                         {"method": "limit_g", "reference": "limit_g", "reference_point": {"beta": 0.0},
                          "expect": "not_below"}]}]}))
    exp = hand_study(tmp_path, samples=2000)
    exp = exp.model_copy(update={"comparisons": exp.comparisons.model_copy(update={"claims": claims})})
    write_hand_case(exp)
    aggregate(exp)
    results = Path(exp.results_path)

    paired = pd.read_csv(results / "paired.csv").set_index(["method_id", "reference_id"])
    limit = paired.loc[("limit_g", "ce")]
    assert (limit.method_coin_toss, limit.reference_coin_toss, limit.coin_toss) == (True, False, True)
    assert len(paired) == 1  # CE is the only baseline: no best-baseline row besides the reference's
    checks = pd.read_csv(results / "claims.csv")
    vs_ce = checks[checks.reference == "ce"].iloc[0]
    assert (vs_ce.method_coin_toss, vs_ce.reference_coin_toss, vs_ce.coin_toss) == (True, False, True)
    fixed = checks[checks.reference == "limit_g"].iloc[0]  # β = 0 fixed: no selection on that side, nothing known
    assert fixed.method_coin_toss and pd.isna(fixed.reference_coin_toss) and fixed.coin_toss

    md = (results / "table.md").read_text()
    head = md.split("\n## ")[0]  # the summary and the accuracy table, before any section heading
    assert head.index("**Summary.**") < head.index("| Method |") and "**Every cell.**" in head
    diff = (f"{limit.diff_pct:+.1f} [{limit.ci_low_pct:+.1f}, {limit.ci_high_pct:+.1f}]?")
    split = f"{limit.wins} / {limit.ties} / {limit.losses}"
    # CE is the only baseline: the best baseline is the reference, and both differences are paired.csv's one row
    assert (f"| mnist uniform p=0.8 n=all | LIMIT_G? | 61.0 ± 1.4 | {diff} | {split} | CE | {diff} | {split} |"
            in head)
    assert f"| mnist/uniform/p80/nall | LIMIT_G? | CE | {limit.diff_pct:+.1f} |" in md
    assert "| A: LIMIT above CE | here | LIMIT_G ? − CE, mnist/uniform/p80/nall:" in md
    assert "LIMIT_G ? − LIMIT_G at beta = 0, mnist" in md and "after a method = the paper's rule's selection" in md

    page = results_html(exp, results, "params.yaml")
    assert page.index("<h2") == page.index("<h2 id='summary'>Summary</h2>") < page.index("id='results-table'")
    summary = page.split("id='summary-table'")[1].split("</table>")[0]
    assert "LIMIT_G<sup class='coin'" in summary and f"{limit.diff_pct:+.1f}" in summary
    paired_html = page.split("id='paired-table'")[1].split("</table>")[0]
    assert "LIMIT_G<sup class='coin'" in paired_html and "CE<sup class='coin'" not in paired_html
    claims_html = page.split("id='claims-table'")[1].split("</table>")[0]
    assert "LIMIT_G ? − CE, mnist/uniform/p80/nall:" in claims_html  # as in table.md: the mark after the label


def test_table_md_and_the_results_page_show_the_same_sections_in_the_same_order(tmp_path):
    """One list of sections (report.tables.report_sections) for both writers: table.md's headings (its first table
    as a bold lead-in) are the page's, in the same order, and each section's table has the same rows."""
    import re

    exp = hand_study(tmp_path, samples=200)
    write_hand_case(exp)
    aggregate(exp)
    results = Path(exp.results_path)
    md = (results / "table.md").read_text()
    page = results_html(exp, results, "params.yaml")
    # a bold lead-in ("**Summary.** ...") or a second- or third-level heading
    md_order = [lead or heading for lead, heading in re.findall(r"^(?:\*\*([^*]+)\.\*\* |#{2,3} )(.*)$", md, re.M)]
    page_order = [html_title.replace("&#x27;", "'") for html_title in re.findall(r"<h[23][^>]*>([^<]+)</h[23]>", page)]
    assert page_order[0] == "Summary" and md_order[0] == "Summary"
    sections = [t for t in md_order[1:] if not t.startswith(("Missing runs", "Broken files", "Diverged runs"))]
    assert sections == page_order[1:] and {"Every cell", "Selection reliability", "Inputs"} <= set(sections)
    # the same rows: every row of the reliability table in table.md is a row of the page's
    md_rows = [line for line in md.split("## Selection reliability")[1].split("\n## ")[0].splitlines()
               if line.startswith("| ") and "---" not in line]
    table = page.split("id='reliability-table'")[1].split("</table>")[0]
    assert len(md_rows) == table.count("<tr>") == 1 + 2  # the header and CE, LIMIT_G


def test_a_claim_on_a_cell_with_unfinished_points_carries_the_partial_mark(tmp_path):
    """LIMIT_G's β = 0 unfinished on one split: its cell is partial, the rule picks among what finished, and the
    claim says so (claims.csv's method_partial, the mark in table.md and in the ledger's markdown)."""
    from limitlab.report.claims_ledger import claims_ledger, ledger_markdown

    exp = hand_study(tmp_path, samples=200)
    write_hand_case(exp)
    unfinished = max(method_runs(exp, "limit_g", beta=0.0), key=lambda r: r.spec.seed)
    (Path(unfinished.spec.run_dir) / "result.json").unlink()
    aggregate(exp)
    results = Path(exp.results_path)
    table = pd.read_csv(results / "table.csv").set_index("method_id")
    assert table.loc["limit_g", "status"] == "partial" and table.loc["ce", "status"] == "ok"
    checks = pd.read_csv(results / "claims.csv")
    vs_ce = checks[(checks.method == "limit_g") & (checks.reference == "ce")].iloc[0]
    assert (bool(vs_ce.method_partial), bool(vs_ce.reference_partial)) == (True, False)
    md = (results / "table.md").read_text()
    assert f"LIMIT_G {PARTIAL_MARK}" in md and "its cell has unfinished points" in md
    ledger = ledger_markdown(claims_ledger([("p.yaml", checks)]))
    assert f"LIMIT_G {PARTIAL_MARK}" in ledger and "its cell has unfinished points" in ledger
