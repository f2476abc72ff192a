"""The claims ledger over several experiments (limitlab.report.claims_ledger, limitlab claims)."""

from __future__ import annotations

import pandas as pd
import pytest

from limitlab.cli import main
from limitlab.report.claims import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED
from limitlab.report.claims_ledger import NOT_TESTABLE_HERE, claims_ledger, ledger_markdown

COLUMNS = ["claim_id", "claim", "where", "verdict", "coverage", "setting", "method", "reference", "metric", "expect",
           "meets", "n_pairs", "diff_pct", "ci_low_pct", "ci_high_pct", "wins", "wilcoxon_p", "interval",
           "why_not_testable", "tested_by"]


def made(cid, verdict, method, diff, meets):
    return {"claim_id": cid, "claim": f"claim {cid}", "where": "Table 1", "verdict": verdict, "setting": "s/p80",
            "method": method, "reference": "ce", "metric": "test_acc", "expect": "above", "meets": meets,
            "n_pairs": 3, "diff_pct": diff, "ci_low_pct": diff - 1, "ci_high_pct": diff + 1, "wins": 3}


def untested(cid, why, tested_by):
    return {"claim_id": cid, "claim": f"claim {cid}", "where": "Table 1", "verdict": NOT_TESTABLE,
            "why_not_testable": why, "tested_by": tested_by}


TABLE = pd.DataFrame([made("C1", SUPPORTED, "limit_l", 5.0, True), untested("C6", "no p = 0.8 long runs", "fig1.yaml"),
                      untested("C9", "no p = 0", "mnist.yaml")], columns=COLUMNS)
FIGURE = pd.DataFrame([untested("C1", "no limit_g", "t1.yaml"), made("C6", NOT_SUPPORTED, "limit_l", -2.0, False),
                       made("C6", NOT_SUPPORTED, "limit_l", 4.0, True), untested("C9", "no p = 0 either", None)],
                      columns=COLUMNS)


def test_each_experiment_keeps_its_own_verdicts_and_untestable_claims_say_why_per_experiment():
    ledger = claims_ledger([("t1.yaml", TABLE), ("fig1.yaml", FIGURE)])
    assert list(ledger.columns) == ["params", *COLUMNS]
    assert list(ledger["claim_id"]) == ["C1", "C6", "C6", "C9"]
    c1, c6a, c6b, c9 = ledger.to_dict("records")
    assert (c1["params"], c1["verdict"], c1["diff_pct"]) == ("t1.yaml", SUPPORTED, 5.0)  # figure's "untested" dropped
    assert (c6a["params"], c6a["verdict"], c6b["diff_pct"]) == ("fig1.yaml", NOT_SUPPORTED, 4.0)
    assert c9["verdict"] == NOT_TESTABLE_HERE and c9["params"] == "t1.yaml, fig1.yaml"
    assert c9["why_not_testable"] == "t1.yaml: no p = 0; fig1.yaml: no p = 0 either"
    assert c9["tested_by"] == "mnist.yaml"
    md = ledger_markdown(ledger)
    assert ("| C6 | fig1.yaml | not supported | 1 of 2 | limit_l − ce, s/p80: -2.0 [-3.0, -1.0] pts, 3/3 higher — "
            "expected above; limit_l − ce, s/p80: +4.0 [+3.0, +5.0] pts, 3/3 higher |") in md
    assert "| C9 | t1.yaml, fig1.yaml | not testable with these runs: t1.yaml: no p = 0" in md
    with pytest.raises(ValueError, match="at least one"):
        claims_ledger([])


def test_the_command_refuses_a_params_file_twice_and_results_not_aggregated(tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(f"name: p\ndata_dir: {tmp_path / 'data'}\nresults_dir: {tmp_path / 'results'}\nstudies:\n"
                      "  s: {dataset: {name: mnist5k}, noise: {model: uniform, p: [0.5]}, n: [300], seeds: [42], "
                      "methods: {ce: {}}}\n")
    assert main(["claims", "--params", str(params), "--params", str(params), "--out", str(tmp_path / "c.csv")]) == 2
    assert "names a file twice" in capsys.readouterr().err
    assert main(["claims", "--params", str(params), "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert "has no table.csv, selection.csv, claims.csv" in err and "aggregate the experiment first" in err
    assert not (tmp_path / "c.csv").exists()
