"""Mean absolute error on softmax outputs: ℓ = (1/B) Σ_i ‖e_{ỹ_i} − s(a_i)‖₁ = (1/B) Σ_i 2(1 − s_{ỹ_i}(a_i)).

Its logit gradient is the CE gradient scaled by 2 p_ỹ, which is tiny when p_ỹ ≈ 1/K (why MAE fails on CIFAR-100).
"""

from __future__ import annotations

from typing import Literal

from limitlab.torch_on_demand import torch

from limitlab.methods.base import Method, MethodConfig, StepOutput, register


class MAEConfig(MethodConfig):
    method: Literal["mae"]


@register
class MAE(Method):
    Config = MAEConfig

    def loss(self, x, y, index):
        logits = self.classifier(x)
        p_y = torch.softmax(logits.float(), dim=1).gather(1, y[:, None]).squeeze(1)
        return StepOutput((2.0 * (1.0 - p_y)).mean(), logits)
