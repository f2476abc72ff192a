"""``limitlab train``: train one run (one setting, method and hyperparameter point)."""

from __future__ import annotations

import argparse

from limitlab.errors import LimitlabError
from limitlab.experiment.grid import runs_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one run", description=(
        "Train one run. The pipeline passes the run's resolved spec as JSON (--spec); by hand, name a params file "
        "and a run key (see 'limitlab params runs FILE')."))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="run spec as JSON, or @FILE.json")
    src.add_argument("--params", help="params file (with --run)")
    p.add_argument("--run", help="run key from the params file")
    p.add_argument("--no-resume", action="store_true", help="ignore a saved state and start from epoch 0")
    p.set_defaults(func=main)


def resolve_spec(args):
    from limitlab.experiment import params_file as P
    from limitlab.experiment.grid import load_spec

    if args.spec:
        return load_spec(args.spec)
    if not args.run:
        raise LimitlabError("--params needs --run KEY (list keys with: limitlab params runs FILE)")
    by_key = {r.key: r.spec for r in runs_of(P.load(args.params))}
    if args.run not in by_key:
        raise LimitlabError(f"{args.params}: no run {args.run!r} (list them with: limitlab params runs {args.params})")
    return by_key[args.run]


def main(args) -> int:
    from limitlab import io
    from limitlab.training.loop import train

    spec = resolve_spec(args)
    io.check_folder(spec.run_dir, f"the run folder of {spec.key}")  # before the data is loaded, not after training
    result = train(spec, resume=not args.no_resume)
    print(f"{result['key']}: best epoch {result['best_epoch']}, val {result['best_val_acc']:.4f}, "
          f"test {result['test_acc']:.4f}")
    return 0
