"""The result tables: table.md (markdown), the terminal table (rich) and the CSV frames table.csv,
selection.csv and detection.csv, all from the cells of :mod:`limitlab.report.cells`.

Columns are settings (study, dataset, noise, p, n) in params order, rows are methods; each cell shows the
selected point's clean test accuracy (%) ± its error bar, with the paper's number beside it where the paper
has one (:mod:`limitlab.report.paper_numbers`). table.md opens with the summary (:mod:`limitlab.report.summary`,
written like every ``View`` by :func:`~limitlab.report.render.view_markdown`); detection without corrupted labels reads "no noise".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from limitlab.experiment.paths import RunFiles
from limitlab.experiment.schema import Experiment
from limitlab.report.cells import Cell
from limitlab.report.paired import paired_frame
from limitlab.report.paper_numbers import lookup
from limitlab.report.provenance import validation_size
from limitlab.report.selection_reliability import (COIN_TOSS_BELOW, COIN_TOSS_MARK, INT_COLUMNS, point_columns,
                                                   reliability_columns)
from limitlab.report.render import view_markdown
from limitlab.report.summary import NO_NOISE, no_noise_settings, setting_text, summary_frame, summary_view
from limitlab.report.variance_split import VARIANCE_INT_COLUMNS, variance_columns


# ---------------------------------------------------------------------------------------------------------------
# Shared by the tables
# ---------------------------------------------------------------------------------------------------------------


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}"


def column_label(cell: Cell, prefixed: bool) -> str:
    return setting_text(cell.dataset, cell.noise, cell.p, cell.n, cell.study.id if prefixed else None)


def _rate_text(noise_dir: str, p: float, sep: str) -> str:
    """' p=0.4' in a column name; nothing for human labels or a noise file, whose rate comes from the file (p is 0)."""
    return "" if noise_dir.startswith(("human", "file")) else f"{sep}p={p:g}"


def error_caption(cells: list[Cell]) -> tuple[str, bool]:
    """Caption sentence on the error bars; True when bootstrap cells must be marked (kinds are mixed)."""
    kinds = {c.stats["error"] for c in cells if c.selected is not None}
    seeds = sorted({c.stats["n_seeds"] for c in cells if c.selected is not None and c.stats["error"] == "seed_std"})
    samples = sorted({c.stats.get("bootstrap_samples") for c in cells
                      if c.selected is not None and c.stats["error"] == "bootstrap_std"} - {None})
    parts = []
    two_seeds = any(r.run.spec.train_seed is not None for c in cells if c.selected is not None
                    for r in c.selected.done)
    if "seed_std" in kinds and two_seeds:
        parts.append(f"sample std over runs (ddof = 1; {', '.join(map(str, seeds))} runs: splits × training seeds; "
                     "\"Where the variance comes from\" splits it)")
    elif "seed_std" in kinds:
        parts.append(f"sample std over seeds (ddof = 1; {', '.join(map(str, seeds))} seeds)")
    if "bootstrap_std" in kinds:
        parts.append(f"std of {', '.join(map(str, samples))} bootstrap resamples of the test set (ddof = 0)"
                     f"{' [marked ᵇ]' if 'seed_std' in kinds else ''}")
    if "none" in kinds:
        broken = any(c.selected is not None and c.stats["error"] == "none" and len(c.selected.done) == 1
                     and c.selected.done[0].is_broken(RunFiles.BOOTSTRAP) for c in cells)
        parts.append("no error bar where the bootstrap has not run"
                     + (f" or its {RunFiles.BOOTSTRAP} is broken (marked !)" if broken else ""))
    mixed = "seed_std" in kinds and "bootstrap_std" in kinds
    return ("± = " + "; ".join(parts) + "." if parts else "No finished cells yet."), mixed


def cell_text(cell: Cell, mark_bootstrap: bool) -> str:
    if cell.selected is None:
        return "missing" + ("!" if cell.broken else "")
    st = cell.stats
    text = _pct(st["test_acc"])
    if st["test_acc_std"] is not None:
        text += f" ± {_pct(st['test_acc_std'])}"
        if mark_bootstrap and st["error"] == "bootstrap_std":
            text += "ᵇ"
    diverged = any(r.result.get("diverged") for r in cell.selected.done)
    coin_toss = cell.reliability is not None and cell.reliability.coin_toss
    return (text + ("*" if cell.status == "partial" else "") + ("†" if diverged else "")
            + ("!" if cell.broken else "") + (COIN_TOSS_MARK if coin_toss else ""))


def layout(exp: Experiment, cells: list[Cell]) -> tuple[list[tuple[str, str]], list[tuple], dict]:
    """Rows (method id, label) in params order, columns in study/p/n order, and {(row, column): cell}."""
    rows: list[tuple[str, str]] = []
    cols: list[tuple] = []
    grid = {}
    for cell in cells:
        if cell.method_id not in [r for r, _ in rows]:
            rows.append((cell.method_id, cell.label))
        if cell.column not in cols:
            cols.append(cell.column)
        grid[(cell.method_id, cell.column)] = cell
    return rows, cols, grid


def _md_table(rows, cols, header, cell_fn) -> str:
    lines = ["| Method | " + " | ".join(header) + " |", "| --- |" + " --- |" * len(cols)]
    for rid, label in rows:
        lines.append(f"| {label} | " + " | ".join(cell_fn(rid, col) for col in cols) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# table.md
# ---------------------------------------------------------------------------------------------------------------


def markdown(exp: Experiment, cells: list[Cell], missing: list[str], cleanlab: list[dict] | None = None,
             sections: list[str] | None = None, *, comparisons: list) -> str:
    """table.md without its susceptibility section: the summary of the cells and their paired ``comparisons`` (no
    "## " heading: readers find the accuracy table before the first), the accuracy table, the paper's numbers,
    noisy-label detection (with cleanlab's own estimates), and the diverged runs, missing runs and broken files."""
    table = long_frame(cells)
    summary, summary_caption = summary_view(summary_frame(exp, table, paired_frame(comparisons)),
                                            exp.comparisons.reference, exp.bootstrap.ci)
    reasons = {k: v for c in cells for k, v in c.missing_reasons.items()}
    rows, cols, grid = layout(exp, cells)
    prefixed = len(exp.studies) > 1
    header = [column_label(next(c for c in cells if c.column == col), prefixed) for col in cols]
    caption, mixed = error_caption(cells)
    out = [f"# {exp.name}: clean test accuracy (%)", "",
           (exp.description + "\n") if exp.description else "",
           f"**Summary.** {summary_caption}", "", *view_markdown(summary), "",
           "**Every cell.** Per cell, the hyperparameter point with the best mean noisy-validation accuracy over "
           "seeds is selected (the test set is never used for selection); the table reports that point's clean test "
           "accuracy. " + caption + " `*` = some runs of the cell are unfinished (selection over the finished points only); "
           "`†` = a run of the selected point diverged (its best checkpoint before the divergence is reported); "
           f"`missing` = no finished point; `!` = a broken {RunFiles.EVAL} or {RunFiles.BOOTSTRAP} (listed below, "
           f"not used); `{COIN_TOSS_MARK}` = a coin toss: resampling the validation set, the rule picks a point within "
           f"1 test point of the cell's test-best point less often than {COIN_TOSS_BELOW:g} (\"Selection "
           "reliability\" below; no mark where it was not computed); "
           "`—` = not in this experiment's grid.", "",
           _md_table(rows, cols, header, lambda r, col: cell_text(grid[(r, col)], mixed) if (r, col) in grid else "—")]

    def paper_text(r, col):
        cell = grid.get((r, col))
        if cell is None or cell.noise != cell.noise_model:
            return "—"
        num = lookup(cell.dataset, cell.noise, cell.p, cell.n, r)
        return "—" if num is None else num.text()

    if any(paper_text(r, col) != "—" for r, _ in rows for col in cols):
        out += ["", "## Paper", "", "The paper's numbers for the matching settings (Tables 1, 2, 4 of Harutyunyan "
                "et al. 2020; MNIST ± over 5 splits, CIFAR-100/Clothing1M ± bootstrap).", "",
                _md_table(rows, cols, header, paper_text)]
    det = [c for c in cells if c.stats.get("detection_auc") is not None]
    if det or cleanlab:
        det_rows = [r for r in rows if any(c.method_id == r[0] for c in det)]
        by_setting = {c.key: col for col in cols for c in cells if c.column == col}
        clean_rows = {(r["detector"], by_setting[r["setting"]]): r for r in cleanlab or [] if r["setting"] in by_setting}
        det_rows += list(dict.fromkeys((d, r["label"]) for (d, _), r in clean_rows.items()))

        quiet = no_noise_settings(cells, cleanlab)
        col_key = {col: key for key, col in by_setting.items()}

        def det_text(r, col, name):
            cell = grid.get((r, col))
            if (r, col) not in clean_rows and (cell is None or not cell.selected):
                return "—"
            if col_key.get(col) in quiet:
                return NO_NOISE
            if (r, col) in clean_rows:
                return _pct(clean_rows[(r, col)][name], 2)
            return _pct(cell.stats.get(name), 2)

        out += ["", "## Noisy-label detection", "", "Finding the corrupted training labels: ROC AUC (%) and average "
                "precision (%), as AUC / AP. LIMIT rows score each example by the distance ‖s(b) − e_ỹ‖₂ between the q-network's "
                "prediction and the given label (selected point, mean over seeds); cleanlab rows by 1 − "
                "self-confidence of out-of-sample predicted probabilities from K-fold cross-validated models "
                "(cleanlab's label quality score; its own estimates: detection.csv)."
                + (f" {NO_NOISE} = the setting's training labels hold no corrupted label: nothing to find." if any(
                    k in quiet for k in col_key.values()) else ""), "",
                _md_table(det_rows, cols, header, lambda r, col: det_text(r, col, "detection_auc")
                          if det_text(r, col, "detection_auc") in ("—", NO_NOISE) else
                          f"{det_text(r, col, 'detection_auc')} / {det_text(r, col, 'detection_ap')}")]
        if clean_rows:
            out += ["", "cleanlab's own estimates next to the truth (this training split's realised noise):", "",
                    "| Setting | detector | issues found (precision / recall %) | noise rate: estimate / true (%) | "
                    "noise matrix mean abs. error |", "| --- | --- | --- | --- | --- |"]
            for r in cleanlab or []:
                pr = NO_NOISE if r["setting"] in quiet else f"{_pct(r['issues_precision'])} / {_pct(r['issues_recall'])}"
                out.append(f"| {r['setting']} | {r['label']} | {r['n_issues']} ({pr}) | "
                           f"{_pct(r['noise_rate_estimate'])} / {_pct(r['noise_rate_true'])} | "
                           f"{r['noise_matrix_mae']:.4f} |")
    out += sections or []  # the sections of limitlab.report.sections (aggregate builds them)
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
        out += ["", f"## Broken files ({len(broken)})", "", "Rerun the pipeline (the same `snakemake ... all`): the job of each run finds the file damaged (size "
                "and checksum recorded in its done.json) and rebuilds it alone.", "",
                *[f"- {b}" for b in dict.fromkeys(broken)]]
    return "\n".join(out) + "\n"


def susceptibility_markdown(exp: Experiment, extra: list[Cell]) -> str:
    """table.md section with the susceptibility rows' own table, naming the model each one picked."""
    if not extra:
        return ""
    rows, cols, grid = layout(exp, extra)
    header = [column_label(next(c for c in extra if c.column == col), len(exp.studies) > 1) for col in cols]
    _, mixed = error_caption(extra)
    lines = ["", "## Susceptibility selection", "",
             _md_table(rows, cols, header, lambda r, col: cell_text(grid[(r, col)], mixed) if (r, col) in grid else "—"),
             "",
             "Rows marked \"(susceptibility sel.)\" choose, among the finished points of the method (\"Any method\": "
             "of every method of the setting), the model in Region 1 of final-epoch training accuracy on the noisy "
             "labels vs final susceptibility ζ (thresholds at the pool means; inside Region 1 the highest training "
             "accuracy; Forouzesh et al. 2023, and docs/methods.md, \"Susceptibility\") and report its final-epoch "
             "clean test accuracy: no validation labels are used. Every pool member and its region: susceptibility.csv.", ""]
    for c in extra:
        region = "Region 1" if c.stats["region"] == 1 else "Region 1 empty, least ζ among the trainable"
        lines.append(f"- {c.key}, {c.label}: {c.stats['selected_method']} at {c.stats['point_tag']} ({region}; "
                     f"train acc {100 * c.stats['train_acc_noisy']:.1f}%, ζ {c.stats['susceptibility']:.4f})")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# The terminal table
# ---------------------------------------------------------------------------------------------------------------


def rich_table(exp: Experiment, cells: list[Cell], title: str = "clean test accuracy (%)"):
    from rich.markup import escape
    from rich.table import Table

    rows, cols, grid = layout(exp, cells)
    caption, mixed = error_caption(cells)
    has_paper = any(lookup(c.dataset, c.noise, c.p, c.n, c.method_id) for c in cells if c.noise == c.noise_model)
    table = Table(title=escape(f"{exp.name}: {title}"),
                  caption="Point selected by mean noisy-validation accuracy. " + escape(caption)
                  + (" Dim: the paper's number." if has_paper else "")
                  + (f" {COIN_TOSS_MARK} = a coin toss (selection reliability below {COIN_TOSS_BELOW:g}; table.md)."
                     if any(c.reliability is not None and c.reliability.coin_toss for c in cells) else ""),
                  title_justify="left",
                  caption_justify="left")
    table.add_column("Method", no_wrap=True)
    for col in cols:
        study, dataset, noise, p, n = col
        table.add_column(escape((f"{study}\n" if len(exp.studies) > 1 else "") + f"{dataset} {noise}{_rate_text(noise, p, chr(10))} n={n}"),
                         justify="right")
    for rid, label in rows:
        texts = []
        for col in cols:
            cell = grid.get((rid, col))
            if cell is None:
                texts.append("—")
                continue
            t = escape(cell_text(cell, mixed))
            t = f"[red]{t}[/]" if t == "missing" else t
            paper = lookup(cell.dataset, cell.noise, cell.p, cell.n, rid) if cell.noise == cell.noise_model else None
            texts.append(t + (f"\n[dim]{paper.text()}[/]" if paper else ""))
        table.add_row(escape(label), *texts)
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
