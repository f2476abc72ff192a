"""Unit tests of the training methods: values on hand-computed examples and the gradients they send to the logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from limitlab.methods import REGISTRY, Context
from limitlab.methods.fw import estimate_transition
from limitlab.methods.limit import sampling_std
from limitlab.methods.noisy_grad import sample_noise
from limitlab.training.networks import Net, mlp4


class Recorder(nn.Module):
    """Linear classifier that keeps its last logits (with retain_grad) so a test can read ∂loss/∂a."""

    def __init__(self, d: int, k: int, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.lin = nn.Linear(d, k)
        self.a: torch.Tensor | None = None

    def forward(self, x):
        a = self.lin(x)
        a.retain_grad()
        self.a = a
        return a


def make(name: str, networks: dict, k: int, seed: int = 0, epoch: int = 0, **cfg):
    cls = REGISTRY[name]
    ctx = Context(num_classes=k, epoch=epoch, generator=torch.Generator().manual_seed(seed))
    return cls(cls.Config(method=name, **cfg), nn.ModuleDict(networks), ctx)


def batch(b: int, d: int, k: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, d, generator=g), torch.randint(0, k, (b,), generator=g)


def noise_like(method, shape, kind, std):
    """The noise the method drew, regenerated from a copy of its generator's state before the step."""
    g = torch.Generator()
    g.set_state(method._state_before)
    return sample_noise(kind, std, shape, g, torch.device("cpu"))


def run_step(method, x, y):
    method._state_before = method.ctx.generator.get_state()
    out = method.loss(x, y, torch.arange(len(y)))
    out.loss.backward()
    return out


def check_noise(eps: torch.Tensor, kind: str, std: float) -> None:
    """Zero mean, the configured std, and the shape of the distribution via E|ε| (σ√(2/π) Gaussian, σ/√2 Laplace)."""
    n = eps.numel()
    assert abs(eps.mean().item()) < 5 * std / math.sqrt(n)
    assert eps.std().item() == pytest.approx(std, rel=0.02)
    mean_abs = std * math.sqrt(2 / math.pi) if kind == "gaussian" else std / math.sqrt(2)
    assert eps.abs().mean().item() == pytest.approx(mean_abs, rel=0.02)


# ------------------------------------------------------------------------------------------------ LIMIT


@pytest.mark.parametrize("q_dist", ["gaussian", "laplace"])
@pytest.mark.parametrize("grad_scale", ["sum", "mean"])
def test_limit_logit_gradient_is_predicted_gradient(q_dist, grad_scale):
    k, d, b = 5, 7, 16
    clf, q = Recorder(d, k, 0), Recorder(d, k, 1)
    m = make("limit", {"classifier": clf, "q": q}, k, q_dist=q_dist, beta=0.7, grad_scale=grad_scale)
    x, y = batch(b, d, k)
    run_step(m, x, y)
    scale = 1.0 if grad_scale == "sum" else 1.0 / b
    g_hat = torch.softmax(clf.a.detach(), 1) - torch.softmax(q.a.detach(), 1)
    torch.testing.assert_close(clf.a.grad, scale * g_hat, rtol=0, atol=1e-7)
    # the q-network's logits receive only the gradient of its own loss, which depends on the labels
    assert q.a.grad.abs().sum() > 0


