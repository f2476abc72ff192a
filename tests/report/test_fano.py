"""Theorem 1's per-example Fano bound against the closed-form points of docs/methods.md ("Fano bound")."""

from __future__ import annotations

import numpy as np
import pytest

from limitlab.report.figures.fano import GRID, binary_entropy, fano_curve, fano_error_bound, label_entropy

STEP = GRID[1] - GRID[0]  # the solver's resolution (~0.001)


def test_label_entropy_of_uniform_noise():
    assert label_entropy(0.8, 10) == pytest.approx(3.258, abs=5e-4)
    assert label_entropy(0.0, 10) == 0.0
    assert label_entropy(0.9, 10) == pytest.approx(np.log2(10))  # uniform over all 10 classes


@pytest.mark.parametrize("info, expected", [(0.0, 0.80), (0.5, 0.558), (1.0, 0.405), (2.0, 0.182)])
def test_closed_form_points(info, expected):
    assert fano_error_bound(info, 0.8, 10) == pytest.approx(expected, abs=STEP + 5e-4)


@pytest.mark.parametrize("p", [0.2, 0.4, 0.6, 0.8, 0.89])
def test_zero_information_gives_the_noise_rate(p):
    assert fano_error_bound(0.0, p, 10) == pytest.approx(p, abs=STEP)


def test_bound_satisfies_the_inequality_and_is_the_smallest_grid_point():
    K, p = 10, 0.6
    for info in (0.3, 1.1, 2.0):
        r0 = fano_error_bound(info, p, K)
        need = label_entropy(p, K) - info
        assert r0 * np.log2(K - 1) + binary_entropy(r0) >= need
        prev = r0 - STEP
        assert prev < GRID[0] or prev * np.log2(K - 1) + binary_entropy(prev) < need


def test_curve_decreases_from_p_to_the_grid_floor():
    info, bound = fano_curve(0.4, K=10)
    assert info[0] == 0 and info[-1] == pytest.approx(label_entropy(0.4, 10))
    assert np.all(np.diff(bound) <= 1e-12)
    assert bound[0] == pytest.approx(0.4, abs=STEP) and bound[-1] == pytest.approx(GRID[0])
    assert np.allclose(fano_error_bound(info[:5], 0.4), bound[:5])  # vectorised == elementwise


def test_needs_more_than_two_classes():
    with pytest.raises(ValueError):
        fano_error_bound(0.0, 0.2, K=2)
