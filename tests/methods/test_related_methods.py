"""Pumpout / SIGUA (small-loss and backward-correction bases) and Gradient Rescaling (docs/methods.md).

Loss values and per-example logit gradients on hand-computed batches; the logits come from an Embedding, so
row i of its weight gradient is exactly ∂L/∂a_i.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from limitlab.data.noise.transition import transition_matrix
from limitlab.experiment import params_file as P
from limitlab.errors import LimitlabError
from limitlab.methods import REGISTRY, Context
from limitlab.methods.grad_rescale import emphasis_weights
from limitlab.methods.pumpout import forget_rate_schedule, small_loss_split
from limitlab.experiment.grid import load_spec
from limitlab.experiment.grid import runs_of

ROOT = Path(__file__).resolve().parents[2]


def make(name: str, logits: torch.Tensor, transition=None, epoch: int = 0, **cfg):
    """Method ``name`` on a 'network' whose output for inputs 0..B-1 is the given logits (prepared)."""
    cls = REGISTRY[name]
    clf = nn.Embedding.from_pretrained(logits.clone(), freeze=False)
    info = {} if transition is None else {"transition": np.asarray(transition, dtype=np.float64)}
    ctx = Context(num_classes=logits.shape[1], epoch=epoch, info=info)
    m = cls(cls.Config(method=name, **cfg), nn.ModuleDict({"classifier": clf}), ctx)
    prepared = m.prepare(lambda net: net(torch.arange(len(logits))))
    return m, clf, prepared


def step(m, clf, y):
    """Loss output and ∂L/∂a (one row per example)."""
    clf.weight.grad = None
    out = m.loss(torch.arange(len(y)), y, torch.arange(len(y)))
    out.loss.backward()
    return out, clf.weight.grad.clone()


def ce_grad(logits, y):
    return torch.softmax(logits, 1) - F.one_hot(y, logits.shape[1]).float()


# ------------------------------------------------------------------------------------------- forget-rate schedule


def test_forget_rate_schedule_by_hand():
    R = forget_rate_schedule(0.5, 10)
    assert [R(t) for t in (0, 1, 9, 10, 50)] == pytest.approx([0.0, 0.5 / 9, 0.5, 0.5, 0.5])
    assert R(4) == pytest.approx(4 / 9 * 0.5)
    # c = 2: the ramp reaches τ² at epoch T_k − 1, then jumps to τ (Co-teaching's definition)
    R2 = forget_rate_schedule(0.5, 5, exponent=2.0)
    assert [R2(t) for t in range(7)] == pytest.approx([0.0, 0.0625, 0.125, 0.1875, 0.25, 0.5, 0.5])


LOSSES = torch.tensor([0.3, 2.0, 0.1, 5.0, 1.0, 3.0, 0.2, 4.0])  # ascending: 2, 6, 0, 4 | 1, 5, 7, 3


@pytest.mark.parametrize("rate,sigua,good,bad", [
    (0.5, 1.0, [2, 6, 0, 4], [1, 5, 7, 3]),
    (0.5, 0.5, [2, 6, 0, 4], [1, 5]),       # the smallest of the large losses
    (0.5, 0.1, [2, 6, 0, 4], [1]),          # ⌊4·0.1⌋ = 0 → one
    (0.25, 1.0, [2, 6, 0, 4, 1, 5], [7, 3]),
    (0.0, 1.0, [2, 6, 0, 4, 1, 5, 7, 3], []),  # nothing forgotten: no ascent at all
])
def test_small_loss_split_by_hand(rate, sigua, good, bad):
    g, b = small_loss_split(LOSSES, rate, sigua)
    assert g.tolist() == good and b.tolist() == bad


# ------------------------------------------------------------------------------------------- Pumpout, small loss

LOGITS = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)) * 2
Y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])


@pytest.mark.parametrize("ascent", [True, False])
def test_small_loss_gradient_touches_only_the_selected_examples(ascent):
    gamma, tau = 0.3, 0.5
    cfg = dict(base="small_loss", tau=tau, forget_epochs=2, ascent=ascent)
    if ascent:
        cfg.update(gamma=gamma, sigua_rate=0.5)
    m, clf, prepared = make("pumpout", LOGITS, epoch=5, **cfg)
    assert prepared == {"tau": tau}
    out, grad = step(m, clf, Y)
    ce = F.cross_entropy(LOGITS, Y, reduction="none")
    order = torch.argsort(ce).tolist()
    good, bad, dropped = order[:4], order[4:6], order[6:]
    want_loss = ce[good].mean() - (gamma * ce[bad].mean() if ascent else 0.0)
    assert out.loss.item() == pytest.approx(want_loss.item(), rel=1e-6)
    g = ce_grad(LOGITS, Y)
    torch.testing.assert_close(grad[good], g[good] / 4)
    # the ascent goes against CE's gradient on the bad examples only; the rest of the large losses get nothing
    torch.testing.assert_close(grad[bad], -gamma * g[bad] / 2 if ascent else torch.zeros(2, 4))
    torch.testing.assert_close(grad[dropped], torch.zeros(2, 4))
    assert out.logs["ascent_frac"].item() == (0.25 if ascent else 0.0)
    assert out.logs["forget_rate"].item() == tau


def test_small_loss_epoch_zero_is_cross_entropy():
    m, clf, _ = make("pumpout", LOGITS, epoch=0, base="small_loss", tau=0.5, gamma=0.1)
    out, grad = step(m, clf, Y)
    assert out.loss.item() == pytest.approx(F.cross_entropy(LOGITS, Y).item(), rel=1e-6)
    torch.testing.assert_close(grad, ce_grad(LOGITS, Y) / 8)


@pytest.mark.parametrize("model,p,want", [
    ("uniform", 0.8, 0.8), ("symmetric", 0.5, 0.45), ("pair", 0.4, 0.4 * 4 / 10),
])
def test_tau_auto_is_the_expected_wrong_label_rate(model, p, want):
    pairs = [(9, 1), (2, 0), (4, 7), (3, 5)] if model == "pair" else None
    T = transition_matrix(model, p, 10, pairs=pairs)
    m, _, prepared = make("pumpout", torch.zeros(2, 10), T, base="small_loss", gamma=0.01)
    assert prepared["tau"] == pytest.approx(want) and m.tau == pytest.approx(want)


def test_tau_auto_needs_the_transition_matrix():
    with pytest.raises(LimitlabError, match="transition"):
        make("pumpout", LOGITS, None, base="small_loss", gamma=0.01)


# ------------------------------------------------------------------------------------------- Pumpout, backward


T2 = np.array([[0.8, 0.2], [0.3, 0.7]])  # T⁻¹ = [[1.4, −0.4], [−0.6, 1.6]]
# s = (0.9, 0.1), label 0: ℓ̄ = −1.4 log 0.9 + 0.4 log 0.1 < 0 (confident and right: BC 'rewards' it below 0)
# s = (0.2, 0.8), label 0: ℓ̄ = −1.4 log 0.2 + 0.4 log 0.8 > 0;  s = (0.5, 0.5), label 1: ℓ̄ = −1.0 log 0.5 > 0
BC_LOGITS = torch.log(torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]))
BC_Y = torch.tensor([0, 0, 1])
BC_HAND = [-1.4 * math.log(0.9) + 0.4 * math.log(0.1), -1.4 * math.log(0.2) + 0.4 * math.log(0.8),
           -(-0.6 + 1.6) * math.log(0.5)]


def bc_grad(i: int) -> torch.Tensor:
    """∂ℓ̄_i/∂a_i = Σ_k T⁻¹[y,k] s − T⁻¹[y] (softmax rule with target row T⁻¹[y], which sums to 1)."""
    Tinv = torch.tensor(np.linalg.inv(T2), dtype=torch.float32)
    s = torch.softmax(BC_LOGITS[i], 0)
    row = Tinv[BC_Y[i]]
    return row.sum() * s - row


@pytest.mark.parametrize("ascent,epoch,warm_up", [(False, 3, 0), (True, 3, 0), (True, 0, 1), (True, 1, 1)])
def test_backward_correction_and_pumpout_rule_by_hand(ascent, epoch, warm_up):
    gamma = 0.5
    cfg = dict(base="backward", ascent=ascent, warm_up=warm_up, **({"gamma": gamma} if ascent else {}))
    m, clf, prepared = make("pumpout", BC_LOGITS, T2, epoch=epoch, **cfg)
    assert prepared["transition_cond"] == pytest.approx(np.linalg.cond(T2))
    out, grad = step(m, clf, BC_Y)
    pumped = ascent and epoch >= warm_up
    weights = [-gamma if pumped else 1.0, 1.0, 1.0]  # only the example with ℓ̄ < 0 is pumped out
    assert out.loss.item() == pytest.approx(sum(w * v for w, v in zip(weights, BC_HAND)) / 3, rel=1e-5)
    for i, w in enumerate(weights):
        torch.testing.assert_close(grad[i], w * bc_grad(i) / 3, rtol=1e-5, atol=1e-6)
    assert out.logs["bc_negative_frac"].item() == pytest.approx(1 / 3)
    assert out.logs["ascent_frac"].item() == pytest.approx(1 / 3 if pumped else 0.0)


def test_backward_with_identity_is_cross_entropy():
    m, clf, _ = make("pumpout", LOGITS, np.eye(4), base="backward", gamma=1.0)
    out, grad = step(m, clf, Y)
    assert out.loss.item() == pytest.approx(F.cross_entropy(LOGITS, Y).item(), rel=1e-6)
    torch.testing.assert_close(grad, ce_grad(LOGITS, Y) / 8)


def test_near_singular_transition_is_refused_at_prepare():
    # uniform K = 10: cond(T) = 1 / (1 − pK/(K−1)): 90 at the paper's p = 0.89 (accepted and recorded) ...
    _, _, prepared = make("pumpout", torch.zeros(2, 10), transition_matrix("uniform", 0.89, 10),
                          base="backward", ascent=False)
    assert prepared["transition_cond"] == pytest.approx(1 / (1 - 0.89 * 10 / 9), rel=1e-6)
    # ... 9000 at p = 0.8999 and infinite at p = 0.9 (singular): refused with the field to change
    for p in (0.8999, 0.9):
        with pytest.raises(LimitlabError, match="max_cond") as exc:
            make("pumpout", torch.zeros(2, 10), transition_matrix("uniform", p, 10), base="backward",
                 ascent=False)
        assert "singular" in str(exc.value)
    make("pumpout", torch.zeros(2, 10), transition_matrix("uniform", 0.8999, 10), base="backward",
         ascent=False, max_cond=1e5)


def test_pumpout_state_round_trip():
    m, clf, _ = make("pumpout", BC_LOGITS, T2, base="backward", gamma=1.0)
    cls = REGISTRY["pumpout"]
    m2 = cls(m.cfg, nn.ModuleDict({"classifier": clf}), Context(num_classes=2))
    m2.load_state_dict(m.state_dict())
    torch.testing.assert_close(m2.T_inv, m.T_inv)
    with pytest.raises(RuntimeError, match="prepare"):
        cls(m.cfg, nn.ModuleDict({"classifier": clf}), Context(num_classes=2)).loss(torch.arange(3), BC_Y, None)


@pytest.mark.parametrize("bad,field", [
    (dict(base="small_loss"), "gamma"),                                     # ascent (default) needs γ
    (dict(base="small_loss", ascent=False, gamma=0.1), "gamma"),
    (dict(base="backward", gamma=1.0, sigua_rate=0.5), "sigua_rate"),
    (dict(base="small_loss", ascent=False, sigua_rate=0.5), "sigua_rate"),
    (dict(base="small_loss", gamma=[0.01, -1.0]), "gamma"),
    (dict(base="small_loss", gamma=0.01, sigua_rate=1.5), "sigua_rate"),
    (dict(base="small_loss", gamma=0.01, tau=1.0), "tau"),
    (dict(base="sideways", gamma=0.01), "base"),
])
def test_pumpout_config_rejects_conflicts(bad, field):
    with pytest.raises(ValueError, match=field):
        REGISTRY["pumpout"].Config(method="pumpout", **bad)


def test_pumpout_grid():
    cfg = REGISTRY["pumpout"].Config(method="pumpout", base="small_loss", gamma=[0.001, 0.01], sigua_rate=[0.3, 1.0])
    assert cfg.points() == [{"gamma": 0.001, "sigua_rate": 0.3}, {"gamma": 0.001, "sigua_rate": 1.0},
                            {"gamma": 0.01, "sigua_rate": 0.3}, {"gamma": 0.01, "sigua_rate": 1.0}]
    assert REGISTRY["pumpout"].Config(method="pumpout", base="backward", ascent=False).points() == [{}]


# ------------------------------------------------------------------------------------------- Gradient Rescaling


def test_gr_gradient_by_hand():
    # logits [0, ln 2, 0] → s = (1/4, 1/2, 1/4), label 1: p = 1/2; [ln 3, 0, 0] → s = (3/5, 1/5, 1/5), label 2: p = 1/5
    logits = torch.tensor([[0.0, math.log(2), 0.0], [math.log(3), 0.0, 0.0]])
    y = torch.tensor([1, 2])
    beta, lamb = 2.0, 1.0
    m, clf, _ = make("grad_rescale", logits, beta=beta, lamb=lamb)
    out, grad = step(m, clf, y)
    w = [math.exp(beta * 0.5 * 0.5), math.exp(beta * 0.2 * 0.8)]
    ce = [math.log(2), math.log(5)]
    assert out.loss.item() == pytest.approx((w[0] * ce[0] + w[1] * ce[1]) / sum(w), rel=1e-6)  # display value
    direction = [torch.tensor([0.25, -0.5, 0.25]), torch.tensor([0.6, 0.2, -0.8])]  # s − e_y
    for i, p in enumerate((0.5, 0.2)):
        torch.testing.assert_close(grad[i], w[i] / sum(w) * direction[i] / (2 * (1 - p) + 1e-6))


@pytest.mark.parametrize("beta,lamb", [(0.0, 0.0), (2.0, 0.0), (8.0, 0.5), (6.0, 1.0), (12.0, 3.0)])
def test_gr_weights_direction_and_magnitudes(beta, lamb):
    b, k = 64, 10
    logits = torch.randn(b, k, generator=torch.Generator().manual_seed(1)) * 3
    y = torch.randint(0, k, (b,), generator=torch.Generator().manual_seed(2))
    m, clf, _ = make("grad_rescale", logits, beta=beta, lamb=lamb)
    _, grad = step(m, clf, y)
    p = torch.softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    w = emphasis_weights(p, beta, lamb)
    assert w.sum().item() == pytest.approx(b, rel=1e-5)
    torch.testing.assert_close(w, b * torch.exp(beta * p**lamb * (1 - p)) / torch.exp(beta * p**lamb * (1 - p)).sum())
    # CE's direction per example, L1 magnitude w̃_i / B (so the batch's total is 1)
    cos = F.cosine_similarity(grad, ce_grad(logits, y), dim=1)
    torch.testing.assert_close(cos, torch.ones(b), rtol=0, atol=1e-5)
    l1 = grad.abs().sum(1)
    torch.testing.assert_close(l1, w / b * (2 * (1 - p)) / (2 * (1 - p) + 1e-6), rtol=1e-4, atol=1e-7)
    if beta == 0:
        torch.testing.assert_close(l1, torch.full((b,), 1 / b), rtol=1e-4, atol=1e-7)
    else:  # the emphasis really varies, and peaks where p^λ(1 − p) does
        assert l1.max() > 1.5 * l1.min()
        score = p**lamb * (1 - p)
        assert l1.argmax() == score.argmax()


def test_gr_beta_zero_is_not_cross_entropy():
    m, clf, _ = make("grad_rescale", LOGITS, beta=0.0, lamb=0.0)
    _, grad = step(m, clf, Y)
    assert not torch.allclose(grad, ce_grad(LOGITS, Y) / 8, atol=1e-4)


@pytest.mark.parametrize("bad", [dict(beta=-1.0, lamb=0.0), dict(beta=1.0, lamb=[0.5, -1.0]), dict(beta=1.0)])
def test_gr_config_rejects(bad):
    with pytest.raises(ValueError):
        REGISTRY["grad_rescale"].Config(method="grad_rescale", **bad)


# ------------------------------------------------------------------------------------------- params files


@pytest.mark.parametrize("path", ["params/paper/mnist.yaml", "params/paper/cifar10.yaml",
                                  "params/paper/cifar100.yaml", "params/related_mnist5k.yaml"])
def test_params_have_the_related_methods_and_specs_round_trip(path):
    exp = P.load(ROOT / path)
    methods = {(r.spec.study, r.spec.method.method) for r in runs_of(exp)}
    for study in exp.studies:
        assert {(study.id, "pumpout"), (study.id, "grad_rescale")} <= methods
    for run in runs_of(exp):
        if run.spec.method.method in ("pumpout", "grad_rescale"):
            assert load_spec(run.spec.model_dump_json()) == run.spec