@pytest.mark.parametrize("q_dist,lamb", [("gaussian", 50.0), ("laplace", 10.0)])
@pytest.mark.parametrize("grad_scale", ["sum", "mean"])
def test_limit_sampling_noise(q_dist, lamb, grad_scale):
    k, d, b = 10, 3, 20000
    clf, q = Recorder(d, k, 0), Recorder(d, k, 1)
    m = make("limit", {"classifier": clf, "q": q}, k, q_dist=q_dist, beta=1.0, sample=True, lamb=lamb,
             grad_scale=grad_scale)
    x, y = batch(b, d, k)
    run_step(m, x, y)
    scale = 1.0 if grad_scale == "sum" else 1.0 / b
    std = math.sqrt(1 / (2 * lamb)) if q_dist == "gaussian" else math.sqrt(2) / lamb
    assert sampling_std(q_dist, lamb) == pytest.approx(std, rel=1e-6)
    mu = torch.softmax(clf.a.detach(), 1) - torch.softmax(q.a.detach(), 1)
    eps = noise_like(m, mu.shape, q_dist, std)
    torch.testing.assert_close(clf.a.grad, scale * (mu + eps), rtol=1e-5, atol=1e-7)
    check_noise(clf.a.grad / scale - mu, q_dist, std)


@pytest.mark.parametrize("q_dist", ["gaussian", "laplace"])
def test_limit_q_loss_is_brier_or_mae_plus_beta_norm(q_dist):
    k, d, b, beta = 4, 6, 32, 0.3
    clf, q = Recorder(d, k, 0), Recorder(d, k, 1)
    m = make("limit", {"classifier": clf, "q": q}, k, q_dist=q_dist, beta=beta)
    x, y = batch(b, d, k)
    out = run_step(m, x, y)
    got = [p.grad.clone() for p in q.parameters()]

    sa = torch.softmax(clf.lin(x), 1).detach()
    sb = torch.softmax(q.lin(x), 1)
    onehot = F.one_hot(y, k).float()
    if q_dist == "gaussian":
        fit = ((sb - onehot) ** 2).sum(1).mean()  # Brier score of the q-network on the noisy labels
    else:
        fit = (2 * (1 - sb.gather(1, y[:, None]))).mean()  # ‖s(b) − e_y‖₁ = 2(1 − s_y(b))
    norm = ((sa - sb) ** 2).sum(1).mean()
    assert out.logs["q_fit"].item() == pytest.approx(fit.item(), rel=1e-5)
    assert out.logs["q_norm"].item() == pytest.approx(norm.item(), rel=1e-5)
    want = torch.autograd.grad(fit + beta * norm, list(q.lin.parameters()))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-7)


