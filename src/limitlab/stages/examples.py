"""``limitlab examples``: which of my labels are wrong? One CSV per run, the training examples most suspicious first.

``limitlab examples --params FILE --run KEY --out noisy.csv`` writes, for a finished run of any method, one row
per training example: ``rank``, ``train_index`` (the position in the dataset's training file), ``given_label``,
``clean_label`` and ``is_corrupted`` where the dataset knows the clean label (empty for your own labels), and the
suspicion scores the pipeline has for it: ``q_distance`` (LIMIT's q-network), ``ce_loss`` (a CE run's loss on its
label) and ``cleanlab_score`` (the setting's cleanlab models), sorted by the run's own score. ``limitlab params
runs FILE`` lists the run keys.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("examples", help="write a run's training examples, the most suspicious labels first (CSV)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--run", required=True, help="run key (limitlab params runs FILE lists them)")
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab import io
    from limitlab.errors import LimitlabError
    from limitlab.experiment import params_file
    from limitlab.experiment.grid import GridIndex, cleanlab_specs
    from limitlab.jobs.done_record import read_done
    from limitlab.report.noisy_examples import SCORES, noisy_examples

    exp = params_file.load(args.params)
    grid = GridIndex.of(exp)
    spec = grid.by_key.get(args.run)
    if spec is None:
        raise LimitlabError(f"{args.params} has no run {args.run!r} (limitlab params runs {args.params} lists them)")
    if read_done(spec, grid).get("evaluate") is not True:
        raise LimitlabError(f"run {args.run} has not finished its evaluation: run the pipeline first")
    cleanlab = next((c.out_dir for c in cleanlab_specs(exp) if c.labels_path == spec.labels_path), None)
    frame = noisy_examples(spec, cleanlab)
    io.write_text(args.out, frame.to_csv(index=False))
    scores = [c for c in SCORES if c in frame]
    print(f"{args.out}: {len(frame):,} training examples of {args.run}, sorted by {scores[0] if scores else 'index'}"
          + (f"; scores: {', '.join(scores)}" if scores else "; no suspicion score for this method"))
    return 0
