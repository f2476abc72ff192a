"""Gradient Rescaling / emphasis regularisation (Wang et al., arXiv 1905.11233; IMAE is the case λ = 1).

Keep the direction of CE's logit gradient, drop its own per-example magnitude 2(1 − p_i) (the L1 norm of
s(a_i) − e_ỹ), and impose an emphasis weight that depends on p_i = s_ỹ(a_i):

    w_i = exp(β p_i^λ (1 − p_i)),     w̃_i = B w_i / Σ_j w_j   (sums to B),
    ∂L/∂a_i = (w̃_i / B) · (s(a_i) − e_ỹ_i) / (2(1 − p_i) + 1e-6),

so every example's L1 logit gradient is w_i/Σw and the batch's is 1. λ ≥ 0 sets where the emphasis peaks
(p = λ/(1 + λ): 0 = hard examples, 1 = p ≈ 0.5, larger = easier ones); β ≥ 0 its spread (β = 0: every example
the same magnitude — which is not CE). Weights are constants in the backward pass; autograd form
Σ_i sg(w_i/Σw / (2(1 − p_i) + 1e-6)) · CE_i. The reported loss is the reference's display value Σ w CE / Σ w.
"""

from __future__ import annotations

from typing import Literal

from limitlab.torch_on_demand import torch
from limitlab.torch_on_demand import F

from pydantic import Field

from limitlab.methods.base import Grid, Method, MethodConfig, StepOutput, non_negative, register


class GradRescaleConfig(MethodConfig):
    method: Literal["grad_rescale"]
    beta: Grid = Field(description="emphasis spread β ≥ 0 (released CIFAR-100 settings: 1-8)")
    lamb: Grid = Field(description="emphasis mode λ ≥ 0: the emphasis peaks at p = λ/(1 + λ) (0, 0.5, 1)")
    HYPERPARAMETERS = ("beta", "lamb")

    _non_negative = non_negative("beta", "lamb")


def emphasis_weights(p: torch.Tensor, beta: float, lamb: float) -> torch.Tensor:
    """w̃ = B·w/Σw with w_i = exp(β p_i^λ (1 − p_i)); sums to the batch size."""
    w = torch.exp(beta * p.pow(lamb) * (1.0 - p))
    return len(p) * w / w.sum()


@register
class GradRescale(Method):
    Config = GradRescaleConfig

    def loss(self, x, y, index):
        logits = self.classifier(x)
        ce = F.cross_entropy(logits.float(), y, reduction="none")
        p = torch.exp(-ce.detach())  # s_ỹ(a_i)
        w = emphasis_weights(p, self.cfg.beta, self.cfg.lamb)
        B = len(y)
        surrogate = ((w / B) / (2.0 * (1.0 - p) + 1e-6) * ce).sum()
        display = (w * ce).sum().detach() / w.sum()
        # value = the display loss, gradient = the surrogate's (the two differ only by constants)
        return StepOutput(display + surrogate - surrogate.detach(), logits, {"ce": ce.mean().detach()})
