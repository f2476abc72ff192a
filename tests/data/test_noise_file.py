"""Noise as a file: `limitlab labels export` writes a realisation as .csv / .npy / CIFAR-N-style .pt with its
identity, and the noise model 'file' reads such a file back (same seed, n and val_ratio: the same realisation and
noise identity). Bad files are refused by file, line or position, value and what is accepted. Tiny synthetic
datasets (blank images; labels are what matter here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from limitlab.cli import main
from limitlab.data.labels_export import manifest_path
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file as P
from limitlab.experiment.grid import all_settings
from limitlab.io import save_npz
from limitlab.pipeline import plan
from limitlab.stages.corrupt import run_corrupt

N = 1000  # a small 'training file': 800 train / 200 validation


def canonical(path: Path, dataset: str, shape: tuple[int, ...]) -> Path:
    train_y = np.random.RandomState(0).permutation(np.arange(N) % 10).astype(np.int64)
    save_npz(path, dataset=np.array(dataset), train_x=np.zeros((N, *shape), np.uint8), train_y=train_y,
             test_x=np.zeros((10, *shape), np.uint8), test_y=np.arange(10, dtype=np.int64))
    return path


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """A cifar10-shaped dataset and two uniform p = 0.6 settings of seed 7: n = all and n = 300."""
    root = tmp_path_factory.mktemp("cifar")
    data = canonical(root / "cifar10.npz", "cifar10", (3, 32, 32))
    full = root / "full" / "labels.npz"
    part = root / "part" / "labels.npz"
    for out, n in ((full, "all"), (part, 300)):
        out.parent.mkdir()
        run_corrupt("cifar10", data, "uniform", 0.6, n, 7, out)
    return data, full, part


def refused(argv: list[str], capsys) -> str:
    """The one-line error of a `limitlab` command that must fail with status 2."""
    capsys.readouterr()
    assert main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


def arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def read_back(data, tmp_path, file, seed=7, n="all", **kwargs) -> tuple[dict, dict]:
    out = tmp_path / f"back-{seed}-{n}" / "labels.npz"
    out.parent.mkdir(exist_ok=True)
    return run_corrupt("cifar10", data, "file", None, n, seed, out, noise_file=file, **kwargs), arrays(out)


@pytest.mark.parametrize("suffix", [".csv", ".npy", ".pt"])
def test_export_then_import_is_the_same_realisation(cifar, tmp_path, suffix, capsys):
    data, full, _ = cifar
    out = tmp_path / f"noise{suffix}"
    assert main(["labels", "export", "--labels", str(full), "--out", str(out)]) == 0
    original = json.loads(full.with_suffix(".json").read_text())
    assert original["noise_id"][:12] in capsys.readouterr().out
    record = json.loads(manifest_path(out).read_text())
    assert record["noise_id"] == original["noise_id"] and record["dataset_id"] == original["dataset_id"]
    assert record["setting"] == {"noise": "uniform", "p": 0.6, "n": "all", "seed": 7, "val_ratio": 0.2,
                                 "clean_validation": False}
    summary, back = read_back(data, tmp_path, out)
    assert summary["noise_id"] == original["noise_id"]  # the round trip: one identity
    for name in ("train_index", "val_index", "train_noisy", "val_noisy", "train_clean", "val_clean"):
        assert np.array_equal(back[name], arrays(full)[name]), name
    assert summary["noise"] == "file" and summary["p"] == 0.0 and summary["noise_file"] == out.as_posix()
    assert summary["file_labels"] == {"format": suffix[1:], "labelled_images": N, "training_images": N,
                                      "clean_label_checked": suffix != ".npy",
                                      "noise_rate_file": pytest.approx(np.mean(np.r_[back["train_noisy"] != back["train_clean"], back["val_noisy"] != back["val_clean"]]))}


def test_csv_lists_the_realisation_in_order_and_pt_has_the_cifar_n_layout(cifar, tmp_path):
    data, full, _ = cifar
    a = arrays(full)
    export = tmp_path / "noise.csv"
    assert main(["labels", "export", "--labels", str(full), "--out", str(export)]) == 0
    frame = pd.read_csv(export)
    assert list(frame.columns) == ["index", "clean_label", "noisy_label", "split"]
    assert np.array_equal(frame["index"], np.r_[a["train_index"], a["val_index"]])
    assert list(frame["split"]) == ["train"] * 800 + ["validation"] * 200
    from limitlab.data.noise.human import check_human_labels, read_human_file

    assert main(["labels", "export", "--labels", str(full), "--out", str(tmp_path / "noise.pt")]) == 0
    pt = read_human_file(tmp_path / "noise.pt")
    assert sorted(pt) == ["clean_label", "noisy_label"] and pt["noisy_label"].dtype == np.int64
    # the CIFAR-100N key: limitlab's CIFAR-N reader takes the same layout as a cifar100 'noisy' label file
    clean = np.load(data)["train_y"]
    assert np.array_equal(check_human_labels(pt, "x", "cifar100", "noisy", clean, 10), pt["noisy_label"])


def test_a_partial_export_serves_its_own_setting_and_a_full_one_any_seed(cifar, tmp_path, capsys):
    data, full, part = cifar
    csv, npy = tmp_path / "part.csv", tmp_path / "part.npy"
    for out in (csv, npy):
        assert main(["labels", "export", "--labels", str(part), "--out", str(out)]) == 0
    assert (np.load(npy) == -1).sum() == N - 500  # 300 training + 200 validation images labelled
    original = json.loads(part.with_suffix(".json").read_text())["noise_id"]
    assert read_back(data, tmp_path, csv, n=300)[0]["noise_id"] == original
    assert read_back(data, tmp_path, npy, n=300)[0]["noise_id"] == original
    with pytest.raises(LimitlabError, match=r"part\.csv has no label for index \d+, which the setting \(seed 8, "
                                            r"n 300, val_ratio 0\.2\) puts in its \w+ split"):
        read_back(data, tmp_path, csv, seed=8, n=300)
    assert re.search("labels 500 of cifar10's 1,000 training images.*accepted: a setting with n: all",
                     refused(["labels", "export", "--labels", str(part), "--out", str(tmp_path / "part.pt")], capsys))
    # a file of every training image: another seed draws another split of the same noisy labels
    assert main(["labels", "export", "--labels", str(full), "--out", str(tmp_path / "full.csv")]) == 0
    summary, back = read_back(data, tmp_path, tmp_path / "full.csv", seed=8)
    vector = np.full(N, -1)
    vector[arrays(full)["train_index"]] = arrays(full)["train_noisy"]
    vector[arrays(full)["val_index"]] = arrays(full)["val_noisy"]
    assert np.array_equal(back["train_noisy"], vector[back["train_index"]])
    assert summary["noise_id"] != json.loads(full.with_suffix(".json").read_text())["noise_id"]
    # clean validation: validation labels are the dataset's, and the file need not cover them
    _, clean_val = read_back(data, tmp_path, csv, n=300, clean_validation=True)
    assert np.array_equal(clean_val["val_noisy"], clean_val["val_clean"])


def edit_csv(cell: tuple[int, str] | None = None, value: str = "", drop: int | None = None):
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        if cell is not None:
            frame.loc[cell[0], cell[1]] = value
        return frame if drop is None else frame.drop(index=range(drop, len(frame)))
    return edit


# (what to do to a good export, the message parts: each names the file, the line or index, the value, what is accepted)
BAD_CSV = [
    (edit_csv((5, "noisy_label"), "12"), ["line 7 (index ", "noisy_label 12 is outside 0..9",
                                          "accepted: integer class labels 0..9"]),
    (edit_csv((5, "noisy_label"), "2.5"), ["line 7 (index ", "noisy_label 2.5 is not an integer", "accepted:"]),
    (edit_csv((5, "noisy_label"), "cat"), ["line 7 (index ", "noisy_label 'cat' is not a number", "accepted:"]),
    (edit_csv((5, "noisy_label"), "NaN"), ["line 7 (index ", "noisy_label is NaN", "accepted:"]),
    (edit_csv((5, "noisy_label"), ""), ["line 7 (index ", "noisy_label is empty", "accepted:"]),
    (edit_csv((5, "index"), "1000"), ["line 7: index 1000 is outside 0..999",
                                      "accepted: original training indices 0..999 (cifar10 has 1,000"]),
    (edit_csv((5, "index"), "-3"), ["line 7: index -3 is outside 0..999", "accepted:"]),
    (lambda f: f.assign(index=f["index"].where(f.index != 9, f.loc[4, "index"])),
     ["is on line 6 and line 11", "accepted: each training index at most once"]),
    (lambda f: f.assign(clean_label=f["clean_label"].where(f.index != 5, str((int(f.loc[5, "clean_label"]) + 1) % 10))),
     ["line 7 (index ", "differs from cifar10's training label", "accepted: the dataset's own clean labels"]),
    (edit_csv((5, "split"), "test"), ["line 7 (index ", "split 'test'", "accepted: train or validation"]),
    (lambda f: f.rename(columns={"noisy_label": "noisy"}),
     ["unknown column(s) ['noisy']; no noisy_label column", "accepted columns: index, noisy_label"]),
    (edit_csv(drop=700), ["has no label for index", "which the setting (seed 7, n all, val_ratio 0.2)",
                          "accepted: a file that labels every image the setting uses"]),
]


@pytest.mark.parametrize("edit,message", BAD_CSV, ids=[
    "label-range", "non-integer", "text", "nan", "empty", "index-range", "negative-index", "duplicate",
    "clean-differs", "split-value", "columns", "lacks-index"])
def test_bad_csv_files_are_refused_by_line_value_and_what_is_accepted(cifar, tmp_path, edit, message):
    data, full, _ = cifar
    good = tmp_path / "good.csv"
    assert main(["labels", "export", "--labels", str(full), "--out", str(good)]) == 0
    bad = tmp_path / "bad.csv"
    edit(pd.read_csv(good, dtype=str, keep_default_na=False)).to_csv(bad, index=False)
    with pytest.raises(LimitlabError) as exc:
        read_back(data, tmp_path, bad)
    assert f"noise file {bad}" in str(exc.value)
    for part in message:
        assert part in str(exc.value), str(exc.value)


def test_bad_array_files_and_formats_are_refused(cifar, tmp_path):
    data, full, _ = cifar
    vector = tmp_path / "v.npy"
    assert main(["labels", "export", "--labels", str(full), "--out", str(vector)]) == 0
    good = np.load(vector)
    cases = [
        (good.astype(float) + np.where(np.arange(N) == 9, np.nan, 0), "position 9: noisy_label is NaN"),
        (good.astype(float) + np.where(np.arange(N) == 9, 0.5, 0), "position 9: noisy_label "),
        (np.where(np.arange(N) == 9, 10, good), "position 9: noisy_label 10 is outside -1..9"),
        (good[:100], "noisy_label has shape (100,); accepted: one entry per training image: shape (1000,)"),
        (good.astype(str), "noisy_label holds <U"),
    ]
    for i, (array, message) in enumerate(cases):
        bad = tmp_path / f"bad{i}.npy"
        np.save(bad, array)
        with pytest.raises(LimitlabError) as exc:
            read_back(data, tmp_path, bad)
        assert f"noise file {bad}: {message}" in str(exc.value) and "accepted" in str(exc.value), str(exc.value)
    import torch

    torch.save({"clean_label": np.load(data)["train_y"], "worse_label": good}, tmp_path / "human.pt")
    with pytest.raises(LimitlabError, match="no 'noisy_label' entry .*noise model 'human' with its label_set"):
        read_back(data, tmp_path, tmp_path / "human.pt")
    (tmp_path / "labels.txt").write_text("1\n")
    with pytest.raises(LimitlabError, match=r"unknown format '\.txt'; accepted: \.csv"):
        read_back(data, tmp_path, tmp_path / "labels.txt")
    with pytest.raises(LimitlabError, match="noise file .*missing.csv does not exist"):
        read_back(data, tmp_path, tmp_path / "missing.csv")


def test_export_refuses_an_edited_labels_file_and_pt_for_other_datasets(tmp_path, capsys):
    data = canonical(tmp_path / "mnist5k.npz", "mnist5k", (1, 28, 28))
    labels = tmp_path / "s" / "labels.npz"
    labels.parent.mkdir()
    run_corrupt("mnist5k", data, "uniform", 0.5, 200, 3, labels)
    export = ["labels", "export", "--labels", str(labels), "--out"]
    assert re.search(r"CIFAR-N-style file is for cifar10, cifar100.*accepted for mnist5k: \.csv or \.npy",
                     refused([*export, str(tmp_path / "x.pt")], capsys))
    assert "unknown format '.json'" in refused([*export, str(tmp_path / "x.json")], capsys)
    a = arrays(labels)
    a["train_noisy"][0] = (a["train_noisy"][0] + 1) % 10
    save_npz(labels, **a)
    assert re.search("no longer matches .*not exported", refused([*export, str(tmp_path / "x.csv")], capsys))


def study(noise: dict, dataset: str = "cifar10") -> dict:
    return {"name": "t", "studies": [{"id": "f", "dataset": {"name": dataset}, "noise": noise, "seeds": [1],
                                      "methods": [{"method": "ce"}]}]}


def test_params_commands_and_snakemake_inputs(tmp_path, capsys):
    exp = P.validate(study({"model": "file", "file": "shared/noise.csv"}))
    ((path, (_, setting)),) = all_settings(exp).items()
    assert path == "cifar10/file-noise/p0/nall/s1" and setting.noise_file == "shared/noise.csv"
    assert setting.human_file is None and "--file shared/noise.csv" in plan.corrupt_args(setting)
    assert "noise_file" not in plan.corrupt_inputs(setting, "d.npz")  # missing: limitlab corrupt says what it must be
    noise = tmp_path / "noise.npy"
    noise.write_bytes(b"")
    present = P.validate(study({"model": "file", "file": str(noise)}))
    ((_, (_, setting)),) = all_settings(present).items()
    assert plan.corrupt_inputs(setting, "d.npz")["noise_file"] == str(noise)  # a content change reruns corrupt
    bad = [
        ({"model": "file"}, "model 'file' needs 'file'"),
        ({"model": "file", "file": "noise.txt"}, "accepted: a .csv, .npy, .pt file"),
        ({"model": "file", "file": "noise.csv", "p": [0.3]}, "takes its rate from the file"),
        ({"model": "file", "file": "noise.csv", "label_set": "worst"}, "only used with model 'human'"),
    ]
    for noise_block, message in bad:
        with pytest.raises(LimitlabError) as exc:
            P.validate(study(noise_block))
        assert message in str(exc.value) and "noise" in str(exc.value), str(exc.value)
    with pytest.raises(LimitlabError, match="real label noise"):
        P.validate(study({"model": "file", "file": "n.csv"}, "clothing1m"))
    args = ["corrupt", "--dataset", "cifar10", "--data", "d.npz", "--seed", "1", "--out", str(tmp_path / "l.npz")]
    assert "--noise file needs --file" in refused([*args, "--noise", "file"], capsys)
    assert "--file is only used with --noise file" in refused([*args, "--noise", "uniform", "--p", "0.2", "--file",
                                                               "n.csv"], capsys)
    assert "--noise file takes its labels from the file" in refused([*args, "--noise", "file", "--file", "n.csv",
                                                                     "--p", "0.2"], capsys)
