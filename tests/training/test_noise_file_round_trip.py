"""Export -> `noise: {model: file}` -> the same noise identity and the same training: one tiny CE run (mnist5k,
200 noisy training examples, 2 epochs, CPU) on the drawn labels and one on the labels read back from the
exported CSV give the same result.json; and the example shipped in params/beyond/ is what its manifest says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from limitlab.data.labels_export import export_labels, manifest_path
from limitlab.experiment import params_file as P
from limitlab.experiment.grid import all_settings
from limitlab.experiment.paths import dataset_path
from limitlab.stages.corrupt import run_corrupt
from limitlab.training.loop import train

import tiny_data

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "params" / "beyond" / "file_mnist5k.yaml"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """mnist5k (offline) and the labels of tiny_data's one setting: uniform p = 0.5, n = 200, seed 1."""
    root = tmp_path_factory.mktemp("data")
    exp = tiny_data.experiment(root, [{"method": "ce"}])
    tiny_data.prepare(root, exp)
    ((_, (_, s)),) = all_settings(exp).items()  # rewritten as the pipeline does (labels.json names the dataset)
    run_corrupt("mnist5k", dataset_path(root, "mnist5k"), s.noise, s.p, s.n, s.seed, s.labels_path(root))
    return root


def test_exported_noise_trains_exactly_like_the_drawn_noise(root, tmp_path):
    drawn = tiny_data.experiment(root, [{"method": "ce"}])
    ((_, (_, setting)),) = all_settings(drawn).items()
    shared = tmp_path / "shared" / "noise.csv"
    record = export_labels(setting.labels_path(root), shared)

    study = drawn.model_dump(mode="json")["studies"][0]
    study["noise"] = {"model": "file", "file": str(shared)}
    from_file = P.validate({"name": "t", "data_dir": str(root), "studies": [study]}, "test params")
    ((_, (_, file_setting)),) = all_settings(from_file).items()
    file_setting.labels_path(root).parent.mkdir(parents=True)
    summary = run_corrupt("mnist5k", dataset_path(root, "mnist5k"), "file", None, file_setting.n,
                          file_setting.seed, file_setting.labels_path(root), noise_file=shared)
    assert summary["noise_id"] == record["noise_id"]  # the same realisation

    results = []
    for exp in (drawn, from_file):
        spec = tiny_data.spec_of(exp, "ce", tmp_path / "runs")
        train(spec)
        results.append(json.loads((Path(spec.run_dir) / "result.json").read_text()))
    assert results[0]["key"] != results[1]["key"]  # two settings (uniform p = 0.5 and the file) ...
    assert {k: v for k, v in results[0].items() if k != "key"} == {k: v for k, v in results[1].items() if k != "key"}


def test_the_shipped_example_file_is_the_seed_42_uniform_realisation(root, tmp_path):
    exp = P.load(EXAMPLE)
    files = {s.noise.file for s in exp.studies if s.noise.model == "file"}
    assert files == {Path("params/beyond/noise/mnist5k_uniform_p80_s42.csv")}
    noise_file = REPO / files.pop()
    record = json.loads(manifest_path(noise_file).read_text())
    data = dataset_path(root, "mnist5k")
    ids = []
    for noise, p, extra in (("uniform", 0.8, {}), ("file", None, {"noise_file": noise_file})):
        out = tmp_path / noise / "labels.npz"
        out.parent.mkdir()
        ids.append(run_corrupt("mnist5k", data, noise, p, "all", 42, out, **extra)["noise_id"])
    assert ids == [record["noise_id"]] * 2 and record["setting"]["seed"] == 42
