"""The result tables: table.md (markdown), the terminal table (rich) and the CSV frames table.csv and
selection.csv, from the cells of :mod:`limitlab.report.cells`.

table.csv, detection.csv, paired.csv, claims.csv and inputs.csv are the report's one source: table.md and the
results page read them back (:func:`read_frames`) and show the same sections in the same order
(:func:`report_sections`: the grids of :mod:`limitlab.report.grid_sections`, then those of
:mod:`limitlab.report.sections`), each written by the writer of its format (:mod:`limitlab.report.render`).
table.md opens with the summary (:mod:`limitlab.report.summary`) and ends with the diverged, missing and broken runs.
"""

from __future__ import annotations

import io as text_io
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from limitlab.experiment.paths import ResultFiles
from limitlab.experiment.schema import Experiment
from limitlab.report.cells import Cell
from limitlab.report.grid_sections import (accuracy_section, accuracy_text, detection_sections, error_caption,
                                           grid_view, paper_section, setting_columns)
from limitlab.report.paper_numbers import lookup
from limitlab.report.provenance import validation_size
from limitlab.report.render import Section, section_markdown, view_markdown
from limitlab.report.sections import (budget_section, claims_section, inputs_section, is_missing, number,
                                      paired_section, reliability_section, rules_section, variance_section)
from limitlab.report.selection_reliability import (COIN_TOSS_BELOW, COIN_TOSS_MARK, INT_COLUMNS, point_columns,
                                                   reliability_columns)
from limitlab.report.summary import coin_tosses, no_noise_settings, params_methods, summary_frame, summary_view
from limitlab.report.variance_split import VARIANCE_INT_COLUMNS, variance_columns

FRAMES = {"table": ResultFiles.TABLE, "detection": ResultFiles.DETECTION, "paired": ResultFiles.PAIRED,
          "claims": ResultFiles.CLAIMS, "inputs": ResultFiles.INPUTS}  # what the report reads back


# ---------------------------------------------------------------------------------------------------------------
# The report's sections, from the CSV files
# ---------------------------------------------------------------------------------------------------------------


def read_frames(texts: Mapping[str, str | None]) -> dict[str, pd.DataFrame | None]:
    """The report's tables (:data:`FRAMES`) from their CSV texts, as every writer reads them (inputs.csv as text:
    its identities are hex); None for a file that is missing or unreadable (results of an earlier release)."""
    out = {}
    for key in FRAMES:
        text = texts.get(key)
        try:
            out[key] = None if text is None else pd.read_csv(
                text_io.StringIO(text), **({"dtype": str, "keep_default_na": False} if key == "inputs" else {}))
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            out[key] = None
    return out


def report_sections(exp: Experiment, frames: Mapping[str, pd.DataFrame | None]) -> list[Section]:
    """Every section after the summary, in the order table.md and the results page show them."""
    table, det = frames["table"], frames["detection"]
    built = (accuracy_section(table, exp), paper_section(table, exp), rules_section(table, params_methods(exp)),
             reliability_section(table), variance_section(table),
             *(detection_sections(det, table, len(exp.studies) > 1) if det is not None else ()),
             budget_section(det) if det is not None else None, paired_section(frames["paired"], coin_tosses(table)),
             claims_section(frames["claims"]), inputs_section(frames["inputs"]))
    return [s for s in built if s is not None]


# ---------------------------------------------------------------------------------------------------------------
# table.md
# ---------------------------------------------------------------------------------------------------------------


def markdown(exp: Experiment, cells: list[Cell], missing: list[str], frames: Mapping[str, pd.DataFrame | None]) -> str:
    """table.md without its susceptibility section: the summary (no "## " heading: readers find the accuracy table
    before the first), every section of :func:`report_sections`, then the diverged runs, missing runs and broken
    files of ``cells``."""
    summary, summary_caption = summary_view(summary_frame(exp, frames["table"], frames["paired"]),
                                            exp.comparisons.reference, exp.bootstrap.ci)
    reasons = {k: v for c in cells for k, v in c.missing_reasons.items()}
    out = [f"# {exp.name}: clean test accuracy (%)", "",
           (exp.description + "\n") if exp.description else "",
           f"**Summary.** {summary_caption}", "", *view_markdown(summary)]
    for section in report_sections(exp, frames):
        out += section_markdown(section)
    diverged = {k: v for c in cells for k, v in c.diverged.items()}
    if diverged:
        out += ["", f"## Diverged runs ({len(diverged)})", "", "Each kept the best checkpoint saved before the "
                "non-finite loss, which was tested and competed in model selection (the authors' behaviour).", "",
                *[f"- `{k}`: epoch {v.get('epoch')}: {v.get('reason')}" for k, v in sorted(diverged.items())]]
    if missing:
        out += ["", f"## Missing runs ({len(missing)})", "",
                *[f"- `{m}`: {reasons.get(m, 'missing')}" for m in missing]]
    broken = [b for c in cells for b in c.broken]
    if broken:
        out += ["", f"## Broken files ({len(broken)})", "", "Rerun the pipeline (the same `snakemake ... all`): the "
                "job of each run finds the file damaged (size and checksum recorded in its done.json) and rebuilds "
                "it alone.", "", *[f"- {b}" for b in dict.fromkeys(broken)]]
    return "\n".join(out) + "\n"


