"""Pumpout (Han et al., arXiv 1809.11008 v1) / SIGUA (its v3): scaled gradient *ascent* on examples judged noisy.

One registry entry, two base methods, ascent on or off (so the ablation is four rows of one module):

``base: small_loss`` (MentorNet self-paced / one-network Co-teaching). Per-example CE losses ℓ_i of the batch,
sorted ascending. With the forget rate R(t) of epoch t (``forget_rate_schedule``: linspace(0, τ^c, T_k) for
t < T_k, τ afterwards) the ⌊(1 − R(t)) B⌋ smallest losses are *good*; of the remaining large losses the first
max(1, ⌊(B − good)·sigua_rate⌋) in sorted order are *bad*:

    L = mean_good ℓ − γ · mean_bad ℓ         (ascent: true; SIGUA_SL; sigua_rate = 1 is Pumpout v1's reading)
    L = mean_good ℓ                          (ascent: false; the plain small-loss baseline)

``base: backward`` (Patrini et al.'s backward correction with the known T, T[i, j] = P(ỹ = j | y = i)):

    ℓ̄_i = −Σ_k (T⁻¹)[ỹ_i, k] · log s_k(a_i)                                        (unbiased, can be < 0)
    L = (1/B) Σ_i w_i ℓ̄_i,  w_i = sg(1 if ℓ̄_i ≥ 0 else −γ)    (ascent: true; SIGUA_BC; plain BC for epochs < warm_up)
    L = (1/B) Σ_i ℓ̄_i                                          (ascent: false; plain BC)

The run's true T comes from its labels file (``Context.info['transition']``, put there by the training loop):
the methods assume it known, as in the released code. ``tau: auto`` = the expected fraction of wrong training
labels under T with balanced classes, 1 − tr(T)/K (= p for the paper's uniform noise, p(K−1)/K for symmetric,
p·#pairs/K for pair noise). Limitlab choices (docs/methods.md, "Methods"): with no large-loss example (R(t)·B < 1, e.g.
epoch 0) there is no ascent term (the released code divides 0 by 0 there); warm-up covers epochs < warm_up
(the code: ≤ warm_up); T with cond(T) > max_cond is refused at prepare time (uniform noise, K = 10:
cond = 1/(1 − pK/(K−1)), 9 at p = 0.8, 90 at p = 0.89, ∞ at p = 0.9).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from limitlab.torch_on_demand import torch
from limitlab.torch_on_demand import F
from pydantic import Field, model_validator

from limitlab.errors import LimitlabError
from limitlab.methods.base import Grid, Method, MethodConfig, StepOutput, register


def _values(v) -> list:
    return [] if v is None else v if isinstance(v, list) else [v]


class PumpoutConfig(MethodConfig):
    method: Literal["pumpout"]
    base: Literal["small_loss", "backward"] = Field(description="which examples count as bad: the large-loss "
                                                    "ones (small_loss) or those with a negative BC loss (backward)")
    ascent: bool = Field(True, description="scaled gradient ascent on the bad examples; false = the plain base")
    gamma: Grid | None = Field(None, description="ascent scale γ > 0 (SIGUA: 0.01 small_loss on MNIST/CIFAR "
                               "symmetric noise, 1.0 backward); required with ascent, refused without")
    sigua_rate: Grid | None = Field(None, description="small_loss + ascent: fraction of the large-loss examples "
                                    "that get the ascent, in (0, 1] (default 1 = Pumpout v1; SIGUA 0.3-0.7)")
    tau: float | Literal["auto"] = Field("auto", description="small_loss: final forget rate τ in [0, 1); 'auto' "
                                         "= the run's expected wrong-label rate 1 − tr(T)/K")
    forget_epochs: int = Field(10, gt=0, description="small_loss: T_k, epochs of the linear forget-rate ramp")
    forget_exponent: float = Field(1.0, gt=0, description="small_loss: c in linspace(0, τ^c, T_k)")
    warm_up: int = Field(0, ge=0, description="backward + ascent: epochs of plain BC before the ascent starts")
    max_cond: float = Field(1e3, gt=1, description="backward: refuse T whose condition number exceeds this")
    HYPERPARAMETERS = ("gamma", "sigua_rate")

    @model_validator(mode="after")
    def _consistent(self) -> "PumpoutConfig":
        if self.ascent and self.gamma is None:
            raise ValueError("ascent: true needs 'gamma' (the ascent scale; SIGUA uses 0.01 with base small_loss "
                             "and 1.0 with base backward)")
        if not self.ascent and self.gamma is not None:
            raise ValueError("'gamma' scales the ascent: it needs ascent: true")
        if self.sigua_rate is not None and (self.base != "small_loss" or not self.ascent):
            raise ValueError("'sigua_rate' only applies to base: small_loss with ascent: true")
        for g in _values(self.gamma):
            if g <= 0:
                raise ValueError(f"gamma={g} must be > 0")
        for r in _values(self.sigua_rate):
            if not 0 < r <= 1:
                raise ValueError(f"sigua_rate={r} must be in (0, 1]")
        if self.tau != "auto" and not 0 <= self.tau < 1:
            raise ValueError(f"tau={self.tau} must be in [0, 1) or 'auto'")
        return self


def forget_rate_schedule(tau: float, epochs_ramp: int, exponent: float = 1.0):
    """R(t): ``linspace(0, τ^c, T_k)[t]`` for t < T_k, τ afterwards (Co-teaching's drop-rate schedule)."""
    ramp = np.linspace(0.0, tau**exponent, epochs_ramp)
    return lambda epoch: float(ramp[epoch]) if epoch < epochs_ramp else float(tau)


def small_loss_split(losses: torch.Tensor, forget_rate: float, sigua_rate: float = 1.0):
    """Indices (into the batch) of the good examples and of the bad ones that get the ascent.

    good = the ⌊(1 − R)B⌋ smallest losses; bad = the first max(1, ⌊(B − good)·sigua_rate⌋) of the rest in
    ascending order (empty when every example is good).
    """
    order = torch.argsort(losses.detach(), stable=True)
    n_good = int((1.0 - forget_rate) * len(losses))
    n_forget = len(losses) - n_good
    n_bad = max(int(n_forget * sigua_rate), 1) if n_forget > 0 else 0
    return order[:n_good], order[n_good:n_good + n_bad]


def backward_corrected_losses(logits: torch.Tensor, y: torch.Tensor, T_inv: torch.Tensor) -> torch.Tensor:
    """ℓ̄_i = −Σ_k (T⁻¹)[ỹ_i, k] log s_k(a_i), in float32."""
    return -(T_inv[y] * F.log_softmax(logits.float(), dim=1)).sum(1)


@register
class Pumpout(Method):
    Config = PumpoutConfig

    def __init__(self, cfg, networks, ctx):
        super().__init__(cfg, networks, ctx)
        self.tau: float | None = None              # small_loss: resolved forget rate
        self.T_inv: torch.Tensor | None = None     # backward: inverse of the true transition matrix

    def prepare(self, predict_train, init_source=None):
        T = self.ctx.info.get("transition")
        if T is None:
            if self.cfg.base == "backward" or self.cfg.tau == "auto":
                raise LimitlabError(f"pumpout (base {self.cfg.base}) needs the run's transition matrix "
                                    "(Context.info['transition'], from the labels file); it is not available")
        else:
            T = np.asarray(T, dtype=np.float64)
        if self.cfg.base == "small_loss":
            self.tau = float(1.0 - np.trace(T) / len(T)) if self.cfg.tau == "auto" else float(self.cfg.tau)
            self.tau = min(max(self.tau, 0.0), 1.0)
            return {"tau": self.tau}
        cond = float(np.linalg.cond(T))
        if not np.isfinite(cond) or cond > self.cfg.max_cond:
            raise LimitlabError(
                f"pumpout (base backward): the transition matrix is (nearly) singular, cond(T) = {cond:.3g} > "
                f"max_cond = {self.cfg.max_cond:g}; backward correction needs T⁻¹ (uniform noise is singular "
                f"at p = (K−1)/K). Use base: small_loss for this setting, or raise max_cond in the method entry")
        self.T_inv = torch.as_tensor(np.linalg.inv(T), dtype=torch.float32, device=self.ctx.device)
        return {"transition_cond": cond}

    def forget_rate(self, epoch: int) -> float:
        return forget_rate_schedule(self.tau, self.cfg.forget_epochs, self.cfg.forget_exponent)(epoch)

    def loss(self, x, y, index):
        if (self.tau if self.cfg.base == "small_loss" else self.T_inv) is None:
            raise RuntimeError("Pumpout.prepare() must run before loss()")
        logits = self.classifier(x)
        ce = F.cross_entropy(logits.float(), y, reduction="none")
        logs = {"ce": ce.mean().detach()}
        if self.cfg.base == "small_loss":
            rate = self.forget_rate(self.ctx.epoch)
            good, bad = small_loss_split(ce, rate, self.cfg.sigua_rate or 1.0)
            loss = ce[good].mean()
            if self.cfg.ascent and len(bad):
                loss = loss - self.cfg.gamma * ce[bad].mean()
            logs["forget_rate"] = torch.tensor(rate, device=logits.device)
            logs["ascent_frac"] = torch.tensor(len(bad) / len(y) if self.cfg.ascent else 0.0, device=logits.device)
        else:
            with torch.autocast(logits.device.type, enabled=False):  # T⁻¹ has entries ~ cond(T): keep float32
                bc = backward_corrected_losses(logits, y, self.T_inv)
            negative = bc.detach() < 0
            weight = torch.ones_like(bc)
            if self.cfg.ascent and self.ctx.epoch >= self.cfg.warm_up:
                weight = torch.where(negative, -self.cfg.gamma, 1.0)
            loss = (weight * bc).mean()
            logs["ascent_frac"] = (weight < 0).float().mean()
            logs["bc_negative_frac"] = negative.float().mean()
        return StepOutput(loss, logits, logs)

    def state_dict(self):
        return {"tau": self.tau, "T_inv": None if self.T_inv is None else self.T_inv.cpu()}

    def load_state_dict(self, state):
        self.tau = state.get("tau")
        T_inv = state.get("T_inv")
        self.T_inv = None if T_inv is None else T_inv.to(self.ctx.device)
