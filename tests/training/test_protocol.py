"""The authors' protocol around the losses (issue 9): early stopping, divergence, FW's T̂ source, ResNet-34
initialisation, fp32 by default, resume of a run whose state was saved on another device, and the noise draw."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import limitlab.training.loop as T
from limitlab.training import networks as models
from limitlab.data.noise.class_conditional import corrupt
from limitlab.data.noise.transition import transition_matrix
from limitlab.experiment import params_file as P
from limitlab.experiment.schema import Experiment, TrainingConfig
from limitlab.errors import DivergedError
from limitlab.methods.ce import CE
from limitlab.methods.fw import estimate_transition
from limitlab.training.checkpoints import restore_rng
from limitlab.training.device import fast_paths
from limitlab.training.loop import predict, train
from limitlab.training.networks import build_networks
from limitlab.training.run_data import load_run_data
from limitlab.experiment.grid import runs_of

import tiny_data

REPO = Path(__file__).resolve().parents[2]
spec_of = tiny_data.spec_of


def experiment(data_dir: Path, methods: list[dict], **training) -> Experiment:
    return tiny_data.experiment(data_dir, methods, **{"epochs": 2, **training})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    return tiny_data.prepare(root, experiment(root, [{"method": "ce"}]))


def scripted_validation(monkeypatch, accs: list[float]) -> None:
    """Make epoch e's noisy-validation accuracy accs[e] (log_test off: accuracy() is called for val, then
    val_clean, once per epoch, and once more for the test set at the end)."""
    calls = {"n": 0}
    real = T.accuracy

    def fake(logits, labels):
        i = calls["n"]
        calls["n"] += 1
        if i % 2 == 0 and i // 2 < len(accs):
            return accs[i // 2]
        return real(logits, labels)

    monkeypatch.setattr(T, "accuracy", fake)


def test_early_stopping_is_checked_after_validation_with_the_full_patience(data_dir, tmp_path, monkeypatch):
    # patience 3, best at epoch 1, a new best at epoch 4 = 1 + patience: the authors' loop still sees it
    # (it checks epoch − last_best ≥ patience after epoch 3's validation: 2 < 3), then stops after epoch 7
    scripted_validation(monkeypatch, [0.5, 0.6, 0.55, 0.55, 0.7, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    exp = experiment(data_dir, [{"method": "ce"}], epochs=12, patience=3, log_test=False)
    r = train(spec_of(exp, "ce", tmp_path))
    assert r["best_epoch"] == 4 and r["best_val_acc"] == 0.7
    assert r["epochs_run"] == 8 and r["stopped_early"] is True


def test_should_stop_follows_the_authors_rule():
    best = {"last_best_epoch": 2}
    assert not T.should_stop([{"epoch": 4}], best, 3)
    assert T.should_stop([{"epoch": 5}], best, 3)
    assert not T.should_stop([{"epoch": 99}], best, None)


def test_resumed_run_that_had_stopped_early_trains_no_more(data_dir, tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [0.6, 0.5, 0.5])
    exp = experiment(data_dir, [{"method": "ce"}], epochs=10, patience=2, log_test=False)
    spec = spec_of(exp, "ce", tmp_path)
    r1 = train(spec)
    assert r1["epochs_run"] == 3 and r1["stopped_early"]
    r2 = train(spec)  # the state says epoch 2 was the last one: nothing is trained again
    assert r2["epochs_run"] == 3 and r2["best_epoch"] == 0


def nan_from_epoch(monkeypatch, epoch: int) -> None:
    original = CE.loss

    def loss(self, x, y, index):
        out = original(self, x, y, index)
        if self.ctx.epoch >= epoch:
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(CE, "loss", loss)


def test_a_diverged_run_keeps_its_best_checkpoint_and_says_so(data_dir, tmp_path, monkeypatch):
    nan_from_epoch(monkeypatch, 2)
    spec = spec_of(experiment(data_dir, [{"method": "ce"}], epochs=5), "ce", tmp_path)
    r = train(spec)
    run_dir = Path(spec.run_dir)
    assert (run_dir / "model.pt").is_file() and (run_dir / "result.json").is_file()
    assert r["diverged"]["epoch"] == 2 and "diverged" in r["diverged"]["reason"]
    assert r["epochs_run"] == 2 and r["best_epoch"] in (0, 1) and math.isfinite(r["test_acc"])
    ckpt = torch.load(run_dir / "model.pt", weights_only=False)
    assert ckpt["epoch"] == r["best_epoch"]


def test_a_run_that_diverges_before_any_checkpoint_fails(data_dir, tmp_path, monkeypatch):
    nan_from_epoch(monkeypatch, 0)
    spec = spec_of(experiment(data_dir, [{"method": "ce"}]), "ce", tmp_path)
    with pytest.raises(DivergedError, match="epoch 0"):
        train(spec)
    assert not (Path(spec.run_dir) / "result.json").exists()


def test_fw_estimates_T_from_the_complete_ce_model_even_with_parameters_only_init(data_dir, tmp_path):
    methods = [{"method": "ce"}, {"method": "fw", "init": {"source": "ce", "state": "parameters"}}]
    exp = experiment(data_dir, methods)
    ce, fw = spec_of(exp, "ce", tmp_path), spec_of(exp, "fw", tmp_path)
    train(ce)
    r = train(fw)
    T_fw = np.array(r["prepared"]["transition"])
    data = load_run_data(ce, torch.device("cpu"), False)
    net = build_networks(ce, data.info, uses_q=False)["classifier"]
    net.load_state_dict(torch.load(Path(ce.run_dir) / "model.pt", weights_only=False)["networks"]["classifier"])
    full = estimate_transition(torch.softmax(predict(net, data.train, 512).double(), 1).numpy())
    np.testing.assert_allclose(T_fw, full, atol=1e-12)
    # fresh BatchNorm statistics (what the parameters-only copy has) would give a different estimate
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
    fresh = estimate_transition(torch.softmax(predict(net, data.train, 512).double(), 1).numpy())
    assert np.abs(fresh - full).max() > 1e-3


def _std(conv: nn.Conv2d) -> float:
    return float(conv.weight.std())


def test_resnet34_keeps_pytorch_default_initialisation():
    torch.manual_seed(0)
    net = models.build("resnet34", num_classes=10, in_channels=3, image_size=32)
    conv = net.features.layer1[0].conv1  # 3×3, 64 → 64: default std 1/√(3·576) ≈ 0.024, Kaiming fan-out 0.059
    assert abs(_std(conv) - 1 / math.sqrt(3 * 576)) < 0.002
    deep = net.features.layer4[0].conv2  # 3×3, 512 → 512
    assert abs(_std(deep) - 1 / math.sqrt(3 * 512 * 9)) < 0.0005
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


@pytest.mark.parametrize("path", sorted((REPO / "params" / "paper").glob("*.yaml")), ids=lambda p: p.name)
def test_paper_params_train_in_fp32(path):
    exp = P.load(path)
    cuda = torch.device("cuda")
    for run in runs_of(exp):
        t = run.spec.training
        assert t.bf16 is False, run.key
        assert not fast_paths(t, run.spec.model.resolve(run.spec.dataset.name), cuda).autocast_bf16


def test_bf16_is_opt_in():
    assert TrainingConfig().bf16 is False
    assert fast_paths(TrainingConfig(bf16="auto"), "resnet34", torch.device("cuda")).autocast_bf16
    assert not fast_paths(TrainingConfig(bf16=True), "resnet34", torch.device("cpu")).autocast_bf16


CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("channels_last, bf16, arch, device, want", [
    # channels_last: 'auto' = conv nets on any device, explicit values as given; bf16: CUDA only
    ("auto", False, "cnn4", CPU, (True, False)),
    ("auto", False, "mlp4", CPU, (False, False)),
    ("auto", False, "resnet34", CUDA, (True, False)),
    ("auto", False, "mlp4", CUDA, (False, False)),
    (True, False, "cnn4", CPU, (True, False)),
    (True, False, "mlp4", CPU, (True, False)),
    (False, False, "cnn4", CPU, (False, False)),
    (False, False, "resnet34", CUDA, (False, False)),
    ("auto", "auto", "resnet34", CUDA, (True, True)),
    ("auto", "auto", "resnet50", CUDA, (True, True)),
    ("auto", "auto", "cnn4", CUDA, (True, False)),
    ("auto", "auto", "resnet34", CPU, (True, False)),
    ("auto", True, "cnn4", CUDA, (True, True)),
    ("auto", True, "mlp4", CUDA, (False, True)),
    ("auto", True, "resnet34", CPU, (True, False)),
])
def test_fast_paths_decision_table(channels_last, bf16, arch, device, want):
    got = fast_paths(TrainingConfig(channels_last=channels_last, bf16=bf16), arch, device)
    assert (got.channels_last, got.autocast_bf16) == want


def test_resume_state_is_restored_from_cpu_tensors_whatever_the_device(data_dir, tmp_path, monkeypatch):
    """A state loaded onto the run's device would hand CUDA tensors to set_rng_state (TypeError on a GPU).
    This machine has no GPU: a load onto any non-CPU device is simulated with the 'meta' device, which
    fails the same way; loading onto the CPU must be what train() asks for."""
    exp = experiment(data_dir, [{"method": "ce"}], epochs=3)
    spec = spec_of(exp, "ce", tmp_path)
    original = CE.loss

    class Killed(Exception):
        pass

    def dies_in_epoch_1(self, x, y, index):
        if self.ctx.epoch == 1:
            raise Killed
        return original(self, x, y, index)

    monkeypatch.setattr(CE, "loss", dies_in_epoch_1)
    with pytest.raises(Killed):
        train(spec)
    monkeypatch.setattr(CE, "loss", original)

    real_load = torch.load
    asked = []

    def load(path, map_location=None, **kw):
        asked.append(map_location)
        if map_location == "cpu" or map_location is None:
            return real_load(path, map_location="cpu", **kw)
        return real_load(path, map_location="meta", **kw)  # the run's device stands for a GPU here

    monkeypatch.setattr(T.torch, "load", load)
    r = train(spec)
    assert r["epochs_run"] == 3
    assert asked[0] == "cpu"


def test_restore_rng_moves_states_to_the_cpu():
    g = torch.Generator()
    g.manual_seed(3)
    st = {"generator": g.get_state(), "torch_rng": torch.get_rng_state(), "cuda_rng": None}
    expected = torch.rand(3, generator=g), torch.rand(3)
    g2 = torch.Generator()
    restore_rng(st, g2, torch.device("cpu"))
    assert torch.equal(torch.rand(3, generator=g2), expected[0]) and torch.equal(torch.rand(3), expected[1])


def authors_draw(clean: np.ndarray, T_: np.ndarray, seed: int, n: int | None):
    """The authors' procedure (docs/methods.md) on NumPy's global RNG: permutation split 80/20, the
    n-subset of the training part, then one np.random.choice per training label, then per validation label."""
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        N = len(clean)
        perm = np.random.permutation(N)
        train_idx, val_idx = perm[:int(0.8 * N)], perm[int(0.8 * N):]
        if n is not None:
            train_idx = np.random.choice(train_idx, n, replace=False)
        K = T_.shape[0]
        draw = lambda idx: np.array([int(np.random.choice(K, 1, p=T_[clean[i]])[0]) for i in idx])  # noqa: E731
        return train_idx, val_idx, draw(train_idx), draw(val_idx)
    finally:
        np.random.set_state(state)


@pytest.mark.parametrize("p,n", [(0.8, 1000), (0.5, None)])
def test_noise_draws_are_the_authors_draw_for_draw(p, n):
    clean = (np.arange(4000) * 7) % 10  # mnist5k's 4,000 training labels in size; the draw depends only on them
    T_ = transition_matrix("uniform", p, 10)
    ours = corrupt(clean, T_, seed=42, n=n, val_ratio=0.2)
    tr, va, tn, vn = authors_draw(clean, T_, 42, n)
    np.testing.assert_array_equal(ours.train_index, tr)
    np.testing.assert_array_equal(ours.val_index, va)
    np.testing.assert_array_equal(ours.train_noisy, tn)
    np.testing.assert_array_equal(ours.val_noisy, vn)


def test_noise_draw_pinned_values():
    """Computed once with authors_draw (seed 42, p = 0.8, n = 1000): pins the stream against NumPy changes."""
    clean = (np.arange(4000) * 7) % 10
    ours = corrupt(clean, transition_matrix("uniform", 0.8, 10), seed=42, n=1000, val_ratio=0.2)
    assert ours.train_index[:6].tolist() == [446, 2162, 780, 2335, 3516, 3849]
    assert ours.train_clean[:6].tolist() == [2, 4, 0, 5, 2, 3]
    assert ours.train_noisy[:6].tolist() == [8, 5, 0, 3, 2, 8]
    assert ours.val_index[:4].tolist() == [3334, 652, 172, 3197]
    assert ours.val_noisy[:4].tolist() == [5, 5, 9, 6]


def _bn_counts(net: nn.Module) -> list[int]:
    return [int(m.num_batches_tracked) for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("method,counts", [
    ({"method": "ce"}, {"classifier": [7, 6, 5, 4]}),
    # the q-network's BatchNorm1d sits in entry 5 of 7; the soft regulariser's classifier base has 6 entries
    ({"method": "limit", "beta": 1.0}, {"classifier": [7, 6, 5, 4], "q": [7, 6, 5, 4, 2]}),
    ({"method": "soft_reg", "lamb": 0.01, "beta": 0.1}, {"classifier": [6, 5, 4, 3], "q": [7, 6, 5, 4, 2]}),
])
def test_bn_warmup_emulates_the_authors_shape_inference_passes(method, counts, data_dir):
    exp = experiment(data_dir, [method])
    spec = runs_of(exp)[0].spec
    info = load_run_data(spec, torch.device("cpu"), False).info
    uses_q = "q" in counts
    head_bias = method["method"] != "soft_reg"
    fresh = build_networks(spec, info, uses_q, head_bias)
    assert all(c == 0 for net in fresh.values() for c in _bn_counts(net))
    spec = spec.model_copy(update={"model": spec.model.model_copy(update={"bn_warmup": "authors"})})
    warm = build_networks(spec, info, uses_q, head_bias)
    assert {name: _bn_counts(net) for name, net in warm.items()} == counts
    bn1 = next(m for m in warm["classifier"].modules() if isinstance(m, nn.BatchNorm2d))
    assert bn1.running_var.mean() < 0.9 and warm["classifier"].training  # noise statistics, train mode kept


def test_bn_warmup_runs_mlp_and_resnet_builders_once_per_entry():
    mlp = models.build("mlp4", num_classes=10, in_channels=1, image_size=28, dropout=0.5)
    models.authors_shape_passes(mlp, (1, 28, 28))
    assert _bn_counts(mlp) == [5, 4, 3, 2]  # entries: flatten, 4 blocks, head
    resnet = models.build("resnet34", num_classes=10, in_channels=3, image_size=32)
    models.authors_shape_passes(resnet, (3, 32, 32))
    assert set(_bn_counts(resnet)) == {1}  # built whole, run once


def test_paper_mnist_params_use_the_authors_bn_warmup():
    for name in ("mnist.yaml", "figure1.yaml"):
        for run in runs_of(P.load(REPO / "params" / "paper" / name)):
            assert run.spec.model.bn_warmup == "authors", run.key
    for run in runs_of(P.load(REPO / "params" / "repro_n1000_mnist5k.yaml")):
        assert run.spec.model.bn_warmup == "authors", run.key
