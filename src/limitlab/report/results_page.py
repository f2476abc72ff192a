"""What Snakemake's HTML report shows (``snakemake --report results/<name>/report.html``, workflow/rules/report.smk).

``limitlab report-assets`` writes into ``results_dir/report/``:

* ``results.html`` — one self-contained page: first the summary (per setting the best method, its paired
  differences to CE and to the best baseline, with the coin-toss mark: :mod:`limitlab.report.summary`), then the
  sections of table.md in its order (:func:`limitlab.report.tables.report_sections`, read from the CSV files): the
  clean test accuracy of every cell and the paper's numbers beside it, the three selection rules, each cell's
  selection reliability, where each cell's spread comes from (with training seeds), noisy-label detection with
  cleanlab's own estimates and detection at a budget, the paired differences, the paper's claims, and the content
  identities of every setting's inputs. Each is written by :func:`limitlab.report.render.section_html`, which leaves
  out the rows holding only "—" and says how many and why;
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
from limitlab.report.render import section_html, view_html
from limitlab.report.summary import summary_frame, summary_view
from limitlab.report.tables import FRAMES, read_frames, report_sections


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


def summary_section(exp: Experiment, table: pd.DataFrame, paired: pd.DataFrame | None) -> str:
    """The summary on top of the page (:mod:`limitlab.report.summary`), from table.csv and paired.csv."""
    view, caption = summary_view(summary_frame(exp, table, paired), exp.comparisons.reference, exp.bootstrap.ci)
    missing = ("" if paired is not None else
               " (paired.csv is missing: run `limitlab aggregate` again for the differences)")
    return (f"<h2 id='summary'>Summary</h2><p>{html.escape(caption + missing)}</p>"
            + view_html(view, "summary-table"))


STYLE = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.8em 0}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right;font-size:.9em}th.method{text-align:left}
td.paper{color:#777}thead th{background:#f2f2f2}sup.coin{color:#b00;font-weight:bold}table.matrix td{font-size:.75em}
p.left-out{color:#555;font-size:.85em}td.text{text-align:left}#summary-table td{white-space:nowrap}"""


def results_html(exp: Experiment, results_dir: Path, params_file: str) -> str:
    """The page: the summary first, then every section of table.md (the module docstring)."""
    results_dir = Path(results_dir)
    texts = {}
    for key, name in FRAMES.items():
        try:
            texts[key] = (results_dir / name).read_text()
        except OSError as exc:
            if key in ("table", "detection"):
                raise LimitlabError(f"cannot read the tables in {results_dir} ({exc}); run `limitlab aggregate` "
                                    "first") from None
            texts[key] = None  # results aggregated before the file existed
    frames = read_frames(texts)
    if frames["table"] is None or frames["detection"] is None:
        raise LimitlabError(f"cannot read the tables in {results_dir} ({ResultFiles.TABLE} or "
                            f"{ResultFiles.DETECTION} is damaged); run `limitlab aggregate` again")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(exp.name)} results"
            f"</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(exp.name)}: results</h1><p>{html.escape(exp.description)}</p>"
            f"<p>Params file: <code>{html.escape(params_file)}</code>.</p>"
            + summary_section(exp, frames["table"], frames["paired"])
            + "".join(map(section_html, report_sections(exp, frames))) + "</body></html>\n")


def write_assets(exp: Experiment, params_file: str, results_dir: Path | None = None) -> dict:
    results_dir = Path(results_dir or exp.results_path)
    (results_dir / ResultFiles.REPORT).mkdir(parents=True, exist_ok=True)
    page = io.write_text(results_dir / ResultFiles.RESULTS_PAGE, results_html(exp, results_dir, params_file))
    figures = collect_figures(results_dir, results_dir / ResultFiles.REPORT_FIGURES)
    return {"results_html": page, "figures": figures}
