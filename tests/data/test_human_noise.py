"""Human noise labels (CIFAR-10N / CIFAR-100N, noise model 'human'): the label file is checked against the
dataset, its labels are taken for the split, and labels.json records the realised and the published rate.
The tests write small files in the authors' format (torch.save of a dict of NumPy arrays)."""

from __future__ import annotations

import fractions
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from limitlab.data.noise.class_conditional import corrupt
from limitlab.data.noise.transition import transition_matrix
from limitlab.experiment import params_file as P
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import all_settings
from limitlab.io import save_npz
from limitlab.stages.corrupt import run_corrupt

N = 10_000  # a small 'training file': 8,000 train / 2,000 val


def canonical(path, dataset: str, num_classes: int, n: int = N):
    """A tiny canonical dataset file (blank images; labels are what matter here)."""
    train_y = np.arange(n, dtype=np.int64) % num_classes
    save_npz(path, dataset=np.array(dataset), train_x=np.zeros((n, 3, 32, 32), np.uint8), train_y=train_y,
             test_x=np.zeros((10, 3, 32, 32), np.uint8), test_y=np.arange(10, dtype=np.int64) % num_classes)
    return path, train_y


def flip(clean: np.ndarray, count: int, num_classes: int, offset: int = 1) -> np.ndarray:
    """``clean`` with the first ``count`` labels moved to another class."""
    out = clean.copy()
    out[:count] = (out[:count] + offset) % num_classes
    return out


@pytest.fixture
def cifar10(tmp_path):
    """A cifar10-shaped dataset and a CIFAR-10N-style file whose 'worst' set has the published 40.21 % wrong."""
    data, clean = canonical(tmp_path / "cifar10.npz", "cifar10", 10)
    human = {"clean_label": clean, "aggre_label": flip(clean, 500, 10), "random_label1": flip(clean, 1700, 10),
             "random_label2": flip(clean, 1800, 10, 2), "random_label3": flip(clean, 1750, 10, 3),
             "worse_label": flip(clean, 4021, 10)}
    torch.save(human, tmp_path / "CIFAR-10_human.pt")
    return data, tmp_path / "CIFAR-10_human.pt", human


def test_worst_labels_are_taken_for_train_and_validation(cifar10, tmp_path):
    data, file, human = cifar10
    out = tmp_path / "labels.npz"
    summary = run_corrupt("cifar10", data, "human", None, "all", 42, out, human_file=file, label_set="worst")
    with np.load(out) as z:
        assert np.array_equal(z["train_noisy"], human["worse_label"][z["train_index"]])
        assert np.array_equal(z["val_noisy"], human["worse_label"][z["val_index"]])  # same human set for val
        assert np.array_equal(z["train_clean"], human["clean_label"][z["train_index"]])
        assert len(z["train_index"]) == 8000 and len(z["val_index"]) == 2000
        assert np.allclose(z["transition"].sum(1), 1)
    info = summary["human_labels"]
    assert info["key"] == "worse_label" and info["noise_rate_all_images"] == pytest.approx(0.4021)
    assert info["published_noise_rate"] == 0.4021 and info["matches_published"] is True
    assert summary["noise"] == "human" and summary["p"] == 0.0
    assert summary["realised_noise_rate"]["train"] == pytest.approx(summary["expected_noise_rate"]["train"])
    assert json.loads(out.with_suffix(".json").read_text())["human_file"] == "CIFAR-10_human.pt"
    # the split is the same as for every other noise model of this seed
    uniform = corrupt(human["clean_label"], transition_matrix("uniform", 0.2, 10), seed=42)
    with np.load(out) as z:
        assert np.array_equal(z["train_index"], uniform.train_index)


def test_a_file_with_another_rate_is_flagged(cifar10, tmp_path, capsys):
    data, file, _ = cifar10
    out = tmp_path / "labels.npz"
    assert main(["corrupt", "--dataset", "cifar10", "--data", str(data), "--noise", "human", "--human-file",
                 str(file), "--label-set", "aggregate", "--seed", "1", "--out", str(out)]) == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["human_labels"]["noise_rate_all_images"] == pytest.approx(0.05)
    assert summary["human_labels"]["published_noise_rate"] == 0.0903
    assert summary["human_labels"]["matches_published"] is False
    assert "does NOT match" in capsys.readouterr().out


def test_determinism(cifar10, tmp_path):
    data, file, _ = cifar10
    outs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        run_corrupt("cifar10", data, "human", None, 3000, 7, tmp_path / name / "labels.npz", human_file=file,
                    label_set="random2")
        outs.append([(tmp_path / name / f).read_bytes() for f in ("labels.npz", "labels.json")])
    assert outs[0] == outs[1]


