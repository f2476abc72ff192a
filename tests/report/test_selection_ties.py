"""Every selection breaks ties as the paper's rule says, the first point in params order, also when the tied means
are of float32 accuracies whose sums over seeds differ in their last bits."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from limitlab.report.cells import Point, select
from limitlab.report.run_outputs import first_best
from limitlab.report.selection_reliability import reliability_numbers

N_VAL = 800
# Correct counts of two points on three splits: the same total (542 of 2,400), so the same mean in decimal. As
# float32 fractions (what result.json holds) the second point's mean is 5e-9 larger: a plain argmax picks it.
FIRST, SECOND = (193, 199, 150), (194, 198, 150)


def f32(count: int) -> float:
    return float(np.float32(count) / np.float32(N_VAL))


def point(counts: tuple[int, ...], beta: float) -> Point:
    records = [SimpleNamespace(done=True, result={"best_val_acc": f32(k)}) for k in counts]
    return Point({"beta": beta}, records)


def test_the_case_is_a_float32_tie():
    first, second = point(FIRST, 1.0), point(SECOND, 3.0)
    assert sum(FIRST) == sum(SECOND)
    assert second.mean_val_acc > first.mean_val_acc  # what a plain argmax would go by
    assert int(np.argmax([first.mean_val_acc, second.mean_val_acc])) == 1


def test_the_papers_rule_keeps_the_first_point_of_a_tie():
    first, second = point(FIRST, 1.0), point(SECOND, 3.0)
    assert select([first, second]) is first
    assert select([second, first]) is second
    better = point((194, 199, 150), 10.0)  # one more correct label: 1/2,400 higher, not a tie
    assert select([first, second, better]) is better


def test_first_best_along_an_axis_and_with_one_value():
    v = np.array([[0.5, 0.5 + 1e-8, 0.4], [0.1, 0.3, 0.3 - 1e-8], [0.2, 0.2, 0.2 + 1e-3]])
    assert first_best(v, axis=1).tolist() == [0, 1, 2]
    assert int(first_best([0.7])) == 0


def test_the_reliability_selects_and_resamples_with_the_same_tie_break():
    v_obs = np.array([[f32(k) for k in FIRST], [f32(k) for k in SECOND]])  # (J, S)
    test = np.array([[0.30, 0.30, 0.30], [0.20, 0.20, 0.20]])
    r = reliability_numbers(v_obs, v_obs[None], test, None, np.full(3, N_VAL))
    assert r["selected"] == 0
    assert r["select_prob"].tolist() == [1.0, 0.0]  # the resample equal to the observed sample keeps the tie-break
    assert r["p_test_best"] == 1.0


def test_a_test_best_tied_in_float32_counts_as_test_best():
    test = np.array([[f32(k) for k in SECOND], [f32(k) for k in FIRST]]) * (N_VAL / 1000)  # tied test means
    v_obs = np.array([[0.5, 0.5, 0.5], [0.6, 0.6, 0.6]])  # validation picks point 1
    r = reliability_numbers(v_obs, v_obs[None], test, None, np.full(3, N_VAL))
    assert r["selected"] == 1 and r["p_test_best"] == 1.0


def test_the_summary_names_the_first_of_tied_methods(tmp_path):
    """The summary's best method and best baseline: two methods at 75.0 % (one read as 74.99999809 from float32, the
    later one as 75.00000095) are tied, and the first in params order is named."""
    import pandas as pd

    from fake_runs import experiment, study
    from limitlab.report.summary import summary_frame

    methods = [{"method": "ce", "label": "CE"}, {"method": "mae", "label": "MAE"},
               {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [1.0]}]
    exp = experiment(tmp_path, [study(methods=methods)])

    def best(ce: float, mae: float, limit_g: float) -> tuple[str, str]:
        table = pd.DataFrame([{"setting": "mnist/uniform/p50/nall", "study": "u", "dataset": "mnist",
                               "noise": "uniform", "p": 0.5, "n": "all", "method_id": m, "label": m, "test_acc_pct": acc,
                               "test_acc_std_pct": 1.0, "coin_toss": False}
                              for m, acc in [("ce", ce), ("mae", mae), ("limit_g", limit_g)]])
        row = summary_frame(exp, table, None).iloc[0]
        return row.best_id, row.baseline_id

    assert best(74.99999809, 75.00000095, 70.0) == ("ce", "mae")  # the best method
    assert best(74.99999809, 75.00000095, 80.0) == ("limit_g", "ce")  # the best baseline beside it


def test_the_oracle_rule_keeps_the_first_point_of_a_tie(monkeypatch):
    from limitlab.report import selection_rules

    first, second = point(FIRST, 1.0), point(SECOND, 3.0)
    curves = {id(first): [np.array([0.1, f32(k)]) for k in FIRST],
              id(second): [np.array([f32(k), 0.1]) for k in SECOND]}
    monkeypatch.setattr(selection_rules, "test_curves", lambda pt, messages: curves[id(pt)])
    cell = SimpleNamespace(selected=first, points=[first, second],
                           stats={"test_acc": 0.2, "test_acc_std": None, "error": "none", "n_seeds": 3})
    oracle = selection_rules.rule_results(cell)["oracle"]
    assert oracle.point == first.tag and oracle.test_acc == first.mean_val_acc
