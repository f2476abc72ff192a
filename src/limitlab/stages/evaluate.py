"""``limitlab evaluate``: clean-test predictions of one trained run, plus noisy-label detection for LIMIT-style runs.

Writes in the run's eval folder: predictions.npz, val_predictions.npz (the selected checkpoint on the noisy
validation split: the input of the report's selection reliability), eval.json and, for methods with a q-network,
train_scores.npz and suspicious.csv; for CE, train_loss.npz (its in-sample loss per training label: the trivial
detector of the report's detection tables). Running it on a CE run evaluated by an earlier release adds that
file; the other files come out byte-identical (see :mod:`limitlab.evaluation.evaluate`).

``--val-predictions-only`` writes val_predictions.npz alone and touches nothing else (no retraining, no new
predictions.npz or eval.json, done.json as it was, so the pipeline plans nothing for the run): for runs evaluated
before the file existed. With ``--params FILE`` and no ``--run`` it does so for every evaluated run of the grid
that lacks the file, one after another.

Examples:  limitlab evaluate --params params/table1_n1000_mnist5k.yaml --run KEY
           limitlab evaluate --params params/table1_n1000_mnist5k.yaml --val-predictions-only
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="predict the clean test set of one trained run (+ detection scores)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--spec", help="run spec as JSON, or @FILE.json (what the pipeline passes)")
    src.add_argument("--params", help="params file (with --run), for use by hand")
    p.add_argument("--run", help="run key from the params file (list them with: limitlab params runs FILE)")
    p.add_argument("--val-predictions-only", action="store_true",
                   help="only add val_predictions.npz (validation logits of model.pt), touching no other file; "
                        "with --params and no --run: every evaluated run of the grid that lacks it")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab import io
    from limitlab.evaluation.evaluate import evaluate
    from limitlab.stages.train import resolve_spec

    if args.val_predictions_only:
        return _val_predictions_only(args)
    spec = resolve_spec(args)
    io.check_folder(spec.eval_dir, f"the eval folder of {spec.key}")  # before the model is loaded and run
    out = evaluate(spec)
    text = f"{out['key']}: test {out['test_acc']:.4f} (n={out['n_test']})"
    if out.get("has_q"):
        auc = out["detection_auc"]
        text += (f", detection ROC AUC {auc:.4f}, AP {out['detection_ap']:.4f}" if auc is not None
                 else f", detection AUC {out['detection_note']}")
    print(text + f" -> {spec.eval_dir}")
    return 0


def _val_predictions_only(args) -> int:
    """val_predictions.npz for one run (--spec, or --params with --run), or for every evaluated run of the params
    file's grid that lacks it (--params alone)."""
    from pathlib import Path

    from limitlab import io
    from limitlab.evaluation.evaluate import write_val_predictions
    from limitlab.experiment import params_file as P
    from limitlab.experiment.grid import runs_of
    from limitlab.experiment.paths import RunFiles
    from limitlab.stages.train import resolve_spec

    if args.spec or args.run:
        specs = [resolve_spec(args)]
    else:
        specs = [r.spec for r in runs_of(P.load(args.params))
                 if (Path(r.spec.eval_dir) / RunFiles.EVAL).is_file()
                 and not (Path(r.spec.eval_dir) / RunFiles.VAL_PREDICTIONS).is_file()]
        print(f"{len(specs)} evaluated run(s) of {args.params} lack {RunFiles.VAL_PREDICTIONS}", flush=True)
    for spec in specs:
        io.check_folder(spec.eval_dir, f"the eval folder of {spec.key}")
        print(f"{spec.key}: -> {write_val_predictions(spec)}", flush=True)
    return 0