def test_cifar100n_noisy_fine_labels(tmp_path):
    data, clean = canonical(tmp_path / "cifar100.npz", "cifar100", 100)
    file = tmp_path / "CIFAR-100_human.pt"
    torch.save({"clean_label": torch.from_numpy(clean), "noisy_label": torch.from_numpy(flip(clean, 4020, 100)),
                "clean_coarse_label": clean // 5, "noisy_coarse_label": clean // 5}, file)  # tensors work too
    summary = run_corrupt("cifar100", data, "human", 0.0, "all", 1, tmp_path / "l.npz", human_file=file,
                          label_set="noisy")
    assert summary["human_labels"]["key"] == "noisy_label" and summary["human_labels"]["matches_published"] is True


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("worse_label"), "no 'worse_label' entry (it has: 'aggre_label', 'clean_label'"),
    (lambda d: d.pop("clean_label"), "no 'clean_label' entry"),
    (lambda d: d.update(worse_label=d["worse_label"][:-1]), "'worse_label' has shape (9999,); cifar10 has 10,000"),
    (lambda d: d.update(worse_label=d["worse_label"].reshape(100, 100)), "has shape (100, 100)"),
    (lambda d: d.update(worse_label=d["worse_label"] + 5), "'worse_label' holds [5, 14]; expected integer labels in 0..9"),
    (lambda d: d.update(worse_label=d["worse_label"].astype(float)), "expected integer labels"),
    (lambda d: d.update(clean_label=np.roll(d["clean_label"], 1)),
     "'clean_label' differs from cifar10's training labels at 10,000 of 10,000 images (first at index 0)"),
])
def test_file_checked_against_the_dataset(cifar10, tmp_path, edit, message):
    data, file, human = cifar10
    bad = dict(human)
    edit(bad)
    torch.save(bad, tmp_path / "bad.pt")
    with pytest.raises(LimitlabError) as exc:
        run_corrupt("cifar10", data, "human", None, "all", 1, tmp_path / "l.npz", human_file=tmp_path / "bad.pt",
                    label_set="worst")
    assert message in str(exc.value) and "bad.pt" in str(exc.value)
    assert not (tmp_path / "l.npz").exists()


def test_unreadable_or_unsafe_files_are_refused(cifar10, tmp_path):
    data, _, human = cifar10
    cases = {"list.pt": [1, 2, 3], "code.pt": {**human, "note": fractions.Fraction(1, 3)}}
    for name, obj in cases.items():
        torch.save(obj, tmp_path / name)
    (tmp_path / "text.pt").write_text("not a torch file")
    expect = {"list.pt": "holds a list; expected a dict", "code.pt": "references ['fractions.Fraction']",
              "text.pt": "could not be read", "missing.pt": "does not exist"}
    for name, message in expect.items():
        with pytest.raises(LimitlabError, match=None) as exc:
            run_corrupt("cifar10", data, "human", None, "all", 1, tmp_path / "l.npz", human_file=tmp_path / name,
                        label_set="worst")
        assert message in str(exc.value), (name, str(exc.value))


def test_option_errors_name_what_is_accepted(cifar10, tmp_path):
    data, file, _ = cifar10
    out = tmp_path / "l.npz"
    cases = [
        (dict(dataset="cifar10", label_set="noisy"), "--label-set 'noisy' is not one of cifar10's human label sets; "
                                                     "accepted: aggregate, random1, random2, random3, worst"),
        (dict(dataset="cifar10", label_set=None), "needs --human-file"),
        (dict(dataset="cifar10", label_set="worst", p=0.2), "takes its rate from the file"),
        (dict(dataset="mnist5k", label_set="worst"), "exist for cifar10, cifar100 only, not 'mnist5k'"),
    ]
    for kw, message in cases:
        with pytest.raises(LimitlabError) as exc:
            run_corrupt(kw["dataset"], data, "human", kw.get("p"), "all", 1, out, human_file=file,
                        label_set=kw["label_set"])
        assert message in str(exc.value)
    with pytest.raises(LimitlabError, match="only used with --noise human"):
        run_corrupt("cifar10", data, "uniform", 0.2, "all", 1, out, human_file=file)


def study(noise_block: dict, dataset: str = "cifar10") -> dict:
    return {"name": "t", "studies": [{"id": "s", "dataset": {"name": dataset}, "noise": noise_block, "seeds": [1],
                                      "methods": [{"id": "ce", "method": "ce"}]}]}


def test_params_schema():
    exp = P.validate(study({"model": "human", "file": "CIFAR-10_human.pt", "label_set": "worst"}))
    ((path, (_, setting)),) = all_settings(exp).items()
    assert path == "cifar10/human-worst/p0/nall/s1" and setting.human_file == "CIFAR-10_human.pt"
    bad = [
        (study({"model": "human", "label_set": "worst"}), "needs 'file'"),
        (study({"model": "human", "file": "x.pt", "label_set": "noisy"}),
         "not one of cifar10's human label sets (accepted: aggregate, random1, random2, random3, worst)"),
        (study({"model": "human", "file": "x.pt", "label_set": "worst"}, "mnist5k"), "not 'mnist5k'"),
        (study({"model": "human", "file": "x.pt", "label_set": "worst", "p": [0.4]}), "takes its rate from the file"),
        (study({"model": "uniform", "p": [0.2], "file": "x.pt"}), "only used with model 'human'"),
    ]
    for data, message in bad:
        with pytest.raises(LimitlabError) as exc:
            P.validate(data)
        assert message in str(exc.value), str(exc.value)


def test_beyond_cifar10n_params_file_is_valid():
    exp = P.load(Path(__file__).resolve().parents[2] / "params/beyond/cifar10n.yaml")
    label_sets = {s.noise.label_set for s in exp.studies}
    assert label_sets == {"worst", "aggregate"}
    for s in exp.studies:
        assert {m.row_id for m in s.methods} >= {"ce", "dmi", "limit_l", "limit_l_init"}


def test_table_column_names_the_label_set_without_a_rate():
    from limitlab.report.grid_sections import setting_columns

    table = pd.DataFrame([{"setting": "worst/cifar10/human-worst/p0/nall", "study": "worst", "dataset": "cifar10",
                           "noise": "human-worst", "p": 0.0, "n": "all"},
                          {"setting": "idn/mnist5k/instance/p40/nall", "study": "idn", "dataset": "mnist5k",
                           "noise": "instance", "p": 0.4, "n": "all"}])
    assert list(setting_columns(table, False).values()) == ["cifar10 human-worst n=all", "mnist5k instance p=0.4 n=all"]
    assert setting_columns(table, True)["idn/mnist5k/instance/p40/nall"] == "idn: mnist5k instance p=0.4 n=all"
