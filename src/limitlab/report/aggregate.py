"""``limitlab aggregate``'s driver: select per cell, then write table.md/.csv, selection.csv, metrics.json,
detection.csv, curves.csv, inputs.csv (the content identities of every setting's dataset and noise realisation),
paired.csv (every method against the reference and the best baseline on the same splits), claims.csv (the
paper's claims checked on this grid), with each cell's selection reliability in table.csv, selection.csv and
table.md (:mod:`limitlab.report.selection_reliability`)
(and susceptibility.csv when runs tracked susceptibility) and experiment.json (which experiment and grid the
tables are of: :mod:`limitlab.report.provenance`) to the results folder, every file or none (:func:`write_together`),
and print the table.

Selection: :mod:`limitlab.report.cells`; the extra susceptibility rows:
:mod:`limitlab.report.susceptibility_selection`; the tables: :mod:`limitlab.report.tables`; metrics.json:
:mod:`limitlab.report.metrics`; curves.csv: :mod:`limitlab.report.curves`.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from limitlab import io
from limitlab.experiment.schema import Experiment
from limitlab.experiment.grid import GridIndex, runs_of
from limitlab.experiment.paths import ResultFiles, RunFiles
from limitlab.report.cells import Cell, build_cells
from limitlab.report.claims import check_claims, claims_frame, load_claims
from limitlab.report.curves import curves_frame
from limitlab.report.detection_budget import budget_rows
from limitlab.report.detection_tables import detection_frame
from limitlab.report.metrics import add_cleanlab, cleanlab_results, metrics_dict
from limitlab.report.paired import add_paired_metrics, compare_cells, paired_frame
from limitlab.report.provenance import check_provenance, inputs_frame, results_record
from limitlab.report.run_outputs import read_run
from limitlab.report.selection_reliability import ADD_FILES, cell_reliability
from limitlab.report.selection_rules import rule_results
from limitlab.report.susceptibility_selection import susceptibility_cells
from limitlab.report.tables import (FRAMES, long_frame, markdown, read_frames, rich_table, selection_frame,
                                    susceptibility_markdown)


@dataclass
class Summary:
    cells: list[Cell]
    missing: list[str]
    messages: list[str]
    files: dict[str, Path]
    comparisons: list = field(default_factory=list)
    claims: list = field(default_factory=list)


def aggregate(exp: Experiment, results_dir: Path | None = None, console=None, source: str | None = None) -> Summary:
    """Select, tabulate and write table.md/.csv, selection.csv, metrics.json, curves.csv, ... and the record
    experiment.json to the results folder, all or none; ``source`` is the params file's name (for the record)."""
    from rich.console import Console
    from rich.markup import escape

    # Off a terminal (cluster logs) rich would wrap at 80 columns; a wide table reads better unwrapped.
    console = console or Console(width=None if sys.stdout.isatty() else 200)
    err = Console(stderr=True)
    results_dir = Path(results_dir or exp.results_path)
    results_dir.mkdir(parents=True, exist_ok=True)
    grid = GridIndex.of(exp)
    records = [read_run(r) for r in runs_of(exp)]
    inputs = check_provenance(records, grid)  # a run of another spec or on other inputs counts as missing
    cells = build_cells(exp, records)
    missing = [k for c in cells for k in c.missing_keys]
    messages = [f"broken file, not used (cell marked '!'): {b}" for c in cells for b in c.broken]
    messages += [c.stats["note"] for c in cells if c.stats.get("note")]
    curves = curves_frame(cells, messages)
    for cell in cells:  # the paper's rule, the last epoch of its point, and the oracle (an upper bound)
        cell.rules = rule_results(cell, messages)
        cell.reliability, cell.reliability_note = cell_reliability(cell, exp.bootstrap, messages)
    lacking = [c for c in cells if c.reliability is None and RunFiles.VAL_PREDICTIONS in (c.reliability_note or "")]
    if lacking:
        messages.append(f"selection reliability left out for {len(lacking)} cell(s): runs evaluated before "
                        f"{RunFiles.VAL_PREDICTIONS} existed (`{ADD_FILES}` adds it without retraining)")
    sus_cells, sus_pool = susceptibility_cells(cells)  # extra rows selected by susceptibility (Forouzesh et al. 2023)
    method_cells = cells  # the main table; the susceptibility rows get their own small table
    cells = cells + sus_cells
    cleanlab = cleanlab_results(exp, messages)
    claims_list = load_claims(exp.comparisons.claims)  # a bad claims file stops here, before anything is written
    comparisons = compare_cells(method_cells, exp.comparisons.reference, exp.comparisons.best_baseline, exp.bootstrap)
    claims = check_claims(claims_list, method_cells, exp.bootstrap)
    metrics = add_paired_metrics(add_cleanlab(metrics_dict(cells), cleanlab), comparisons, method_cells)
    detection = detection_frame(cells, cleanlab, budget_rows(method_cells, exp))
    texts = {
        "table_csv": (ResultFiles.TABLE, long_frame(cells).to_csv(index=False)),
        "selection_csv": (ResultFiles.SELECTION, selection_frame(cells).to_csv(index=False)),
        "metrics": (ResultFiles.METRICS, json_text(metrics)),
        "detection_csv": (ResultFiles.DETECTION, detection.to_csv(index=False)),
        "curves_csv": (ResultFiles.CURVES, curves.to_csv(index=False)),
        "inputs_csv": (ResultFiles.INPUTS, inputs_frame(grid, inputs).to_csv(index=False)),
        "paired_csv": (ResultFiles.PAIRED, paired_frame(comparisons).to_csv(index=False)),
        "claims_csv": (ResultFiles.CLAIMS, claims_frame(claims).to_csv(index=False)),
    }
    # table.md reads the CSV texts back, as the results page reads the files: both show the same sections
    frames = read_frames({key: texts[f"{key}_csv"][1] for key in FRAMES})
    texts = {"table_md": (ResultFiles.TABLE_MD, markdown(exp, method_cells, missing, frames)
                          + susceptibility_markdown(exp, sus_cells)), **texts}  # table.md first, as always
    if not sus_pool.empty:
        texts["susceptibility_csv"] = (ResultFiles.SUSCEPTIBILITY, sus_pool.to_csv(index=False))
    data = {name: text.encode("utf-8") for name, text in texts.values()}
    data[ResultFiles.EXPERIMENT] = json_text(results_record(exp, grid, source, data)).encode("utf-8")
    write_together(results_dir, data)  # every file or none: a failed write leaves the folder as it was
    files = {key: results_dir / name for key, (name, _) in texts.items()}
    files["record"] = results_dir / ResultFiles.EXPERIMENT
    console.print(rich_table(exp, method_cells))
    if sus_cells:
        console.print(rich_table(exp, sus_cells, "susceptibility selection, final-epoch clean test accuracy (%)"))
    if missing:
        shown = ", ".join(missing[:20]) + (f", … and {len(missing) - 20} more" if len(missing) > 20 else "")
        err.print(f"[yellow]warning:[/] {len(missing)} run(s) missing (not trained, failed or diverged): "
                  f"{escape(shown)}. Cells without a finished point show 'missing'; full list in "
                  f"{escape(str(files['table_md']))}.", highlight=False)
    for m in messages:
        err.print(f"[yellow]warning:[/] {escape(m)}", highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in files.values())}", highlight=False)
    return Summary(cells, missing, messages, files, comparisons, claims)


def json_text(obj) -> str:
    """Pretty, key-sorted JSON, as :func:`limitlab.io.write_json` writes it."""
    return json.dumps(obj, indent=2, sort_keys=True, default=io._json_default) + "\n"


def write_together(folder: Path, files: dict[str, bytes]) -> None:
    """Write every file of ``files`` (name -> bytes) into ``folder``, or none of them.

    Each file goes to a temporary file beside it first (:func:`limitlab.io.atomic_path`); only when every one is
    written are they renamed into place. A failed write (a full disk, a quota) removes the temporary files and
    leaves every earlier file of the folder as it was, with one error naming the file and the cause: a results
    folder is never left half new, half old.
    """
    with contextlib.ExitStack() as stack:
        for name, data in files.items():
            tmp = stack.enter_context(io.atomic_path(folder / name))
            tmp.write_bytes(data)
        # leaving the stack renames every temporary file into place; an error above removes them all instead
