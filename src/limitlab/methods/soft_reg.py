"""Soft regularisation of the last layer's label information (paper eq. 8, the authors' PenalizeLastLayerFixedForm).

The classifier is split into features z = h_w(x) and a bias-free last layer a = W z. The CE gradient of W is
g = (s(a) − e_ỹ) zᵀ; a label-free Gaussian predictor of it with mean μ = (s(a) − s(b)) zᵀ, b = r_φ(x), gives
‖g − μ‖²_F = ‖z‖² ‖e_ỹ − s(b)‖² and ‖μ‖²_F = ‖z‖² ‖s(a) − s(b)‖². The objective per batch is

    L = (1/B) Σ_i −log s_ỹ(a_i)  +  λ (1/B) Σ_i ‖z_i‖² ‖e_ỹ_i − s(b_i)‖²  +  β (1/B) Σ_i ‖z_i‖² ‖s(a_i) − s(b_i)‖²

differentiated with respect to both networks (no stop-gradient anywhere): the classifier feels the penalty
through ‖z‖² and, in the β term, through s(a). Paper grids: λ ∈ {0.001, 0.01, 0.03, 0.1}, β ∈ {0, 0.01, 0.1, 1, 10}.
"""

from __future__ import annotations

from typing import Literal

from limitlab.torch_on_demand import torch
from limitlab.torch_on_demand import F

from pydantic import Field

from limitlab.methods.base import Grid, Method, MethodConfig, StepOutput, non_negative, register


class SoftRegConfig(MethodConfig):
    method: Literal["soft_reg"]
    lamb: Grid = Field(description="λ ≥ 0, weight of the label-information penalty (paper grid: 0.001, 0.01, 0.03, 0.1)")
    beta: Grid = Field(0.0, description="β ≥ 0, weight of the distance to the label-free predictor (paper grid: "
                                        "0, 0.01, 0.1, 1, 10)")
    HYPERPARAMETERS = ("lamb", "beta")

    _non_negative = non_negative("lamb", "beta")


@register
class SoftReg(Method):
    Config = SoftRegConfig
    uses_q = True
    head_bias = False  # a = W z, as in the authors' split of the MNIST classifier (paper eq. 8; docs/methods.md, "Methods")

    def loss(self, x, y, index):
        z = self.classifier.features(x).float()
        a = self.classifier.head(z)
        b = self.networks["q"](x)
        sa = torch.softmax(a.float(), dim=1)
        sb = torch.softmax(b.float(), dim=1)
        ce = F.cross_entropy(a.float(), y)
        z_sq = z.pow(2).sum(1)
        fit = (z_sq * (F.one_hot(y, sa.shape[1]).to(sb.dtype) - sb).pow(2).sum(1)).mean()
        norm = (z_sq * (sa - sb).pow(2).sum(1)).mean()
        total = ce + self.cfg.lamb * fit + self.cfg.beta * norm
        return StepOutput(total, a, {"ce": ce.detach(), "reg_fit": fit.detach(), "reg_norm": norm.detach()})
