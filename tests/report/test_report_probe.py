"""Bad inputs of the report commands get one clear error, and nothing already produced is lost (the reliability
probe's comparison and aggregate cases): ``compare --keep-from`` an empty, binary or folder path; ``compare`` on
another experiment's results folder; a bootstrap.json with a NaN mean or a negative std (named once, as a broken
file); and ``aggregate`` on a disk that fills up (every output or none)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file as P
from limitlab.report.aggregate import aggregate
from fake_runs import fake_run, method_runs, study


def params(tmp_path: Path, name: str, **study_changes) -> tuple[Path, object]:
    """A params file ``name`` (CE at p = 0.5, n = 10^3 on mnist: a cell with a number in the paper), results in
    tmp_path/results/<name>; the experiment read back from it."""
    s = study(noise={"model": "uniform", "p": [0.5]}, n=[1000], methods=[{"method": "ce", "label": "CE"}])
    data = {"name": name, "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results" / name),
            "studies": [{**s, **study_changes}]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, P.load(path)


def aggregated(tmp_path: Path, name: str, test: float = 0.7, **study_changes) -> tuple[Path, object]:
    path, exp = params(tmp_path, name, **study_changes)
    for run in method_runs(exp, "ce"):
        fake_run(run, 0.6, test, boot_std=0.01)
    assert main(["aggregate", "--params", str(path)]) == 0
    return path, exp


# --- compare --keep-from ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty (accepted: a CSV written by limitlab compare)"),
    (b"   \n\n", "is empty (accepted: a CSV written by limitlab compare)"),
    (bytes(range(128, 256)) * 8, "is not a text file: not valid UTF-8 at byte 0"),
    ("method_id,p\n\"ce,0.5\n".encode(), "is not readable as CSV"),
    (None, "is a folder, not a file (accepted: a CSV written by limitlab compare"),
])
def test_keep_from_that_is_no_csv_is_one_clear_error(tmp_path, capsys, content, expected):
    keep = tmp_path / "earlier.csv"
    if content is None:
        keep.mkdir()
    else:
        keep.write_bytes(content)
    path, _ = aggregated(tmp_path, "a")
    capsys.readouterr()
    out = tmp_path / "cmp.csv"
    assert main(["compare", "--params", str(path), "--out", str(out), "--keep-from", str(keep)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"--keep-from {keep} {expected}" in err and "Traceback" not in err
    assert not out.exists()


# --- compare on another experiment's results folder --------------------------------------------------------


def test_compare_refuses_another_experiments_results_folder(tmp_path, capsys):
    a, exp_a = aggregated(tmp_path, "a")
    b, exp_b = aggregated(tmp_path, "b", n=["all"])  # another grid: n = all
    capsys.readouterr()
    out = tmp_path / "cmp.csv"
    assert main(["compare", "--params", str(a), "--out", str(out), "--results-dir", str(exp_b.results_path)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert (f"{exp_b.results_path} holds the results of experiment 'b' (aggregated from {b}), not of {a} ('a'): "
            "its cells are of another grid") in err
    assert f"(default: its results_dir, {exp_a.results_path})" in err and not out.exists()
    assert main(["compare", "--params", str(a), "--out", str(out)]) == 0  # its own folder
    assert pd.read_csv(out).query("rule == 'paper'").ours_mean_pct.tolist() == [pytest.approx(70.0)]


def test_compare_refuses_tables_without_a_record_or_not_the_recorded_ones(tmp_path, capsys):
    a, exp = aggregated(tmp_path, "a")
    folder = Path(exp.results_path)
    record = json.loads((folder / "experiment.json").read_text())
    assert record["experiment"] == "a" and record["params_file"] == str(a) and record["runs"] == 1
    out = tmp_path / "cmp.csv"
    table = (folder / "table.csv").read_text()
    (folder / "table.csv").write_text(table.replace("70.0", "99.0"))  # edited by hand, or restored from elsewhere
    capsys.readouterr()
    assert main(["compare", "--params", str(a), "--out", str(out)]) == 2
    assert (f"{folder / 'table.csv'} is not the file limitlab aggregate wrote with experiment.json"
            in capsys.readouterr().err.replace("\n", ""))
    (folder / "experiment.json").unlink()  # results aggregated before the record existed
    assert main(["compare", "--params", str(a), "--out", str(out)]) == 2
    err = capsys.readouterr().err.replace("\n", "")
    assert f"{folder} has no experiment.json" in err and f"aggregate again (limitlab aggregate --params {a})" in err
    assert not out.exists()


def test_compare_refuses_results_of_an_older_grid_of_the_same_experiment(tmp_path, capsys):
    a, _ = aggregated(tmp_path, "a")
    data = yaml.safe_load(a.read_text())
    data["studies"][0]["seeds"] = [42, 43]  # a seed added since the aggregation
    a.write_text(yaml.safe_dump(data))
    capsys.readouterr()
    assert main(["compare", "--params", str(a), "--out", str(tmp_path / "cmp.csv")]) == 2
    assert (f"was aggregated from another grid of 'a' than {a} asks for now (the params changed since): aggregate "
            f"again (limitlab aggregate --params {a}), then compare") in capsys.readouterr().err.replace("\n", "")


# --- a bootstrap.json that is broken: named once ----------------------------------------------------------------


@pytest.mark.parametrize("boot, why", [
    ({"std": 0.01, "samples": 1000, "mean": float("nan")}, "mean is nan, not a number in [0, 1]"),
    ({"std": 0.01, "samples": 1000, "mean": 0.7, "ci_low": -3.0}, "ci_low is -3.0, not a number in [0, 1]"),
    ({"std": -0.01, "samples": 1000}, "std is -0.01, not a number in [0, 1]"),
])
def test_a_broken_bootstrap_json_is_named_once_as_broken(tmp_path, capsys, boot, why):
    _, exp = params(tmp_path, "a")
    (run,) = method_runs(exp, "ce")
    fake_run(run, 0.6, 0.7)
    path = Path(run.spec.eval_dir) / "bootstrap.json"
    path.write_text(json.dumps(boot))  # json writes NaN for a float nan, and Python reads it back
    summary = aggregate(exp)
    assert summary.messages == [f"broken file, not used (cell marked '!'): {path}: {why}"]
    err = capsys.readouterr().err.replace("\n", "")
    assert "no bootstrap.json for" not in err and err.count(str(path)) == 1
    (cell,) = summary.cells
    assert cell.stats["test_acc_std"] is None and cell.broken
    md = (Path(exp.results_path) / "table.md").read_text()
    assert "| CE | 70.0! |" in md and "no error bar where the bootstrap has not run or its bootstrap.json is broken" in md


def test_a_bootstrap_json_that_has_not_run_still_says_so(tmp_path):
    _, exp = params(tmp_path, "a")
    (run,) = method_runs(exp, "ce")
    fake_run(run, 0.6, 0.7)  # no bootstrap.json: the bootstrap has not run
    assert aggregate(exp).messages == [f"no bootstrap.json for {run.key}: no error bar"]


# --- aggregate on a disk that fills up ----------------------------------------------------------------------


def test_aggregate_writes_every_file_or_none_when_the_disk_fills_up(tmp_path, monkeypatch, capsys):
    path, exp = aggregated(tmp_path, "a")
    folder = Path(exp.results_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {"table.md", "table.csv", "selection.csv", "metrics.json", "curves.csv"} <= set(before)
    for run in method_runs(exp, "ce"):
        fake_run(run, 0.6, 0.8, boot_std=0.02)  # a new result: every table would change
    written = []
    real = Path.write_bytes

    def disk_fills_up(self, data):
        if self.name.startswith(".metrics.json."):  # after table.md, table.csv and selection.csv were written
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        written.append(self.name)
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", disk_fills_up)
    capsys.readouterr()
    assert main(["aggregate", "--params", str(path)]) != 0  # 2, or the exit status of an interruption
    err = capsys.readouterr().err.replace("\n", "")
    assert f"cannot write {folder / 'metrics.json'}: the disk is full" in err and "Traceback" not in err
    assert any(name.startswith(".table.csv.") for name in written)  # some files were written before the failure
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no file new, none lost, no temporary file
    with pytest.raises(LimitlabError, match="the disk is full"):
        aggregate(exp)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    monkeypatch.undo()
    assert main(["aggregate", "--params", str(path)]) == 0  # space freed: all of them new
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(after) == set(before) and all(after[n] != before[n] for n in ("table.md", "table.csv", "metrics.json"))
