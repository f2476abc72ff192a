"""``limitlab bootstrap``: bootstrap error bar of one run's clean test accuracy (resampling the test set)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bootstrap", help="bootstrap the test accuracy of one run's predictions",
                       description=__doc__ + " Writes mean, std (ddof=0, as the authors), percentile interval, "
                       "plain accuracy, samples and seed as JSON.")
    p.add_argument("--predictions", type=Path, required=True, help="predictions.npz written by `limitlab evaluate`")
    p.add_argument("--samples", type=int, default=1000, help="number of bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of numpy.random.default_rng (default 0)")
    p.add_argument("--ci", type=float, default=0.95, help="level of the percentile interval (default 0.95)")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write, e.g. EVAL_DIR/bootstrap.json")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab import io
    from limitlab.evaluation.bootstrap import bootstrap_file

    io.check_out_path(args.out, "--out")
    r = bootstrap_file(args.predictions, args.out, args.samples, args.seed, args.ci)
    print(f"{args.predictions}: accuracy {r['accuracy']:.4f}, bootstrap mean {r['mean']:.4f} ± {r['std']:.4f} "
          f"({100 * r['ci']:g}% interval [{r['ci_low']:.4f}, {r['ci_high']:.4f}], {r['samples']} samples, "
          f"seed {r['seed']}) -> {args.out}")
    return 0