def _trajectory(name: str, labels: torch.Tensor, x: torch.Tensor, freeze_q: bool, steps: int = 4, **cfg):
    torch.manual_seed(0)
    nets = {"classifier": mlp4(5, in_features=x.shape[1])}
    if REGISTRY[name].uses_q:
        nets["q"] = mlp4(5, in_features=x.shape[1])
        if freeze_q:
            nets["q"].requires_grad_(False)
    m = make(name, nets, 5, **cfg)
    opt = torch.optim.Adam([p for p in m.networks.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        m.loss(x, labels, torch.arange(len(labels))).loss.backward()
        opt.step()
    return {k: v.clone() for k, v in m.classifier.state_dict().items()}


def _identical(s1, s2) -> bool:
    return all(torch.equal(s1[k], s2[k]) for k in s1)


@pytest.mark.parametrize("q_dist", ["gaussian", "laplace"])
def test_limit_classifier_never_sees_labels(q_dist):
    x, y = batch(64, 12, 5)
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    assert not torch.equal(y, shuffled)
    cfg = dict(q_dist=q_dist, beta=1.0, sample=True, lamb=50.0)
    # q-network frozen: the classifier's trajectory cannot depend on the labels at all (bitwise)
    assert _identical(_trajectory("limit", y, x, True, **cfg), _trajectory("limit", shuffled, x, True, **cfg))
    # controls: labels do reach it through a trained q-network, and directly with CE
    assert not _identical(_trajectory("limit", y, x, False, **cfg), _trajectory("limit", shuffled, x, False, **cfg))
    assert not _identical(_trajectory("ce", y, x, False), _trajectory("ce", shuffled, x, False))


def test_limit_warm_up_freezes_the_classifier():
    k, d = 4, 5
    clf, q = Recorder(d, k, 0), Recorder(d, k, 1)
    # detach: false would let β‖μ‖² reach the classifier; during warm-up nothing may
    m = make("limit", {"classifier": clf, "q": q}, k, beta=1.0, warm_up=1, detach=False, epoch=0)
    run_step(m, *batch(8, d, k))
    assert all(p.grad is None for p in clf.parameters())
    assert all(p.grad is not None for p in q.parameters())
    m.on_epoch_start(1)
    run_step(m, *batch(8, d, k))
    assert all(p.grad is not None for p in clf.parameters())


@pytest.mark.parametrize("bad", [dict(sample=True), dict(lamb=5.0), dict(beta=-1.0)])
def test_limit_config_rejects_conflicts(bad):
    with pytest.raises(ValueError):
        REGISTRY["limit"].Config(method="limit", **bad)


# ------------------------------------------------------------------------------------------------ CE + GN / LN


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_noisy_grad_logit_gradient(kind):
    k, d, b, sigma = 10, 3, 20000, 0.03
    clf = Recorder(d, k)
    m = make("noisy_grad", {"classifier": clf}, k, noise=kind, sigma=sigma)
    x, y = batch(b, d, k)
    run_step(m, x, y)
    ce_grad = (torch.softmax(clf.a.detach(), 1) - F.one_hot(y, k).float()) / b
    eps = noise_like(m, (b, k), kind, sigma)
    torch.testing.assert_close(clf.a.grad, ce_grad + eps, rtol=1e-5, atol=1e-8)
    check_noise(clf.a.grad - ce_grad, kind, sigma)


def test_laplace_noise_is_finite_when_rand_returns_zero(monkeypatch):
    # torch.rand returns exactly 0 about once in 2^24 draws; the inverse CDF must not turn it into ±inf
    monkeypatch.setattr(torch, "rand", lambda shape, **kw: torch.zeros(shape))
    eps = sample_noise("laplace", 0.1, (4,), None, torch.device("cpu"))
    assert torch.isfinite(eps).all() and (eps.abs() < 0.1 * 17).all()


# ------------------------------------------------------------------------------------------------ CE, MAE, GCE


def _fixed_classifier(logits: torch.Tensor) -> nn.Module:
    """A 'network' whose output on the inputs 0..B-1 is the given logits row."""
    emb = nn.Embedding.from_pretrained(logits.clone(), freeze=False)
    return emb


# logits [0, ln 2, 0] → s = (1/4, 1/2, 1/4); [ln 3, 0, 0] → s = (3/5, 1/5, 1/5); labels 1 and 2: p_y = 1/2, 1/5
HAND_LOGITS = torch.tensor([[0.0, math.log(2), 0.0], [math.log(3), 0.0, 0.0]])
HAND_Y = torch.tensor([1, 2])


@pytest.mark.parametrize("name,cfg,want", [
    ("ce", {}, (math.log(2) + math.log(5)) / 2),
    ("mae", {}, (2 * 0.5 + 2 * 0.8) / 2),
    ("gce", {"q": 0.7}, ((1 - 0.5 ** 0.7) + (1 - 0.2 ** 0.7)) / (2 * 0.7)),
    ("gce", {"q": 1.0}, ((1 - 0.5) + (1 - 0.2)) / 2),
])
def test_loss_values_by_hand(name, cfg, want):
    m = make(name, {"classifier": _fixed_classifier(HAND_LOGITS)}, 3, **cfg)
    out = m.loss(torch.arange(2), HAND_Y, torch.arange(2))
    assert out.loss.item() == pytest.approx(want, rel=1e-6)


# ------------------------------------------------------------------------------------------------ FW


def test_fw_estimator_recovers_transition_matrix():
    rs = np.random.RandomState(0)
    T = np.array([[0.7, 0.1, 0.1, 0.1], [0.2, 0.6, 0.1, 0.1], [0.05, 0.05, 0.8, 0.1], [0.1, 0.2, 0.2, 0.5]])
    k = len(T)
    clean = [rs.dirichlet(np.ones(k) * 0.5, size=800)]  # ordinary examples: mixtures, never a pure class
    for i in range(k):
        clean.append(np.tile(np.eye(k)[i], (5, 1)))  # anchor points of class i: P = T[i]
    probs = np.concatenate(clean) @ T
    # overconfident outliers (more than 3% per class), which the 97th-percentile filter must discard
    probs = np.concatenate([probs] + [np.tile(np.eye(k)[i], (40, 1)) for i in range(k)])
    probs = probs[rs.permutation(len(probs))]
    before = probs.copy()
    for inplace in (True, False):
        np.testing.assert_allclose(estimate_transition(probs, 97.0, inplace), T, atol=1e-12)
    np.testing.assert_array_equal(probs, before)  # the caller's matrix is untouched


def test_fw_estimator_inplace_quirk_by_hand():
    # N = 5 < 34, so the 97th percentile ('higher') is the column maximum: the top entry is zeroed, the 2nd wins
    P = np.array([[0.5, 0.45, 0.05], [0.4, 0.1, 0.5], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8], [0.3, 0.3, 0.4]])
    # class 0: row 0 (0.5) dropped → row 1; class 1: row 2 dropped → row 0, whose class-0 entry was zeroed in place;
    # class 2: row 3 dropped → row 1
    inplace = np.array([[0.4, 0.1, 0.5], [0.0, 0.45 / 0.5, 0.05 / 0.5], [0.4, 0.1, 0.5]])
    copied = np.array([[0.4, 0.1, 0.5], [0.5, 0.45, 0.05], [0.4, 0.1, 0.5]])
    np.testing.assert_allclose(estimate_transition(P, 97.0, inplace=True), inplace, atol=1e-12)
    np.testing.assert_allclose(estimate_transition(P, 97.0, inplace=False), copied, atol=1e-12)


def test_fw_loss_by_hand_and_state_round_trip():
    m = make("fw", {"classifier": _fixed_classifier(HAND_LOGITS)}, 3, init={"source": "ce"})
    T = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.0, 0.3, 0.7]])
    m.T = T
    out = m.loss(torch.arange(2), HAND_Y, torch.arange(2))
    # noisy-label probabilities s(a)ᵀT at the observed labels
    p1 = 0.25 * 0.1 + 0.5 * 0.7 + 0.25 * 0.3  # label 1
    p2 = 0.6 * 0.1 + 0.2 * 0.1 + 0.2 * 0.7  # label 2
    assert out.loss.item() == pytest.approx(-(math.log(p1) + math.log(p2)) / 2, rel=1e-6)
    m2 = make("fw", {"classifier": _fixed_classifier(HAND_LOGITS)}, 3, init={"source": "ce"})
    m2.load_state_dict(m.state_dict())
    assert torch.equal(m2.T, T)


