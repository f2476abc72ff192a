"""Paired differences over splits and the claim check, on examples small enough to compute by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from limitlab.errors import LimitlabError
from limitlab.report.aggregate import aggregate
from limitlab.report.claims import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, load_claims
from limitlab.report.paired import paired_stats
from fake_runs import experiment, method_runs, study, write_run


def test_three_seeds_mean_wins_and_no_test():
    # differences 0.02, -0.01, 0.05: mean 0.02, 2 higher and 1 lower, too few pairs for the signed-rank test
    s = paired_stats({42: 0.72, 43: 0.70, 44: 0.80}, {42: 0.70, 43: 0.71, 44: 0.75}, 2000, 0, 0.95)
    assert s.mean == pytest.approx(0.02) and (s.wins, s.ties, s.losses) == (2, 0, 1)
    assert s.p_value is None and s.test.startswith("no test: 3 pair(s)")
    # a bootstrap over 3 seeds can only give means of 3 of {0.02, -0.01, 0.05}: within [-0.01, 0.05]
    assert -0.01 - 1e-12 <= s.low < s.mean < s.high <= 0.05 + 1e-12
    assert s.interval == "bootstrap over seeds"


def test_five_seeds_wilcoxon_exact():
    a = {s: 0.8 for s in range(5)}
    b = {0: 0.70, 1: 0.72, 2: 0.74, 3: 0.76, 4: 0.78}
    s = paired_stats(a, b, 1000, 0, 0.95)
    # all 5 differences positive with distinct ranks: exact two-sided p = 2 / 2^5
    assert s.p_value == pytest.approx(0.0625) and s.wins == 5 and s.mean == pytest.approx(0.06)
    b[4] = 0.85  # ranks of |d| = 0.10, 0.08, 0.06, 0.04, 0.05: the negative one has rank 2, W- = 2 -> p = 2 * 3/32
    assert paired_stats(a, b, 1000, 0, 0.95).p_value == pytest.approx(0.1875)
    # against a constant: one-sample differences
    c = paired_stats({0: 0.9, 1: 0.8}, 0.5, 100, 0, 0.95)
    assert c.diffs == pytest.approx([0.4, 0.3]) and c.p_value is None


def test_one_seed_interval_comes_from_the_paired_test_set():
    # 1,000 test examples: method right on 800, reference on 700; 150 where only the method is right, 50 the other way
    ca = np.r_[np.ones(800), np.zeros(200)].astype(np.int8)
    cb = np.r_[np.ones(650), np.zeros(150), np.ones(50), np.zeros(150)].astype(np.int8)
    s = paired_stats({42: 0.8}, {42: 0.7}, 4000, 0, 0.95, {42: ca}, {42: cb})
    # per-example difference: +1 on 150, -1 on 50 -> sd of the resampled mean = sqrt((0.2 - 0.1^2) / 1000)
    sd = np.sqrt((0.2 - 0.01) / 1000)
    assert s.mean == pytest.approx(0.1) and s.n == 1 and s.interval.startswith("bootstrap of the test set of one seed")
    assert s.low == pytest.approx(0.1 - 1.96 * sd, abs=0.004) and s.high == pytest.approx(0.1 + 1.96 * sd, abs=0.004)


def write_claims(tmp_path, claims: list[dict]):
    path = tmp_path / "claims.yaml"
    path.write_text(json.dumps({"claims": claims}))
    return path


def test_a_claim_evaluated_to_each_verdict(tmp_path):
    claims = write_claims(tmp_path, [
        {"id": "A", "claim": "LIMIT above CE", "where": "here", "settings": {"datasets": ["mnist"], "p_above": 0},
         "comparisons": [{"method": "limit_g", "reference": "ce", "expect": "above"}]},
        {"id": "B", "claim": "LIMIT below CE", "where": "here", "settings": {"datasets": ["mnist"]},
         "comparisons": [{"method": "limit_g", "reference": "ce", "expect": "below"}]},
        {"id": "C", "claim": "CIFAR", "where": "there", "settings": {"datasets": ["cifar10"]},
         "comparisons": [{"method": "limit_g", "reference": "ce", "expect": "above"}], "tested_by": "params/paper/cifar10.yaml"},
        {"id": "D", "claim": "MAE", "where": "there", "settings": {"datasets": ["mnist"]},
         "comparisons": [{"method": "mae", "reference": "ce", "expect": "above"}]},
        {"id": "E", "claim": "partly", "where": "here", "settings": {"datasets": ["mnist"]},
         "comparisons": [{"method": "limit_g", "reference": "ce", "expect": "above"},
                         {"method": "limit_g", "reference": "mae", "expect": "above"}]},
        {"id": "F", "claim": "β > 0 matters", "where": "here", "settings": {"datasets": ["mnist"]},
         "comparisons": [{"method": "limit_g", "reference": "limit_g", "reference_point": {"beta": 0.0},
                          "expect": "above"}]},
    ])
    exp = experiment(tmp_path, [study(seeds=[42, 43, 44, 45, 46], methods=[
        {"method": "ce", "label": "CE"}, {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [1.0]}])])
    exp = exp.model_copy(update={"comparisons": exp.comparisons.model_copy(update={"claims": claims})})
    for run in method_runs(exp, "ce"):
        write_run(run, 0.3, 0.30 + 0.01 * (run.spec.seed - 42), [0.3, 0.3])
    for run in method_runs(exp, "limit_g"):
        write_run(run, 0.4, 0.40 + 0.02 * (run.spec.seed - 42), [0.4, 0.4])
    summary = aggregate(exp)
    verdicts = {r.claim.id: r.verdict for r in summary.claims}
    assert verdicts == {"A": SUPPORTED, "B": NOT_SUPPORTED, "C": NOT_TESTABLE, "D": NOT_TESTABLE, "E": SUPPORTED,
                        "F": NOT_TESTABLE}
    by_id = {r.claim.id: r for r in summary.claims}
    assert by_id["A"].coverage == "" and by_id["E"].coverage == "1 of 2 comparisons made"
    assert "no setting of cifar10" in by_id["C"].why and "no finished mae" in by_id["D"].why
    assert "no finished limit_g at beta = 0 " in by_id["F"].why  # the point it lacks (the grid has β = 1 only)
    (check,) = by_id["A"].checks
    # differences 0.10, 0.11, 0.12, 0.13, 0.14: mean 0.12, 5 of 5 higher, p = 0.0625
    assert check.stats.mean == pytest.approx(0.12) and check.stats.wins == 5 and check.stats.p_value == pytest.approx(0.0625)
    results = tmp_path / "results"
    paired = pd.read_csv(results / "paired.csv")
    row = paired[(paired.method_id == "limit_g") & (paired.reference_kind == "reference")].iloc[0]
    assert row.diff_pct == pytest.approx(12.0) and row.wins == 5 and row.reference_id == "ce"
    assert set(pd.read_csv(results / "claims.csv").verdict) == {SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE}
    assert set(paired.reference_kind) == {"reference"}  # CE is also the best baseline: no second row
    node = json.loads((results / "metrics.json").read_text())["mnist"]["uniform"]["p80"]["nall"]["limit_g"]
    assert node["vs_ce_diff"] == pytest.approx(0.12) and node["vs_ce_wins"] == 5
    table = (results / "table.md").read_text()
    assert "## The paper's claims" in table and "## Paired differences over splits" in table
    assert "| A: LIMIT above CE | here | LIMIT_G − CE, mnist/uniform/p80/nall: +12.0 [" in table


def test_the_papers_claims_file_is_valid_and_a_bad_one_is_refused(tmp_path):
    claims = load_claims()
    assert [c.id for c in claims] == [f"C{i}" for i in range(1, 13)]
    bad = write_claims(tmp_path, [{"id": "X", "claim": "x", "where": "y", "settings": {"datasets": ["mnist"]},
                                   "comparisons": [{"method": "a", "reference": "b", "expect": "better"}]}])
    with pytest.raises(LimitlabError, match=r"claims file .*claims.yaml: claims\.0\.comparisons\.0\.expect"):
        load_claims(bad)


def test_precision_and_recall_at_a_budget_by_hand():
    from limitlab.detection_metrics import budget_metrics

    # 10 examples, 4 corrupted (positions 0, 2, 5, 9); scores rank them 9, 0, 1, 2, 3, 4, 5, 6, 7, 8 (ties: index order)
    scores = np.array([0.9, 0.8, 0.8, 0.5, 0.5, 0.4, 0.3, 0.2, 0.1, 1.0])
    corrupted = np.zeros(10, bool)
    corrupted[[0, 2, 5, 9]] = True
    m = budget_metrics(scores, corrupted, estimate=2)
    # top 4 = 9, 0, 1, 2: 3 corrupted -> precision = recall = 3/4; top 2 = 9, 0: both corrupted -> P 1, R 2/4
    assert m["precision_at_noise_rate"] == m["recall_at_noise_rate"] == 0.75
    assert (m["k_estimate"], m["precision_at_estimate"], m["recall_at_estimate"]) == (2, 1.0, 0.5)
    assert m["precision_at_100"] is None and m["precision_at_1000"] is None  # more than the 10 examples
    assert budget_metrics(scores, np.zeros(10, bool))["precision_at_noise_rate"] is None
