"""Noise models, split and corruption (limitlab.data.noise, limitlab.data.split, limitlab.data.labels_file): rates
within binomial tolerance, structure, determinism."""

from __future__ import annotations

import time

import numpy as np
import pytest

from limitlab.data.labels_file import NoisyLabels, summarize, write_labels
from limitlab.data.noise.class_conditional import corrupt, fixed_split
from limitlab.data.noise.transition import load_matrix, sample_noisy_labels, transition_matrix
from limitlab.data.split import split_indices
from limitlab.errors import LimitlabError

K = 10
N_RAW = 50_000  # CIFAR-sized raw training file → 40,000 train / 10,000 val
PAIRS = ((9, 1), (2, 0), (4, 7), (3, 5))


def balanced_labels(n: int = N_RAW, k: int = K) -> np.ndarray:
    return np.arange(n, dtype=np.int64) % k


def within_binomial(rate: float, p: float, n: int, sigmas: float = 4.0) -> bool:
    """|rate - p| within ``sigmas`` binomial standard deviations of a mean of n Bernoulli(p)."""
    return abs(rate - p) <= sigmas * np.sqrt(p * (1 - p) / n) + 1e-12


# --- transition matrices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.5, 0.8, 0.89])
def test_uniform_matrix_is_the_papers(p):
    T = transition_matrix("uniform", p, K)
    assert np.allclose(np.diag(T), 1 - p)
    off = T[~np.eye(K, dtype=bool)]
    assert np.allclose(off, p / (K - 1))
    assert np.allclose(T.sum(1), 1)


def test_symmetric_matrix_spreads_over_all_classes():
    T = transition_matrix("symmetric", 0.4, K)
    assert np.allclose(np.diag(T), 1 - 0.4 + 0.04)
    assert np.allclose(T[~np.eye(K, dtype=bool)], 0.04)
    assert np.allclose(T.sum(1), 1)


def test_pair_matrix_has_four_one_directional_flips():
    T = transition_matrix("pair", 0.3, K, pairs=PAIRS)
    expected = np.eye(K)
    for s, d in PAIRS:
        expected[s, s], expected[s, d] = 0.7, 0.3
    assert np.array_equal(T, expected)
    assert T[5, 3] == 0  # dog is not flipped to cat (unlike Patrini et al.)


def test_none_is_identity_and_matrix_is_passed_through():
    assert np.array_equal(transition_matrix("none", 0.0, K), np.eye(K))
    M = np.full((3, 3), 1 / 3)
    assert np.allclose(transition_matrix("matrix", 0.0, 3, matrix=M), M)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), "abc"])
def test_p_outside_unit_interval_is_rejected(p):
    with pytest.raises(LimitlabError, match=r"p .*\[0, 1\)"):
        transition_matrix("uniform", p, K)


def test_unknown_noise_model_lists_accepted():
    with pytest.raises(LimitlabError, match="unknown noise model 'asym'.*uniform, symmetric, pair, matrix, none"):
        transition_matrix("asym", 0.2, K)


def test_pair_without_pairs_is_rejected():
    with pytest.raises(LimitlabError, match="pair.*cifar10"):
        transition_matrix("pair", 0.2, K, pairs=None)


def test_none_with_positive_rate_is_rejected():
    with pytest.raises(LimitlabError, match="'none'.*p must be 0"):
        transition_matrix("none", 0.2, K)


def test_matrix_rows_must_sum_to_one():
    M = np.eye(3)
    M[1] = [0.5, 0.4, 0.0]
    with pytest.raises(LimitlabError, match=r"row 1 sums to 0\.9"):
        transition_matrix("matrix", 0.0, 3, matrix=M)


@pytest.mark.parametrize("M, msg", [
    (np.ones((2, 3)) / 3, "square"),
    (np.eye(4), "4 x 4 but the dataset has 3 classes"),
    (np.array([[1.5, -0.5, 0], [0, 1, 0], [0, 0, 1]]), "negative entry T\\[0,1\\]"),
    (None, "needs a transition matrix"),
])
def test_bad_matrices_are_rejected(M, msg):
    with pytest.raises(LimitlabError, match=msg):
        transition_matrix("matrix", 0.0, 3, matrix=M)


def test_matrix_files_in_three_formats(tmp_path):
    M = np.array([[0.7, 0.3, 0.0], [0.0, 0.7, 0.3], [0.3, 0.0, 0.7]])
    np.save(tmp_path / "m.npy", M)
    np.savetxt(tmp_path / "m.csv", M, delimiter=",")
    np.savetxt(tmp_path / "m.txt", M)
    for name in ("m.npy", "m.csv", "m.txt"):
        assert np.allclose(load_matrix(tmp_path / name, 3), M)
    (tmp_path / "m.json").write_text("[]")
    with pytest.raises(LimitlabError, match="accepted: .npy, .csv, .txt"):
        load_matrix(tmp_path / "m.json", 3)
    with pytest.raises(LimitlabError, match="does not exist"):
        load_matrix(tmp_path / "missing.npy", 3)


