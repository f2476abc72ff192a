"""The training loop on tiny real data (mnist5k, 200 training examples, CPU, one thread)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from limitlab.experiment.grid import runs_of
from limitlab.experiment.schema import Experiment
from limitlab.errors import LimitlabError
from limitlab.methods.ce import CE
from limitlab.methods.fw import estimate_transition
from limitlab.methods import REGISTRY
from limitlab.training.loop import predict, train
from limitlab.training.networks import build_networks
from limitlab.training.run_data import load_run_data

import tiny_data

def experiment(data_dir: Path, methods: list[dict], model: dict | None = None, **training) -> Experiment:
    return tiny_data.experiment(data_dir, methods, model, **{"epochs": 2, **training})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Canonical mnist5k and its labels for the one setting every test uses."""
    root = tmp_path_factory.mktemp("data")
    return tiny_data.prepare(root, experiment(root, [{"method": "ce"}]))


spec_of = tiny_data.spec_of


def history(spec) -> pd.DataFrame:
    return pd.read_csv(Path(spec.run_dir) / "history.csv")


def same_result(r1: dict, r2: dict) -> None:
    for k in ("test_acc", "best_val_acc", "best_epoch", "epochs_run", "prepared"):
        assert r1[k] == r2[k], k


def same_model(spec1, spec2) -> None:
    m1 = torch.load(Path(spec1.run_dir) / "model.pt", weights_only=False)["networks"]
    m2 = torch.load(Path(spec2.run_dir) / "model.pt", weights_only=False)["networks"]
    assert m1.keys() == m2.keys()
    for net in m1:
        for k in m1[net]:
            assert torch.equal(m1[net][k], m2[net][k]), (net, k)


LIMIT_S = {"id": "limit_s", "method": "limit", "q_dist": "gaussian", "beta": 1.0, "sample": True, "lamb": 50}
CE_FW_DMI = [{"method": "ce"}, {"method": "fw", "init": {"source": "ce"}},
             {"method": "dmi", "lr": 1e-4, "init": {"source": "ce"}}]


@pytest.fixture(scope="module")
def ce_runs(data_dir, tmp_path_factory):
    """A trained CE run that FW / DMI runs start from."""
    runs = tmp_path_factory.mktemp("runs")
    exp = experiment(data_dir, CE_FW_DMI)
    train(spec_of(exp, "ce", runs))
    return exp, runs


def from_ce(spec, ce_runs):
    """``spec`` initialised from the module's trained CE run (when it has an init)."""
    if spec.init_dir is None:
        return spec
    exp, runs = ce_runs
    return spec.model_copy(update={"init_dir": Path(spec_of(exp, "ce", runs).run_dir)})


def test_run_writes_outputs_and_is_deterministic(data_dir, tmp_path):
    exp = experiment(data_dir, [LIMIT_S])
    a, b = spec_of(exp, "limit_s", tmp_path / "a"), spec_of(exp, "limit_s", tmp_path / "b")
    ra = train(a)
    run_dir = Path(a.run_dir)
    assert {"model.pt", "history.csv", "result.json"} <= {p.name for p in run_dir.iterdir()}
    assert json.loads((run_dir / "result.json").read_text()) == json.loads(json.dumps(ra))
    assert ra["epochs_run"] == 2 and ra["key"] == a.key and 0 <= ra["test_acc"] <= 1
    h = history(a)
    assert list(h["epoch"]) == [0, 1]
    assert {"train_loss", "q_fit", "q_norm", "ce", "train_acc_noisy", "train_acc_clean", "val_acc", "val_acc_clean",
            "test_acc"} <= set(h.columns)
    ckpt = torch.load(run_dir / "model.pt", weights_only=False)
    assert set(ckpt["networks"]) == {"classifier", "q"}
    assert ckpt["meta"]["dataset"] == "mnist5k" and ckpt["meta"]["arch"] == "cnn4"

    rb = train(b)
    same_result(ra, rb)
    pd.testing.assert_frame_equal(h, history(b))
    same_model(a, b)


class Killed(Exception):
    pass


