"""Determinant-based mutual information loss L_DMI (Xu et al. 2019), as re-implemented by the LIMIT authors.

For a batch with one-hot noisy labels Y (B×K) and softmax outputs P = s(A) (B×K):

    ℓ_DMI = −log( |det(Yᵀ P)| + 0.001 )

without normalising YᵀP by B (normalising makes the determinant too small; the official code agrees). The
determinant is computed in float64: for K = 10–100 the product of K small pivots under- or overflows float32.

A batch that lacks some class (always the case for a last batch with fewer than K examples, e.g. CIFAR-100:
40,000 mod 256 = 64 < 100) gives YᵀP a zero row, so det = 0, ℓ = −log 0.001 ≈ 6.91 and the gradient is zero
(d|x|/dx at 0 is 0 in torch): such a batch contributes nothing. The learning rate is DMI's only hyperparameter
(the shared ``lr`` field; paper grid {1e-3, 1e-4, 1e-5, 1e-6}); it starts from the CE model (``init``).
"""

from __future__ import annotations

from typing import Literal

from limitlab.torch_on_demand import torch
from limitlab.torch_on_demand import F

from limitlab.methods.base import Method, MethodConfig, StepOutput, register


class DMIConfig(MethodConfig):
    method: Literal["dmi"]
    REQUIRES_INIT = True


def dmi_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−log(|det(onehot(y)ᵀ softmax(logits))| + 0.001), in float64, returned as float32."""
    p = torch.softmax(logits.double(), dim=1)
    onehot = F.one_hot(y, p.shape[1]).double()
    return (-torch.log(torch.linalg.det(onehot.T @ p).abs() + 0.001)).float()


@register
class DMI(Method):
    Config = DMIConfig

    def loss(self, x, y, index):
        logits = self.classifier(x)
        return StepOutput(dmi_loss(logits, y), logits)
