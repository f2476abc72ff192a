"""Content identities of a run's inputs, and the check that refuses inputs changed after labels.json was written."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import tiny_data
from limitlab.data.content_identity import dataset_id, labels_ids, noise_id, verified_inputs
from limitlab.errors import InputRefused, LimitlabError
from limitlab.experiment.grid import runs_of
from limitlab.io import load_npz, save_npz, sha256_file

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
    # edited after the download stage wrote it: its own record says so, whichever stage reads it first
    with pytest.raises(InputRefused, match=f"dataset file {setting.data_path} changed after the download stage"):
        verified_inputs(setting.data_path, setting.labels_path)
    meta_path = setting.data_path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["npz_sha256"] = sha256_file(setting.data_path)  # another dataset downloaded in its place
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InputRefused, match=f"dataset file {setting.data_path} is not the one the labels") as info:
        verified_inputs(setting.data_path, setting.labels_path)
    assert info.value.cause == "dataset file changed" and "download stage writes it again" in info.value.fix


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "no arrays"])
def test_a_damaged_labels_file_is_refused_not_a_traceback(setting, damage):
    path = setting.labels_path
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        save_npz(path, other=np.zeros(3))
    with pytest.raises(InputRefused, match=f"labels file {path}") as info:
        verified_inputs(setting.data_path, path)
    assert info.value.cause == "labels file damaged" and "corrupt stage draws it again" in info.value.fix


def test_a_noise_file_is_keyed_on_its_content_not_its_name(tmp_path):
    from limitlab.data.content_identity import source_file_id, sources_tag

    a, b = tmp_path / "a" / "t2.csv", tmp_path / "b" / "t2.csv"
    for path, label in ((a, 1), (b, 2)):
        path.parent.mkdir()
        path.write_text(f"index,noisy_label\n0,{label}\n")
    assert source_file_id(tmp_path / "missing.csv") is None
    tags = {sources_tag({"noise_file": source_file_id(p)}) for p in (a, b)}
    assert len(tags) == 2  # same file name, other content: other folders
    b.write_text(a.read_text())
    assert sources_tag({"noise_file": source_file_id(b)}) == sources_tag({"noise_file": source_file_id(a)})


def test_labels_without_a_summary_are_identified_not_checked(setting, tmp_path):
    fold = tmp_path / "fold" / "labels.npz"
    fold.parent.mkdir()
    fold.write_bytes(setting.labels_path.read_bytes())
    assert verified_inputs(setting.data_path, fold)["noise"] == labels_ids(setting.labels_path)[1]
