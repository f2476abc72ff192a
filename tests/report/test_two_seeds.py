"""Two seeds, two sources of variance: the variance split of a cell (by hand and on a synthetic case with known
components), the grid of training seeds, and the report of a study with them (pairs on the split, the reliability
resampled per split, the section in table.md and the results page)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from limitlab.experiment.grid import runs_of
from limitlab.report.aggregate import aggregate
from limitlab.report.paired import paired_stats
from limitlab.report.results_page import results_html
from limitlab.report.variance_split import variance_split
from fake_runs import experiment, fake_run, study
from reliability_case import write_run as write_predictions


def test_the_hand_case():
    # splits [1, 3] and [5, 7]: means 2 and 6 (grand 4); MSB = 2·(4 + 4)/1 = 16, MSW = (1 + 1 + 1 + 1)/2 = 2,
    # n0 = (4 − 8/4)/1 = 2, so σ²_split = (16 − 2)/2 = 7, σ²_train = 2, share 7/9, F = 8 on (1, 2)
    v = variance_split([[1, 3], [5, 7]])
    assert (v.splits, v.runs) == (2, 4)
    assert v.split_std == pytest.approx(7 ** 0.5) and v.train_std == pytest.approx(2 ** 0.5)
    assert v.split_share == pytest.approx(7 / 9) and v.f_p_value == pytest.approx(stats.f.sf(8, 1, 2))


def test_known_components_are_recovered_balanced_and_not():
    rng = np.random.default_rng(0)
    for sizes in ([3] * 600, [2, 3, 4] * 200):
        groups = [10 + rng.normal(0, 2.0) + rng.normal(0, 1.0, n) for n in sizes]
        v = variance_split(groups)
        assert v.split_std == pytest.approx(2.0, rel=0.08) and v.train_std == pytest.approx(1.0, rel=0.05)
        assert v.split_share == pytest.approx(0.8, abs=0.04) and v.f_p_value < 1e-10


def test_no_split_effect_is_zero_not_negative_and_too_few_runs_is_none():
    v = variance_split([[1.0, 3.0], [1.5, 2.5]])  # the split means agree better than their runs: MSB < MSW
    assert v.split_std == 0.0 and v.split_share == 0.0
    assert variance_split([[1.0], [2.0], [3.0]]) is None  # one run per split: nothing within a split
    assert variance_split([[1.0, 2.0]]) is None  # one split


def test_training_seeds_make_runs_and_the_split_seed_is_the_default(tmp_path):
    methods = [{"method": "ce", "label": "CE"}, {"method": "fw", "label": "FW", "init": {"source": "ce"}}]
    plain = experiment(tmp_path, [study(seeds=[1, 2], methods=methods)])
    seeded = experiment(tmp_path, [study(seeds=[1, 2], train_seeds=[1, 7], methods=methods)])
    runs = runs_of(seeded)
    assert len(runs) == 2 * 2 * 2
    # split 1 trained with training seed 1 is the plain file's run of split 1 (same key and identity); split 2 has
    # no training seed 2, so no default run
    split_1 = {r.key: r.identity for r in runs_of(plain) if r.spec.seed == 1}
    assert split_1.items() <= {r.key: r.identity for r in runs}.items()
    assert not any(r.spec.seed == 2 and r.spec.train_seed is None for r in runs)
    own = {r.key: r for r in runs if r.spec.train_seed is not None}
    assert sorted(own) == ["u/mnist/uniform/p80/nall/s1/ce/default-t7", "u/mnist/uniform/p80/nall/s1/fw/default-t7",
                           "u/mnist/uniform/p80/nall/s2/ce/default-t1", "u/mnist/uniform/p80/nall/s2/ce/default-t7",
                           "u/mnist/uniform/p80/nall/s2/fw/default-t1", "u/mnist/uniform/p80/nall/s2/fw/default-t7"]
    fw = own["u/mnist/uniform/p80/nall/s2/fw/default-t7"].spec
    ce = own["u/mnist/uniform/p80/nall/s2/ce/default-t7"].spec
    assert fw.init_dir == ce.run_dir  # FW starts from the CE run of its split and training seed
    assert json.loads(fw.model_dump_json())["train_seed"] == 7
    assert "train_seed" not in json.loads(runs_of(plain)[0].spec.model_dump_json())


def test_paired_with_seed_means_is_the_split_mean_and_stays_bitwise_for_one_seed():
    a, b = {1: 0.7, 2: 0.6}, {1: 0.6, 2: 0.65}
    ca = {1: np.array([1, 1, 0, 1], dtype=np.int8), 2: np.array([1, 0, 0, 1], dtype=np.int8)}
    cb = {1: np.array([1, 0, 0, 1], dtype=np.int8), 2: np.array([1, 1, 0, 1], dtype=np.int8)}
    one = paired_stats(a, b, 500, 3, 0.95, ca, cb)
    again = paired_stats(a, b, 500, 3, 0.95, {s: c.astype(float) for s, c in ca.items()}, cb)
    assert (one.low, one.high) == (again.low, again.high)  # 0/1 as floats: the same draws
    # a split whose per-example difference is 0.5 everywhere resamples to itself: no test-set spread
    half = paired_stats({1: 0.75}, {1: 0.25}, 200, 0, 0.95, {1: np.full(8, 0.75)}, {1: np.full(8, 0.25)})
    assert half.mean == pytest.approx(0.5) and half.low == pytest.approx(0.5) and half.high == pytest.approx(0.5)


def seeded_study(tmp_path, **kw):
    exp = experiment(tmp_path, [study(seeds=[42, 43], train_seeds=[1, 2], methods=[
        {"method": "ce", "label": "CE"},
        {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}], **kw)])
    return exp.model_copy(update={"bootstrap": exp.bootstrap.model_copy(update={"samples": 2000})})


# (split seed, training seed) -> clean test accuracy of CE and of LIMIT_G at beta 0 (selected: higher validation)
CE = {(42, 1): 0.50, (42, 2): 0.54, (43, 1): 0.60, (43, 2): 0.62}
LIMIT = {(42, 1): 0.58, (42, 2): 0.60, (43, 1): 0.70, (43, 2): 0.66}


def test_the_report_pairs_on_the_split_and_splits_the_variance(tmp_path):
    exp = seeded_study(tmp_path)
    for run in runs_of(exp):
        slot = run.spec.split_and_training_seed
        if run.spec.method_id == "ce":
            fake_run(run, 0.3, CE[slot])
        else:
            fake_run(run, 0.4 if run.spec.point["beta"] == 0.0 else 0.35, LIMIT[slot] - 0.1 * run.spec.point["beta"])
    summary = aggregate(exp)
    limit = next(c for c in summary.cells if c.method_id == "limit_g")
    assert limit.selected.tag == "beta0" and limit.stats["n_seeds"] == 4
    assert limit.stats["test_acc"] == pytest.approx(np.mean(list(LIMIT.values())))
    results = tmp_path / "results"
    paired = pd.read_csv(results / "paired.csv")
    row = paired[(paired["method_id"] == "limit_g") & (paired["reference_id"] == "ce")].iloc[0]
    # pairs are the splits, each the mean over its training seeds: 42: 0.59 − 0.52, 43: 0.68 − 0.61
    assert row["n_pairs"] == 2 and row["seeds"] == "42 43"
    assert [float(x) for x in row["per_seed_diff_pct"].split()] == pytest.approx([7.0, 7.0])
    table = pd.read_csv(results / "table.csv").set_index("method_id")
    ce = variance_split([[CE[(42, 1)], CE[(42, 2)]], [CE[(43, 1)], CE[(43, 2)]]])
    assert table.loc["ce", "split_std_pct"] == pytest.approx(100 * ce.split_std)
    assert table.loc["ce", "train_std_pct"] == pytest.approx(100 * ce.train_std)
    assert table.loc["ce", "variance_runs"] == 4 and table.loc["ce", "variance_splits"] == 2
    metrics = json.loads((results / "metrics.json").read_text())["mnist"]["uniform"]["p80"]["nall"]["ce"]
    assert metrics["split_std"] == pytest.approx(ce.split_std) and metrics["n_seeds"] == 4
    md = (results / "table.md").read_text()
    assert "## Where the variance comes from" in md
    assert f"| CE | mnist/uniform/p80/nall | 2 × 2 | 56.5 | {100 * ce.split_std:.2f} | {100 * ce.train_std:.2f} |" in md
    page = results_html(exp, results, "params.yaml")
    assert "<h2>Where the variance comes from</h2>" in page and "id='variance-table'" in page


def test_a_study_without_training_seeds_gets_no_variance_columns(tmp_path):
    exp = experiment(tmp_path, [study(seeds=[42, 43], methods=[{"method": "ce", "label": "CE"}])])
    for run in runs_of(exp):
        fake_run(run, 0.3, 0.5)
    aggregate(exp)
    table = pd.read_csv(tmp_path / "results" / "table.csv")
    assert "split_std_pct" not in table and "Where the variance" not in (tmp_path / "results" / "table.md").read_text()


def test_the_reliability_resamples_a_splits_training_seeds_alike(tmp_path):
    """Two training seeds with the same predictions on their split's validation set select exactly as one run does:
    they are resampled with the split's indices, not each with its own."""
    one = experiment(tmp_path / "one", [study(seeds=[42, 43], methods=[
        {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}])])
    two = experiment(tmp_path / "two", [study(seeds=[42, 43], train_seeds=[1, 2], methods=[
        {"id": "limit_g", "method": "limit", "label": "LIMIT_G", "beta": [0.0, 1.0]}])])
    rng = np.random.default_rng(1)  # beta 1 right on 24 of 40 examples, beta 0 on 20: the rule mostly picks beta 1
    correct = {(seed, beta): rng.permutation(40) < 20 + 4 * beta for seed in (42, 43) for beta in (0.0, 1.0)}
    for exp in (one, two):
        for run in runs_of(exp):
            s = run.spec
            write_predictions(run, correct[(s.seed, s.point["beta"])], 0.6 + 0.02 * s.point["beta"])
    rel = {name: next(c for c in aggregate(exp).cells).reliability for name, exp in (("one", one), ("two", two))}
    # equal up to exact ties of the two points' means, which a mean over 4 slots instead of 2 can round either way
    assert rel["two"].select_prob == pytest.approx(rel["one"].select_prob, abs=0.003)
    assert rel["two"].p_within == pytest.approx(rel["one"].p_within, abs=0.003) and rel["two"].seeds == [42, 43]
