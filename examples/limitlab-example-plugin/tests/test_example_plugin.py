"""The example plugin's own tests: its entries are registered through the entry points, draw / train / build as
their sources define them, and pass limitlab's contracts (tests/extending/limitlab_contracts.py of limitlab)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from limitlab.data.noise.transition import NOISE_REGISTRY, sample_noisy_labels, transition_matrix
from limitlab.data.registry import DATASET_REGISTRY
from limitlab.errors import LimitlabError
from limitlab.methods import REGISTRY

# limitlab's contract checks: beside this example in limitlab's repository (a plugin elsewhere copies the file)
CONTRACTS = Path(__file__).resolve().parents[3] / "tests" / "extending"


def test_all_entries_come_from_this_package():
    for registry, name in ((REGISTRY, "bootstrap_soft"), (NOISE_REGISTRY, "mnist_flips"),
                           (DATASET_REGISTRY, "sk_digits")):
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


def test_sk_digits_is_scikit_learns_digits_with_the_documented_split(tmp_path):
    from sklearn.datasets import load_digits

    from limitlab.data.download import download
    from limitlab.data.registry import BuildContext
    from limitlab_example import sk_digits

    arrays, source = DATASET_REGISTRY["sk_digits"].build(BuildContext(sk_digits.INFO, tmp_path))
    digits = load_digits()
    test = np.zeros(len(digits.target), dtype=bool)
    rs = np.random.RandomState(0)  # the split as the module's docstring states it, written out again
    for c in range(10):
        members = np.flatnonzero(digits.target == c)
        test[members[rs.permutation(len(members))[:36]]] = True
    assert np.bincount(arrays["test_y"]).tolist() == [36] * 10 and len(arrays["train_y"]) == 1_437
    assert (arrays["train_y"] == digits.target[~test]).all() and (arrays["test_y"] == digits.target[test]).all()
    pixels = np.round(digits.images * 255 / 16).astype(np.uint8)[:, None]
    assert (arrays["train_x"] == pixels[~test]).all() and (arrays["test_x"] == pixels[test]).all()
    assert arrays["train_x"].max() == 255 and source["loader"] == "sklearn.datasets.load_digits"
    train = arrays["train_x"] / 255.0
    assert sk_digits.MEAN == pytest.approx((train.mean(),), abs=1e-4)
    assert sk_digits.STD == pytest.approx((train.std(),), abs=1e-4)
    out = download("sk_digits", tmp_path / "raw", tmp_path / "sk_digits.npz")  # what the pipeline's stage does
    assert out.is_file() and out.with_suffix(".json").is_file()


def test_sk_digits_keeps_limitlabs_dataset_contracts(tmp_path):
    if not (CONTRACTS / "limitlab_contracts.py").is_file():
        pytest.skip(f"limitlab's contract checks are not at {CONTRACTS} (copy limitlab_contracts.py beside this file)")
    sys.path.insert(0, str(CONTRACTS))
    from limitlab_contracts import check_dataset

    data = check_dataset("sk_digits", tmp_path)
    assert data.train_x.shape == (1_437, 1, 8, 8) and data.test_x.shape == (360, 1, 8, 8)
