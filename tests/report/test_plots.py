"""Every figure from a small real run: a subset of params/smoke.yaml trained, evaluated and bootstrapped in a tmp folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.evaluation.bootstrap import bootstrap_file
from limitlab.cli import main
from limitlab.evaluation.evaluate import evaluate
from limitlab.report.aggregate import aggregate
from limitlab.report.figures.index import make_figures
from limitlab.training.loop import train
from limitlab.experiment.grid import runs_of
from tiny_data import prepare

SMOKE = Path(__file__).resolve().parents[2] / "params" / "smoke.yaml"
KEEP = {"ce", "limit_g", "limit_l"}  # the smoke methods that every figure needs (limit_g has a β grid)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Params file of the smoke subset plus an untrained setting (p = 0.2), with p = 0.5 and 0.8 trained."""
    root = tmp_path_factory.mktemp("plots")
    data = yaml.safe_load(SMOKE.read_text())
    data.update(data_dir=str(root / "data"), results_dir=str(root / "results"))
    study = data["studies"]["uniform"]  # smoke.yaml: studies and methods keyed by id
    study["methods"] = {k: m for k, m in study["methods"].items() if k in KEEP}
    study["noise"]["p"] = [*study["noise"]["p"], 0.2]
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    exp = P.load(path)
    prepare(Path(exp.data_dir), exp)
    for run in runs_of(exp):
        if run.spec.p == 0.2:
            continue  # left untrained on purpose
        spec = run.spec.model_copy(update={"training": run.spec.training.model_copy(update={"device": "cpu"})})
        train(spec)
        evaluate(spec)
        bootstrap_file(Path(spec.eval_dir) / "predictions.npz", Path(spec.eval_dir) / "bootstrap.json", 200, 0)
    aggregate(exp)  # detection.csv and paired.csv: the plot draws their figures from them, as the pipeline does
    return path, exp


def test_every_figure_is_written_and_nonempty(smoke, capsys):
    path, exp = smoke
    assert main(["plot", "--params", str(path)]) == 0
    out = capsys.readouterr().out
    fig_dir = Path(exp.results_path) / "figures"
    index = json.loads((fig_dir / "index.json").read_text())
    names = {f["name"] for f in index["figures"]}
    expected = {"fano", "accuracy_vs_noise", "detection", "paired_differences"} | {
        f"{kind}_mnist5k_uniform_{p}_n300" for kind in ("curves", "limit_beta", "beta_curve", "gradient_histograms",
                                                        "confusing", "selection_reliability") for p in ("p50", "p80")}
    assert names == expected
    for f in index["figures"]:
        png, pdf = fig_dir / f["png"], fig_dir / f["pdf"]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, png
        assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000, pdf
    # The untrained p = 0.2 setting is skipped with a message, for every per-setting figure.
    skipped = {s["name"] for s in index["skipped"]}
    assert {f"{k}_mnist5k_uniform_p20_n300" for k in ("curves", "limit_beta", "beta_curve", "gradient_histograms",
                                                       "confusing", "selection_reliability")} <= skipped
    assert "skipped curves_mnist5k_uniform_p20_n300" in out
    hist = next(f for f in index["figures"] if f["kind"] == "gradient_histograms")
    assert hist["method_id"] in {"limit_g", "limit_l"} and hist["run"].startswith("uniform/mnist5k/uniform/")


def test_figures_drawn_in_worker_processes_are_the_same(smoke, tmp_path):
    """--jobs 2 (the pipeline's plot job) draws in forked workers: the same index, the same bytes, the same order,
    and each setting's figure shows that setting (the figure tasks are built first and drawn later)."""
    _, exp = smoke
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        for name in ("detection.csv", "paired.csv", "table.csv", "selection.csv"):
            shutil.copy(Path(exp.results_path) / name, tmp_path / folder / name)
    one = make_figures(exp, tmp_path / "one", jobs=1)
    two = make_figures(exp, tmp_path / "two", jobs=2)
    assert one == two
    for f in one["figures"]:
        for fmt in ("png", "pdf"):
            assert (tmp_path / "one/figures" / f[fmt]).read_bytes() == (tmp_path / "two/figures" / f[fmt]).read_bytes()
    curves = [f for f in one["figures"] if f["kind"] == "curves"]
    assert len({(tmp_path / "two/figures" / f["png"]).read_bytes() for f in curves}) == len(curves) == 2


def test_figures_of_a_removed_setting_are_deleted(smoke, tmp_path):
    path, _ = smoke
    fig_dir = tmp_path / "results" / "figures"
    fig_dir.mkdir(parents=True)
    # A previous plot run drew p = 0.8 figures; the params now only have p = 0.5.
    for name in ("curves_mnist5k_uniform_p80_n300.png", "curves_mnist5k_uniform_p80_n300.pdf", "mine.png"):
        (fig_dir / name).write_bytes(b"old")
    (fig_dir / "index.json").write_text(json.dumps({"figures": [
        {"name": "curves_mnist5k_uniform_p80_n300", "png": "curves_mnist5k_uniform_p80_n300.png",
         "pdf": "curves_mnist5k_uniform_p80_n300.pdf"}]}))
    data = yaml.safe_load(path.read_text())
    data["studies"]["uniform"]["noise"]["p"] = [0.5]
    data["studies"]["uniform"]["methods"] = {"ce": data["studies"]["uniform"]["methods"]["ce"]}
    index = make_figures(P.validate(data, "smaller params"), tmp_path / "results")
    # not aggregated into this folder: the figures drawn from aggregate's tables say which command makes them
    why = {s["name"]: s["reason"] for s in index["skipped"]}
    for name, table in (("detection", "detection.csv"), ("paired_differences", "paired.csv")):
        assert f"{tmp_path / 'results' / table} is missing" in why[name] and "limitlab aggregate" in why[name]
    assert not (fig_dir / "curves_mnist5k_uniform_p80_n300.png").exists()
    assert not (fig_dir / "curves_mnist5k_uniform_p80_n300.pdf").exists()
    assert (fig_dir / "mine.png").read_bytes() == b"old"  # never listed by us: left alone
    assert (fig_dir / "curves_mnist5k_uniform_p50_n300.png").stat().st_size > 10_000


def test_aggregate_on_the_smoke_runs(smoke, capsys):
    path, exp = smoke
    assert main(["aggregate", "--params", str(path)]) == 0
    captured = capsys.readouterr()
    assert "LIMIT_G − S" in captured.out and "missing" in captured.out
    assert "uniform/mnist5k/uniform/p20/n300/s42/ce/default" in captured.err
    metrics = json.loads((Path(exp.results_path) / "metrics.json").read_text())
    cells = metrics["mnist5k"]["uniform"]
    assert set(cells) == {"p50", "p80"}  # p20 was never trained
    assert 0 <= cells["p80"]["n300"]["limit_g"]["detection_auc"] <= 1
