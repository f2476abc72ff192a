"""The example plugin's own tests: its entries are registered through the entry points, draw / train as their
papers define them, and pass limitlab's contracts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from limitlab.data.noise.transition import NOISE_REGISTRY, sample_noisy_labels, transition_matrix
from limitlab.errors import LimitlabError
from limitlab.methods import REGISTRY


def test_both_entries_come_from_this_package():
    for registry, name in ((REGISTRY, "bootstrap_soft"), (NOISE_REGISTRY, "mnist_flips")):
        origin = registry.origin(name)
        assert origin.distribution == "limitlab-example-plugin" and not origin.builtin


def test_mnist_flips_is_patrinis_matrix_and_its_draw_is_seeded():
    T = transition_matrix("mnist_flips", 0.4, 10)
    for src, dst in ((2, 7), (3, 8), (5, 6), (6, 5), (7, 1)):
        assert T[src, dst] == pytest.approx(0.4) and T[src, src] == pytest.approx(0.6)
    assert np.allclose(T[[0, 1, 4, 8, 9]], np.eye(10)[[0, 1, 4, 8, 9]])
    clean = np.repeat(np.arange(10), 1000)
    noisy = sample_noisy_labels(np.random.RandomState(0), clean, T)
    assert (noisy == sample_noisy_labels(np.random.RandomState(0), clean, T)).all()
    assert abs((noisy != clean).mean() - 0.4 * 5 / 10) < 0.02  # five classes flip with p
    with pytest.raises(LimitlabError, match="10 digit classes"):
        transition_matrix("mnist_flips", 0.4, 3)


def test_bootstrap_soft_is_cross_entropy_at_beta_one():
    from limitlab.methods import Context

    cls = REGISTRY["bootstrap_soft"]
    net = torch.nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    for beta, expect_ce in ((1.0, True), (0.8, False)):
        method = cls(cls.Config(method="bootstrap_soft", beta=beta), torch.nn.ModuleDict({"classifier": net}),
                     Context(num_classes=3, generator=torch.Generator()))
        loss = method.loss(x, y, torch.arange(8)).loss
        ce = torch.nn.functional.cross_entropy(net(x), y)
        assert torch.isclose(loss, ce).item() is expect_ce
    with pytest.raises(ValueError, match="must be in"):
        cls.Config(method="bootstrap_soft", beta=1.5)
