"""Susceptibility (docs/methods.md): the one-step probe, its exact restore, the loop hook, and the selection rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from limitlab.experiment import params_file as P
from limitlab.experiment.schema import Experiment
from limitlab.report.aggregate import aggregate
from limitlab.methods import REGISTRY, Context
from limitlab.report.figures.index import make_figures
from limitlab.report.susceptibility_selection import DELTA, ZETA, regions, select
from limitlab.training.susceptibility import Probe, one_step_delta
from limitlab.training.loop import train
from limitlab.training.run_data import load_run_data
from limitlab.experiment.grid import runs_of

import tiny_data

K, D = 10, 20


def make(name: str, nets: dict, **cfg):
    cls = REGISTRY[name]
    ctx = Context(num_classes=K, generator=torch.Generator().manual_seed(0))
    return cls(cls.Config(method=name, **cfg), nn.ModuleDict(nets), ctx)


def small(dropout: float = 0.0) -> nn.Module:
    """A small MLP with BatchNorm (buffers that a step changes) and optional dropout (draws from torch's RNG)."""
    return nn.Sequential(nn.Linear(D, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, K))


def toy(seed: int):
    """Gaussian inputs with learnable labels (argmax of a random linear map), random labels, and a probe batch."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(D, K, generator=g)
    x = torch.randn(256, D, generator=g)
    probe = torch.randn(128, D, generator=g), torch.randint(0, K, (128,), generator=g)
    return x, (x @ W).argmax(1), torch.randint(0, K, (256,), generator=g), probe


def deep(width: int = 256, depth: int = 4) -> nn.Module:
    """An MLP with the capacity to memorise 256 random labels in 100 steps (Figure-1 MLP shape, narrower)."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(D if i == 0 else width, width), nn.BatchNorm1d(width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, K))


def trained(seed: int, x, labels, steps: int = 100):
    """CE + Adam on (x, labels) from a seeded deep MLP; the method and its optimizer (state kept)."""
    torch.manual_seed(seed)
    m = make("ce", {"classifier": deep()})
    opt = torch.optim.Adam(m.networks.parameters(), 1e-3)
    g = torch.Generator().manual_seed(100 + seed)
    for _ in range(steps if labels is not None else 0):
        idx = torch.randint(0, len(x), (64,), generator=g)
        opt.zero_grad(set_to_none=True)
        m.loss(x[idx], labels[idx], None).loss.backward()
        opt.step()
    return m, opt


def state_of(m, opt) -> dict:
    return {"nets": {k: v.clone() for k, v in m.networks.state_dict().items()},
            "opt": {i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()}
                    for i, s in enumerate(opt.state.values())},
            "gen": m.ctx.generator.get_state(), "rng": torch.get_rng_state()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a["nets"].keys() == b["nets"].keys()
    for k in a["nets"]:
        assert torch.equal(a["nets"][k], b["nets"][k]), k
    assert a["opt"].keys() == b["opt"].keys()
    for i in a["opt"]:
        for k in a["opt"][i]:
            assert torch.equal(torch.as_tensor(a["opt"][i][k]), torch.as_tensor(b["opt"][i][k])), (i, k)
    assert torch.equal(a["gen"], b["gen"]) and torch.equal(a["rng"], b["rng"])


# ------------------------------------------------------------------------------------------- the probe step


def test_step_is_restored_exactly_and_repeatable():
    x, y, _, (px, py) = toy(0)
    torch.manual_seed(0)
    # LIMIT + S draws from the run's generator, dropout from torch's RNG, BatchNorm updates its buffers
    m = make("limit", {"classifier": small(dropout=0.2), "q": small()},
             q_dist="gaussian", beta=1.0, sample=True, lamb=50.0)
    opt = torch.optim.Adam(m.networks.parameters(), 1e-3)
    for _ in range(3):  # an optimizer with state
        opt.zero_grad(set_to_none=True)
        m.loss(x[:64], y[:64], None).loss.backward()
        opt.step()
    before = state_of(m, opt)
    d1 = one_step_delta(m, opt, px, py, None)
    assert_same_state(before, state_of(m, opt))
    assert all(p.grad is None for p in m.networks.parameters())
    assert one_step_delta(m, opt, px, py, None) == d1  # nothing leaked into the second measurement
    assert d1 != 0


def test_zero_for_a_model_that_cannot_change():
    _, _, _, (px, py) = toy(1)
    torch.manual_seed(1)
    m = make("ce", {"classifier": small()})
    assert one_step_delta(m, torch.optim.Adam(m.networks.parameters(), lr=0.0), px, py, None) == 0.0
    m.networks.requires_grad_(False)
    assert one_step_delta(m, torch.optim.Adam(m.networks.parameters(), lr=1e-3), px, py, None) == 0.0


def test_delta_is_the_loss_decrease_of_one_step():
    # plain SGD, CE: Δ = Φ(w) − Φ(w − η∇Φ) = η‖∇Φ‖² + O(η²)
    _, _, _, (px, py) = toy(2)
    torch.manual_seed(2)
    m = make("ce", {"classifier": small()})
    m.networks.train()
    phi = F.cross_entropy(m.classifier(px), py)
    grad_sq = sum(g.pow(2).sum() for g in torch.autograd.grad(phi, list(m.networks.parameters())))
    lr = 1e-3  # small enough for the first order (2nd-order term ~0.1%), large enough for float32 losses
    delta = one_step_delta(m, torch.optim.SGD(m.networks.parameters(), lr=lr), px, py, None)
    assert delta == pytest.approx(lr * grad_sq.item(), rel=0.01)


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: threads only add contention
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("seed", [0, 1])
def test_grows_for_a_model_that_memorised_random_labels(seed, one_thread):
    # Same init, optimizer and number of steps; both trained models fit their training labels. The one that
    # memorised random labels fits the probe's random labels markedly faster in one step (ratio 1.24-1.42 over
    # seeds 0-5; similar for the 512-wide Figure-1 MLP). The clean-trained model is the control: training alone
    # changes the loss scale, so an untrained model is not (its Δ lies on either side depending on the width).
    x, y_clean, y_random, (px, py) = toy(seed)
    deltas = {}
    for name, labels in (("clean", y_clean), ("memorised", y_random)):
        m, opt = trained(seed, x, labels)
        m.networks.eval()
        assert (m.classifier(x).argmax(1) == labels).float().mean() > 0.95
        deltas[name] = one_step_delta(m, opt, px, py, None)
    assert deltas["memorised"] > 1.15 * deltas["clean"] > 0


# ------------------------------------------------------------------------------------------- in the training loop

def experiment(data_dir: Path, methods: list[dict], model: dict | None = None, **training) -> Experiment:
    return tiny_data.experiment(data_dir, methods, model, **{"epochs": 3, **training})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Canonical mnist5k and its labels for the one setting every test uses."""
    root = tmp_path_factory.mktemp("data")
    return tiny_data.prepare(root, experiment(root, [{"method": "ce"}]))


def spec_in(exp, runs: Path, method_id: str):
    return tiny_data.spec_of(exp, method_id, runs)


def history(spec) -> pd.DataFrame:
    return pd.read_csv(Path(spec.run_dir) / "history.csv")


LIMIT_S = {"id": "m", "method": "limit", "q_dist": "gaussian", "beta": 1.0, "sample": True, "lamb": 50}
PUMPOUT = {"id": "m", "method": "pumpout", "base": "small_loss", "gamma": 0.01, "forget_epochs": 2}


@pytest.mark.parametrize("entry,model", [(LIMIT_S, None), (PUMPOUT, {"arch": "mlp4", "dropout": 0.2})])
def test_training_is_bitwise_unaffected(entry, model, data_dir, tmp_path):
    off = spec_in(experiment(data_dir, [entry], model), tmp_path / "off", "m")
    on = spec_in(experiment(data_dir, [entry], model, susceptibility=True, susceptibility_batch=64), tmp_path / "on", "m")
    r_off, r_on = train(off), train(on)
    h_off, h_on = history(off), history(on)
    assert {DELTA, ZETA} <= set(h_on.columns) and not {DELTA, ZETA} & set(h_off.columns)
    pd.testing.assert_frame_equal(h_on.drop(columns=[DELTA, ZETA]), h_off)
    for k in ("test_acc", "best_val_acc", "best_epoch", "prepared"):
        assert r_on[k] == r_off[k]
    m_on = torch.load(Path(on.run_dir) / "model.pt", weights_only=False)["networks"]
    m_off = torch.load(Path(off.run_dir) / "model.pt", weights_only=False)["networks"]
    for net in m_off:
        for k in m_off[net]:
            assert torch.equal(m_on[net][k], m_off[net][k]), (net, k)
    assert np.isfinite(h_on[DELTA]).all() and (h_on[DELTA] != 0).any()
    np.testing.assert_allclose(h_on[ZETA], h_on[DELTA].expanding().mean(), rtol=1e-12)


def test_probe_is_the_validation_inputs_with_fixed_random_labels(data_dir, tmp_path):
    spec = spec_in(experiment(data_dir, [{"method": "ce"}]), tmp_path, "ce")
    data = load_run_data(spec, torch.device("cpu"), False)
    probe = Probe.from_validation(data.val, K, seed=1, batch_size=64)
    again = Probe.from_validation(data.val, K, seed=1, batch_size=64)
    other = Probe.from_validation(data.val, K, seed=2, batch_size=64)
    assert torch.equal(probe.split.index, data.val.index)  # validation inputs, never test or training ones
    assert not set(probe.split.index.tolist()) & set(data.train.index.tolist())
    assert torch.equal(probe.split.noisy, again.split.noisy) and not torch.equal(probe.split.noisy, other.split.noisy)
    # uniform over all K classes, independent of the true label (agrees ~1/K of the time)
    counts = np.bincount(probe.split.noisy.numpy(), minlength=K)
    assert counts.min() > 0.5 * len(probe.split) / K
    agree = (probe.split.noisy == data.val.clean).float().mean().item()
    assert abs(agree - 1 / K) < 0.05
    x0, y0, i0 = probe.batch(0)
    x0b, y0b, _ = again.batch(0)
    _, _, i1 = probe.batch(1)
    assert x0.shape[0] == 64 and torch.equal(x0, x0b) and torch.equal(y0, y0b)  # same batch on resume
    assert not torch.equal(i0, i1)  # a different batch every epoch


def test_resume_keeps_the_susceptibility_columns(data_dir, tmp_path, monkeypatch):
    exp = experiment(data_dir, [{"method": "ce"}], susceptibility=True, epochs=3)
    full, killed = spec_in(exp, tmp_path / "full", "ce"), spec_in(exp, tmp_path / "killed", "ce")
    train(full)
    cls = REGISTRY["ce"]
    original = cls.loss

    def dies_in_epoch_2(self, x, y, index):
        if self.ctx.epoch == 2:
            raise KeyboardInterrupt
        return original(self, x, y, index)

    monkeypatch.setattr(cls, "loss", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(killed)
    monkeypatch.undo()
    train(killed)
    pd.testing.assert_frame_equal(history(full), history(killed))


# ------------------------------------------------------------------------------------------- selection rule


def test_regions_and_selection_by_hand():
    pool = pd.DataFrame({"train_acc_noisy": [0.9, 0.8, 0.3, 0.2, 0.7],
                         "susceptibility": [0.5, 0.1, 0.05, 0.6, 0.2]})
    # means: acc 0.58, ζ 0.29 → regions 2, 1, 3, 4, 1; Region 1 = rows 1 and 4, the higher accuracy is row 1
    assert regions(pool.train_acc_noisy, pool.susceptibility).tolist() == [2, 1, 3, 4, 1]
    assert select(pool) == (1, 1)
    # highest training accuracy overall (row 0) is memorising; lowest ζ overall (row 2) is not trainable
    assert select(pool.iloc[[0, 2]].reset_index(drop=True)) == (0, "fallback")  # Region 1 empty: least ζ of the trainable
    assert select(pool.iloc[[3]]) == (0, 1)  # a single model selects itself
    with_nan = pd.concat([pool, pd.DataFrame({"train_acc_noisy": [1.0], "susceptibility": [np.nan]})], ignore_index=True)
    assert select(with_nan) == (1, 1)  # rows without ζ are ignored, positions refer to the given frame


def fake(run, epochs: int, acc: float, zeta: float, final_test: float, val: float) -> None:
    d = Path(run.spec.run_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / "result.json").write_text(json.dumps({"key": run.key, "best_val_acc": val, "test_acc": 0.5, "best_epoch": 0}))
    e = np.arange(epochs)
    pd.DataFrame({"epoch": e, "train_loss": 1.0, "train_acc_noisy": acc, "train_acc_clean": 0.5, "val_acc": val,
                  "val_acc_clean": 0.5, "test_acc": np.r_[np.full(epochs - 1, 0.1), final_test],
                  DELTA: zeta, ZETA: zeta, "time_s": 0.1}).to_csv(d / "history.csv", index=False)


def fake_gr_experiment(tmp_path):
    """CE and a 3-point GR grid at p = 0.8 with faked finished runs (history with susceptibility columns)."""
    exp = P.validate({"name": "fake", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
                      "studies": [{"id": "u", "dataset": {"name": "mnist"}, "noise": {"model": "uniform", "p": [0.8]},
                                   "seeds": [42], "training": {"susceptibility": True}, "methods": [
                                       {"method": "ce", "label": "CE"},
                                       {"id": "gr", "method": "grad_rescale", "label": "GR", "lamb": 0.0,
                                        "beta": [1.0, 2.0, 8.0]}]}]}, "test")
    by_beta = {r.spec.point.get("beta"): r for r in runs_of(exp)}
    fake(by_beta[None], 3, acc=0.95, zeta=0.9, final_test=0.30, val=0.30)     # CE: memorises
    fake(by_beta[1.0], 3, acc=0.75, zeta=0.2, final_test=0.70, val=0.26)     # Region 1 → chosen by ζ
    fake(by_beta[2.0], 3, acc=0.30, zeta=0.1, final_test=0.80, val=0.27)     # not trainable (Region 3)
    fake(by_beta[8.0], 3, acc=0.90, zeta=0.8, final_test=0.40, val=0.28)     # best noisy val, Region 2
    return exp


def test_aggregate_reports_susceptibility_rows(tmp_path):
    exp = fake_gr_experiment(tmp_path)
    summary = aggregate(exp)
    cells = {c.method_id: c for c in summary.cells}
    assert cells["gr"].selected.point["beta"] == 8.0  # the ordinary row is untouched
    gr_sus = cells["gr_sus_sel"]
    assert gr_sus.label == "GR (susceptibility sel.)" and gr_sus.selected.point["beta"] == 1.0
    assert gr_sus.stats["test_acc"] == pytest.approx(0.70)  # the FINAL-epoch test accuracy, not result.json's
    assert cells["any_method_sus_sel"].stats["selected_method"] == "gr"
    assert cells["any_method_sus_sel"].selected.point["beta"] == 1.0
    assert cells["ce_sus_sel"].stats["region"] == 1  # a one-model pool
    table = pd.read_csv(tmp_path / "results" / "table.csv").set_index("method_id")
    assert table.loc["gr_sus_sel", "test_acc_pct"] == pytest.approx(70.0)
    md = (tmp_path / "results" / "table.md").read_text()
    main_table, sus_section = md.split("## Susceptibility selection")
    assert "GR (susceptibility sel.)" not in main_table and "| GR |" in main_table  # its own small table
    assert "| GR (susceptibility sel.) | 70.0" in sus_section and "| Any method (susceptibility sel.) |" in sus_section
    pool = pd.read_csv(tmp_path / "results" / "susceptibility.csv")
    assert len(pool) == 1 + 3 + 4  # per-method pools (CE, GR) + the any-method pool
    assert pool[pool.selected].groupby("pool").size().tolist() == [1, 1, 1]
    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    assert metrics["mnist"]["uniform"]["p80"]["nall"]["gr_sus_sel"]["test_acc"] == pytest.approx(0.70)
    index = make_figures(exp)  # the one figure index lists them with the others
    assert [f["name"] for f in index["figures"] if f["kind"] == "susceptibility"] == ["susceptibility_mnist_uniform_p80_nall"]
    assert json.loads((tmp_path / "results" / "figures" / "index.json").read_text()) == json.loads(json.dumps(index))
    assert (tmp_path / "results" / "figures" / "susceptibility_mnist_uniform_p80_nall.png").stat().st_size > 10_000


def test_susceptibility_figure_has_the_plot_style_in_a_fresh_process(tmp_path):
    """`limitlab plot --jobs 2` draws the other figures in worker processes, so the process that draws the
    susceptibility figures may have drawn nothing before: the figure must set the shared style itself (same
    bytes as in a process that drew other figures first)."""
    import subprocess
    import sys

    from limitlab.report.figures.style import setup as _setup

    exp = fake_gr_experiment(tmp_path)
    aggregate(exp)
    _setup()
    make_figures(exp)
    png = tmp_path / "results" / "figures" / "susceptibility_mnist_uniform_p80_nall.png"
    styled = png.read_bytes()
    png.unlink()
    code = ("import sys; from limitlab.experiment import params_file as P; from limitlab.report.figures.index import "
            "make_figures; make_figures(P.validate(__import__('json').loads(sys.argv[1]), 'x'))")
    subprocess.run([sys.executable, "-c", code, exp.model_dump_json()], check=True, capture_output=True)
    assert png.read_bytes() == styled
