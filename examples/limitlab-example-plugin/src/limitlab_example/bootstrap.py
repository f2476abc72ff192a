"""Soft bootstrapping (Reed et al., ICLR 2015 workshop, eq. 6).

The target mixes the given label with the model's own prediction: t = β·e_ỹ + (1 − β)·q, q = softmax(a) (held
fixed: no gradient through the target), and the loss is the cross-entropy ℓ = −Σ_k t_k log softmax_k(a). β = 1 is
plain cross-entropy; Reed et al. use β = 0.95 for the soft variant.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from limitlab.methods import Method, MethodConfig, StepOutput, register
from limitlab.methods.base import Grid
from limitlab.torch_on_demand import F


class BootstrapSoftConfig(MethodConfig):
    method: Literal["bootstrap_soft"]
    beta: Grid = 0.95  # weight of the given label in the target (a value or a grid)
    HYPERPARAMETERS = ("beta",)

    @field_validator("beta")
    @classmethod
    def _in_unit_interval(cls, v):
        for b in v if isinstance(v, list) else [v]:
            if not 0.0 <= b <= 1.0:
                raise ValueError(f"beta={b} must be in [0, 1] (the weight of the given label in the target)")
        return v


@register
class BootstrapSoft(Method):
    Config = BootstrapSoftConfig

    def loss(self, x, y, index):
        logits = self.classifier(x).float()
        log_p = logits.log_softmax(1)
        target = self.cfg.beta * F.one_hot(y, logits.shape[1]) + (1.0 - self.cfg.beta) * log_p.exp().detach()
        return StepOutput(-(target * log_p).sum(1).mean(), logits)
