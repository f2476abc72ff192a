"""``limitlab plot``: draw the experiment's figures (PNG + PDF) into RESULTS_DIR/figures/ with an index.json."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="draw the experiment's figures into RESULTS_DIR/figures/",
                       description=__doc__ + " Settings whose runs are missing are skipped with a message.")
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="output folder (default: the params' results_dir, else results/<name>)")
    p.add_argument("--jobs", type=int, default=1, help="figures drawn at once, in worker processes (default 1)")
    p.set_defaults(func=main)


def check_histories(exp) -> None:
    """Read the history of every finished run first: a damaged one stops the command with its name and how to
    rebuild it (:func:`~limitlab.report.run_outputs.read_history`), where inside a figure it would only show as
    that figure's traceback."""
    from limitlab.report.cells import build_cells
    from limitlab.report.run_outputs import read_history

    for cell in build_cells(exp):
        for point in cell.points:
            for rec in point.done:
                read_history(rec.run, rec.result)


def main(args) -> int:
    from limitlab.experiment import params_file as P
    from limitlab.experiment.paths import ResultFiles
    from limitlab.report.figures.index import make_figures
    from limitlab.stages import results_folder

    exp = P.load(args.params)
    results_folder(exp, args.results_dir, ResultFiles.FIGURES)
    check_histories(exp)
    index = make_figures(exp, args.results_dir, jobs=args.jobs)
    failed = [s["name"] for s in index["skipped"] if s["reason"].startswith("failed")]
    if failed:
        from limitlab.errors import LimitlabError

        raise LimitlabError(f"{len(failed)} figure(s) could not be drawn (traceback above): {', '.join(failed)}; "
                            "the other figures were written")
    return 0
