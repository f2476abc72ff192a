"""Bootstrap error bars: same numbers as a slow per-resample loop, 1/√N scaling, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from limitlab import io
from limitlab.evaluation.bootstrap import bootstrap_accuracy
from limitlab.cli import main


def reference(correct: np.ndarray, samples: int, seed: int, ci: float) -> dict:
    """The obvious loop: one resample at a time from the same generator."""
    rng = np.random.default_rng(seed)
    accs = []
    for _ in range(samples):
        idx = rng.integers(0, len(correct), size=len(correct))
        accs.append(sum(bool(correct[i]) for i in idx) / len(correct))
    accs = np.array(accs)
    mean = sum(accs) / samples
    std = (sum((a - mean) ** 2 for a in accs) / samples) ** 0.5  # ddof = 0
    return {"mean": mean, "std": std, "ci_low": np.percentile(accs, 100 * (1 - ci) / 2),
            "ci_high": np.percentile(accs, 100 * (1 + ci) / 2)}


@pytest.mark.parametrize("n, seed", [(37, 0), (100, 5)])
def test_matches_a_slow_loop_with_the_same_draws(n, seed):
    correct = np.random.default_rng(123).random(n) < 0.7
    fast = bootstrap_accuracy(correct, samples=300, seed=seed, ci=0.9)
    slow = reference(correct, 300, seed, 0.9)
    for k, v in slow.items():
        assert fast[k] == pytest.approx(v, abs=1e-12), k
    assert fast["accuracy"] == pytest.approx(correct.mean())
    assert (fast["samples"], fast["seed"], fast["n"], fast["ci"]) == (300, seed, n, 0.9)


def test_std_shrinks_like_one_over_sqrt_n():
    rng = np.random.default_rng(0)
    small = bootstrap_accuracy(rng.random(100) < 0.7, samples=2000, seed=1)["std"]
    large = bootstrap_accuracy(rng.random(10_000) < 0.7, samples=2000, seed=1)["std"]
    assert small / large == pytest.approx(10, rel=0.12)
    assert small == pytest.approx(np.sqrt(0.7 * 0.3 / 100), rel=0.15)  # binomial std of an accuracy


def test_seed_controls_the_draws():
    correct = np.arange(50) % 3 == 0
    a, b, c = (bootstrap_accuracy(correct, 200, s) for s in (0, 0, 1))
    assert a == b and a["std"] != c["std"]


def test_percentile_interval_covers_the_accuracy():
    correct = np.random.default_rng(2).random(500) < 0.8
    r = bootstrap_accuracy(correct, 1000, 0, ci=0.95)
    assert r["ci_low"] < r["accuracy"] < r["ci_high"]


def test_cli_writes_json(tmp_path, capsys):
    logits = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1, 2, 3, 0, 1]]
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 0, 1, 1])  # 8 of 10 correct
    pred = io.save_npz(tmp_path / "predictions.npz", logits=logits, labels=labels, index=np.arange(10))
    out = tmp_path / "eval" / "bootstrap.json"
    assert main(["bootstrap", "--predictions", str(pred), "--samples", "500", "--seed", "3",
                 "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["accuracy"] == pytest.approx(0.8)
    assert r["samples"] == 500 and r["seed"] == 3 and r["ci"] == 0.95
    assert r == {**bootstrap_accuracy(logits.argmax(1) == labels, 500, 3), "predictions": str(pred)}
    assert "0.8000" in capsys.readouterr().out


def test_cli_missing_predictions_is_a_clear_error(tmp_path, capsys):
    assert main(["bootstrap", "--predictions", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "b.json")]) == 2
    assert "nope.npz does not exist" in capsys.readouterr().err
