"""The selection-reliability hand case (tests/report/test_selection_reliability.py works it out): a 2-point,
2-split cell with 2 validation examples per split, and fake finished runs that carry its validation predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from fake_runs import experiment, study
from limitlab import io

# The hand case: 2 validation examples per split, points 0 and 1 (params order), splits A and B.
#   split A: point 0 right on example 0 only, point 1 on example 1 only  -> observed 0.5 and 0.5
#   split B: point 0 right on both,           point 1 on example 0 only  -> observed 1.0 and 0.5
# observed means: point 0 (0.5 + 1) / 2 = 0.75, point 1 0.5: the rule picks point 0.
# Test accuracies: point 0 0.60 / 0.62 (mean 0.61), point 1 0.63 / 0.65 (mean 0.64): the test-best point is 1, and
# point 0 is 3 points below it: G = {1}.
CORRECT = [np.array([[1, 0], [0, 1]]), np.array([[1, 1], [1, 0]])]
TEST = np.array([[0.60, 0.62], [0.63, 0.65]])  # (J, S)
V_OBS = np.array([[0.5, 1.0], [0.5, 0.5]])


def write_run(run, correct: np.ndarray, test: float, *, transition=True, val_file=True) -> None:
    """Fake finished run: result.json / eval.json / history.csv, predictions.npz with accuracy ``test`` on 100 test
    examples, and val_predictions.npz right exactly where ``correct`` says (10 classes, labels 0..9)."""
    spec = run.spec
    for d in (spec.run_dir, spec.eval_dir):
        Path(d).mkdir(parents=True, exist_ok=True)
    given = np.arange(len(correct)) % 10
    logits = np.eye(10, dtype=np.float32)[np.where(correct, given, (given + 1) % 10)]
    (Path(spec.run_dir) / "result.json").write_text(json.dumps(
        {"key": spec.key, "best_val_acc": float(np.mean(correct)), "test_acc": test, "best_epoch": 1, "epochs_run": 2}))
    (Path(spec.eval_dir) / "eval.json").write_text(json.dumps({"key": spec.key, "test_acc": test}))
    labels = np.arange(100) % 10
    right = np.arange(100) < round(100 * test)
    io.save_npz(Path(spec.eval_dir) / "predictions.npz", labels=labels, index=np.arange(100),
                logits=np.eye(10, dtype=np.float32)[np.where(right, labels, (labels + 1) % 10)])
    T = np.full((10, 10), 0.8 / 9)
    np.fill_diagonal(T, 0.2)
    if val_file:
        extra = {} if transition is False else {"transition": T if transition is True else transition}
        io.save_npz(Path(spec.eval_dir) / "val_predictions.npz", logits=logits, given_label=given,
                    clean_label=given, index=np.arange(len(correct)), **extra)


def hand_study(tmp_path, samples: int = 20_000):
    exp = experiment(tmp_path, [study(seeds=[42, 43], methods=[
        {"method": "ce", "label": "CE"}, {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}])])
    return exp.model_copy(update={"bootstrap": exp.bootstrap.model_copy(update={"samples": samples})})


def write_hand_case(exp, **run_options) -> None:
    """The hand case's runs for ``exp`` (a :func:`hand_study`): LIMIT_G's two points on both splits as the table above
    says, and CE evaluated before val_predictions.npz existed. ``run_options`` go to :func:`write_run` (LIMIT_G)."""
    from fake_runs import method_runs

    for j, beta in enumerate((0.0, 1.0)):
        for s, run in enumerate(sorted(method_runs(exp, "limit_g", beta=beta), key=lambda r: r.spec.seed)):
            write_run(run, CORRECT[s][j].astype(bool), float(TEST[j, s]), **run_options)
    for run in method_runs(exp, "ce"):
        write_run(run, np.array([True, False]), 0.5, val_file=False)
