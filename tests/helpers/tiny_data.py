"""Tiny real experiments for the training tests: mnist5k, 200 noisy training examples, CPU, one thread."""

from __future__ import annotations

from pathlib import Path

from limitlab.data.canonical import load_canonical
from limitlab.data.download import download
from limitlab.data.labels_file import write_labels
from limitlab.data.noise.class_conditional import corrupt
from limitlab.data.noise.transition import transition_matrix
from limitlab.experiment import params_file as P
from limitlab.experiment.schema import Experiment
from limitlab.experiment.grid import all_settings
from limitlab.experiment.paths import dataset_path
from limitlab.experiment.grid import runs_of

TRAINING = {"batch_size": 64, "threads": 1, "device": "cpu", "patience": None, "eval_batch_size": 512}


def experiment(data_dir: Path, methods: list[dict], model: dict | None = None, epochs: int = 2,
               study_changes: dict | None = None, **training) -> Experiment:
    """One study: mnist5k, uniform p = 0.5, n = 200, seed 1, the given methods (and ``study_changes``)."""
    study = {"id": "u", "dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [200],
             "seeds": [1], "training": {**TRAINING, "epochs": epochs, **training}, "methods": methods,
             **(study_changes or {})}
    if model:
        study["model"] = model
    return P.validate({"name": "t", "data_dir": str(data_dir), "studies": [study]}, "test params")


def prepare(root: Path, exp: Experiment) -> Path:
    """Canonical mnist5k and the labels of every setting of ``exp`` under ``root``."""
    out = dataset_path(root, "mnist5k")
    out.parent.mkdir(parents=True, exist_ok=True)
    download("mnist5k", root / "raw", out)
    canon = load_canonical(out)
    for _, (_, s) in all_settings(exp).items():
        labels = corrupt(canon.train_y, transition_matrix(s.noise, s.p, 10), seed=s.seed, n=s.n,
                               val_ratio=s.val_ratio)
        s.labels_path(root).parent.mkdir(parents=True, exist_ok=True)
        write_labels(s.labels_path(root), labels)
    return root


def spec_of(exp: Experiment, method_id: str, runs: Path):
    """The run of ``method_id`` with its run (and init) folder moved under ``runs``."""
    (run,) = [r for r in runs_of(exp) if r.spec.method_id == method_id]
    spec = run.spec
    base = Path(exp.data_dir) / "runs"
    update = {"run_dir": runs / spec.run_dir.relative_to(base)}
    if spec.init_dir is not None:
        update["init_dir"] = runs / spec.init_dir.relative_to(base)
    return spec.model_copy(update=update)
