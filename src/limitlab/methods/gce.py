"""Generalized cross-entropy (Zhang & Sabuncu 2018): ℓ_q = (1 − s_ỹ(a)^q) / q, q ∈ (0, 1].

q → 0 recovers CE, q = 1 gives 1 − s_ỹ (half of MAE). Untruncated form, run inside the paper's Adam protocol.
"""

from __future__ import annotations

from typing import Literal

from limitlab.torch_on_demand import torch
from pydantic import Field, field_validator

from limitlab.methods.base import Grid, Method, MethodConfig, StepOutput, register


class GCEConfig(MethodConfig):
    method: Literal["gce"]
    q: Grid = Field(0.7, description="GCE exponent q, in (0, 1]: q -> 0 is CE, q = 1 half of MAE")
    HYPERPARAMETERS = ("q",)

    @field_validator("q")
    @classmethod
    def _q_range(cls, v):
        for q in v if isinstance(v, list) else [v]:
            if not 0 < q <= 1:
                raise ValueError(f"q={q} must be in (0, 1]")
        return v


@register
class GCE(Method):
    Config = GCEConfig

    def loss(self, x, y, index):
        logits = self.classifier(x)
        p_y = torch.softmax(logits.float(), dim=1).gather(1, y[:, None]).squeeze(1)
        q = self.cfg.q
        return StepOutput(((1.0 - p_y.clamp_min(1e-12) ** q) / q).mean(), logits)
