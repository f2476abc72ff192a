"""``limitlab aggregate``: select hyperparameters by noisy validation and write the experiment's result tables.

Reads result.json / eval.json / bootstrap.json of every run of the params file and writes to the results folder:
table.md, table.csv (with the paper's numbers where the setting matches), selection.csv, metrics.json (DVC) and
curves.csv (DVC plots), detection.csv, inputs.csv, paired.csv, claims.csv and experiment.json (which experiment
and grid the tables are of: ``limitlab compare`` checks it). Every file is written or none is (a full disk leaves
the folder as it was). Unfinished runs are reported, never fatal.

table.md, table.csv and selection.csv also give each cell's selection reliability (the paper's rule redone on
resampled noisy validation sets, the labels a reliable selection would need, the noise-corrected validation
accuracy) and mark the coin-toss cells (docs/methods.md, "Selection reliability"); it needs each run's
val_predictions.npz, which ``limitlab evaluate --params FILE --val-predictions-only`` adds to runs evaluated before
it existed, without retraining.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("aggregate", help="select per cell by noisy validation; write tables and metrics",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="output folder (default: the params' results_dir, else results/<name>)")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab.experiment import params_file as P
    from limitlab.report.aggregate import aggregate
    from limitlab.stages import results_folder

    exp = P.load(args.params)
    aggregate(exp, results_folder(exp, args.results_dir), source=args.params)
    return 0
