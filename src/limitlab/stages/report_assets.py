"""``limitlab report-assets``: the results page and the per-family figure folders of Snakemake's report.

Writes RESULTS_DIR/report/results.html (accuracy with the paper's numbers beside ours, noisy-label detection,
cleanlab's estimates) and RESULTS_DIR/report/figures/<family>/*.png (see :mod:`limitlab.report.results_page`). Then
`snakemake --report RESULTS_DIR/report.html --config params=FILE` puts them, the tables and the params file
into one self-contained HTML page.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report-assets", help="results page and figure folders for `snakemake --report`",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="results folder (default: the params' results_dir, else results/<name>)")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab.experiment import params_file as P
    from limitlab.experiment.paths import ResultFiles
    from limitlab.report.results_page import write_assets
    from limitlab.stages import results_folder

    exp = P.load(args.params)
    out = write_assets(exp, args.params, results_folder(exp, args.results_dir, ResultFiles.REPORT_FIGURES))
    print(f"wrote {out['results_html']} and {len(out['figures'])} figure link(s)")
    return 0