def test_fw_prepare_estimates_from_the_classifier():
    logits = torch.randn(300, 4, generator=torch.Generator().manual_seed(0)) * 3
    m = make("fw", {"classifier": nn.Identity()}, 4, init={"source": "ce"})
    prepared = m.prepare(lambda net: net(logits))
    want = estimate_transition(torch.softmax(logits.double(), 1).numpy())
    np.testing.assert_allclose(np.array(prepared["transition"]), want, atol=1e-12)
    np.testing.assert_allclose(m.T.numpy(), want, atol=1e-6)


def test_fw_and_dmi_require_init():
    for name in ("fw", "dmi"):
        assert REGISTRY[name].Config.REQUIRES_INIT


# ------------------------------------------------------------------------------------------------ DMI


def test_dmi_loss_by_hand():
    logits = torch.tensor([[1.0, 0.0, -1.0], [0.0, 2.0, 0.0], [0.5, 0.5, 1.5], [-1.0, 0.0, 1.0], [2.0, 1.0, 0.0]])
    y = torch.tensor([0, 1, 2, 2, 1])
    e = np.exp(logits.numpy().astype(np.float64))
    p = e / e.sum(1, keepdims=True)
    M = np.zeros((3, 3))  # M[k, j] = Σ_{i: y_i = k} p_ij
    for i, label in enumerate(y.tolist()):
        M[label] += p[i]
    det = (M[0, 0] * M[1, 1] * M[2, 2] + M[0, 1] * M[1, 2] * M[2, 0] + M[0, 2] * M[1, 0] * M[2, 1]
           - M[0, 2] * M[1, 1] * M[2, 0] - M[0, 0] * M[1, 2] * M[2, 1] - M[0, 1] * M[1, 0] * M[2, 2])
    assert abs(det) > 0.01
    m = make("dmi", {"classifier": _fixed_classifier(logits)}, 3, init={"source": "ce"})
    out = m.loss(torch.arange(5), y, torch.arange(5))
    assert out.loss.item() == pytest.approx(-math.log(abs(det) + 0.001), rel=1e-6)


