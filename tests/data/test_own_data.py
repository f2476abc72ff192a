"""Your own data: an image folder or an .npz given by path, imported, checked, identified and trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from limitlab.data import registry
from limitlab.data.canonical import load_canonical, metadata_path
from limitlab.data.content_identity import dataset_id, source_id, verified_dataset
from limitlab.data.download import download
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file as P
from limitlab.experiment.grid import all_settings, runs_of
from limitlab.io import sha256_file
from limitlab.pipeline import plan

CLASSES = ("cat", "dog", "emu")


@pytest.fixture(autouse=True)
def _registry():
    """Own datasets register themselves when loaded: each test starts without them again."""
    before = dict(registry.OWN_DATASETS)
    yield
    registry.OWN_DATASETS.clear()
    registry.OWN_DATASETS.update(before)


def pixels(seed: int, size=(8, 8), channels: int = 1) -> np.ndarray:
    shape = size if channels == 1 else (*size, channels)
    return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


def image_folder(root: Path, classes=CLASSES, per_split=None, size=(8, 8), channels: int = 1) -> Path:
    """root/train/<class>/<i>.png (3 per class) and root/test/<class>/<i>.png (2 per class) of random pixels."""
    per_split = per_split or {"train": 3, "test": 2}
    seed = 0
    for split, count in per_split.items():
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                seed += 1
                Image.fromarray(pixels(seed, size, channels)).save(root / split / c / f"{i}.png")
    return root


def npz_source(path: Path, k: int = 3, hwc: bool = True, **override) -> Path:
    """An own .npz: RGB 8×8 images (N, H, W, C), 4 train and 2 test images per class, class names."""
    rs = np.random.RandomState(0)
    train_y, test_y = np.repeat(np.arange(k), 4), np.repeat(np.arange(k), 2)
    x = lambda n: rs.randint(0, 256, (n, 8, 8, 3) if hwc else (n, 3, 8, 8)).astype(np.uint8)  # noqa: E731
    arrays = {"train_x": x(len(train_y)), "train_y": train_y, "test_x": x(len(test_y)), "test_y": test_y,
              "class_names": np.array([f"c{i}" for i in range(k)])}
    arrays.update(override)
    np.savez(path, **{key: v for key, v in arrays.items() if v is not None})
    return path


def test_image_folder_is_imported_with_its_facts(tmp_path):
    src = image_folder(tmp_path / "own")
    out = download("tiny", tmp_path / "raw", tmp_path / "tiny.npz", path=src)
    meta = json.loads(metadata_path(out).read_text())
    assert meta["class_names"] == list(CLASSES) and meta["num_classes"] == 3
    assert (meta["channels"], meta["image_size"]) == (1, 8)
    assert meta["sizes"] == {"train": 9, "test": 6} and meta["expected_train_size"] == 9
    assert meta["class_counts"] == {"train": [3, 3, 3], "test": [2, 2, 2]}
    assert meta["npz_sha256"] == sha256_file(out) and meta["source"]["source_sha256"] == source_id(src)
    train = np.stack([np.asarray(Image.open(src / "train" / c / f"{i}.png")) for c in CLASSES for i in range(3)])
    assert meta["normalization"]["mean"] == pytest.approx([train.mean() / 255])
    assert meta["normalization"]["std"] == pytest.approx([train.std() / 255])
    canon = load_canonical(out, name="tiny")
    assert canon.info.own and canon.info.class_names == CLASSES and canon.info.n_train_raw == 9
    assert np.array_equal(canon.train_x[:, 0], train) and canon.train_y.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    assert registry.get_info("tiny") == canon.info  # the registry knows it once its file was read
    assert verified_dataset(out) == dataset_id(out)


def test_npz_is_imported_channels_last_or_first(tmp_path):
    out = download("rgb", tmp_path, tmp_path / "rgb.npz", path=npz_source(tmp_path / "src.npz"))
    canon = load_canonical(out)
    src = np.load(tmp_path / "src.npz")
    assert canon.train_x.shape == (12, 3, 8, 8) and np.array_equal(canon.train_x, src["train_x"].transpose(0, 3, 1, 2))
    assert canon.info.class_names == ("c0", "c1", "c2") and canon.info.channels == 3 and len(canon.info.mean) == 3
    first = download("rgb2", tmp_path, tmp_path / "rgb2.npz", path=npz_source(tmp_path / "chw.npz", hwc=False))
    assert load_canonical(first).train_x.shape == (12, 3, 8, 8)


def test_resize_and_the_networks_need(tmp_path):
    src = image_folder(tmp_path / "own", size=(10, 6))  # not square: only with resize
    out = download("tiny", tmp_path, tmp_path / "tiny.npz", path=src, resize=28)
    assert load_canonical(out).train_x.shape == (9, 1, 28, 28)
    study = {"id": "u", "dataset": {"name": "tiny", "path": str(src)}, "noise": {"model": "uniform", "p": [0.2]},
             "seeds": [1], "methods": [{"method": "ce"}]}
    with pytest.raises(LimitlabError, match=r"cnn4 .* takes 28×28 images; dataset 'tiny' .* has 6×10: set "
                                            r"dataset.resize: 28, or model.arch: mlp4"):
        P.validate({"name": "t", "studies": [study]}, "own.yaml")
    P.validate({"name": "t", "studies": [{**study, "model": {"arch": "mlp4"}}]}, "own.yaml")
    P.validate({"name": "t", "studies": [{**study, "dataset": {**study["dataset"], "resize": 28}}]}, "own.yaml")


def test_identity_is_stable_and_follows_every_image(tmp_path):
    src = image_folder(tmp_path / "own")
    a = download("tiny", tmp_path, tmp_path / "a.npz", path=src)
    b = download("tiny", tmp_path, tmp_path / "b.npz", path=src)
    assert sha256_file(a) == sha256_file(b) and dataset_id(a) == dataset_id(b)
    exp = lambda: P.validate({"name": "t", "data_dir": str(tmp_path / "data"), "studies": [  # noqa: E731
        {"id": "u", "dataset": {"name": "tiny", "path": str(src), "resize": 28},
         "noise": {"model": "uniform", "p": [0.2]}, "seeds": [1], "methods": [{"method": "ce"}]}]}, "own.yaml")
    (before,) = all_settings(exp())
    sha_before = source_id(src)
    Image.fromarray(pixels(99)).save(src / "test" / "dog" / "1.png")  # one image changes
    c = download("tiny", tmp_path, tmp_path / "c.npz", path=src)
    assert dataset_id(c) != dataset_id(a) and source_id(src) != sha_before
    (after,) = all_settings(exp())
    assert before.startswith("tiny/uniform/p20/nall/s1-") and after != before  # a new labels folder, new runs
    assert plan.download_args(exp().studies[0].dataset).endswith(f"--source-sha256 {source_id(src)}")
    with pytest.raises(LimitlabError, match="changed after the pipeline was planned"):
        download("tiny", tmp_path, tmp_path / "d.npz", path=src, expect_source=sha_before)


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a png at all")


FOLDER_CASES = {
    "classes differ": (lambda r: shutil.rmtree(r / "test" / "emu"), "",
                       r"different classes \(only in train/: emu; only in test/: none\)"),
    "empty class": (lambda r: [p.unlink() for p in (r / "test" / "emu").iterdir()], "test/emu",
                    "class 'emu' has no images in test/"),
    "one class": (None, "", "1 class folder"),
    "unreadable image": (lambda r: _garbage(r / "train" / "dog" / "1.png"), "train/dog/1.png",
                         "is not a readable image"),
    "not an image": (lambda r: (r / "train" / "dog" / "notes.txt").write_text("x"), "train/dog/notes.txt",
                     "is not an image file"),
    "two sizes": (lambda r: Image.fromarray(pixels(5, (9, 9))).save(r / "train" / "emu" / "2.png"),
                  "train/emu/2.png", r"is 9×9 pixels, .* is 8×8: give every image one size, or set dataset.resize"),
    "not square": (lambda r: [Image.fromarray(pixels(5, (8, 6))).save(p) for p in r.rglob("*.png")],
                   "train/cat/0.png", "not square"),
    "no test folder": (lambda r: shutil.rmtree(r / "test"), "", "no test/ folder"),
    "loose file": (lambda r: Image.fromarray(pixels(5)).save(r / "train" / "x.png"), "train/x.png",
                   "a file directly in train/"),
    "no contrast": (lambda r: [Image.fromarray(np.zeros((8, 8), np.uint8)).save(p) for p in r.rglob("*.png")],
                    "", "without contrast"),
}


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_bad_image_folders_are_refused_naming_the_file(tmp_path, case):
    spoil, where, message = FOLDER_CASES[case]
    src = image_folder(tmp_path / "own", classes=("cat",) if case == "one class" else CLASSES)
    if spoil is not None:
        spoil(src)
    out = tmp_path / "tiny.npz"
    with pytest.raises(LimitlabError, match=message) as info:
        download("tiny", tmp_path, out, path=src)
    assert str(src / where).rstrip("/") in str(info.value)
    assert not out.exists() and not metadata_path(out).exists()  # nothing to train on


NPZ_CASES = {
    "missing key": ({"test_y": None}, r"lacks the array\(s\) test_y"),
    "label out of range": ({"test_y": np.array([0, 0, 1, 1, 2, 3])},
                           r"test_y holds labels in \[0, 3\]; accepted: 0..2"),
    "empty class": ({"test_y": np.array([0, 0, 1, 1, 1, 1])}, r"class 2 \('c2'\) has no example in test_y"),
    "float pixels": ({"train_x": np.zeros((12, 8, 8), np.float32)}, "train_x has dtype float32"),
    "not square": ({"train_x": np.zeros((12, 8, 6), np.uint8)}, "not square"),
    "one class": ({"class_names": np.array(["only"]), "train_y": np.zeros(12, int), "test_y": np.zeros(6, int)},
                  "at least 2"),
    "object array": ({"class_names": np.array(["a", 1, None], dtype=object)}, "not a readable .npz"),
    "wrong shape": ({"train_x": np.zeros((12, 5, 8, 8), np.uint8)}, r"train_x has shape \(12, 5, 8, 8\)"),
    "train/test shapes": ({"test_x": np.zeros((6, 1, 8, 8), np.uint8)}, "give both one shape"),
}


@pytest.mark.parametrize("case", NPZ_CASES)
def test_bad_npz_files_are_refused_naming_the_file(tmp_path, case):
    override, message = NPZ_CASES[case]
    src = npz_source(tmp_path / "src.npz", **override)
    out = tmp_path / "own.npz"
    with pytest.raises(LimitlabError, match=message) as info:
        download("own", tmp_path, out, path=src)
    assert str(src) in str(info.value) and not out.exists()


def test_not_an_npz_and_a_missing_source(tmp_path):
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(LimitlabError, match=f"{tmp_path / 'x.npz'} is not a readable .npz"):
        download("own", tmp_path, tmp_path / "o.npz", path=tmp_path / "x.npz")
    with pytest.raises(LimitlabError, match=f"{tmp_path / 'nowhere'} does not exist"):
        download("own", tmp_path, tmp_path / "o.npz", path=tmp_path / "nowhere")


@pytest.mark.parametrize("dataset, message", [
    ({"name": "mnist5k", "path": "x"}, r"'mnist5k' is a registered dataset's \(limitlab "),
    ({"name": "digits"}, "unknown dataset 'digits'; accepted: mnist, .*mnist5k.* entry-point group limitlab.datasets"
                         ".* or an own dataset given by path"),
    ({"name": "mnist5k", "resize": 28}, "'resize' is only used with 'path'"),
    ({"name": "my/data", "path": "x"}, "not a safe folder name"),
])
def test_params_name_built_in_or_own_datasets(dataset, message):
    study = {"id": "u", "dataset": dataset, "noise": {"model": "uniform", "p": [0.2]}, "seeds": [1],
             "methods": [{"method": "ce"}]}
    with pytest.raises(LimitlabError, match=message):
        P.validate({"name": "t", "studies": [study]}, "own.yaml")


def test_params_refuse_pair_noise_and_two_sources_of_one_name():
    base = {"dataset": {"name": "mine", "path": "a", "resize": 28}, "noise": {"model": "uniform", "p": [0.2]},
            "seeds": [1], "methods": [{"method": "ce"}]}
    with pytest.raises(LimitlabError, match="noise model 'pair' is not defined for dataset 'mine'"):
        P.validate({"name": "t", "studies": [{**base, "id": "u", "noise": {"model": "pair", "p": [0.2]}}]}, "x")
    other = {**base, "id": "v", "dataset": {"name": "mine", "path": "b", "resize": 28}}
    with pytest.raises(LimitlabError, match="dataset 'mine' is given twice with different sources"):
        P.validate({"name": "t", "studies": [{**base, "id": "u"}, other]}, "x")


def test_corrupt_train_and_evaluate_on_an_imported_folder(tmp_path):
    """The pipeline's stages, through the library: import, draw the labels, train CE and LIMIT two epochs, evaluate."""
    from limitlab.evaluation.evaluate import evaluate
    from limitlab.stages.corrupt import run_corrupt
    from limitlab.training.loop import train

    src = image_folder(tmp_path / "own", per_split={"train": 10, "test": 4})
    data = tmp_path / "data"
    exp = P.validate({"name": "t", "data_dir": str(data), "studies": [{
        "id": "u", "dataset": {"name": "tiny", "path": str(src), "resize": 28},
        "noise": {"model": "uniform", "p": [0.4]}, "seeds": [1],
        "training": {"epochs": 2, "batch_size": 8, "threads": 1, "device": "cpu", "patience": None},
        "methods": [{"method": "ce"}, {"id": "limit_l", "method": "limit", "q_dist": "laplace", "beta": 1.0}]}]},
        "own.yaml")
    (_, setting), = all_settings(exp).values()
    (data / "datasets").mkdir(parents=True)
    setting.labels_path(data).parent.mkdir(parents=True)
    download("tiny", tmp_path / "raw", data / "datasets" / "tiny.npz", path=src, resize=28,
             expect_source=source_id(src))
    assert "tiny" not in registry.OWN_DATASETS  # as in a fresh process: the stages read the facts from the file
    summary = run_corrupt("tiny", data / "datasets" / "tiny.npz", "uniform", 0.4, "all", 1,
                          setting.labels_path(data))
    assert summary["n_train_raw"] == 30 and summary["sizes"]["train"] == 24
    for run in runs_of(exp):
        registry.OWN_DATASETS.pop("tiny", None)
        result = train(run.spec)
        assert result["epochs_run"] == 2 and 0.0 <= result["test_acc"] <= 1.0
        assert 0.0 <= evaluate(run.spec)["test_acc"] <= 1.0


def test_digits_example_folder_is_written_once_and_imports(tmp_path, capsys):
    from limitlab.cli import main

    assert main(["data", "digits", "--out", str(tmp_path / "digits")]) == 0
    assert main(["data", "digits", "--out", str(tmp_path / "again")]) == 0
    assert source_id(tmp_path / "digits") == source_id(tmp_path / "again")  # a fixed, seeded split
    assert main(["data", "digits", "--out", str(tmp_path / "digits")]) == 2  # never written over
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    assert main(["data", "check", str(tmp_path / "digits"), "--resize", "28"]) == 0
    said = capsys.readouterr().out
    assert "10 classes, 1 channel(s), 28×28 pixels" in said and "0: 142 train, 36 test" in said
    meta = json.loads(metadata_path(download("digits", tmp_path, tmp_path / "digits.npz",
                                             path=tmp_path / "digits")).read_text())
    assert meta["sizes"] == {"train": 1438, "test": 359} and (meta["channels"], meta["image_size"]) == (1, 8)
