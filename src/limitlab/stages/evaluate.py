"""``limitlab evaluate``: clean-test predictions of one trained run, plus noisy-label detection for LIMIT-style runs.

Writes in the run's eval folder: predictions.npz, eval.json and, for methods with a q-network, train_scores.npz
and suspicious.csv; for CE, train_loss.npz (its in-sample loss per training label: the trivial detector of the
report's detection tables). Running it on a CE run evaluated by an earlier release adds that file; the other
files come out byte-identical (see :mod:`limitlab.evaluation.evaluate`).
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
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab import io
    from limitlab.evaluation.evaluate import evaluate
    from limitlab.stages.train import resolve_spec

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
