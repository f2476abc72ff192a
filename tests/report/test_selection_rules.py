"""The three selection rules on a 2-seed, 2-point cell whose numbers are worked out by hand below."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from limitlab.report.aggregate import aggregate
from fake_runs import RUNS, experiment, method_runs, study, write_run


def test_paper_rule_last_epoch_and_oracle_by_hand(tmp_path):
    exp = experiment(tmp_path, [study(seeds=[42, 43], methods=[
        {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}])])
    for beta, seeds in RUNS.items():
        for run in method_runs(exp, "limit_g", beta=beta):
            write_run(run, *seeds[run.spec.seed])
    summary = aggregate(exp)
    (cell,) = summary.cells
    rules = cell.rules
    # paper: beta 0 (mean val 0.51 > 0.42); its best-val epochs' test accuracies 0.60, 0.62
    assert rules["paper"].point == "beta0" and rules["paper"].test_acc == pytest.approx(0.61)
    assert rules["paper"].test_acc_std == pytest.approx(0.0141421356)  # |0.62 - 0.60| / sqrt(2)
    # last epoch of beta 0: 0.65 and 0.58
    assert rules["last_epoch"].point == "beta0" and rules["last_epoch"].test_acc == pytest.approx(0.615)
    assert rules["last_epoch"].test_acc_std == pytest.approx(0.0494974747)
    # oracle: beta 0 gives (0.70 + 0.64) / 2 = 0.67, beta 1 gives (0.75 + 0.80) / 2 = 0.775: beta 1
    assert rules["oracle"].point == "beta1" and rules["oracle"].test_acc == pytest.approx(0.775)
    assert rules["oracle"].test_acc_std == pytest.approx(0.0353553391)

    metrics = json.loads((tmp_path / "results" / "metrics.json").read_text())
    node = metrics["mnist"]["uniform"]["p80"]["nall"]["limit_g"]
    assert node["test_acc"] == pytest.approx(0.61)  # the existing key keeps the paper's rule
    assert node["test_acc_last_epoch"] == pytest.approx(0.615) and node["test_acc_oracle"] == pytest.approx(0.775)
    row = pd.read_csv(tmp_path / "results" / "table.csv").iloc[0]
    assert row.test_acc_pct == pytest.approx(61.0) and row.test_acc_last_epoch_pct == pytest.approx(61.5)
    assert row.test_acc_oracle_pct == pytest.approx(77.5) and row.oracle_point == "beta1"
    assert (row.best_epoch_mean, row.epochs_run_mean, row.runs_stopped_by_patience) == (1, 4, 0)
    assert row.epoch_cap == exp.studies[0].training.epochs
    selection = pd.read_csv(tmp_path / "results" / "selection.csv").set_index("point")
    assert selection.loc["beta1", "mean_test_acc"] == pytest.approx(0.51)  # the whole curve, never selected on
    table = (tmp_path / "results" / "table.md").read_text()
    assert "| LIMIT_G | mnist/uniform/p80/nall | 61.0 ± 1.4 | 61.5 ± 4.9 | 77.5 ± 3.5 | beta1 |" in table
    assert "upper bound selected on the test set, not a result" in table


def test_runs_without_a_logged_test_curve_get_no_rule_numbers(tmp_path):
    exp = experiment(tmp_path, [study(methods=[{"method": "ce", "label": "CE"}])])
    (run,) = method_runs(exp, "ce")
    write_run(run, 0.5, 0.6, [0.5, 0.6])
    path = Path(run.spec.run_dir) / "history.csv"
    pd.read_csv(path).drop(columns=["test_acc"]).to_csv(path, index=False)
    (cell,) = aggregate(exp).cells
    assert cell.rules["paper"].test_acc == pytest.approx(0.6)
    assert cell.rules["last_epoch"].test_acc is None and "log_test" in cell.rules["last_epoch"].note
    assert cell.rules["oracle"].test_acc is None


def test_extra_rows_without_a_method_entry_get_their_training_length(tmp_path):
    """The susceptibility selection adds rows whose method id names no method entry (``<id>_sus_sel``,
    ``any_method``): table.csv takes the epoch cap from the selected runs themselves."""
    import dataclasses

    from limitlab.report.tables import long_frame

    exp = experiment(tmp_path, [study(seeds=[42, 43], methods=[
        {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}])])
    for beta, seeds in RUNS.items():
        for run in method_runs(exp, "limit_g", beta=beta):
            write_run(run, *seeds[run.spec.seed])
    (cell,) = aggregate(exp).cells
    extra = dataclasses.replace(cell, method_id="any_method", label="susceptibility (any method)")
    row = long_frame([extra]).iloc[0]
    assert row.epoch_cap == exp.studies[0].training.epochs and row.best_epoch_mean == 1
