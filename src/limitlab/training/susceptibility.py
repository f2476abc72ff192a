"""Susceptibility to noisy labels (Forouzesh, Sedghi & Thiran, ICLR 2023) and its model selection.

Probe set S̃ (limitlab's choice): the validation *inputs* of the run's split with labels drawn uniformly over
all K classes, once, from a generator seeded from the run seed (never the test set). At the start of epoch t,
from the current weights W_t and optimizer state, on ONE mini-batch B̃_t of S̃ (chosen from (seed, t), so a
resumed run draws the same batches):

    Φ̃(W_t)        CE of the classifier on B̃_t (train mode; the logits of the method's own forward pass)
    W̃_{t+1}       one step of the method's own update rule: method.loss on B̃_t with the random labels,
                  backward, optimizer.step()
    Δ_t = Φ̃(W_t) − Φ̃(W̃_{t+1})     how much a single step fits random labels
    ζ(t) = mean(Δ_0, …, Δ_t)        susceptibility (high = prone to memorising noisy labels)

then weights, BatchNorm statistics, optimizer state, the method's state and every RNG state are restored, so
training is bitwise unaffected. History columns: ``susceptibility_delta`` (Δ_t), ``susceptibility`` (ζ(t)).

Model selection (the authors' README): over a pool of trained models, split at the pool's mean training
accuracy (noisy labels) and mean ζ into Region 1 (accuracy ≥ mean, ζ ≤ mean: trainable and resistant),
2 (≥, >), 3 (<, ≤) and 4 (<, >); pick Region 1, inside it the highest training accuracy (our tie-break). If
Region 1 is empty (possible with few models) we take the least susceptible model among those with training
accuracy ≥ the mean (our fallback). Inclusive bounds make a one-model pool select its model.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from limitlab.experiment.paths import SUSCEPTIBILITY_DELTA as DELTA, SUSCEPTIBILITY_ZETA as ZETA
from limitlab.torch_on_demand import F, torch

if TYPE_CHECKING:
    from limitlab.training.batches import Split

SALT = 0x5C5  # separates the probe's random streams from the run's other uses of its seed


@dataclass
class Probe:
    """The random-label probe set of one run and the batch size of its per-epoch step."""

    split: Split       # (or FileSplit) validation inputs; ``noisy`` holds the random labels, ``clean`` the true ones
    batch_size: int
    seed: int

    @classmethod
    def from_validation(cls, val: Split, num_classes: int, seed: int, batch_size: int) -> "Probe":
        rng = np.random.default_rng((seed, SALT))
        labels = torch.as_tensor(rng.integers(0, num_classes, len(val)), dtype=torch.long, device=val.noisy.device)
        return cls(dataclasses.replace(val, noisy=labels), batch_size, seed)

    def batch(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(inputs, random labels, dataset indices) of epoch ``epoch``'s probe batch, training augmentation on."""
        rng = np.random.default_rng((self.seed, SALT, epoch))
        device = self.split.noisy.device
        order = torch.as_tensor(rng.permutation(len(self.split))[:self.batch_size], device=device)
        gen = torch.Generator(device=device)
        gen.manual_seed(int(rng.integers(2**62)))
        x, pos = next(self.split.iterate(order, self.batch_size, True, gen))
        return x, self.split.noisy[pos], self.split.index[pos]

    def delta(self, method, optimizer: torch.optim.Optimizer, epoch: int, autocast: bool = False) -> float:
        """Δ_t of the method's current state; everything the step touches is restored afterwards."""
        x, y, index = self.batch(epoch)
        return one_step_delta(method, optimizer, x, y, index, autocast)


def one_step_delta(method, optimizer, x, y, index, autocast: bool = False) -> float:
    """Φ̃ before − Φ̃ after one step of ``method`` on (x, y), with the run's state restored afterwards."""
    saved = _snapshot(method, optimizer)
    device = x.device
    try:
        method.networks.train()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = method.loss(x, y, index)
        before = F.cross_entropy(out.logits.detach().float(), y)
        if out.loss.requires_grad:  # a fully frozen model has nothing to step
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            optimizer.step()
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            after = F.cross_entropy(method.classifier(x).float(), y)
        return float(before - after)
    finally:
        _restore(method, optimizer, saved)


def _snapshot(method, optimizer) -> dict:
    device = next(method.networks.parameters()).device
    return {
        "tensors": [t.detach().clone() for t in method.networks.state_dict().values()],  # weights + BN buffers
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "method": copy.deepcopy(method.state_dict()),
        "generator": None if method.ctx.generator is None else method.ctx.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
    }


def _restore(method, optimizer, saved: dict) -> None:
    with torch.no_grad():
        for t, s in zip(method.networks.state_dict().values(), saved["tensors"]):
            t.copy_(s)  # state_dict() tensors share storage with the parameters and buffers
    optimizer.load_state_dict(saved["optimizer"])
    optimizer.zero_grad(set_to_none=True)
    method.load_state_dict(saved["method"])
    if saved["generator"] is not None:
        method.ctx.generator.set_state(saved["generator"])
    torch.set_rng_state(saved["torch_rng"])
    if saved["cuda_rng"] is not None:
        torch.cuda.set_rng_state(saved["cuda_rng"], next(method.networks.parameters()).device)


def history_columns(history: list[dict], delta: float) -> dict[str, float]:
    """The epoch's Δ_t and ζ(t) = mean of Δ over this and every earlier epoch of ``history``."""
    deltas = [r[DELTA] for r in history if DELTA in r] + [delta]
    return {DELTA: delta, ZETA: float(np.mean(deltas))}
