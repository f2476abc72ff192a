"""Forward correction (Patrini et al. 2017) with the 'perfect example' estimate of the transition matrix.

Before epoch 0 the selected CE model of the same setting (complete, BatchNorm running statistics included,
whatever ``init.state`` copies into the classifier) predicts softmax probabilities P̂ (N×K) on the training
inputs. For each class i, entries of column i at or above its 97th percentile t_i are zeroed (outliers), the 'perfect example' is n_i = argmax_n P̂[n, i], and row i of the
estimate is T̂[i, :] = P̂[n_i, :]; T̂ is then row-normalised. Training minimises

    ℓ_FW = (1/B) Σ_i −log( Σ_k s̄_k(a_i) T̂[k, ỹ_i] ),   s̄ = clip(s(a), 1e-10, 1 − 1e-10),

i.e. the cross-entropy of the predicted noisy-label distribution s(a)ᵀT̂. Validation and test use argmax a.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
from limitlab.torch_on_demand import torch
from pydantic import Field

from limitlab.methods.base import Method, MethodConfig, StepOutput, register


class FWConfig(MethodConfig):
    method: Literal["fw"]
    percentile: float = Field(97.0, gt=0, le=100, description="outlier threshold of the perfect-example estimator")
    filter_inplace: bool = Field(
        True, description="zero the outliers of column i in the shared probability matrix, so rows picked for "
        "later classes read the zeroed values (the quirk of the authors' and Patrini et al.'s code); false filters "
        "a copy of each column")
    REQUIRES_INIT = True


def estimate_transition(probs: np.ndarray, percentile: float = 97.0, inplace: bool = True) -> np.ndarray:
    """Row-normalised 'perfect example' estimate T̂ (K×K) from predicted probabilities ``probs`` (N×K).

    ``inplace`` reproduces the original quirk: the outlier filter overwrites column i of the working matrix,
    so a row picked for a later class can contain zeros. The caller's array is never modified.
    """
    work = np.array(probs, dtype=np.float64, copy=True)
    K = work.shape[1]
    T = np.empty((K, K))
    for i in range(K):
        col = work[:, i] if inplace else work[:, i].copy()  # a view writes through to `work`
        threshold = np.percentile(col, percentile, method="higher")
        col[col >= threshold] = 0.0
        T[i] = work[np.argmax(col)]
    return T / T.sum(axis=1, keepdims=True)


@register
class FW(Method):
    Config = FWConfig

    def __init__(self, cfg, networks, ctx):
        super().__init__(cfg, networks, ctx)
        self.T: torch.Tensor | None = None

    def prepare(self, predict_train, init_source=None):
        # T̂ comes from the complete selected CE model (BatchNorm running statistics included), as the authors
        # load it for the estimate, even when init.state copies only its parameters into the classifier
        estimator = self.classifier
        if init_source is not None:
            estimator = copy.deepcopy(self.classifier)
            estimator.load_state_dict(init_source)
        probs = torch.softmax(predict_train(estimator).double(), dim=1).cpu().numpy()
        T = estimate_transition(probs, self.cfg.percentile, self.cfg.filter_inplace)
        self.T = torch.as_tensor(T, dtype=torch.float32, device=self.ctx.device)
        return {"transition": T.tolist()}

    def loss(self, x, y, index):
        logits = self.classifier(x)
        s = torch.softmax(logits.float(), dim=1).clamp(1e-10, 1 - 1e-10)
        with torch.autocast(s.device.type, enabled=False):  # in float32: a bf16 matmul keeps ~3 digits
            noisy = (s @ self.T).gather(1, y[:, None]).squeeze(1)  # predicted probability of the observed label
        return StepOutput(-torch.log(noisy).mean(), logits)

    def state_dict(self):
        return {"T": None if self.T is None else self.T.cpu()}

    def load_state_dict(self, state):
        self.T = None if state.get("T") is None else state["T"].to(self.ctx.device)