def test_dmi_batch_missing_a_class_gives_no_gradient():
    logits = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    clf = _fixed_classifier(logits)
    m = make("dmi", {"classifier": clf}, 4, init={"source": "ce"})
    out = m.loss(torch.arange(2), torch.tensor([0, 3]), torch.arange(2))
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-math.log(0.001), rel=1e-6)
    assert clf.weight.grad.abs().max().item() == 0.0


# ------------------------------------------------------------------------------------------------ soft reg.


def test_soft_reg_value_by_hand_and_gradients():
    W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
    V = torch.tensor([[0.2, 0.1], [-0.3, 0.4], [0.0, 0.0]])
    head = nn.Linear(2, 3, bias=False)
    q = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        head.weight.copy_(W)
        q.weight.copy_(V)
    clf = Net(nn.Identity(), head, "toy")  # z = x
    lamb, beta = 0.1, 2.0
    m = make("soft_reg", {"classifier": clf, "q": q}, 3, lamb=lamb, beta=beta)
    x = torch.tensor([[1.0, 2.0], [0.5, -1.0]])
    y = torch.tensor([0, 2])
    out = m.loss(x, y, torch.arange(2))

    def softmax(v):
        e = np.exp(v - v.max())
        return e / e.sum()

    want = 0.0
    for xi, yi in zip(x.numpy().astype(np.float64), y.tolist()):
        sa, sb = softmax(W.numpy() @ xi), softmax(V.numpy() @ xi)
        z2 = xi @ xi
        want += -np.log(sa[yi]) + lamb * z2 * ((np.eye(3)[yi] - sb) ** 2).sum() + beta * z2 * ((sa - sb) ** 2).sum()
    assert out.loss.item() == pytest.approx(want / 2, rel=1e-6)
    assert set(out.logs) == {"ce", "reg_fit", "reg_norm"}
    out.loss.backward()
    # no stop-gradient: the penalties reach both networks
    assert q.weight.grad.abs().sum() > 0
    m0 = make("soft_reg", {"classifier": clf, "q": q}, 3, lamb=0.0, beta=0.0)
    g_pen = head.weight.grad.clone()
    head.weight.grad = None
    m0.loss(x, y, torch.arange(2)).loss.backward()
    assert not torch.allclose(g_pen, head.weight.grad)


def test_soft_reg_needs_lamb_and_is_bias_free():
    with pytest.raises(ValueError, match="lamb"):
        REGISTRY["soft_reg"].Config(method="soft_reg")
    cfg = REGISTRY["soft_reg"].Config(method="soft_reg", lamb=[0.001, 0.01], beta=[0.0, 1.0])
    assert len(cfg.points()) == 4
    assert REGISTRY["soft_reg"].head_bias is False and REGISTRY["soft_reg"].uses_q
