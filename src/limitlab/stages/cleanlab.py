"""``limitlab cleanlab``: cleanlab's label-issue detection from K-fold cross-validated models (see
:mod:`limitlab.evaluation.cleanlab_detection`).

  limitlab cleanlab run --spec JSON      # the pipeline's job: every fold's labels, train the folds, detect
  limitlab cleanlab run --params FILE --key KEY                           # the same, by hand
  limitlab cleanlab split  --labels L --folds K --fold I --seed S --out F   # one fold's labels file
  limitlab cleanlab detect --spec JSON | --params FILE --key KEY          # trained folds -> cleanlab.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from limitlab.errors import LimitlabError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cleanlab", help="cleanlab label-issue detection (K-fold CV models)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    s = actions.add_parser("split", help="write the labels file of one cross-validation fold")
    s.add_argument("--labels", required=True, help="the setting's labels.npz")
    s.add_argument("--folds", type=int, required=True)
    s.add_argument("--fold", type=int, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(func=split_main)
    for action, about, func in (
            ("detect", "out-of-sample probabilities of the trained folds -> cleanlab", detect_main),
            ("run", "split, train every fold that has not finished, then detect (one job)", run_main)):
        a = actions.add_parser(action, help=about)
        src = a.add_mutually_exclusive_group(required=True)
        src.add_argument("--spec", help="cleanlab job spec as JSON (what the pipeline passes)")
        src.add_argument("--params", help="params file (with --key)")
        a.add_argument("--key", help="cleanlab job key: STUDY/<setting>/<source>_k<K>")
        a.set_defaults(func=func)


def split_main(args) -> int:
    from limitlab import io
    from limitlab.evaluation.cleanlab_detection import write_fold

    io.check_out_path(args.out, "--out")
    out = write_fold(Path(args.labels), args.folds, args.fold, args.seed, Path(args.out))
    print(f"fold {args.fold} of {args.folds} -> {out}")
    return 0


def resolve(args):
    from pydantic import ValidationError

    from limitlab.experiment import params_file as P
    from limitlab.experiment.grid import CleanlabSpec, cleanlab_specs

    if args.spec:
        try:
            return CleanlabSpec.model_validate_json(args.spec)
        except ValidationError as exc:
            raise LimitlabError(f"--spec is not a valid cleanlab spec: {exc}") from None
    specs = {s.key: s for s in cleanlab_specs(P.load(args.params))}
    if args.key not in specs:
        jobs = ", ".join(specs) or "none: add a cleanlab: block to a study"
        raise LimitlabError(f"{args.params}: no cleanlab job {args.key!r} (jobs: {jobs})")
    return specs[args.key]


def check_out_folders(spec, train: bool) -> None:
    """Refuse a cleanlab job whose folders cannot be written (a part of one is a file) before any fold trains:
    the folds' labels and run folders when ``train``, and the detection's own folder."""
    from limitlab import io

    if train:
        for fold in spec.fold_specs:
            io.check_folder(Path(fold.labels_path).parent, f"the labels folder of cleanlab fold {fold.key}")
            io.check_folder(fold.run_dir, f"the run folder of cleanlab fold {fold.key}")
    io.check_folder(spec.out_dir, f"the output folder of cleanlab job {spec.key}")


def run_main(args) -> int:
    from limitlab.evaluation.cleanlab_detection import train_folds

    spec = resolve(args)
    check_out_folders(spec, train=True)
    trained = train_folds(spec)
    print(f"{spec.key}: trained {len(trained)} of {spec.folds} fold(s) now, the others had finished")
    return _detect(spec)


def detect_main(args) -> int:
    spec = resolve(args)
    check_out_folders(spec, train=False)
    return _detect(spec)


def _detect(spec) -> int:
    from limitlab.evaluation.cleanlab_detection import detect

    out = detect(spec)
    auc = out["detection_auc"]
    text = f"ROC AUC {auc:.4f}, AP {out['detection_ap']:.4f}" if auc is not None else out["detection_note"]
    print(f"{out['key']}: {text}; {out['n_issues']} issues found, noise rate estimate "
          f"{out['noise_rate_estimate']:.3f} (true {out['noise_rate_true']:.3f}) -> {out['key']}")
    return 0