@pytest.mark.parametrize("method_id", ["limit_s", "fw"])
def test_resume_after_kill_gives_identical_results(method_id, ce_runs, data_dir, tmp_path, monkeypatch):
    exp = experiment(data_dir, [*CE_FW_DMI, LIMIT_S], epochs=4)
    full, killed = (from_ce(spec_of(exp, method_id, tmp_path / name), ce_runs) for name in ("full", "killed"))
    r_full = train(full)

    cls = REGISTRY[killed.method.method]
    original = cls.loss
    calls = {"n": 0}

    def dies_in_epoch_2(self, x, y, index):
        if self.ctx.epoch == 2:
            calls["n"] += 1
            if calls["n"] == 2:  # mid-epoch: one optimizer step of epoch 2 is lost with the process
                raise Killed
        return original(self, x, y, index)

    monkeypatch.setattr(cls, "loss", dies_in_epoch_2)
    with pytest.raises(Killed):
        train(killed)
    monkeypatch.undo()
    run_dir = Path(killed.run_dir)
    assert not (run_dir / "result.json").exists() and not (run_dir / "model.pt").exists()
    assert torch.load(run_dir / "state" / "last.pt", weights_only=False)["epoch"] == 1

    torch.manual_seed(1234)  # a new process would not share this one's RNG state
    r_resumed = train(killed)
    same_result(r_full, r_resumed)
    pd.testing.assert_frame_equal(history(full), history(killed))
    same_model(full, killed)


def test_init_from_another_architecture_is_refused(data_dir, tmp_path):
    mlp = experiment(data_dir, [{"method": "ce"}], model={"arch": "mlp4"}, epochs=1)
    fw = spec_of(experiment(data_dir, CE_FW_DMI), "fw", tmp_path)
    # an mlp4 model where the fw run looks for its cnn4 source (run folders of different specs differ: a copy by hand)
    train(spec_of(mlp, "ce", tmp_path).model_copy(update={"run_dir": fw.init_dir}))
    with pytest.raises(LimitlabError, match="mlp4") as exc:
        train(fw)
    assert "cnn4" in str(exc.value)


def test_init_from_another_dataset_is_refused(ce_runs, data_dir, tmp_path):
    exp, runs = ce_runs
    ckpt = torch.load(Path(spec_of(exp, "ce", runs).run_dir) / "model.pt", weights_only=False)
    ckpt["meta"]["dataset"] = "mnist"
    (tmp_path / "other").mkdir()
    torch.save(ckpt, tmp_path / "other" / "model.pt")
    fw = spec_of(exp, "fw", tmp_path / "runs").model_copy(update={"init_dir": tmp_path / "other"})
    with pytest.raises(LimitlabError, match="'mnist'") as exc:
        train(fw)
    assert "'mnist5k'" in str(exc.value)


def test_missing_init_checkpoint(data_dir, tmp_path):
    fw = spec_of(experiment(data_dir, CE_FW_DMI), "fw", tmp_path)
    with pytest.raises(LimitlabError, match="does not exist"):
        train(fw)


@pytest.mark.parametrize("entry,field", [
    ({"method": "limit", "sample": True}, "lamb"),
    ({"method": "limit", "lamb": 5}, "sample"),
    ({"method": "ce", "beta": 1.0}, "beta"),
    ({"method": "soft_reg", "beta": 1.0}, "lamb"),
    ({"method": "fw"}, "init"),
])
def test_conflicting_hyperparameters_name_the_field(entry, field, tmp_path):
    with pytest.raises(LimitlabError, match=field):
        experiment(tmp_path, [entry])


def test_fw_and_dmi_start_from_the_ce_run(ce_runs, data_dir, tmp_path):
    exp, runs = ce_runs
    ce = spec_of(exp, "ce", runs)
    fw, dmi = (from_ce(spec_of(exp, m, tmp_path), ce_runs) for m in ("fw", "dmi"))
    r_fw = train(fw)
    T = np.array(r_fw["prepared"]["transition"])
    assert T.shape == (10, 10)
    np.testing.assert_allclose(T.sum(1), 1.0)
    # T̂ is the estimate from the CE model's predictions on the training inputs: FW started from that model
    data = load_run_data(ce, torch.device("cpu"), False)
    nets = build_networks(ce, data.info, uses_q=False)
    nets["classifier"].load_state_dict(torch.load(Path(ce.run_dir) / "model.pt", weights_only=False)["networks"]["classifier"])
    logits = predict(nets["classifier"], data.train, 512)
    np.testing.assert_allclose(T, estimate_transition(torch.softmax(logits.double(), 1).numpy()), atol=1e-12)
    state = torch.load(Path(fw.run_dir) / "state" / "last.pt", weights_only=False)
    np.testing.assert_allclose(state["method"]["T"].numpy(), T, atol=1e-6)

    r_dmi = train(dmi)
    assert r_dmi["epochs_run"] == 2 and r_dmi["point"] == {"lr": 1e-4}
    assert np.isfinite(history(dmi)["train_loss"]).all()


