"""Where a run computes and how fast: the device, the seeds, and the one fast-path decision.

:func:`fast_paths` is the single place that decides channels-last memory format and bf16 autocast; training
(:func:`limitlab.training.loop.train`), evaluation (:func:`limitlab.evaluation.evaluate.evaluate`) and cleanlab's
fold models (:func:`limitlab.evaluation.cleanlab_detection.out_of_sample_probs`) all ask it, so a network is
evaluated in the layout it was trained in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from limitlab.errors import LimitlabError


def pick_device(name: str) -> torch.device:
    """``training.device``: 'auto' is CUDA when there is one, else the CPU; an explicit 'cuda' must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LimitlabError(f"training.device is {name!r} but CUDA is not available here (use 'auto' or 'cpu')")
    return dev


def seed_everything(seed: int) -> None:
    """Seed torch's global RNGs (init, dropout). The authors seeded only NumPy; we seed everything."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


@dataclass(frozen=True)
class FastPaths:
    """How a run's networks compute: channels-last memory format, bf16 autocast."""

    channels_last: bool
    autocast_bf16: bool

    def place(self, networks: nn.Module, device: torch.device) -> nn.Module:
        """Move ``networks`` to ``device`` (in place) and, with channels-last on, to that memory format."""
        networks = networks.to(device)
        if self.channels_last:
            networks = networks.to(memory_format=torch.channels_last)
        return networks


def fast_paths(training, arch: str, device: torch.device) -> FastPaths:
    """The fast paths of a run with training config ``training`` (``channels_last``, ``bf16``), network ``arch``.

    ======================  ===========================================  ==================================
    setting                 channels_last                                bf16 autocast
    ======================  ===========================================  ==================================
    'auto'                  on for convolutional nets (arch ≠ 'mlp4')    on for ResNets, on CUDA only
                            on any device
    true                    on                                           on CUDA only (never on the CPU)
    false                   off                                          off
    ======================  ===========================================  ==================================

    Channels-last convolutions are faster on the CPU too (2.3× for cnn4 on 2 cores, see docs/performance.md)
    and only change the order of floating-point sums; bf16 is off by default (the paper trained in fp32).
    """
    flag = training.channels_last
    channels_last = arch != "mlp4" if flag == "auto" else bool(flag)
    bf16 = training.bf16
    autocast = device.type == "cuda" and bool(arch.startswith("resnet") if bf16 == "auto" else bf16)
    return FastPaths(channels_last=channels_last, autocast_bf16=autocast)