def susceptibility_markdown(exp: Experiment, extra: list[Cell]) -> str:
    """table.md section with the susceptibility rows' own table, naming the model each one picked."""
    if not extra:
        return ""
    frame = long_frame(extra)
    _, mixed = error_caption(frame, exp)
    view = grid_view(frame, "method_id", setting_columns(frame, len(exp.studies) > 1),
                     lambda r: accuracy_text(r, mixed))
    lines = ["", "## Susceptibility selection", "", *view_markdown(view), "",
             "Rows marked \"(susceptibility sel.)\" choose, among the finished points of the method (\"Any method\": "
             "of every method of the setting), the model in Region 1 of final-epoch training accuracy on the noisy "
             "labels vs final susceptibility ζ (thresholds at the pool means; inside Region 1 the highest training "
             "accuracy; Forouzesh et al. 2023, and docs/methods.md, \"Susceptibility\") and report its final-epoch "
             "clean test accuracy: no validation labels are used. Every pool member and its region: "
             "susceptibility.csv.", ""]
    for c in extra:
        region = "Region 1" if c.stats["region"] == 1 else "Region 1 empty, least ζ among the trainable"
        lines.append(f"- {c.key}, {c.label}: {c.stats['selected_method']} at {c.stats['point_tag']} ({region}; "
                     f"train acc {100 * c.stats['train_acc_noisy']:.1f}%, ζ {c.stats['susceptibility']:.4f})")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# The terminal table
# ---------------------------------------------------------------------------------------------------------------


def rich_table(exp: Experiment, cells: list[Cell], title: str = "clean test accuracy (%)"):
    """The accuracy grid of table.md for the terminal, the paper's number dim under ours."""
    from rich.markup import escape
    from rich.table import Table

    frame = long_frame(cells)
    caption, mixed = error_caption(frame, exp)
    coins = coin_tosses(frame)
    has_paper = frame["paper_test_acc_pct"].notna().any()

    def text(r) -> str:
        ours = escape(accuracy_text(r, mixed) + (COIN_TOSS_MARK if (r["setting"], r["method_id"]) in coins else ""))
        paper = ("" if is_missing(r["paper_test_acc_pct"]) else "\n[dim]" + number(r["paper_test_acc_pct"])
                 + ("" if is_missing(r["paper_std_pct"]) else f" ± {number(r['paper_std_pct'])}") + "[/]")
        return (f"[red]{ours}[/]" if ours == "missing" else ours) + paper

    view = grid_view(frame, "method_id", setting_columns(frame, len(exp.studies) > 1), text)
    table = Table(title=escape(f"{exp.name}: {title}"),
                  caption="Point selected by mean noisy-validation accuracy. " + escape(caption)
                  + (" Dim: the paper's number." if has_paper else "")
                  + (f" {COIN_TOSS_MARK} = a coin toss (selection reliability below {COIN_TOSS_BELOW:g}; table.md)."
                     if coins else ""),
                  title_justify="left", caption_justify="left")
    table.add_column("Method", no_wrap=True)
    for name in view.frame.columns[1:]:
        table.add_column(escape(name.replace(" n=", "\nn=")), justify="right")
    for values in view.frame.itertuples(index=False):
        table.add_row(escape(values[0]), *values[1:])
    return table


# ---------------------------------------------------------------------------------------------------------------
# CSV frames: table.csv, selection.csv, detection.csv
# ---------------------------------------------------------------------------------------------------------------


