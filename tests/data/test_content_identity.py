"""Content identities of a run's inputs, and the check that refuses inputs changed after labels.json was written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import tiny_data
from limitlab.data.content_identity import dataset_id, labels_ids, noise_id, verified_inputs
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import runs_of
from limitlab.io import load_npz, save_npz

CE = [{"id": "ce", "method": "ce"}]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("prepared") / "data"
    tiny_data.prepare(root, tiny_data.experiment(root, CE))
    return root


@pytest.fixture
def setting(prepared, tmp_path):
    shutil.copytree(prepared, tmp_path / "data")
    return runs_of(tiny_data.experiment(tmp_path / "data", CE))[0].spec


def test_noise_identity_is_about_content_not_container(setting, tmp_path):
    arrays = load_npz(setting.labels_path, "labels")
    as_int32 = {k: v.astype(np.int32) for k, v in arrays.items() if k != "transition"}
    assert noise_id(as_int32) == noise_id(arrays)  # dtype and the transition matrix do not count
    resaved = tmp_path / "resaved.npz"
    np.savez_compressed(resaved, **arrays)
    assert labels_ids(resaved)[1] == noise_id(arrays) and labels_ids(resaved)[0] != labels_ids(setting.labels_path)[0]
    flipped = dict(arrays, train_noisy=(arrays["train_noisy"] + 1) % 10)
    assert noise_id(flipped) != noise_id(arrays)
    summary = json.loads(setting.labels_path.with_suffix(".json").read_text())
    assert summary["noise_id"] == noise_id(arrays)  # labels.json shows it


def test_edited_labels_are_refused_with_the_file_and_what_changed(setting):
    ids = verified_inputs(setting.data_path, setting.labels_path)
    assert ids == {"dataset": dataset_id(setting.data_path), "noise": labels_ids(setting.labels_path)[1]}
    arrays = load_npz(setting.labels_path, "labels")
    save_npz(setting.labels_path, **dict(arrays, train_noisy=arrays["train_clean"]))  # noisy labels -> clean
    with pytest.raises(LimitlabError) as err:
        verified_inputs(setting.data_path, setting.labels_path)
    message = str(err.value)
    assert str(setting.labels_path) in message and "another noise realisation" in message
    assert "labels.json" in message and "corrupt" in message


def test_a_changed_dataset_is_refused(setting):
    summary_path = setting.labels_path.with_suffix(".json")
    summary = json.loads(summary_path.read_text())
    summary["dataset_id"] = dataset_id(setting.data_path)  # what `limitlab corrupt` records
    summary_path.write_text(json.dumps(summary))
    verified_inputs(setting.data_path, setting.labels_path)
    arrays = load_npz(setting.data_path, "dataset")
    arrays["train_x"] = arrays["train_x"].copy()
    arrays["train_x"][0] = 255 - arrays["train_x"][0]  # pixels replaced
    save_npz(setting.data_path, **arrays)
    with pytest.raises(LimitlabError, match=f"dataset file {setting.data_path} is not the one the labels"):
        verified_inputs(setting.data_path, setting.labels_path)


def test_labels_without_a_summary_are_identified_not_checked(setting, tmp_path):
    fold = tmp_path / "fold" / "labels.npz"
    fold.parent.mkdir()
    fold.write_bytes(setting.labels_path.read_bytes())
    assert verified_inputs(setting.data_path, fold)["noise"] == labels_ids(setting.labels_path)[1]
