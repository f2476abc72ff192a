"""An output path with a file where a folder should be: every stage says which part is a file, exits 2 without a
traceback, and writes nothing (limitlab.io.check_folder / check_out_path, limitlab.stages.results_folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from limitlab import io
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of

NOT_A_FOLDER = "is a file, not a folder"


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file where the tests put an output folder; its bytes must survive every refused command."""
    path = tmp_path / "FILE"
    path.write_text("keep me\n")
    return path


def params_file(tmp_path: Path, results_dir: Path | None = None) -> Path:
    params = {"name": "probe", "data_dir": str(tmp_path / "data"),
              "studies": [{"id": "u", "dataset": {"name": "mnist"}, "noise": {"model": "uniform", "p": [0.8]},
                           "seeds": [42], "methods": [{"method": "ce"}]}]}
    if results_dir is not None:
        params["results_dir"] = str(results_dir)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(argv: list[str], capsys, blocker: Path, *shown: str) -> str:
    """Run the command; it must exit 2, name the blocking file (and ``shown``), and leave the folder as it was."""
    before = files_under(blocker.parent)
    assert main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long paths
    assert f"{blocker} {NOT_A_FOLDER}" in err and "Traceback" not in err and "File exists" not in err
    for text in shown:
        assert text in err
    assert files_under(blocker.parent) == before
    return err


@pytest.mark.parametrize("below", ["", "sub"])
@pytest.mark.parametrize("stage", ["aggregate", "plot", "report-assets", "timing"])
def test_report_stages_refuse_a_results_dir_below_a_file(stage, below, tmp_path, blocker, capsys):
    results = blocker / below if below else blocker
    refused([stage, "--params", str(params_file(tmp_path)), "--results-dir", str(results)], capsys, blocker,
            f"--results-dir {results}")


def test_aggregate_refuses_a_params_results_dir_that_is_a_file(tmp_path, blocker, capsys):
    refused(["aggregate", "--params", str(params_file(tmp_path, results_dir=blocker))], capsys, blocker,
            "results folder (results_dir)")


def test_plot_refuses_a_figures_file_inside_the_results_dir(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    figures = results / "figures"
    figures.write_text("not a folder\n")
    refused(["plot", "--params", str(params_file(tmp_path)), "--results-dir", str(results)], capsys, figures)


def test_corrupt_and_download_refuse_an_out_below_a_file(tmp_path, blocker, capsys):
    out = blocker / "labels.npz"
    refused(["corrupt", "--dataset", "mnist5k", "--noise", "uniform", "--p", "0.2", "--seed", "0",
             "--out", str(out)], capsys, blocker, f"--out {out}")
    refused(["download", "--dataset", "mnist5k", "--out", str(out)], capsys, blocker, f"--out {out}")


def test_bootstrap_refuses_an_out_below_a_file(tmp_path, blocker, capsys):
    rng = np.random.default_rng(0)
    predictions = io.save_npz(tmp_path / "predictions.npz", logits=rng.normal(size=(20, 10)).astype(np.float32),
                              labels=rng.integers(0, 10, 20), index=np.arange(20))
    for out in (blocker / "bootstrap.json", blocker / "eval" / "bootstrap.json"):
        refused(["bootstrap", "--predictions", str(predictions), "--samples", "10", "--out", str(out)], capsys,
                blocker, f"--out {out}")


def test_cleanlab_split_refuses_an_out_below_a_file(tmp_path, blocker, capsys):
    labels = io.save_npz(tmp_path / "labels.npz", train_index=np.arange(40), train_noisy=np.arange(40) % 2,
                         train_clean=np.arange(40) % 2, val_index=np.arange(40, 50), val_noisy=np.zeros(10, int),
                         val_clean=np.zeros(10, int))
    out = blocker / "fold0" / "labels.npz"
    refused(["cleanlab", "split", "--labels", str(labels), "--folds", "2", "--fold", "0", "--seed", "0",
             "--out", str(out)], capsys, blocker, f"--out {out}")


@pytest.mark.parametrize("stage, folder", [("train", "run_dir"), ("evaluate", "eval_dir")])
def test_train_and_evaluate_refuse_a_run_folder_that_is_a_file(stage, folder, tmp_path, blocker, capsys):
    spec = runs_of(P.load(params_file(tmp_path)))[0].spec.model_copy(update={folder: blocker})
    refused([stage, "--spec", spec.model_dump_json()], capsys, blocker, spec.key)


def test_library_writes_name_the_file_in_the_way(blocker):
    """The shared writers say it too (a stage that writes without checking first): no "File exists"."""
    for make_parents in (True, False):
        with pytest.raises(LimitlabError) as exc:
            io.write_json(blocker / "sub" / "x.json", {}, make_parents=make_parents)
        assert f"{blocker} {NOT_A_FOLDER}" in str(exc.value) and "x.json" in str(exc.value)
    assert blocker.read_text() == "keep me\n"
    assert not list(blocker.parent.glob(".*.tmp"))
