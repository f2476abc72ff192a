"""cleanlab beside LIMIT (limitlab.evaluation.cleanlab_detection): stratified folds, out-of-sample probabilities from fold models
trained by the one training loop, cleanlab's outputs next to the truth; and the params layout keyed by id that
lets `dvc exp run -S` address studies and methods by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from limitlab import io
from limitlab.experiment import params_file as P
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import cleanlab_specs
from limitlab.evaluation.cleanlab_detection import detect, fold_labels, fold_positions, realised_noise_matrix, write_fold
from limitlab.training.loop import predict, train
from limitlab.training.networks import build_networks
from limitlab.training.run_data import load_run_data
from limitlab.experiment.grid import runs_of
from tiny_data import experiment, prepare

REPO = Path(__file__).resolve().parents[2]


# --- params: mapping layout ---------------------------------------------------------------------------------


def test_mapping_layout_gives_the_same_runs_as_the_list_layout():
    """studies/methods keyed by id validate to the same run specs as the list layout with ids (converting such a
    file, e.g. params/default.yaml, retrains nothing)."""
    as_list = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    study = dict(as_list["studies"]["uniform"], id="uniform")
    study["methods"] = [{"id": k, "method": m.get("method", k), **m} for k, m in study["methods"].items()]
    as_list["studies"] = [study]
    a = P.validate(as_list, "list layout")
    b = P.load(REPO / "params/smoke.yaml")
    assert [r.spec for r in runs_of(a)] == [r.spec for r in runs_of(b)]
    assert {r.spec.method_id for r in runs_of(b)} >= {"ce", "mae", "gce", "ce_gn", "limit_g", "limit_g_init"}
    assert b.studies[0].id == "uniform"


def test_mapping_layout_errors_name_the_entry():
    data = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    data["studies"]["uniform"]["methods"]["limit_l"]["beta"] = -1.0
    with pytest.raises(LimitlabError, match=r"studies\[uniform\]\.methods\[limit_l\]\.beta"):
        P.validate(data, "x.yaml")
    data = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    data["studies"]["uniform"]["methods"]["limit_l"]["id"] = "other"
    with pytest.raises(LimitlabError, match="method entry 'limit_l' has id 'other'"):
        P.validate(data, "x.yaml")
    data = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    data["studies"]["uniform"]["methods"]["nonsense"] = {"label": "x"}
    with pytest.raises(LimitlabError, match="accepted methods"):
        P.validate(data, "x.yaml")


@pytest.mark.parametrize("block, message", [
    ({"source": "nope"}, "cleanlab.source 'nope' is not a method id"),
    ({"source": "limit_g"}, "must be a plain classifier"),
    ({"folds": 1}, "greater than or equal to 2"),
])
def test_cleanlab_block_is_validated(block, message):
    data = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    data["studies"]["uniform"]["cleanlab"] = block
    with pytest.raises(LimitlabError, match=message):
        P.validate(data, "x.yaml")


def test_cleanlab_specs_one_job_per_setting_with_k_fold_runs():
    exp = P.load(REPO / "params/smoke.yaml")
    specs = cleanlab_specs(exp)
    assert [s.key for s in specs] == ["uniform/mnist5k/uniform/p50/n300/s42/ce_k3",
                                      "uniform/mnist5k/uniform/p80/n300/s42/ce_k3"]
    ce = next(r.spec for r in runs_of(exp) if r.spec.method_id == "ce" and r.spec.p == 0.5)
    for i, fold in enumerate(specs[0].fold_specs):
        assert fold.training == ce.training and fold.method == ce.method and fold.seed == ce.seed
        assert fold.labels_path == Path("data/cv") / specs[0].key / f"fold{i}" / "labels.npz"
        assert fold.run_dir == Path("data/cv") / specs[0].key / f"fold{i}"


# --- folds ---------------------------------------------------------------------------------------------------


def test_folds_partition_the_training_split_stratified_and_deterministic():
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 10, 500)
    held = [fold_positions(noisy, 5, i, seed=7) for i in range(5)]
    assert np.array_equal(np.sort(np.concatenate(held)), np.arange(500))
    for h in held:
        assert abs(len(h) - 100) <= 1
        # stratified: each class's share in the fold is within one example of its share overall
        assert np.all(np.abs(np.bincount(noisy[h], minlength=10) - np.bincount(noisy, minlength=10) / 5) <= 1)
    assert np.array_equal(fold_positions(noisy, 5, 2, seed=7), held[2])
    assert not np.array_equal(fold_positions(noisy, 5, 2, seed=8), held[2])
    with pytest.raises(LimitlabError, match="only 1 examples"):
        fold_positions(np.array([0, 0, 0, 1]), 2, 0, seed=0)


def test_fold_labels_keep_validation_and_drop_the_held_out_fold():
    labels = {"train_index": np.arange(100, 160), "train_noisy": np.arange(60) % 3, "train_clean": np.arange(60) % 3,
              "val_index": np.arange(10), "val_noisy": np.zeros(10, int), "val_clean": np.zeros(10, int)}
    out = fold_labels(labels, 3, 1, seed=0)
    held = out["heldout_position"]
    assert len(out["train_index"]) + len(held) == 60
    assert not set(out["train_index"]) & set(labels["train_index"][held])
    assert np.array_equal(out["val_index"], labels["val_index"])


def test_realised_noise_matrix_rows_are_true_classes():
    clean = np.array([0, 0, 0, 0, 1, 1])
    noisy = np.array([0, 1, 1, 0, 1, 0])
    assert np.allclose(realised_noise_matrix(clean, noisy, 2), [[0.5, 0.5], [0.5, 0.5]])
    assert np.allclose(realised_noise_matrix(np.array([0, 1]), np.array([1, 1]), 2), [[0, 1], [0, 1]])


# --- detect on tiny real runs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    root = tmp_path_factory.mktemp("cleanlab")
    exp = experiment(root / "data", [{"method": "ce"}], epochs=2)
    data = exp.model_dump(mode="json")
    data["studies"][0]["cleanlab"] = {"folds": 2}
    exp = P.validate(data, "tiny")
    prepare(root / "data", exp)
    (spec,) = cleanlab_specs(exp)
    for i, fold in enumerate(spec.fold_specs):
        write_fold(spec.labels_path, spec.folds, i, spec.seed, fold.labels_path)
        train(fold)
    return spec, detect(spec), exp


def test_detect_writes_out_of_sample_probabilities_and_cleanlab_estimates(detected):
    spec, out, _ = detected
    saved = io.load_npz(Path(spec.out_dir) / "pred_probs.npz")
    labels = io.load_npz(spec.labels_path)
    n = len(labels["train_noisy"])
    assert saved["pred_probs"].shape == (n, 10)
    assert np.allclose(saved["pred_probs"].sum(1), 1, atol=1e-5)
    assert np.array_equal(saved["is_corrupted"], labels["train_noisy"] != labels["train_clean"])
    # each row comes from the fold model that never trained on it
    fold = spec.fold_specs[1]
    held = io.load_npz(fold.labels_path)["heldout_position"]
    data = load_run_data(fold.model_copy(update={"labels_path": spec.labels_path}), torch.device("cpu"), True)
    nets = build_networks(fold, data.info, uses_q=False)
    nets["classifier"].load_state_dict(torch.load(Path(fold.run_dir) / "model.pt", weights_only=False)
                                       ["networks"]["classifier"])
    nets = nets.to(memory_format=torch.channels_last)
    probs = torch.softmax(predict(nets["classifier"], data.train, 512), 1).numpy()
    assert np.allclose(saved["pred_probs"][held], probs[held], atol=1e-5)
    assert not set(io.load_npz(fold.labels_path)["train_index"]) & set(labels["train_index"][held])
    # cleanlab's own numbers next to the truth
    assert out["noise_rate_true"] == pytest.approx(float(saved["is_corrupted"].mean()))
    assert np.allclose(out["noise_matrix_true"], realised_noise_matrix(labels["train_clean"], labels["train_noisy"], 10),
                       atol=1e-6)
    assert np.allclose(np.sum(out["noise_matrix_estimate"], 1), 1, atol=1e-4)
    assert out["n_issues"] == int(saved["is_label_issue"].sum())
    assert 0 <= out["detection_auc"] <= 1 and 0 <= out["detection_ap"] <= 1
    on_disk = json.loads((Path(spec.out_dir) / "cleanlab.json").read_text())
    assert on_disk["detection_auc"] == out["detection_auc"] and on_disk["folds"] == 2


def test_detect_is_deterministic_and_cli_by_spec(detected, capsys):
    spec, out, _ = detected
    before = (Path(spec.out_dir) / "pred_probs.npz").read_bytes()
    assert main(["cleanlab", "detect", "--spec", spec.model_dump_json()]) == 0
    assert "ROC AUC" in capsys.readouterr().out
    assert (Path(spec.out_dir) / "pred_probs.npz").read_bytes() == before


def test_aggregate_puts_cleanlab_beside_limit_in_the_detection_table(detected):
    """table.md's detection section, detection.csv and metrics.json carry cleanlab's numbers for its setting."""
    from limitlab.report.aggregate import aggregate
    from limitlab.report.metrics import cleanlab_results

    spec, out, exp = detected
    (row,) = cleanlab_results(exp)
    assert row["setting"] == "mnist5k/uniform/p50/n200" and row["detector"] == "cleanlab_k2"
    summary = aggregate(exp, Path(exp.data_dir).parent / "results")
    table = summary.files["table_md"].read_text()
    line = next(ln for ln in table.splitlines() if ln.startswith("| cleanlab (2-fold CE)"))
    assert f"{100 * out['detection_auc']:.2f} / {100 * out['detection_ap']:.2f}" in line
    assert f"| cleanlab (2-fold CE) | {out['n_issues']} |" in table  # cleanlab's own estimates beside the truth
    det = pd.read_csv(summary.files["detection_csv"])
    assert det.loc[det.detector == "cleanlab_k2", "detection_auc_pct"].item() == pytest.approx(100 * out["detection_auc"])
    metrics = json.loads(summary.files["metrics"].read_text())
    assert metrics["mnist5k"]["uniform"]["p50"]["n200"]["cleanlab_k2"]["n_issues"] == out["n_issues"]


def test_detect_without_trained_folds_is_a_clear_error(detected, tmp_path):
    spec, _, _ = detected
    moved = spec.model_copy(update={"fold_specs": [f.model_copy(update={"run_dir": tmp_path / f"f{i}"})
                                                   for i, f in enumerate(spec.fold_specs)]})
    with pytest.raises(LimitlabError, match="train fold"):
        detect(moved)


def test_cleanlab_run_trains_unfinished_folds_once_then_detects(detected, capsys):
    """`limitlab cleanlab run` (the pipeline's one job per setting): folds without a done.json are trained
    (deterministically: the same probabilities as the folds trained by hand), a second run trains none."""
    spec, _, _ = detected
    before = (Path(spec.out_dir) / "pred_probs.npz").read_bytes()
    assert main(["cleanlab", "run", "--spec", spec.model_dump_json()]) == 0
    assert "trained 2 of 2 fold(s) now" in capsys.readouterr().out
    assert (Path(spec.out_dir) / "pred_probs.npz").read_bytes() == before
    models = {f.key: (Path(f.run_dir) / "model.pt").stat().st_mtime_ns for f in spec.fold_specs}
    assert main(["cleanlab", "run", "--spec", spec.model_dump_json()]) == 0
    assert "trained 0 of 2 fold(s) now" in capsys.readouterr().out
    assert {f.key: (Path(f.run_dir) / "model.pt").stat().st_mtime_ns for f in spec.fold_specs} == models
