"""The asymmetric MNIST label flips of Patrini et al. (CVPR 2017, section 5): 2→7, 3→8, 5↔6 and 7→1, each with
probability p; every other class keeps its label. T[src, dst] = p, T[src, src] = 1 − p, other rows identity.
Defined for 10 classes (digits)."""

from __future__ import annotations

import numpy as np

from limitlab.data.noise.transition import register_noise_model
from limitlab.errors import LimitlabError

FLIPS = ((2, 7), (3, 8), (5, 6), (6, 5), (7, 1))


@register_noise_model("mnist_flips", "Patrini et al. (CVPR 2017) asymmetric MNIST flips 2->7, 3->8, 5<->6, 7->1 with "
                      "probability p (other classes keep their label; expected wrong-label fraction p/2 on balanced "
                      "digits)")
def mnist_flips(p: float, num_classes: int, pairs=None) -> np.ndarray:
    if num_classes != 10:
        raise LimitlabError(f"noise model 'mnist_flips' is defined for the 10 digit classes, not {num_classes}")
    T = np.eye(10)
    for src, dst in FLIPS:
        T[src, src], T[src, dst] = 1.0 - p, p
    return T
