"""CE + GN / CE + LN: cross-entropy with i.i.d. noise added to the logit gradient of the batch-mean loss.

    g̃_ik = (1/B)(s_k(a_i) − e_{ỹ_i,k}) + ε_ik,   ε ~ N(0, σ²)  (gaussian)  or  Laplace(0, σ/√2)  (laplace)

so both noise types have standard deviation σ. Implemented with the surrogate Σ_ik sg(ε_ik)·a_ik, whose
gradient with respect to the logits is exactly ε.
"""

from __future__ import annotations

import math
from typing import Literal

from limitlab.torch_on_demand import torch
from limitlab.torch_on_demand import F

from pydantic import Field

from limitlab.methods.base import Grid, Method, MethodConfig, StepOutput, register


class NoisyGradConfig(MethodConfig):
    method: Literal["noisy_grad"]
    noise: Literal["gaussian", "laplace"] = Field("gaussian", description="distribution of the logit-gradient "
                                                  "noise: gaussian (CE + GN) or laplace (CE + LN)")
    sigma: Grid = Field(0.1, description="standard deviation σ of the added noise (both distributions)")
    HYPERPARAMETERS = ("sigma",)


def sample_noise(kind: str, sigma: float, shape, generator, device) -> torch.Tensor:
    """Zero-mean noise of standard deviation ``sigma`` (Laplace scale b = σ/√2, by inverse CDF)."""
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, device=device) * sigma
    # torch.rand can return exactly 0 (p = 2^-24 per draw, ~10 times in a long run): u = -1/2 would make the
    # noise infinite, so u is kept inside (-1/2, 1/2); the largest |ε| is then b·log 2^24 ≈ 16.6 b.
    u = (torch.rand(shape, generator=generator, device=device) - 0.5).clamp_min(-0.5 + 2.0**-25)
    b = sigma / math.sqrt(2.0)
    return -b * torch.sign(u) * torch.log1p(-2.0 * u.abs())


@register
class NoisyGrad(Method):
    Config = NoisyGradConfig

    def loss(self, x, y, index):
        logits = self.classifier(x)
        eps = sample_noise(self.cfg.noise, self.cfg.sigma, logits.shape, self.ctx.generator, logits.device)
        ce = F.cross_entropy(logits.float(), y)
        return StepOutput(ce + (eps * logits.float()).sum(), logits, {"ce": ce.detach()})
