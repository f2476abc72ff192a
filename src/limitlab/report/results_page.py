"""What Snakemake's HTML report shows (``snakemake --report results/<name>/report.html``, workflow/rules/report.smk).

``limitlab report-assets`` writes into ``results_dir/report/``:

* ``results.html`` — one self-contained page: first the summary (per setting the best method, its paired
  differences to CE and to the best baseline, with the coin-toss mark: :mod:`limitlab.report.summary`), then the
  clean test accuracy of every method and setting with the paper's number and the difference beside ours, the three selection rules side by side and each cell's selection
  reliability with the coin-toss mark (from table.csv; the mark also on the paired differences and the claims), where
  each cell's spread comes from when the study has training seeds (between and within splits, table.csv), the
  noisy-label detection table (LIMIT and cleanlab, from detection.csv; "no noise" where the training labels hold
  no corrupted label), cleanlab's own estimates next to the realised noise, and the content identities of every
  setting's dataset and noise realisation (from inputs.csv). The sections after the accuracy table are those of
  table.md, built once by :mod:`limitlab.report.sections` and written by :func:`limitlab.report.render.section_html`,
  which leaves out the rows holding only "—" and says how many and why;
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
from limitlab.report.render import coin_mark_html, section_html, view_html
from limitlab.report.sections import (budget_section, claims_section, inputs_section, paired_section,
                                      reliability_section, rules_section, variance_section)
from limitlab.report.summary import NO_NOISE, coin_tosses, no_noise, summary_frame, summary_view
from limitlab.report.tables import read_optional_csv


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
            cells.append(f"<td>{ours}{coin_mark_html((s, r['method_id']) in coins)}</td>")
            if with_paper:
                paper = _fmt(r["paper_test_acc_pct"]) + (
                    f" ± {_fmt(r['paper_std_pct'])}" if not pd.isna(r["paper_std_pct"]) else "")
                cells.append(f"<td class='paper'>{paper}</td><td>{_fmt(r['diff_pct'])}</td>")
        rows.append(f"<tr><th class='method'>{html.escape(str(label))}</th>{''.join(cells)}</tr>")
    return (f'<table id="results-table"><thead><tr><th rowspan="2">Method</th>{head1}</tr><tr>{head2}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


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
            + (f" {coin_mark_html(True)} = a coin toss: the selection of this cell is less likely than not to land within 1 "
               "test point of its grid's test-best point (\"Selection reliability\" below); read its number, its "
               "distance to the paper and its paired differences with that in mind." if coins else "")
            + "</p>"
            + accuracy_table(table)
            + "".join(map(section_html, (rules_section(table, methods), reliability_section(table),
                                         variance_section(table))))
            + "<h2>Noisy-label detection: ROC AUC / average precision (%)</h2>"
            + "<p>Finding the corrupted training labels. LIMIT: distance ‖s(b) − e_ỹ‖₂ between the q-network's "
              "prediction and the given label. cleanlab: 1 − self-confidence of out-of-sample predicted "
              "probabilities from K-fold cross-validated CE models.</p>"
            + detection_tables(det)
            + "".join(map(section_html, (budget_section(det), paired_section(paired, coins),
                                         claims_section(read_optional_csv(results_dir / ResultFiles.CLAIMS)),
                                         inputs_section(_read_text_csv(results_dir / ResultFiles.INPUTS)))))
            + "</body></html>\n")


def _read_text_csv(path: Path) -> pd.DataFrame | None:
    """inputs.csv as text (hex identities stay text); None for results aggregated before it existed."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


def write_assets(exp: Experiment, params_file: str, results_dir: Path | None = None) -> dict:
    results_dir = Path(results_dir or exp.results_path)
    (results_dir / ResultFiles.REPORT).mkdir(parents=True, exist_ok=True)
    page = io.write_text(results_dir / ResultFiles.RESULTS_PAGE, results_html(exp, results_dir, params_file))
    figures = collect_figures(results_dir, results_dir / ResultFiles.REPORT_FIGURES)
    return {"results_html": page, "figures": figures}
