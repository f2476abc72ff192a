"""A validation size of its own (``n_val``): nested validation sets over one training set, the default split where
it equals the held-out part, clear errors, and the corrupt stage and the grid that carry it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from limitlab.cli import main
from limitlab.data.noise.class_conditional import corrupt
from limitlab.data.noise.transition import transition_matrix
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from limitlab.experiment.grid import all_settings, runs_of
from limitlab.pipeline.plan import corrupt_args

from smoke_params import problem_of, smoke_with, uniform_study

LABELS = np.random.RandomState(0).randint(0, 10, 4000)  # a 4,000-image training file: 3,200 / 800 at val_ratio 0.2
T80 = transition_matrix("uniform", 0.8, 10)


def test_validation_sets_are_nested_and_the_training_set_stays():
    base = corrupt(LABELS, T80, seed=42, n=1000)
    sizes = {v: corrupt(LABELS, T80, seed=42, n=1000, n_val=v) for v in (200, 2000, 3000)}
    for v, got in sizes.items():
        assert len(got.val_index) == len(set(got.val_index)) == v and got.setting.n_val == v
        assert np.array_equal(got.train_index, base.train_index)  # the same 1,000 images ...
        assert np.array_equal(got.train_noisy, base.train_noisy)  # ... with the same noisy labels
        assert not set(got.val_index) & set(got.train_index)
        k = min(v, 800)
        assert np.array_equal(got.val_index[:k], base.val_index[:k])
        assert np.array_equal(got.val_noisy[:k], base.val_noisy[:k])
    assert np.array_equal(sizes[3000].val_index[:2000], sizes[2000].val_index)
    assert np.array_equal(sizes[3000].val_noisy[:2000], sizes[2000].val_noisy)


def test_the_held_out_size_is_the_default_split():
    base, same = corrupt(LABELS, T80, seed=42, n=1000), corrupt(LABELS, T80, seed=42, n=1000, n_val=800)
    assert same.setting == base.setting and same.setting.n_val is None
    for name, array in base.arrays().items():
        assert np.array_equal(array, same.arrays()[name]), name


@pytest.mark.parametrize("n, n_val, message", [
    (1000, 3001, "n_val = 3001 is larger than what the split leaves outside the training set (3000 of 4000 "
                 "examples at val_ratio 0.2, n = 1000); accepted: 1..3000"),
    (None, 801, "accepted: 1..800"),
    (1000, 0, "validation size n_val must be a positive integer, got 0"),
    (1000, 2.5, "must be a positive integer, got 2.5"),
])
def test_a_size_the_split_cannot_give_is_refused(n, n_val, message):
    with pytest.raises(LimitlabError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        corrupt(LABELS, T80, seed=42, n=n, n_val=n_val)


def sweep(**changes) -> dict:
    return smoke_with(studies={"uniform": uniform_study(**{"n": [1000], "n_val": [200, 800, 2000], **changes})})


def test_the_grid_makes_one_setting_per_size_and_800_is_the_default():
    exp = params_file.validate(sweep(), "sweep.yaml")
    folders = list(all_settings(exp))
    assert any("/uniform-nval200/" in f for f in folders) and any("/uniform-nval2000/" in f for f in folders)
    default = [s for _, (_, s) in all_settings(exp).items() if s.n_val is None]
    assert default and all("nval" not in s.folder for s in default)  # 800: the file without n_val's settings
    plain = params_file.validate(smoke_with(studies={"uniform": uniform_study(n=[1000])}), "plain.yaml")
    assert {r.identity for r in runs_of(plain)} <= {r.identity for r in runs_of(exp)}
    args = {corrupt_args(s) for _, (_, s) in all_settings(exp).items()}
    assert any("--n-val 2000" in a for a in args) and sum("--n-val" not in a for a in args) == len(default)


@pytest.mark.parametrize("changes, message", [
    ({"n_val": [4000]}, "n_val = [4000] is larger than what mnist5k leaves outside a training set of n = 1000 "
                        "(3000 of 4000 examples"),
    ({"n": ["all"], "n_val": [900]}, "leaves outside a training set of n = all (800 of 4000"),
    ({"n_val": [200, 200]}, "validation sizes [200, 200] contain duplicates"),
    ({"n_val": [0]}, "validation sizes [0] must be positive"),
])
def test_the_params_file_names_a_size_it_cannot_give(changes, message):
    assert message in problem_of(sweep(**changes))


def test_the_corrupt_cli_takes_n_val_and_records_it(tmp_path):
    data = tmp_path / "mnist5k.npz"
    assert main(["download", "--dataset", "mnist5k", "--out", str(data)]) == 0
    common = ["corrupt", "--dataset", "mnist5k", "--data", str(data), "--noise", "uniform", "--p", "0.8",
              "--n", "1000", "--seed", "42"]
    assert main([*common, "--n-val", "2000", "--out", str(tmp_path / "a.npz")]) == 0
    assert main([*common, "--out", str(tmp_path / "b.npz")]) == 0
    a, b = json.loads((tmp_path / "a.json").read_text()), json.loads((tmp_path / "b.json").read_text())
    assert a["n_val"] == 2000 and a["sizes"] == {"train": 1000, "val": 2000}
    assert "n_val" not in b and b["sizes"]["val"] == 800  # a summary without it reads as before
    assert main([*common, "--n-val", "many", "--out", str(tmp_path / "c.npz")]) == 2