def test_soft_reg_trains_a_bias_free_head(data_dir, tmp_path):
    exp = experiment(data_dir, [{"method": "soft_reg", "lamb": 0.01, "beta": 1.0}], epochs=1)
    spec = spec_of(exp, "soft_reg", tmp_path)
    train(spec)
    nets = torch.load(Path(spec.run_dir) / "model.pt", weights_only=False)["networks"]
    assert "head.weight" in nets["classifier"] and "head.bias" not in nets["classifier"]
    assert "head.bias" in nets["q"]
    assert {"reg_fit", "reg_norm", "ce"} <= set(history(spec).columns)


def test_a_resume_state_of_other_inputs_is_never_resumed(tmp_path, capsys):
    """The same spec on another noise realisation (its labels redrawn and recorded as the corrupt stage does):
    the finished state of the old labels is discarded and the run trains from epoch 0, to the numbers a fresh
    training on the new labels gives. A state that records no inputs (an earlier release) is not trusted either."""
    from limitlab.data.canonical import load_canonical
    from limitlab.data.labels_file import write_labels
    from limitlab.data.noise.class_conditional import corrupt
    from limitlab.data.noise.transition import transition_matrix

    root = tiny_data.prepare(tmp_path / "data", experiment(tmp_path / "data", [{"method": "ce"}]))
    exp = experiment(root, [{"method": "ce"}])
    spec, fresh = spec_of(exp, "ce", tmp_path / "runs"), spec_of(exp, "ce", tmp_path / "fresh")
    old = train(spec)
    canon = load_canonical(spec.data_path)
    write_labels(spec.labels_path, corrupt(canon.train_y, transition_matrix("uniform", 0.5, 10), seed=2, n=200,
                                           val_ratio=0.2))
    for name in ("model.pt", "history.csv", "result.json"):
        (Path(spec.run_dir) / name).unlink()
    capsys.readouterr()
    new = train(spec)
    out = capsys.readouterr().out
    assert "was trained on other inputs (noise" in out and "resuming" not in out
    same_result(new, train(fresh))
    assert new["test_acc"] != old["test_acc"] or new["best_val_acc"] != old["best_val_acc"]

    last = Path(spec.run_dir) / "state" / "last.pt"
    state = torch.load(last, weights_only=False)
    del state["inputs"]
    torch.save(state, last)
    capsys.readouterr()
    same_result(new, train(spec))
    assert "not recorded by the release that wrote it" in capsys.readouterr().out


def test_a_training_seed_changes_the_run_and_the_split_seed_is_the_default(data_dir, tmp_path):
    """train_seeds: the run's torch seed is its training seed; the split's own seed is the default run (the spec of
    a study without train_seeds, bitwise the same model)."""
    plain = spec_of(experiment(data_dir, [{"method": "ce"}], epochs=1), "ce", tmp_path / "plain")
    exp = experiment(data_dir, [{"method": "ce"}], epochs=1, study_changes={"train_seeds": [1, 7]})
    runs = {r.spec.train_seed: r.spec for r in runs_of(exp)}
    assert set(runs) == {None, 7} and runs[None].model_dump() == plain.model_copy(
        update={"run_dir": runs[None].run_dir}).model_dump()
    assert runs[7].key.endswith("/ce/default-t7") and runs[7].training_seed == 7
    base = Path(exp.data_dir) / "runs"
    own = runs[7].model_copy(update={"run_dir": tmp_path / "t7" / runs[7].run_dir.relative_to(base)})
    r_plain, r_own = train(plain), train(own)
    m1 = torch.load(Path(plain.run_dir) / "model.pt", weights_only=False)["networks"]["classifier"]
    m2 = torch.load(Path(own.run_dir) / "model.pt", weights_only=False)["networks"]["classifier"]
    assert any(not torch.equal(m1[k], m2[k]) for k in m1)  # another initialisation and batch order
    assert r_plain["key"] != r_own["key"]
