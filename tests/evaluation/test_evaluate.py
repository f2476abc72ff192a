"""``limitlab evaluate`` on tiny real runs (mnist5k, 200 training examples, one epoch, CPU) and its AUC helper."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from limitlab import io
from limitlab.experiment import params_file as P
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.detection_metrics import detection_metrics
from limitlab.evaluation.detection import gradient_scores, ranked_suspicious
from limitlab.evaluation.evaluate import evaluate
from limitlab.training.loop import train
from limitlab.experiment.grid import runs_of
from tiny_data import prepare

TRAINING = {"epochs": 1, "batch_size": 64, "threads": 1, "device": "cpu", "patience": None}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    exp = P.validate({"name": "t", "data_dir": str(root / "data"), "studies": [{
        "id": "u", "dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [200],
        "seeds": [1], "training": TRAINING,
        "methods": [{"method": "ce"}, {"id": "limit_g", "method": "limit", "beta": 1.0}]}]}, "test params")
    prepare(Path(exp.data_dir), exp)
    specs = {r.spec.method_id: r.spec for r in runs_of(exp)}
    for spec in specs.values():
        train(spec)
    return specs


# --- detection metrics ---------------------------------------------------------------------------------------


def test_auc_is_one_when_separable_and_half_when_shuffled():
    is_bad = np.r_[np.zeros(500, bool), np.ones(300, bool)]
    scores = np.r_[np.random.default_rng(0).random(500), 1 + np.random.default_rng(1).random(300)]
    sep = detection_metrics(scores, is_bad)
    assert sep["detection_auc"] == 1.0 and sep["detection_ap"] == 1.0
    assert (sep["n_train"], sep["n_corrupted"]) == (800, 300)
    rng = np.random.default_rng(2)
    big = rng.random(20_000) < 0.4
    shuffled = detection_metrics(rng.permutation(np.where(big, 2.0, 1.0) + rng.random(20_000)), big)
    assert shuffled["detection_auc"] == pytest.approx(0.5, abs=0.02)
    assert shuffled["detection_ap"] == pytest.approx(0.4, abs=0.02)  # AP of a random ranking = positive rate
    flipped = detection_metrics(-scores, is_bad)
    assert flipped["detection_auc"] == 0.0


@pytest.mark.parametrize("flags", [np.zeros(10, bool), np.ones(10, bool)])
def test_auc_undefined_with_one_class(flags):
    m = detection_metrics(np.arange(10.0), flags)
    assert m["detection_auc"] is None and m["detection_ap"] is None and "one class" in m["detection_note"]


def test_gradient_scores_formulas():
    a = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([1, 2])
    s = gradient_scores(a, b, y)
    sa, sb = torch.softmax(a, 1), torch.softmax(b, 1)
    assert np.allclose(s["grad_norm"], (sa - sb).norm(dim=1).numpy())
    assert np.allclose(s["distance"], (sb - torch.eye(3)[y]).norm(dim=1).numpy())
    assert s["grad_norm"][1] == 0  # identical predictions: no predicted gradient
    assert s["distance"][1] == pytest.approx(np.sqrt(2 / 9 + 4 / 9))


def test_ranked_suspicious_sorts_by_distance():
    scores = {"distance": np.array([0.1, 0.9, 0.5]), "train_index": np.array([7, 3, 5]),
              "given_label": np.array([1, 2, 3]), "predicted_label": np.array([1, 0, 3]),
              "is_corrupted": np.array([False, True, False])}
    df = ranked_suspicious(scores)
    assert list(df.train_index) == [3, 5, 7] and list(df["rank"]) == [1, 2, 3]
    assert list(df.is_corrupted) == [1, 0, 0]


# --- the stage on real runs ----------------------------------------------------------------------------------


def test_limit_run_writes_predictions_scores_and_ranking(runs, capsys):
    spec = runs["limit_g"]
    assert main(["evaluate", "--spec", spec.model_dump_json()]) == 0
    assert "detection ROC AUC" in capsys.readouterr().out
    ev = json.loads((Path(spec.eval_dir) / "eval.json").read_text())
    result = json.loads((Path(spec.run_dir) / "result.json").read_text())
    for k in ("key", "method_id", "point", "best_val_acc", "best_epoch"):
        assert ev[k] == result[k], k
    assert ev["test_acc"] == pytest.approx(result["test_acc"]) and ev["n_test"] == 1000

    pred = io.load_npz(Path(spec.eval_dir) / "predictions.npz")
    assert pred["logits"].dtype == np.float32 and pred["logits"].shape == (1000, 10)
    assert np.array_equal(pred["index"], np.arange(1000))
    assert (pred["logits"].argmax(1) == pred["labels"]).mean() == pytest.approx(ev["test_acc"])

    labels = io.load_npz(spec.labels_path)
    sc = io.load_npz(Path(spec.eval_dir) / "train_scores.npz")
    assert np.array_equal(sc["train_index"], labels["train_index"])
    assert np.array_equal(sc["given_label"], labels["train_noisy"])
    assert np.array_equal(sc["is_corrupted"], labels["train_noisy"] != labels["train_clean"])
    assert sc["is_corrupted"].any() and not sc["is_corrupted"].all()
    assert np.all((sc["distance"] >= 0) & (sc["distance"] <= np.sqrt(2) + 1e-6))
    assert ev["detection_auc"] == pytest.approx(roc_auc_score(sc["is_corrupted"], sc["distance"]))
    assert ev["n_corrupted"] == int(sc["is_corrupted"].sum())

    sus = pd.read_csv(Path(spec.eval_dir) / "suspicious.csv")
    assert list(sus.columns) == ["rank", "train_index", "given_label", "predicted_label", "score", "is_corrupted"]
    assert len(sus) == 200 and sus.score.is_monotonic_decreasing
    assert set(sus.train_index) == set(labels["train_index"].tolist())
    top = sus.iloc[0]
    pos = int(np.flatnonzero(sc["train_index"] == top.train_index)[0])
    assert top.given_label == sc["given_label"][pos] and top.predicted_label == sc["predicted_label"][pos]


def test_validation_predictions_reproduce_the_selected_checkpoint(runs, tmp_path, capsys):
    """val_predictions.npz holds the checkpoint's validation logits with the labels file's noisy and clean labels
    and T; its accuracy on the noisy labels is result.json's best_val_acc. Adding it alone to an evaluated run
    (--val-predictions-only) writes the same bytes and leaves every other file of the eval folder as it was."""
    spec = runs["limit_g"].model_copy(update={"eval_dir": tmp_path / "ev"})
    evaluate(spec)
    path = Path(spec.eval_dir) / "val_predictions.npz"
    val = io.load_npz(path)
    labels = io.load_npz(spec.labels_path)
    result = json.loads((Path(spec.run_dir) / "result.json").read_text())
    assert np.array_equal(val["index"], labels["val_index"]) and np.array_equal(val["given_label"], labels["val_noisy"])
    assert np.array_equal(val["clean_label"], labels["val_clean"])
    assert np.array_equal(val["transition"], labels["transition"])
    assert val["logits"].dtype == np.float32 and val["logits"].shape == (len(labels["val_index"]), 10)
    assert (val["logits"].argmax(1) == val["given_label"]).mean() == pytest.approx(result["best_val_acc"], abs=1e-9)
    first = path.read_bytes()
    others = {f.name: f.read_bytes() for f in Path(spec.eval_dir).iterdir() if f.name != path.name}
    path.unlink()
    assert main(["evaluate", "--spec", spec.model_dump_json(), "--val-predictions-only"]) == 0
    assert path.read_bytes() == first
    assert {f.name: f.read_bytes() for f in Path(spec.eval_dir).iterdir() if f.name != path.name} == others
    assert "val_predictions.npz" in capsys.readouterr().out


def test_clean_validation_stores_the_identity(runs, tmp_path):
    spec = runs["ce"]
    spec = spec.model_copy(update={"eval_dir": tmp_path / "ev",
                                   "dataset": spec.dataset.model_copy(update={"clean_validation": True})})
    from limitlab.evaluation.evaluate import write_val_predictions

    val = io.load_npz(write_val_predictions(spec))
    assert np.array_equal(val["transition"], np.eye(10))
    assert sorted(p.name for p in Path(spec.eval_dir).iterdir()) == ["val_predictions.npz"]  # nothing else


def test_ce_run_has_no_detection(runs):
    spec = runs["ce"]
    ev = evaluate(spec)
    assert ev["detection_auc"] is None and ev["detection_ap"] is None and "no q-network" in ev["detection_note"]
    assert not (Path(spec.eval_dir) / "train_scores.npz").exists()
    assert not (Path(spec.eval_dir) / "suspicious.csv").exists()
    assert json.loads((Path(spec.eval_dir) / "eval.json").read_text())["detection_auc"] is None


def test_untrained_run_is_a_clear_error(runs, tmp_path):
    spec = runs["ce"].model_copy(update={"run_dir": tmp_path / "nothing", "eval_dir": tmp_path / "ev"})
    with pytest.raises(LimitlabError, match="result.json does not exist"):
        evaluate(spec)


@pytest.mark.parametrize("flag, want", [("auto", True), (True, True), (False, False)])
def test_evaluate_follows_channels_last_like_training(runs, tmp_path, monkeypatch, flag, want):
    """evaluate asks the same fast-path decision as train (limitlab.training.device.fast_paths): on the CPU a
    cnn4 evaluates channels-last with channels_last 'auto' or true, and not with false (it used to be off on
    every CPU whatever the setting)."""
    import limitlab.training.loop as loop

    seen = []
    real = loop.predict

    def spy(net, split, batch_size, autocast=False):
        convs = [p for p in net.parameters() if p.ndim == 4 and p.shape[1] > 1]  # C > 1: the layouts differ
        assert convs
        seen.append({p.is_contiguous(memory_format=torch.channels_last) for p in convs})
        return real(net, split, batch_size, autocast)

    monkeypatch.setattr(loop, "predict", spy)
    spec = runs["limit_g"]
    assert spec.model.resolve(spec.dataset.name) == "cnn4"
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"channels_last": flag}),
                                   "eval_dir": tmp_path / "ev"})
    ev = evaluate(spec)
    assert len(seen) == 4  # test set, validation set, then classifier and q-network on the training set
    assert all(s == {want} for s in seen), seen
    assert ev["has_q"] is True
