"""Fake run folders for the report tests: a params file validated in memory, and the files a finished run leaves
(result.json, eval.json, bootstrap.json, history.csv) written with chosen numbers, so that selection and tables can
be checked against numbers worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from limitlab.experiment.schema import Experiment


def experiment(tmp: Path, studies: list[dict]) -> Experiment:
    return P.validate({"name": "fake", "data_dir": str(tmp / "data"), "results_dir": str(tmp / "results"),
                       "studies": studies}, "test params")


def study(**kw) -> dict:
    base = {"id": "u", "dataset": {"name": "mnist"}, "noise": {"model": "uniform", "p": [0.8]}, "n": ["all"],
            "seeds": [42], "methods": [{"method": "ce", "label": "CE"},
                                       {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0, 10.0]}]}
    return {**base, **kw}


def fake_run(run, val: float, test: float, *, auc: float | None = None, boot_std: float | None = None,
             history: bool = True) -> None:
    spec = run.spec
    Path(spec.run_dir).mkdir(parents=True, exist_ok=True)
    Path(spec.eval_dir).mkdir(parents=True, exist_ok=True)
    (Path(spec.run_dir) / "result.json").write_text(json.dumps(
        {"key": spec.key, "method_id": spec.method_id, "point": spec.point, "best_val_acc": val, "test_acc": test,
         "best_epoch": 2}))
    (Path(spec.eval_dir) / "eval.json").write_text(json.dumps(
        {"key": spec.key, "test_acc": test, "detection_auc": auc, "detection_ap": auc}))
    if boot_std is not None:
        (Path(spec.eval_dir) / "bootstrap.json").write_text(json.dumps({"std": boot_std, "samples": 1000}))
    if history:
        epochs = np.arange(4)
        pd.DataFrame({"epoch": epochs, "train_loss": 1.0, "train_acc_noisy": 0.2 + 0.1 * epochs,
                      "train_acc_clean": 0.5, "val_acc": val, "val_acc_clean": val, "test_acc": test,
                      "time_s": 0.1}).to_csv(Path(spec.run_dir) / "history.csv", index=False)


def method_runs(exp, method_id, **point):
    return [r for r in runs_of(exp) if r.spec.method_id == method_id and all(r.spec.point.get(k) == v for k, v in point.items())]


# beta -> seed -> (best noisy-val accuracy, test accuracy at that epoch, clean test accuracy per epoch)
RUNS = {0.0: {42: (0.50, 0.60, [0.55, 0.60, 0.70, 0.65]), 43: (0.52, 0.62, [0.50, 0.62, 0.64, 0.58])},
        1.0: {42: (0.40, 0.50, [0.50, 0.75, 0.72, 0.71]), 43: (0.44, 0.52, [0.52, 0.80, 0.79, 0.70])}}


def write_run(run, val: float, test: float, curve: list[float]) -> None:
    spec = run.spec
    Path(spec.run_dir).mkdir(parents=True, exist_ok=True)
    (Path(spec.run_dir) / "result.json").write_text(json.dumps(
        {"key": spec.key, "best_val_acc": val, "test_acc": test, "best_epoch": 1, "epochs_run": len(curve)}))
    pd.DataFrame({"epoch": range(len(curve)), "train_loss": 1.0, "train_acc_noisy": 0.3, "train_acc_clean": 0.5,
                  "val_acc": val, "test_acc": curve, "time_s": 0.1}).to_csv(Path(spec.run_dir) / "history.csv",
                                                                         index=False)
