"""Selection reliability (report.selection_reliability): a 2-point, 2-split cell whose every bootstrap resample is
enumerated and worked out by hand, the noise-corrected validation accuracy on synthetic labels, determinism, and
the whole path through `limitlab aggregate` on fake runs with val_predictions.npz."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from limitlab.report.aggregate import aggregate
from limitlab.report.selection_reliability import (COIN_TOSS_BELOW, COIN_TOSS_MARK, NOT_CLASS_CONDITIONAL,
                                                   cell_reliability, corrected_accuracy, draw_indices, first_exit,
                                                   labels_needed, reliability_numbers, resampled_accuracies)
from fake_runs import method_runs
from reliability_case import CORRECT, TEST, V_OBS, hand_study, write_hand_case, write_run


def enumerated_indices() -> list[np.ndarray]:
    """Every bootstrap resample of both splits, each once: 4 ordered draws of 2 examples per split, 16 pairs."""
    draws = list(itertools.product(range(2), repeat=2))
    pairs = list(itertools.product(draws, draws))
    return [np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])]


def test_the_hand_case_over_every_resample():
    """With a0 = draws of example 0 in split A and b0 in split B (each 0, 1, 2 with probability 1/4, 1/2, 1/4):
    point 0 scores (a0/2 + 1)/2 and point 1 ((2 − a0)/2 + b0/2)/2, so point 1 is picked iff b0 > 2 a0 (a tie
    goes to point 0, the first): only a0 = 0 and b0 ≥ 1, probability 1/4 · 3/4 = 3/16."""
    v_b = resampled_accuracies(CORRECT, enumerated_indices())
    assert v_b.shape == (16, 2, 2)
    r = reliability_numbers(V_OBS, v_b, TEST, TEST, np.array([2, 2]))
    assert r["select_prob"] == pytest.approx([13 / 16, 3 / 16])
    assert r["selected"] == 0 and r["test_best"] == 1
    assert r["p_within"] == pytest.approx(3 / 16) and r["p_test_best"] == pytest.approx(3 / 16)
    assert r["p_within"] < COIN_TOSS_BELOW  # a coin toss
    assert r["expected_test"] == pytest.approx(13 / 16 * 0.61 + 3 / 16 * 0.64)
    assert r["test_std"] == pytest.approx(0.03 * math.sqrt(13 / 16 * 3 / 16))
    # Labels needed, mu = the test accuracies (noise-free validation labels, T = I): M = (0.61, 0.64). Deviations
    # scaled by sqrt(2): D1 − D0 = (√2/4)(b0 + 1 − 2 a0), so point 0 overtakes point 1 at u = 0.03 / ((√2/4) x)
    # with x = 2 a0 − 1 − b0 > 0: x = 1 (a0 = 1, b0 = 0: 1/8; a0 = 2, b0 = 2: 1/16), x = 2 (a0 = 2, b0 = 1: 1/8),
    # x = 3 (a0 = 2, b0 = 0: 1/16); never for the other 10 of 16. The 15th largest exit (k = ceil(0.9 · 16)) is
    # at x = 2: u = 0.12 / (2√2), u² = 0.0018, m_90 = floor(1 / 0.0018) + 1 = 556.
    assert r["labels_needed"] == 556 and r["labels_basis"] == "test"
    # ... which is right: at 556 labels 15 of 16 resamples stay in G, at 555 only 13 of 16
    M, dev = TEST.mean(axis=1), (v_b - V_OBS[None]) * np.sqrt(2)
    good = np.array([False, True])
    for m, want in ((556, 15), (555, 13)):
        picks = np.argmax(M[None] + dev.mean(axis=2) / np.sqrt(m), axis=1)
        assert int(good[picks].sum()) == want
    # with the observed validation means as the truth the rule's limit is point 0, outside G: no number suffices
    assert reliability_numbers(V_OBS, v_b, TEST, None, np.array([2, 2]))["labels_needed"] is None


def test_first_exit_walks_the_upper_envelope():
    good = np.array([True, True, False])
    # at u = 0 point 0 leads; point 1 overtakes it at u = 1, point 2 overtakes point 1 at u = 3
    assert first_exit(np.array([2.0, 1.0, -2.0]), np.array([0.0, 1.0, 2.0]), good) == pytest.approx(3.0)
    assert first_exit(np.array([2.0, 1.0, 0.0]), np.array([2.0, 1.0, 0.0]), good) == math.inf  # never overtaken
    assert first_exit(np.array([0.0, 0.0, 1.0]), np.zeros(3), good) == 0.0  # starts outside G
    assert first_exit(np.array([1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]), good) == 0.0  # tied with a bad point
    assert labels_needed(np.ones((2, 1)), np.zeros((4, 2, 1)), np.array([10]), np.array([True, True])) == 0


def test_the_bootstrap_converges_to_the_enumeration_and_is_deterministic():
    idx = [draw_indices(2, 40_000, 0, seed) for seed in (42, 43)]
    r = reliability_numbers(V_OBS, resampled_accuracies(CORRECT, idx), TEST, TEST, np.array([2, 2]))
    assert r["p_within"] == pytest.approx(3 / 16, abs=0.01)
    assert np.array_equal(draw_indices(800, 50, 0, 42), draw_indices(800, 50, 0, 42))
    assert not np.array_equal(draw_indices(800, 50, 0, 42), draw_indices(800, 50, 0, 43))
    assert not np.array_equal(draw_indices(800, 50, 0, 42), draw_indices(800, 50, 1, 42))


def test_corrected_accuracy_uniform_formula_and_unbiased():
    rng = np.random.default_rng(0)
    K, p, n = 10, 0.8, 200_000
    T = np.full((K, K), p / (K - 1))
    np.fill_diagonal(T, 1 - p)
    clean = rng.integers(0, K, n)
    pred = np.where(rng.random(n) < 0.6, clean, (clean + rng.integers(1, K, n)) % K)  # clean accuracy 0.6
    noisy = np.array([rng.choice(K, p=T[y]) for y in clean[:20_000]])
    pred, clean = pred[:20_000], clean[:20_000]
    a_n = float(np.mean(pred == noisy))
    a_c, se = corrected_accuracy(pred, noisy, T)
    # the uniform closed form, exactly
    assert a_c == pytest.approx((a_n - p / (K - 1)) / (1 - p * K / (K - 1)), abs=1e-12)
    # unbiased for the realised clean accuracy, within 3 of its standard errors
    assert abs(a_c - np.mean(pred == clean)) < 3 * se
    # w = (1[ŷ = ỹ] − p/(K−1)) / λ: its standard error is the noisy accuracy's divided by λ = 1 − pK/(K−1) = 1/9
    assert se == pytest.approx(9 * np.std(pred == noisy, ddof=1) / np.sqrt(len(pred)), rel=1e-9)


def test_corrected_accuracy_under_a_general_class_conditional_matrix():
    rng = np.random.default_rng(1)
    T = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.25, 0.05, 0.7]])
    n = 60_000
    clean = rng.integers(0, 3, n)
    pred = np.where(rng.random(n) < 0.7, clean, rng.integers(0, 3, n))
    noisy = (rng.random(n)[:, None] > np.cumsum(T[clean], axis=1)).sum(axis=1)
    a_c, se = corrected_accuracy(pred, noisy, T)
    assert abs(a_c - np.mean(pred == clean)) < 3 * se
    assert corrected_accuracy(pred, pred, np.eye(3))[0] == 1.0  # identity: the noisy accuracy itself
    with pytest.raises(Exception, match="singular"):
        corrected_accuracy(pred, noisy, np.full((3, 3), 1 / 3))


def test_not_class_conditional_models_are_the_ones_drawn_per_example():
    from limitlab.data.noise.transition import DRAWN_OWN_WAY

    assert NOT_CLASS_CONDITIONAL == set(DRAWN_OWN_WAY) - {"matrix"}


# --- through `limitlab aggregate` ------------------------------------------------------------------------------


def test_aggregate_reports_the_hand_case(tmp_path):
    exp = hand_study(tmp_path)
    for j, beta in enumerate((0.0, 1.0)):
        for s, run in enumerate(sorted(method_runs(exp, "limit_g", beta=beta), key=lambda r: r.spec.seed)):
            write_run(run, CORRECT[s][j].astype(bool), float(TEST[j, s]))
    for s, run in enumerate(sorted(method_runs(exp, "ce"), key=lambda r: r.spec.seed)):
        write_run(run, np.array([True, False]), 0.5, val_file=False)  # evaluated before the file existed
    summary = aggregate(exp)
    limit = next(c for c in summary.cells if c.method_id == "limit_g")
    rel = limit.reliability
    assert rel.p_within == pytest.approx(3 / 16, abs=0.015) and rel.coin_toss
    assert rel.select_prob == pytest.approx([13 / 16, 3 / 16], abs=0.015)
    assert rel.labels_basis == "test"  # uniform noise with its T: mu = 0.8/9 + (1 − 0.8·10/9)·(test accuracy)
    # the noise-corrected validation accuracy of beta 0 on split A: (0.5 − 0.8/9) / (1 − 8/9) = 3.7, an
    # extrapolation that two labels allow; the mean over the splits with (1 − 0.8/9)/(1/9) = 8.2 on split B
    assert rel.val_corrected[0] == pytest.approx(((0.5 - 0.8 / 9) * 9 + (1 - 0.8 / 9) * 9) / 2)
    ce = next(c for c in summary.cells if c.method_id == "ce")  # one point, no val_predictions.npz: nothing to select
    assert ce.reliability.p_within == 1 and not ce.reliability.coin_toss and ce.reliability.val_corrected is None
    assert ce.reliability.labels_needed == 0 and ce.reliability.n_val is None
    assert not any("selection reliability left out" in m for m in summary.messages)

    results = tmp_path / "results"
    table = pd.read_csv(results / "table.csv").set_index("method_id")
    assert bool(table.loc["limit_g", "coin_toss"]) and not bool(table.loc["ce", "coin_toss"])
    assert table.loc["limit_g", "reliability_p_within_1pt"] == pytest.approx(rel.p_within)
    assert table.loc["limit_g", "reliability_test_best_point"] == "beta1"
    assert table.loc["limit_g", "test_acc_pct"] == pytest.approx(61.0)  # the paper's rule: unchanged
    sel = pd.read_csv(results / "selection.csv").set_index("point")
    assert sel.loc["beta1", "selection_probability"] == pytest.approx(rel.select_prob[1])
    assert bool(sel.loc["beta1", "test_best"]) and not bool(sel.loc["beta0", "within_1pt_of_test_best"])
    md = (results / "table.md").read_text()
    assert "| LIMIT_G | 61.0 ± 1.4? |" in md  # the coin-toss mark in the main table
    assert "## Selection reliability" in md and "| LIMIT_G? | mnist/uniform/p80/nall | 2 | beta0 (0.8" in md
    assert ("| CE | mnist/uniform/p80/nall | 1 | default (1.00) | default (1.00) | 1.00 | 50.0 ± 0.0 | 50.0 | 0 | "
            "50.0 |") in md
    metrics = json.loads((results / "metrics.json").read_text())
    assert metrics["mnist"]["uniform"]["p80"]["nall"]["limit_g"]["test_acc"] == pytest.approx(0.61)


def test_same_numbers_twice_and_without_a_transition_no_correction(tmp_path):
    exp = hand_study(tmp_path, samples=500)
    for j, beta in enumerate((0.0, 1.0)):
        for s, run in enumerate(sorted(method_runs(exp, "limit_g", beta=beta), key=lambda r: r.spec.seed)):
            write_run(run, CORRECT[s][j].astype(bool), float(TEST[j, s]), transition=False)
    from limitlab.report.cells import build_cells

    (cell,) = [c for c in build_cells(exp) if c.method_id == "limit_g"]
    first, _ = cell_reliability(cell, exp.bootstrap)
    again, _ = cell_reliability(cell, exp.bootstrap)
    assert np.array_equal(first.select_prob, again.select_prob) and first.expected_test == again.expected_test
    assert first.val_corrected is None and "no transition matrix" in first.note
    assert first.labels_basis == "validation" and first.labels_needed is None  # observed ranking is wrong
    # uniform noise at p = 0.9 with 10 classes: T is singular, the reliability stands, the correction does not
    for j, beta in enumerate((0.0, 1.0)):
        for s, run in enumerate(sorted(method_runs(exp, "limit_g", beta=beta), key=lambda r: r.spec.seed)):
            write_run(run, CORRECT[s][j].astype(bool), float(TEST[j, s]), transition=np.full((10, 10), 0.1))
    singular, _ = cell_reliability(cell, exp.bootstrap)
    assert singular.val_corrected is None and "singular" in singular.note
    assert np.array_equal(singular.select_prob, first.select_prob) and singular.labels_basis == "test"
    assert singular.labels_needed is None  # every point's expected noisy accuracy is 0.1: no labels tell them apart
    # a run of a cell with a grid lacks the file (evaluated before it existed): the cell is left out, and says why
    (Path(method_runs(exp, "limit_g", beta=1.0)[0].spec.eval_dir) / "val_predictions.npz").unlink()
    left, why = cell_reliability(cell, exp.bootstrap)
    assert left is None and why.startswith("its runs lack val_predictions.npz (1 of 4:")
    assert "--val-predictions-only" in why
    summary = aggregate(exp)
    assert "selection reliability left out for 1 cell(s)" in " ".join(summary.messages)
    md = (Path(exp.results_path) / "table.md").read_text()
    assert "- its runs lack val_predictions.npz: mnist/uniform/p80/nall LIMIT_G" in md
    assert "| LIMIT_G | 61.0 ± 1.4 |" in md


def test_compare_csv_and_markdown_carry_the_mark(tmp_path, capsys):
    from limitlab.cli import main

    exp = hand_study(tmp_path, samples=4000)
    for j, beta in enumerate((0.0, 1.0)):
        for s, run in enumerate(sorted(method_runs(exp, "limit_g", beta=beta), key=lambda r: r.spec.seed)):
            write_run(run, CORRECT[s][j].astype(bool), float(TEST[j, s]))
    for run in method_runs(exp, "ce"):
        write_run(run, np.array([True, False]), 0.5)  # one point: never a coin toss
    aggregate(exp)
    params = tmp_path / "params.yaml"
    params.write_text(exp.model_dump_json())
    out, md = tmp_path / "cmp.csv", tmp_path / "cmp.md"
    assert main(["compare", "--params", str(params), "--out", str(out), "--markdown", str(md)]) == 0
    frame = pd.read_csv(out).set_index(["method_id", "rule"])
    assert bool(frame.loc[("limit_g", "paper"), "coin_toss"])
    assert bool(frame.loc[("limit_g", "last_epoch"), "coin_toss"])
    assert pd.isna(frame.loc[("limit_g", "oracle"), "coin_toss"])  # chosen on the test set: not this rule's mark
    assert frame.loc[("limit_g", "paper"), "selection_reliability"] == pytest.approx(3 / 16, abs=0.03)
    assert not bool(frame.loc[("ce", "paper"), "coin_toss"]) and frame.loc[("ce", "paper"), "labels_needed_90"] == 0
    text = md.read_text()
    assert "| LIMIT_G ? | 0.8 | all |" in text and "| CE | 0.8 | all |" in text and "a coin toss" in text
    # a later session without these runs keeps the earlier rows, mark included
    for run in method_runs(exp, "limit_g"):
        (Path(run.spec.run_dir) / "result.json").unlink()
    aggregate(exp)
    again = tmp_path / "again.csv"
    assert main(["compare", "--params", str(params), "--out", str(again), "--keep-from", str(out)]) == 0
    kept = pd.read_csv(again).set_index(["method_id", "rule"])
    assert bool(kept.loc[("limit_g", "paper"), "coin_toss"]) and kept.loc[("limit_g", "paper"), "ours_mean_pct"] == 61


def test_results_page_and_figure_show_it(tmp_path):
    import matplotlib

    from limitlab.report.figures.index import FAMILIES
    from limitlab.report.figures.selection_reliability import selection_reliability_figure
    from limitlab.report.results_page import results_html

    exp = hand_study(tmp_path, samples=2000)
    write_hand_case(exp)
    aggregate(exp)
    results = tmp_path / "results"
    page = results_html(exp, results, "params.yaml")
    assert "<h2>Selection reliability</h2>" in page and "id='reliability-table'" in page
    assert "61.0 ± 1.4<sup class='coin'" in page  # the main table's cell carries the mark
    table, selection = pd.read_csv(results / "table.csv"), pd.read_csv(results / "selection.csv")
    fig = selection_reliability_figure(table, selection, "mnist/uniform/p80/nall", {"limit_g": "C0"})
    bars = [p.get_height() for p in fig.axes[0].patches][:2]  # then the outline of the pick
    assert bars == pytest.approx(list(selection[selection.method_id == "limit_g"].selection_probability))
    assert fig.axes[0].get_title(loc="left").startswith(f"LIMIT_G {COIN_TOSS_MARK}: P(within 1 pt) = ")
    assert f"{COIN_TOSS_MARK}: reliability below {COIN_TOSS_BELOW:g}" in fig._suptitle.get_text()
    matplotlib.pyplot.close(fig)
    # seven cells (Table 1's p = 0.8 column): the suptitle sits above the first row's titles, not across them
    many = [table[table.method_id == "limit_g"].assign(method_id=f"m{i}", label=f"M{i}") for i in range(7)]
    points = [selection[selection.method_id == "limit_g"].assign(method_id=f"m{i}") for i in range(7)]
    fig = selection_reliability_figure(pd.concat(many), pd.concat(points), "mnist/uniform/p80/nall", {})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title_tops = [ax._left_title.get_window_extent(renderer).y1 for ax in fig.axes]
    assert len(fig.axes) == 14 and fig._suptitle.get_window_extent(renderer).y0 >= max(title_tops)
    matplotlib.pyplot.close(fig)
    assert selection_reliability_figure(table, selection, "other/setting", {}) is None
    assert "selection_reliability" in FAMILIES
    (Path(method_runs(exp, "limit_g", beta=1.0)[0].spec.eval_dir) / "val_predictions.npz").unlink()
    aggregate(exp)
    page = results_html(exp, results, "params.yaml")
    assert "--val-predictions-only" in page and "lack val_predictions.npz" in page  # left out, with why
    assert "<sup class='coin'" not in page  # not computed: no mark


def test_exactly_one_point_below_the_test_best_is_within_it_despite_float32():
    """Runs store accuracies as float32: 0.90 and 0.91 read as 0.89999998 and 0.91000003, 1.000005 points apart.
    A point exactly 1 test point below the test-best one is within 1 point of it (the good set's bound)."""
    test = np.array([[float(np.float32(0.90))], [float(np.float32(0.91))]])
    v_obs = np.array([[0.6], [0.5]])  # validation prefers point 0 on every resample
    r = reliability_numbers(v_obs, v_obs[None], test, None, np.array([800]))
    assert r["test_best"] == 1 and r["select_prob"] == pytest.approx([1.0, 0.0])
    assert r["p_within"] == 1.0
