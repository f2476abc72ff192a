"""Selection and tables on fake run folders (result.json / eval.json / bootstrap.json / history.csv written here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.report.aggregate import aggregate
from limitlab.report.cells import build_cells
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import runs_of
from fake_runs import experiment, fake_run, method_runs, study


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}{k}/") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def cell(cells, method_id):
    (c,) = [c for c in cells if c.method_id == method_id]
    return c


def test_selects_by_validation_never_by_test(tmp_path):
    exp = experiment(tmp_path, [study()])
    fake_run(method_runs(exp, "ce")[0], 0.5, 0.6, boot_std=0.01)
    # β=1 is best on validation, β=10 would be best on test: a selection that peeked at test reports 0.95.
    for beta, val, test in ((0.0, 0.40, 0.70), (1.0, 0.45, 0.80), (10.0, 0.30, 0.95)):
        fake_run(method_runs(exp, "limit_g", beta=beta)[0], val, test, auc=0.9, boot_std=0.02)
    summary = aggregate(exp)
    c = cell(summary.cells, "limit_g")
    assert c.selected.point == {"beta": 1.0}
    assert c.stats["test_acc"] == pytest.approx(0.80) and c.stats["val_acc"] == pytest.approx(0.45)
    sel = pd.read_csv(tmp_path / "results" / "selection.csv")
    chosen = sel[sel.selected & (sel.method_id == "limit_g")]
    assert list(chosen.point) == ["beta1"] and chosen.mean_val_acc.item() == pytest.approx(0.45)
    table = pd.read_csv(tmp_path / "results" / "table.csv").set_index("method_id")
    assert table.loc["limit_g", "test_acc_pct"] == pytest.approx(80.0)
    assert "80.0 ± 2.0" in (tmp_path / "results" / "table.md").read_text()


def test_selection_uses_the_mean_over_seeds(tmp_path):
    exp = experiment(tmp_path, [study(seeds=[42, 43])])
    for r in method_runs(exp, "ce"):
        fake_run(r, 0.5, 0.5)
    # β=0 has the single best seed (0.9) but the lower mean (0.5 < 0.6).
    vals = {0.0: (0.9, 0.1), 1.0: (0.6, 0.6), 10.0: (0.2, 0.2)}
    for beta, pair in vals.items():
        for r, v in zip(method_runs(exp, "limit_g", beta=beta), pair):
            fake_run(r, v, 0.1 * (1 + beta))
    c = cell(build_cells(exp), "limit_g")
    assert c.selected.point == {"beta": 1.0}


def test_error_is_seed_std_with_ddof1_or_bootstrap_std(tmp_path):
    exp = experiment(tmp_path / "a", [study(seeds=[42, 43, 44], methods=[{"method": "ce"}])])
    tests = [0.90, 0.93, 0.97]
    for r, t in zip(runs_of(exp), tests):
        fake_run(r, 0.5, t, boot_std=0.5)  # bootstrap ignored with several seeds
    c = cell(aggregate(exp).cells, "ce")
    assert c.stats["error"] == "seed_std" and c.stats["n_seeds"] == 3
    assert c.stats["test_acc_std"] == pytest.approx(np.std(tests, ddof=1))
    assert c.stats["test_acc_std"] != pytest.approx(np.std(tests, ddof=0))
    assert "ddof = 1" in (tmp_path / "a" / "results" / "table.md").read_text()

    exp1 = experiment(tmp_path / "b", [study(methods=[{"method": "ce"}])])
    fake_run(runs_of(exp1)[0], 0.5, 0.9, boot_std=0.0123)
    c1 = cell(aggregate(exp1).cells, "ce")
    assert c1.stats["error"] == "bootstrap_std" and c1.stats["test_acc_std"] == pytest.approx(0.0123)
    assert "bootstrap resamples" in (tmp_path / "b" / "results" / "table.md").read_text()


def test_missing_diverged_and_empty_history_still_render(tmp_path, capsys):
    exp = experiment(tmp_path, [study(noise={"model": "uniform", "p": [0.5, 0.8]},
                                      methods=[{"method": "ce", "label": "CE"}, {"method": "mae", "label": "MAE"},
                                               {"id": "limit_g", "method": "limit", "beta": [0.0, 1.0]}])])
    by = lambda m, p, **pt: [r for r in method_runs(exp, m, **pt) if r.spec.p == p]  # noqa: E731
    fake_run(by("ce", 0.5)[0], 0.5, 0.6, boot_std=0.01)
    fake_run(by("ce", 0.8)[0], 0.3, 0.4, boot_std=0.01, history=False)
    (Path(by("ce", 0.8)[0].spec.run_dir) / "history.csv").write_text("")           # empty history
    fake_run(by("mae", 0.5)[0], 0.5, 0.6, boot_std=0.01)
    diverged = by("mae", 0.8)[0]                                                     # diverged: NaN accuracies
    fake_run(diverged, float("nan"), float("nan"))
    fake_run(by("limit_g", 0.5, beta=0.0)[0], 0.6, 0.7, boot_std=0.01)
    fake_run(by("limit_g", 0.5, beta=1.0)[0], 0.7, 0.8, boot_std=0.01)
    fake_run(by("limit_g", 0.8, beta=0.0)[0], 0.2, 0.3, boot_std=0.01)             # β=1 at p=0.8 never trained
    failed = by("limit_g", 0.8, beta=1.0)[0].spec.run_dir                           # ... its job failed
    Path(failed).mkdir(parents=True)
    (Path(failed) / "failed.json").write_text("{}")
    summary = aggregate(exp)
    status = {(c.method_id, c.p): c.status for c in summary.cells}
    assert status == {("ce", 0.5): "ok", ("ce", 0.8): "ok", ("mae", 0.5): "ok", ("mae", 0.8): "missing",
                      ("limit_g", 0.5): "ok", ("limit_g", 0.8): "partial"}
    never = by("limit_g", 0.8, beta=1.0)[0].key
    assert set(summary.missing) == {diverged.key, never}
    err = capsys.readouterr().err
    assert diverged.key in err and never in err and "history.csv" in err
    md = (tmp_path / "results" / "table.md").read_text()
    mae_row = next(line for line in md.splitlines() if line.startswith("| MAE |"))
    assert mae_row == "| MAE | 60.0 ± 1.0 | missing |"
    assert "30.0 ± 1.0*" in md  # partial cell: selection over the finished point only
    assert f"`{never}`: training failed" in md and f"`{diverged.key}`: result.json has non-finite" in md
    keys = flatten(json.loads((tmp_path / "results" / "metrics.json").read_text()))
    assert "mnist/uniform/p80/nall/mae/test_acc" not in keys
    assert "mnist/uniform/p80/nall/limit_g/test_acc" not in keys       # partial: not a final number
    assert keys["mnist/uniform/p80/nall/ce/test_acc"] == pytest.approx(0.4)
    curves = pd.read_csv(tmp_path / "results" / "curves.csv")
    assert set(curves.method_id[curves.p == 0.5]) == {"ce", "mae", "limit_g"}
    assert "ce" not in set(curves.method_id[curves.p == 0.8])            # its history is empty


def test_nothing_trained_does_not_crash(tmp_path):
    exp = experiment(tmp_path, [study()])
    summary = aggregate(exp)
    assert all(c.status == "missing" for c in summary.cells)
    assert json.loads((tmp_path / "results" / "metrics.json").read_text()) == {}
    assert pd.read_csv(tmp_path / "results" / "curves.csv").empty


def test_metric_keys_have_no_dots_and_follow_params(tmp_path):
    s = study(noise={"model": "uniform", "p": [0.5, 0.89]}, n=[1000, "all"], dataset={"name": "mnist", "val_ratio": 0.25})
    exp = experiment(tmp_path, [s])
    for r in runs_of(exp):
        fake_run(r, 0.5, 0.6, auc=0.99 if r.spec.method_id == "limit_g" else None, boot_std=0.01)
    aggregate(exp)
    keys = flatten(json.loads((tmp_path / "results" / "metrics.json").read_text()))
    assert "mnist/uniform-val0_25/p89/n1000/limit_g/detection_auc" in keys
    assert "mnist/uniform-val0_25/p50/nall/ce/test_acc_std" in keys
    assert "mnist/uniform-val0_25/p50/nall/ce/detection_auc" not in keys  # null values are left out
    assert all("." not in part for k in keys for part in k.split("/"))
    # Remove p = 0.89 from the params: its keys disappear although its run folders are still on disk.
    exp2 = experiment(tmp_path, [{**s, "noise": {"model": "uniform", "p": [0.5]}}])
    aggregate(exp2)
    keys2 = flatten(json.loads((tmp_path / "results" / "metrics.json").read_text()))
    assert keys2 and not any("/p89/" in k for k in keys2)
    assert set(keys2) == {k for k in keys if "/p50/" in k}


def test_colliding_studies_get_their_id_in_keys(tmp_path):
    a = study(id="a", methods=[{"method": "ce"}])
    b = study(id="b", methods=[{"method": "ce"}], model={"arch": "mlp4"})
    exp = experiment(tmp_path, [a, b])
    for r in runs_of(exp):
        fake_run(r, 0.5, 0.6 if r.spec.study == "a" else 0.7, boot_std=0.01)
    aggregate(exp)
    keys = flatten(json.loads((tmp_path / "results" / "metrics.json").read_text()))
    assert keys["a/mnist/uniform/p80/nall/ce/test_acc"] == pytest.approx(0.6)
    assert keys["b/mnist/uniform/p80/nall/ce/test_acc"] == pytest.approx(0.7)


def test_paper_numbers_beside_ours(tmp_path):
    # MNIST p = 0.5, n = all: Table 4's second group (docs/methods.md, with std)
    exp = experiment(tmp_path, [study(noise={"model": "uniform", "p": [0.5]})])
    fake_run(method_runs(exp, "ce")[0], 0.5, 0.962, boot_std=0.01)
    aggregate(exp)
    table = pd.read_csv(tmp_path / "results" / "table.csv").set_index("method_id")
    assert table.loc["ce", "paper_test_acc_pct"] == 97.2 and table.loc["ce", "paper_source"] == "Table 4"
    assert table.loc["ce", "diff_pct"] == pytest.approx(96.2 - 97.2)
    assert table.loc["limit_g", "paper_test_acc_pct"] == 98.6 and np.isnan(table.loc["limit_g", "diff_pct"])
    md = (tmp_path / "results" / "table.md").read_text()
    assert "## Paper" in md and "| CE | 97.2 ± 0.2 (-1.0) |" in md and "| LIMIT_G | 98.6" in md


def test_paper_numbers_at_p80_come_from_table1_third_group(tmp_path):
    exp = experiment(tmp_path, [study(n=[1000, "all"])])
    for run in method_runs(exp, "ce"):
        fake_run(run, 0.3, 0.26, boot_std=0.01)
    aggregate(exp)
    table = pd.read_csv(tmp_path / "results" / "table.csv")
    ce = table[table.method_id == "ce"].set_index("n")
    assert ce.loc["1000", "paper_test_acc_pct"] == 27.0 and ce.loc["all", "paper_test_acc_pct"] == 87.2
    assert set(ce["paper_source"]) == {"Table 1"}
    lim = table[table.method_id == "limit_g"].set_index("n")
    assert lim.loc["1000", "paper_test_acc_pct"] == 37.1 and lim.loc["all", "paper_test_acc_pct"] == 94.7


def test_mnist_paper_columns_are_p0_p50_p80():
    from limitlab.report.paper_numbers import lookup
    assert lookup("mnist", "uniform", 0.5, 1000, "ce").mean == 71.8
    assert lookup("mnist", "uniform", 0.5, 1000, "ce").std == 4.3
    assert lookup("mnist", "uniform", 0.8, 1000, "ce").mean == 27.0
    assert lookup("mnist", "uniform", 0.8, 1000, "limit_l").mean == 35.9
    assert lookup("mnist", "uniform", 0.8, 10000, "ce") is None  # Table 4 has no p = 0.8 group
    assert lookup("mnist", "uniform", 0.0, 10000, "ce").mean == 98.4
    for n in (1000, 10000, "all", 48000):  # Table 5 (p = 0.89) is not available
        assert lookup("mnist", "uniform", 0.89, n, "ce") is None


def test_cli(tmp_path, capsys):
    exp_dict = {"name": "fake", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "res"),
                "studies": [study(methods=[{"method": "ce", "label": "CE"}])]}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(exp_dict, allow_unicode=True))
    fake_run(runs_of(P.load(path))[0], 0.5, 0.9, boot_std=0.01)
    assert main(["aggregate", "--params", str(path)]) == 0
    out = capsys.readouterr().out
    assert "90.0 ± 1.0" in out and "87.2" in out  # ours, and the paper's number beside it (Table 1, p = 0.8)
    for name in ("table.md", "table.csv", "selection.csv", "metrics.json", "curves.csv"):
        assert (tmp_path / "res" / name).stat().st_size > 0


def test_a_diverged_run_competes_and_is_marked(tmp_path):
    exp = experiment(tmp_path, [study(noise={"model": "uniform", "p": [0.5]})])
    runs = method_runs(exp, "limit_g")
    for i, run in enumerate(runs):
        fake_run(run, 0.5 + 0.1 * i, 0.8, boot_std=0.01)
    # the best-validation point diverged after its best epoch: its result is kept, selected and marked
    path = Path(runs[-1].spec.run_dir) / "result.json"
    result = json.loads(path.read_text())
    result["diverged"] = {"epoch": 7, "reason": "limit_g (limit) at epoch 7 diverged at batch 2: loss is nan"}
    path.write_text(json.dumps(result))
    aggregate(exp)
    table = pd.read_csv(tmp_path / "results" / "table.csv").set_index("method_id")
    assert table.loc["limit_g", "status"] == "ok" and table.loc["limit_g", "diverged_runs"] == 1
    assert table.loc["limit_g", "val_acc_pct"] == pytest.approx(100 * (0.5 + 0.1 * (len(runs) - 1)))
    md = (tmp_path / "results" / "table.md").read_text()
    assert "80.0 ± 1.0†" in md and "## Diverged runs (1)" in md and "epoch 7" in md


# --- a damaged history.csv is named, never drawn as NaN or as the wrong final epoch ----------------------------


def cut_last_line(text: str) -> str:
    return text[:-7]  # a copy or a disk that stopped mid-line: no line end, the last fields short


def drop_fields(text: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[2] = ",".join(lines[2].split(",")[:3]) + "\n"  # epoch 1 keeps 3 of its 8 fields
    return "".join(lines)


def drop_last_rows(text: str) -> str:
    return "".join(text.splitlines(keepends=True)[:3])  # cut at a line end: epochs 0 and 1 only, best epoch is 2


def garble_number(text: str) -> str:
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace("0.4", "0.4x", 1)  # epoch 2's train_acc_noisy
    return "".join(lines)


@pytest.mark.parametrize("damage, what", [
    (cut_last_line, "last line is cut"),
    (drop_fields, "line 3 has 3 of the header's 8 fields"),
    (drop_last_rows, "result.json's best epoch is 2"),
    (garble_number, "line 4: train_acc_noisy = '0.4x' is not a number"),
])
def test_damaged_history_is_an_error_naming_the_file(tmp_path, capsys, damage, what):
    exp = experiment(tmp_path, [study(methods=[{"method": "ce"}])])
    run = runs_of(exp)[0]
    fake_run(run, 0.5, 0.6, boot_std=0.01)
    aggregate(exp)
    written = {p.name: p.read_bytes() for p in (tmp_path / "results").iterdir()}
    history = Path(run.spec.run_dir) / "history.csv"
    history.write_text(damage(history.read_text()))
    with pytest.raises(LimitlabError) as exc:
        aggregate(exp)
    message = str(exc.value)
    assert str(history) in message and what in message and "damaged" in message
    assert f"limitlab train --params FILE --run {run.key}" in message and "rerun the pipeline" in message
    # nothing the last aggregate wrote is lost or half-rewritten
    assert {p.name: p.read_bytes() for p in (tmp_path / "results").iterdir()} == written


def damaged_history_command(tmp_path, capsys, damage, command: str):
    """A one-run experiment whose history.csv is damaged, run through ``limitlab COMMAND``: (its run, the
    history file, what it printed on stderr, whitespace folded)."""
    exp = experiment(tmp_path, [study(methods=[{"method": "ce"}])])
    run = runs_of(exp)[0]
    fake_run(run, 0.5, 0.6)
    history = Path(run.spec.run_dir) / "history.csv"
    history.write_text(damage(history.read_text()))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(exp.model_dump(mode="json", exclude_none=True)))
    assert main([command, "--params", str(params)]) == 2
    return run, history, " ".join(capsys.readouterr().err.split())


def test_damaged_history_through_the_command_line(tmp_path, capsys):
    run, history, err = damaged_history_command(tmp_path, capsys, cut_last_line, "aggregate")
    assert str(history) in err and "last line is cut" in err and "Traceback" not in err
    assert f"limitlab train --params FILE --run {run.key}" in err


def test_legit_histories_still_pass(tmp_path):
    """Written before a column existed (no val_acc_clean, no test_acc), or with a method log that is NaN (written
    as an empty cell, all fields there): both are read, as every row has all its fields."""
    exp = experiment(tmp_path, [study(seeds=[42, 43], methods=[{"method": "ce"}])])
    old, with_nan = runs_of(exp)
    for run in (old, with_nan):
        fake_run(run, 0.5, 0.6)
    path = Path(old.spec.run_dir) / "history.csv"
    pd.read_csv(path).drop(columns=["val_acc_clean", "test_acc"]).to_csv(path, index=False)
    path = Path(with_nan.spec.run_dir) / "history.csv"
    pd.read_csv(path).assign(q_fit=[0.1, np.nan, 0.2, np.nan]).to_csv(path, index=False)
    aggregate(exp)
    curves = pd.read_csv(tmp_path / "results" / "curves.csv")
    assert list(curves.epoch) == [0, 1, 2, 3] and (curves.n_seeds == 2).all()


def test_plot_names_a_damaged_history_before_drawing(tmp_path, capsys):
    """Inside a figure the error would only be that figure's traceback: `limitlab plot` reads the histories first."""
    _, history, err = damaged_history_command(tmp_path, capsys, drop_fields, "plot")
    assert str(history) in err and "line 3 has 3 of the header's 8 fields" in err and "Traceback" not in err
    assert not (tmp_path / "results" / "figures").exists()
