"""LIMIT (Harutyunyan et al. 2020): train the classifier with logit gradients predicted without labels.

For example i with classifier logits a_i = f_w(x_i) and q-network logits b_i = r_φ(x_i):

    μ_i = sg(s(a_i)) − s(b_i)                 predicted logit gradient (no label)
    ξ_i = sg(s(a_i)) − e_{ỹ_i}                cross-entropy logit gradient (uses the label)
    ĝ_i = μ_i               (−S)   or   μ_i + ε_i  (+S; ε ~ N(0, 1/(2λ)) or Laplace(0, 1/λ) per coordinate)

The classifier's backward pass starts from ∂L/∂a_i := sg(ĝ_i) (surrogate Σ_i ⟨sg(ĝ_i), a_i⟩; no 1/B, as in the
authors' code, unless ``grad_scale: mean``). The q-network minimises

    L_q = (1/B) Σ_i D(ξ_i, μ_i) + β (1/B) Σ_i ‖μ_i‖²,   D = ‖ξ−μ‖² (gaussian q, LIMIT_G) or ‖ξ−μ‖₁ (laplace, LIMIT_L).

Since ξ − μ = s(b) − e_ỹ, the q-network is a Brier/MAE classifier of the noisy labels pulled toward the
classifier by β; the classifier is distilled from it and never sees a label.
"""

from __future__ import annotations

import math
from typing import Literal

from limitlab.torch_on_demand import torch
from limitlab.torch_on_demand import F
from pydantic import Field, model_validator

from limitlab.methods.base import Grid, Method, MethodConfig, StepOutput, non_negative, register
from limitlab.methods.noisy_grad import sample_noise


class LimitConfig(MethodConfig):
    method: Literal["limit"]
    q_dist: Literal["gaussian", "laplace"] = Field(
        "gaussian", description="the q-network's distance: gaussian (squared, LIMIT_G) or laplace (L1, LIMIT_L)")
    beta: Grid = Field(0.0, description="β ≥ 0, weight of the norm of the predicted gradient in the q-network's loss")
    sample: bool = Field(False, description="add noise to the predicted gradient (LIMIT + S); needs 'lamb'")
    lamb: Grid | None = Field(None, description="sampling precision λ with sample: true (paper grids: G 5, 50, 500, "
                                                "5000; L 5, 10, 30, 100)")
    grad_scale: Literal["sum", "mean"] = Field(
        "sum", description="per-example gradients summed over the batch (sum, the authors' code) or averaged (mean)")
    detach: bool = Field(True, description="stop-gradients on the classifier's softmax (false: never used by "
                                           "the paper)")
    warm_up: int = Field(0, description="epochs with the classifier frozen while the q-network trains (paper: 0)")
    HYPERPARAMETERS = ("beta", "lamb")
    INIT_TARGETS = ("q", "classifier")

    _non_negative = non_negative("beta")

    @model_validator(mode="after")
    def _sampling_needs_lambda(self) -> "LimitConfig":
        if self.sample and self.lamb is None:
            raise ValueError("sample: true needs 'lamb' (the sampling precision λ; paper grid G {5,50,500,5000}, "
                             "L {5,10,30,100})")
        if not self.sample and self.lamb is not None:
            raise ValueError("'lamb' only sets the sampling noise: it needs sample: true")
        return self


def sampling_std(q_dist: str, lamb: float) -> float:
    """Std of the sampling noise: gaussian σ = √(1/(2(λ+1e-12))); laplace √2·b with b = 1/(λ+1e-6)."""
    if q_dist == "gaussian":
        return math.sqrt(1.0 / (2.0 * (lamb + 1e-12)))
    return math.sqrt(2.0) / (lamb + 1e-6)


@register
class Limit(Method):
    Config = LimitConfig
    uses_q = True

    def loss(self, x, y, index):
        cfg = self.cfg
        a = self.classifier(x)
        b = self.networks["q"](x)
        warming_up = self.ctx.epoch < cfg.warm_up  # classifier frozen: no gradient may reach it, not even via β
        sa_live = torch.softmax(a.float(), dim=1)
        sa = sa_live.detach() if cfg.detach or warming_up else sa_live
        sb = torch.softmax(b.float(), dim=1)
        onehot = F.one_hot(y, sa.shape[1]).to(sa.dtype)
        mu = sa - sb
        xi = sa - onehot
        diff = xi - mu
        fit = (diff.pow(2) if cfg.q_dist == "gaussian" else diff.abs()).sum(1).mean()
        norm = mu.pow(2).sum(1).mean()
        loss_q = fit + cfg.beta * norm
        g = mu.detach()
        if cfg.sample:
            g = g + sample_noise(cfg.q_dist, sampling_std(cfg.q_dist, cfg.lamb), g.shape, self.ctx.generator, g.device)
        scale = 1.0 if cfg.grad_scale == "sum" else 1.0 / a.shape[0]
        total = loss_q
        if not warming_up:
            total = total + scale * (g * a.float()).sum()
        return StepOutput(total, a, {"q_fit": fit.detach(), "q_norm": norm.detach(),
                                      "ce": F.cross_entropy(a.float().detach(), y)})