# --- split ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_raw, sizes", [(60_000, (48_000, 12_000)), (50_000, (40_000, 10_000)),
                                          (4_000, (3_200, 800))])
def test_split_sizes_disjoint_and_covering(n_raw, sizes):
    train, val = split_indices(n_raw, 0.2, None, 42)
    assert (len(train), len(val)) == sizes
    assert train.dtype == val.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n_raw))


def test_subset_n_is_drawn_from_the_training_split_and_keeps_validation():
    full_train, full_val = split_indices(N_RAW, 0.2, None, 7)
    train, val = split_indices(N_RAW, 0.2, 1000, 7)
    assert len(train) == 1000 and len(np.unique(train)) == 1000
    assert np.isin(train, full_train).all()
    assert np.array_equal(val, full_val)  # validation is not shrunk (docs/methods.md)


def test_n_larger_than_training_split_names_both_numbers():
    with pytest.raises(LimitlabError, match=r"n = 40001 .*40000"):
        split_indices(N_RAW, 0.2, 40_001, 0)


@pytest.mark.parametrize("n", [0, -5, "ten", 2.5])
def test_bad_n_is_rejected(n):
    with pytest.raises(LimitlabError, match="positive integer or 'all'"):
        split_indices(N_RAW, 0.2, n, 0)


@pytest.mark.parametrize("ratio", [0.0, 1.0, -0.2])
def test_bad_val_ratio_is_rejected(ratio):
    with pytest.raises(LimitlabError, match="val_ratio"):
        split_indices(N_RAW, ratio, None, 0)


def test_split_matches_the_documented_rng_stream():
    rs = np.random.RandomState(3)
    perm = rs.permutation(100)
    expected_train = rs.choice(perm[:80], 10, replace=False)
    train, val = split_indices(100, 0.2, 10, 3)
    assert np.array_equal(train, expected_train) and np.array_equal(val, perm[80:])


# --- corruption: realised rates and structure -----------------------------------------------------------------------


def run(model: str, p: float, seed: int = 0, **kw) -> NoisyLabels:
    T = transition_matrix(model, p, K, pairs=PAIRS if model == "pair" else None, matrix=kw.pop("matrix", None))
    return corrupt(balanced_labels(), T, seed=seed, noise=model, p=p, **kw)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8, 0.89])
def test_uniform_realised_rate_and_corrupted_labels_always_change_class(p):
    lab = run("uniform", p)
    n = len(lab.train_clean)
    rate = np.mean(lab.train_clean != lab.train_noisy)
    # the wrong-label fraction is p itself (not p(K-1)/K): a resampled label never equals the clean one
    assert within_binomial(rate, p, n)
    assert within_binomial(np.mean(lab.val_clean != lab.val_noisy), p, len(lab.val_clean))
    # among corrupted labels of one class, every other class is about equally likely (p/(K-1) each)
    counts = np.bincount(lab.train_clean * K + lab.train_noisy, minlength=K * K).reshape(K, K)
    per_class = np.bincount(lab.train_clean, minlength=K)
    for i in range(K):
        for j in range(K):
            q = (1 - p) if i == j else p / (K - 1)
            assert within_binomial(counts[i, j] / per_class[i], q, per_class[i]), (i, j)


def test_symmetric_may_keep_the_class():
    p = 0.5
    lab = run("symmetric", p)
    rate = np.mean(lab.train_clean != lab.train_noisy)
    assert within_binomial(rate, p * (K - 1) / K, len(lab.train_clean))
    assert not within_binomial(rate, p, len(lab.train_clean))  # clearly below p


@pytest.mark.parametrize("p", [0.1, 0.4])
def test_pair_flips_only_the_four_pairs(p):
    lab = run("pair", p)
    c, y = lab.train_clean, lab.train_noisy
    flipped = set(zip(c[c != y].tolist(), y[c != y].tolist()))
    assert flipped == set(PAIRS)
    for src, _ in PAIRS:
        m = c == src
        assert within_binomial(np.mean(y[m] != src), p, m.sum())
    others = ~np.isin(c, [s for s, _ in PAIRS])
    assert np.array_equal(c[others], y[others])
    assert within_binomial(np.mean(c != y), 0.4 * p, len(c))  # balanced classes: overall 0.4p


def test_matrix_model_follows_the_given_matrix():
    M = 0.7 * np.eye(K) + 0.3 * np.roll(np.eye(K), 1, axis=1)  # i -> i+1 with probability 0.3
    lab = run("matrix", 0.0, matrix=M)
    c, y = lab.train_clean, lab.train_noisy
    assert np.all((y == c) | (y == (c + 1) % K))
    assert within_binomial(np.mean(c != y), 0.3, len(c))