def long_frame(cells: list[Cell]) -> pd.DataFrame:
    """table.csv: one row per cell with every number (accuracies in %, as in the paper); ``no_noise``: the
    setting's training labels hold no corrupted label (its detection columns are empty for that reason)."""
    rows, quiet = [], no_noise_settings(cells)
    for c in cells:
        st = c.stats
        paper = lookup(c.dataset, c.noise, c.p, c.n, c.method_id) if c.noise == c.noise_model else None
        ours = None if c.selected is None else 100 * st["test_acc"]
        rows.append({
            "setting": c.key, "study": c.study.id, "dataset": c.dataset, "noise": c.noise, "p": c.p, "n": str(c.n),
            "method_id": c.method_id, "label": c.label, "status": c.status,
            "selected_point": c.selected.tag if c.selected else None, "n_seeds": st.get("n_seeds"),
            "val_size": validation_size(c.points[0].records[0].run.spec.labels_path) if c.points else None,
            "val_acc_pct": None if c.selected is None else 100 * st["val_acc"], "test_acc_pct": ours,
            "test_acc_std_pct": None if st.get("test_acc_std") is None else 100 * st["test_acc_std"],
            "error": st.get("error"),
            "detection_auc_pct": None if st.get("detection_auc") is None else 100 * st["detection_auc"],
            "detection_ap_pct": None if st.get("detection_ap") is None else 100 * st["detection_ap"],
            "paper_test_acc_pct": paper.mean if paper else None,
            "paper_std_pct": paper.std if paper else None, "paper_source": paper.source if paper else None,
            "diff_pct": None if (paper is None or ours is None) else ours - paper.mean,
            "missing_runs": len(c.missing_keys), "diverged_runs": len(c.diverged),
            "selected_diverged": None if c.selected is None else any(r.result.get("diverged") for r in c.selected.done),
            "broken_files": "; ".join(c.broken) or None,
            **rule_columns(c), **epoch_columns(c), **reliability_columns(c), "no_noise": c.key in quiet,
            **variance_columns(c),
        })
    frame = pd.DataFrame(rows)
    ints = (*INT_COLUMNS, *VARIANCE_INT_COLUMNS, "val_size")
    return frame.astype({k: "Int64" for k in ints if k in frame})  # counts: no '.0' beside gaps


def rule_columns(c: Cell) -> dict:
    """table.csv's columns of the other selection rules: last epoch of the paper's point, and the oracle (an upper
    bound, selected on the test set) with the point it picked."""
    out = {}
    for rule in ("last_epoch", "oracle"):
        r = c.rules.get(rule)
        out[f"test_acc_{rule}_pct"] = None if r is None or r.test_acc is None else 100 * r.test_acc
        out[f"test_acc_{rule}_std_pct"] = None if r is None or r.test_acc_std is None else 100 * r.test_acc_std
    out["oracle_point"] = c.rules["oracle"].point if "oracle" in c.rules else None
    return out


def epoch_columns(c: Cell) -> dict:
    """table.csv's columns on training length at the selected point: mean best epoch and epochs run over seeds,
    the epoch cap, and how many runs early stopping (patience) ended before it."""
    pt = c.selected
    cap = pt.records[0].run.spec.training.epochs if pt is not None and pt.records else None  # the run's own cap
    return {"best_epoch_mean": pt.mean_of("best_epoch") if pt else None,
            "epochs_run_mean": pt.mean_of("epochs_run") if pt else None, "epoch_cap": cap,
            "runs_stopped_by_patience": pt.stopped_early if pt else None}


def selection_frame(cells: list[Cell]) -> pd.DataFrame:
    """selection.csv: every point of every cell with its mean val accuracy, the selected one flagged; beside them
    its mean test accuracy (a whole hyperparameter curve, never used to select), mean best epoch and how many of its
    runs early stopping ended."""
    rows = []
    for c in cells:
        for pt in c.points:
            rows.append({"setting": c.key, "study": c.study.id, "method_id": c.method_id, "point": pt.tag,
                         **{f"hp_{k}": v for k, v in pt.point.items()}, "seeds_done": len(pt.done),
                         "seeds_expected": len(pt.records), "complete": pt.complete,
                         "mean_val_acc": pt.mean_val_acc, "selected": pt is c.selected,
                         "mean_test_acc": pt.mean_of("test_acc"), "best_epoch_mean": pt.mean_of("best_epoch"),
                         "runs_stopped_by_patience": pt.stopped_early, **point_columns(c, pt.tag)})
    return pd.DataFrame(rows)


def read_optional_csv(path: Path) -> pd.DataFrame | None:
    """A table `limitlab aggregate` wrote (detection.csv, paired.csv, ...); None when it is missing or unreadable
    (results aggregated before the file existed, or not aggregated into this folder)."""
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
