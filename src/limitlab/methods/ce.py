"""Cross-entropy: ℓ = (1/B) Σ_i −log s_{ỹ_i}(a_i); logit gradient per example s(a_i) − e_{ỹ_i}."""

from __future__ import annotations

from typing import Literal

from limitlab.torch_on_demand import F

from limitlab.methods.base import Method, MethodConfig, StepOutput, register


class CEConfig(MethodConfig):
    method: Literal["ce"]


@register
class CE(Method):
    Config = CEConfig

    def loss(self, x, y, index):
        logits = self.classifier(x)
        return StepOutput(F.cross_entropy(logits.float(), y), logits)