def test_sampling_never_returns_a_zero_probability_class():
    class FixedUniforms:  # stands in for RandomState: u at the extremes of [0, 1)
        def random_sample(self, size):
            return np.array([0.0, np.nextafter(1.0, 0.0), 0.5])[:size]

    T = np.zeros((4, 4))
    T[:, 1] = 1 / 3
    T[:, 2] = 2 / 3  # cumsum may end below 1.0 in floating point; classes 0 and 3 have probability 0
    noisy = sample_noisy_labels(FixedUniforms(), np.array([0, 3, 2]), T)
    assert set(noisy.tolist()) <= {1, 2}
    assert noisy.tolist() == [1, 2, 2]


def test_p_zero_keeps_every_label():
    lab = run("uniform", 0.0)
    assert np.array_equal(lab.train_clean, lab.train_noisy) and np.array_equal(lab.val_clean, lab.val_noisy)


def test_clean_validation_keeps_val_clean_and_train_draw_unchanged():
    noisy_val = run("uniform", 0.8, seed=5)
    clean_val = run("uniform", 0.8, seed=5, clean_validation=True)
    assert np.array_equal(clean_val.val_noisy, clean_val.val_clean)
    assert np.array_equal(clean_val.train_noisy, noisy_val.train_noisy)
    assert np.array_equal(clean_val.val_index, noisy_val.val_index)


def test_labels_out_of_range_of_matrix_are_rejected():
    with pytest.raises(LimitlabError, match="3 classes"):
        corrupt(np.array([0, 1, 5, 2]), np.eye(3), seed=0, val_ratio=0.5)


# --- determinism and independence of settings -----------------------------------------------------------------------


def test_draw_is_independent_of_other_settings_and_of_the_global_rng():
    alone = run("uniform", 0.5, seed=42)
    for p, seed in [(0.8, 43), (0.2, 42), (0.89, 1)]:  # "generate" other settings first
        run("uniform", p, seed=seed)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    again = run("uniform", 0.5, seed=42)
    assert np.array_equal(np.random.get_state()[1], state)  # the global RNG is never used
    for key, arr in alone.arrays().items():
        assert np.array_equal(arr, again.arrays()[key]), key
    other_seed = run("uniform", 0.5, seed=43)
    assert not np.array_equal(alone.train_index, other_seed.train_index)


def test_write_labels_is_byte_identical_and_time_free(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_labels(tmp_path / "a" / "labels.npz", run("pair", 0.3, seed=1))
    time.sleep(2.1)  # zip timestamps have 2 s resolution: a time-dependent file would now differ
    summary = write_labels(tmp_path / "b" / "labels.npz", run("pair", 0.3, seed=1))
    for name in ("labels.npz", "labels.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with np.load(tmp_path / "a" / "labels.npz", allow_pickle=False) as z:
        assert sorted(z.files) == ["train_clean", "train_index", "train_noisy", "transition", "val_clean",
                                   "val_index", "val_noisy"]
        assert all(z[k].dtype == np.int64 for k in z.files if k != "transition")
        assert z["transition"].dtype == np.float64 and z["transition"].shape == (K, K)
    assert summary["sizes"] == {"train": 40_000, "val": 10_000}
    counts = np.array(summary["transition_counts_train"])
    assert counts.sum() == 40_000 and np.count_nonzero(counts - np.diag(np.diag(counts))) == 4
    assert summary["realised_noise_rate_per_class"]["train"][5] == 0.0
    assert summary["expected_noise_rate"]["train"] == pytest.approx(0.12, abs=0.005)  # 0.4p on this sample


def test_fixed_split_for_real_noise():
    y = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=np.int64)
    lab = fixed_split(y, np.array([6, 7]), 10, seed=0)
    assert lab.train_index.tolist() == [0, 1, 2, 3, 4, 5] and lab.val_index.tolist() == [6, 7]
    assert (lab.train_clean == -1).all() and lab.train_noisy.tolist() == [3, 1, 4, 1, 5, 9]
    assert lab.val_clean.tolist() == lab.val_noisy.tolist() == [2, 6]
    summary = summarize(lab)
    assert summary["realised_noise_rate"] == {"train": None, "val": 0.0}
    sub = fixed_split(y, np.array([6, 7]), 10, seed=0, n=3)
    assert len(sub.train_index) == 3 and np.isin(sub.train_index, np.arange(6)).all()


def test_a_model_without_a_transition_matrix_is_an_error_never_the_identity(monkeypatch):
    """A model added to NOISE_MODELS but not dispatched used to fall through to the identity matrix: 0 % noise,
    exit 0 (`limitlab corrupt --noise flip_to_zero --p 0.3`)."""
    from limitlab.data.noise import transition

    monkeypatch.setattr(transition, "NOISE_MODELS", (*transition.NOISE_MODELS, "flip_to_zero"))
    for model in ("flip_to_zero", "instance", "file"):
        with pytest.raises(LimitlabError, match=f"noise model '{model}' has no class-conditional transition"):
            transition.transition_matrix(model, 0.3, 10)
    assert (transition.transition_matrix("none", 0.0, 3) == np.eye(3)).all()
