"""Instance-dependent ('part-dependent' / IDN) noise of Xia et al. 2020 (limitlab.data.noise.instance.corrupt_instance):
realised rate, dependence on the image, determinism, the labels artifact, params and CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from limitlab.data.labels_file import summarize, write_labels
from limitlab.data.noise.class_conditional import corrupt
from limitlab.data.noise.instance import corrupt_instance, draw_flip_rates, draw_projection, expected_flip_rate, instance_features, instance_flip_distributions
from limitlab.data.noise.transition import sample_rows, transition_matrix
from limitlab.experiment import params_file as P
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import all_settings
from limitlab.experiment.grid import runs_of

K = 10


def random_images(n: int, seed: int = 0, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """n random uint8 'images' (1 x size x size) with balanced labels: pixels carry no class signal, so every
    dependence of the noise on them comes from the generator."""
    rs = np.random.RandomState(seed)
    return rs.randint(0, 256, size=(n, 1, size, size)).astype(np.uint8), np.arange(n, dtype=np.int64) % K


def within_binomial(rate: float, p: float, n: int, sigmas: float = 4.0) -> bool:
    return abs(rate - p) <= sigmas * np.sqrt(p * (1 - p) / n) + 1e-12


@pytest.mark.parametrize("p", [0.2, 0.4, 0.6])
def test_realised_rate_is_p_within_sampling_error(p):
    x, y = random_images(25_000)
    labels = corrupt_instance(x, y, K, p=p, seed=3)
    n = len(labels.train_clean)
    realised = np.mean(labels.train_clean != labels.train_noisy)
    # the truncated normal's mean (what is drawn) ...
    assert within_binomial(realised, expected_flip_rate(p, 0.1), n)
    # ... is p itself up to the truncation at 0 (2 std away for p = 0.2: +0.0055)
    assert abs(expected_flip_rate(p, 0.1) - p) < 0.006
    summary = summarize(labels)
    assert summary["realised_noise_rate"]["train"] == pytest.approx(realised)
    assert summary["expected_noise_rate"]["train"] == pytest.approx(summary["instance_noise"]["flip_rate_train"]["mean"])


def test_flip_rates_are_truncated_normal_around_p():
    q = draw_flip_rates(np.random.RandomState(0), 0.4, 0.1, 100_000)
    assert q.min() >= 0 and q.max() <= 1
    assert abs(q.mean() - 0.4) < 0.002 and abs(q.std() - 0.1) < 0.002
    assert np.all(draw_flip_rates(np.random.RandomState(0), 0.3, 0.0, 5) == 0.3)
    assert expected_flip_rate(0.0, 0.1) == pytest.approx(0.1 * np.sqrt(2 / np.pi), rel=1e-6)  # half-normal


def test_flip_distribution_rows_follow_the_generator():
    x, y = random_images(500)
    rs = np.random.RandomState(1)
    q = draw_flip_rates(rs, 0.4, 0.1, len(y))
    W = draw_projection(rs, 64, K)
    rows = instance_flip_distributions(instance_features(x), y, q, W, chunk=37)
    assert np.allclose(rows.sum(1), 1) and np.all(rows >= 0)
    assert np.allclose(rows[np.arange(len(y)), y], 1 - q)  # keeps its label with probability 1 - q_i
    i = 7  # one example by hand: q_i softmax over the other classes of x_i^T W[y_i]
    s = x[i].reshape(-1).astype(float) @ W[y[i]]
    s[y[i]] = -np.inf
    want = q[i] * np.exp(s - s.max()) / np.exp(s - s.max()).sum()
    want[y[i]] = 1 - q[i]
    assert np.allclose(rows[i], want)


def test_same_image_same_flip_distribution_under_two_label_draws():
    """With one projection and one set of flip rates, two label-draw seeds give the same per-image rows; the
    rows of one class differ between images (the noise is not class-conditional)."""
    x, y = random_images(2_000)
    rs = np.random.RandomState(5)
    q = draw_flip_rates(rs, 0.4, 0.1, len(y))
    W = draw_projection(rs, 64, K)
    rows = instance_flip_distributions(instance_features(x), y, q, W)
    draws = [sample_rows(np.random.RandomState(s), rows) for s in (10, 11)]
    assert not np.array_equal(draws[0], draws[1])
    # where both draws flipped an image, they chose the same wrong class far more often than uniform would (1/9)
    both = (draws[0] != y) & (draws[1] != y)
    assert np.mean(draws[0][both] == draws[1][both]) > 0.9
    cls0 = rows[y == 0]
    # within one class the most likely wrong class moves with the image (class-conditional noise: one row)
    assert len(np.unique(cls0[:, 1:].argmax(axis=1))) >= 5


def test_wrong_class_is_predictable_from_the_image_but_not_under_uniform_noise():
    """A classifier that never sees W predicts, from the pixels, which wrong class a flipped image of class 0 got:
    far above chance (1/9) for instance noise, at chance for class-conditional uniform noise."""
    x, y = random_images(30_000, seed=2)

    def held_out_accuracy(labels):
        flipped = (labels.train_clean == 0) & (labels.train_noisy != 0)
        feats = instance_features(x[labels.train_index[flipped]]) / 255.0
        target = labels.train_noisy[flipped]
        half = len(target) // 2
        clf = LogisticRegression(max_iter=2000).fit(feats[:half], target[:half])
        return clf.score(feats[half:], target[half:]), len(target) - half

    acc_instance, n_test = held_out_accuracy(corrupt_instance(x, y, K, p=0.4, seed=0))
    acc_uniform, _ = held_out_accuracy(corrupt(y, transition_matrix("uniform", 0.4, K), seed=0))
    chance_sd = np.sqrt((1 / 9) * (8 / 9) / n_test)
    assert acc_instance > 1 / 9 + 10 * chance_sd, acc_instance
    assert abs(acc_uniform - 1 / 9) < 4 * chance_sd, acc_uniform


def test_flips_follow_the_per_example_rate():
    """Examples with high q_i flip more often than those with low q_i (q_i is per example, not per class)."""
    x, y = random_images(20_000)
    rs = np.random.RandomState(9)
    q = draw_flip_rates(rs, 0.4, 0.1, len(y))
    rows = instance_flip_distributions(instance_features(x), y, q, draw_projection(rs, 64, K))
    flipped = sample_rows(rs, rows) != y
    low, high = q < np.quantile(q, 0.25), q > np.quantile(q, 0.75)
    assert flipped[high].mean() - flipped[low].mean() > 0.15


def test_determinism_and_seed_dependence(tmp_path):
    x, y = random_images(3_000)
    a = corrupt_instance(x, y, K, p=0.4, seed=42, n=1000, dataset="toy")
    b = corrupt_instance(x, y, K, p=0.4, seed=42, n=1000, dataset="toy")
    c = corrupt_instance(x, y, K, p=0.4, seed=43, n=1000, dataset="toy")
    for k, v in a.arrays().items():
        assert np.array_equal(v, b.arrays()[k]), k
    assert not np.array_equal(a.train_noisy, c.train_noisy)
    np.random.seed(0)  # the global RNG plays no part
    d = corrupt_instance(x, y, K, p=0.4, seed=42, n=1000, dataset="toy")
    assert np.array_equal(a.train_noisy, d.train_noisy)
    for name, labels in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        write_labels(tmp_path / name / "labels.npz", labels)
    for f in ("labels.npz", "labels.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_transition_is_the_class_mean_of_the_rows_and_clean_validation():
    x, y = random_images(4_000)
    labels = corrupt_instance(x, y, K, p=0.4, seed=1, clean_validation=True)
    T = labels.transition
    assert np.allclose(T.sum(1), 1)
    assert np.mean(1 - T[labels.train_clean, labels.train_clean]) == pytest.approx(
        summarize(labels)["instance_noise"]["flip_rate_train"]["mean"])
    assert np.array_equal(labels.val_noisy, labels.val_clean)
    noisy_val = corrupt_instance(x, y, K, p=0.4, seed=1)
    assert np.array_equal(noisy_val.train_noisy, labels.train_noisy)  # same stream for the training labels


def test_bad_inputs_are_named():
    x, y = random_images(100)
    with pytest.raises(LimitlabError, match="flip_std"):
        corrupt_instance(x, y, K, p=0.4, seed=1, flip_std=-0.1)
    with pytest.raises(LimitlabError, match="outside"):
        corrupt_instance(x, y, K, p=1.2, seed=1)
    with pytest.raises(LimitlabError, match="99 images but 100 labels"):
        corrupt_instance(x[:99], y, K, p=0.4, seed=1)


def study(noise_block: dict, dataset: str = "mnist5k") -> dict:
    return {"name": "t", "studies": [{"id": "s", "dataset": {"name": dataset}, "noise": noise_block, "seeds": [1],
                                      "methods": [{"id": "ce", "method": "ce"}]}]}


def test_params_schema_and_setting_folder():
    exp = P.validate(study({"model": "instance", "p": [0.4]}))
    (path,) = all_settings(exp)
    assert path == "mnist5k/instance/p40/nall/s1"
    exp = P.validate(study({"model": "instance", "p": 0.4, "flip_std": 0.2}))
    assert list(all_settings(exp)) == ["mnist5k/instance-std0.2/p40/nall/s1"]
    with pytest.raises(LimitlabError, match="flip_std.*only used with model 'instance'"):
        P.validate(study({"model": "uniform", "p": [0.4], "flip_std": 0.2}))
    with pytest.raises(LimitlabError, match="p"):
        P.validate(study({"model": "instance"}))


@pytest.fixture(scope="module")
def mnist5k(tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "mnist5k.npz"
    assert main(["download", "--dataset", "mnist5k", "--out", str(out)]) == 0
    return out


def test_corrupt_cli_instance_on_mnist5k(mnist5k, tmp_path, capsys):
    out = tmp_path / "labels.npz"
    args = ["corrupt", "--dataset", "mnist5k", "--data", str(mnist5k), "--noise", "instance", "--p", "0.4",
            "--seed", "42", "--out", str(out)]
    assert main(args) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["noise"] == "instance" and summary["instance_noise"]["flip_std"] == 0.1
    assert within_binomial(summary["realised_noise_rate"]["train"], 0.4, 3200)
    counts = np.array(summary["transition_counts_train"])
    assert counts.shape == (K, K) and counts.sum() == 3200
    assert len(summary["realised_noise_rate_per_class"]["train"]) == K
    first = out.read_bytes()
    assert main(args) == 0 and out.read_bytes() == first
    capsys.readouterr()
    assert main(["corrupt", "--dataset", "mnist5k", "--data", str(mnist5k), "--noise", "uniform", "--p", "0.4",
                 "--flip-std", "0.2", "--seed", "1", "--out", str(out)]) == 2
    assert "--flip-std is only used with --noise instance" in capsys.readouterr().err
    assert main(["corrupt", "--dataset", "mnist5k", "--data", str(mnist5k), "--noise", "instance", "--seed", "1",
                 "--out", str(out)]) == 2
    assert "needs a rate" in capsys.readouterr().err


def test_bytes_do_not_depend_on_the_blas_thread_count():
    """The scores x^T W are summed without BLAS: a threaded matmul sums in another order and changed the
    stored transition matrix in its last bits (1e-215 entries), so labels.npz bytes depended on the threads."""
    from threadpoolctl import threadpool_limits

    x, y = random_images(4_000, size=28)
    arrays = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            arrays.append(corrupt_instance(x, y, K, p=0.4, seed=42).arrays())
    for k in arrays[0]:
        assert arrays[0][k].tobytes() == arrays[1][k].tobytes(), k


def test_a_dumped_experiment_validates_again():
    """model_dump writes every field (flip_std included): the dump of a uniform-noise study must validate."""
    exp = P.validate(study({"model": "uniform", "p": [0.4]}))
    again = P.validate(exp.model_dump(mode="json"))
    assert [r.key for r in runs_of(again)] == [r.key for r in runs_of(exp)]


# --- flip_std: the range where the truncated normal means something ------------------------------------------


@pytest.mark.parametrize("flip_std, shown", [("1e9", "1e+09"), ("1.5", "1.5"), ("1e-300", "1e-300"),
                                             ("-0.1", "-0.1"), ("nan", "nan"), ("inf", "inf")])
def test_corrupt_cli_refuses_a_flip_std_outside_the_model(mnist5k, tmp_path, capsys, flip_std, shown):
    """Above 1 the truncated normal on [0, 1] is flat whatever p (1e9: scipy warned and drew uniform rates);
    below 1e-6 there is no spread left and its bounds (0 - p) / flip_std overflow."""
    out = tmp_path / "labels.npz"
    args = ["corrupt", "--dataset", "mnist5k", "--data", str(mnist5k), "--noise", "instance", "--p", "0.4",
            "--seed", "42", "--flip-std", flip_std, "--out", str(out)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a raw scipy/numpy warning is a failure here
        assert main(args) == 2
    err = capsys.readouterr().err
    assert f"--flip-std = {shown}" in err and "0 (no spread" in err and "[1e-06, 1]" in err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_corrupt_instance_refuses_a_degenerate_flip_std():
    x, y = random_images(100)
    for flip_std in (1e9, 1.0000001, 1e-7, float("nan")):
        with pytest.raises(LimitlabError, match=r"flip_std = .* accepted: 0 \(no spread"):
            corrupt_instance(x, y, K, p=0.4, seed=1, flip_std=flip_std)
    with pytest.raises(LimitlabError, match=r"flip_std must be a number, got True; accepted: 0"):
        corrupt_instance(x, y, K, p=0.4, seed=1, flip_std=True)


@pytest.mark.parametrize("p", [0.0, 1e-12, 0.4, 0.9, float(np.nextafter(1.0, 0.0))])
def test_accepted_flip_stds_draw_without_numerical_warnings(p):
    """The accepted range's edges at every p that check_p accepts: no raw scipy/numpy warning, rates in [0, 1]."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for flip_std in (0.0, 1e-6, 1e-3, 0.1, 0.5, 1.0):
            rates = draw_flip_rates(np.random.RandomState(0), p, flip_std, 500)
            mean = expected_flip_rate(p, flip_std)
            assert np.all((rates >= 0) & (rates <= 1)) and 0 <= mean <= 1
