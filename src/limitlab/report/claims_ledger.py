"""The claims ledger of a study made of several experiments: one verdict table over all of them.

A study that needs two protocols (Table 1's grids and Figure 1's long unregularised runs) is two params files, and
``limitlab aggregate`` judges the paper's claims on each grid alone (:mod:`limitlab.report.claims`, claims.csv).
The ledger puts those verdicts side by side, one row per comparison made, each naming the params file whose runs
made it; a claim that no experiment of the study can test keeps one row that says why for each experiment and
which params file would test it. Verdicts are never merged across experiments: a claim supported by one grid and
not by another shows both, with their numbers and intervals. Pandas only.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from limitlab.report.claims import NOT_TESTABLE
from limitlab.report.sections import check_text, claim_marks
from limitlab.report.summary import flag

NOT_TESTABLE_HERE = "not testable with these runs"


def claims_ledger(claims: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """``claims``: (params file, its claims.csv as a frame) per experiment of the study, in the order to show.

    Returns the frame of every claim id (in the order the first frame lists them, then any others), with a first
    column ``params``: each experiment's tested rows of the claim, or, when none tests it, one row whose verdict is
    :data:`NOT_TESTABLE_HERE`, whose ``why_not_testable`` gives each experiment's reason and whose ``tested_by``
    is the first params file the claims file names for it.
    """
    if not claims:
        raise ValueError("the claims ledger needs at least one experiment's claims")
    columns = ["params"] + list(dict.fromkeys(c for _, frame in claims for c in frame.columns))
    order = list(dict.fromkeys(cid for _, frame in claims for cid in frame["claim_id"]))
    rows = []
    for cid in order:
        tested, untested = [], []
        for params, frame in claims:
            mine = frame[frame["claim_id"] == cid]
            if mine.empty:
                continue
            testable = mine[mine["verdict"] != NOT_TESTABLE]
            (tested if not testable.empty else untested).append((params, testable if not testable.empty else mine))
        if tested:
            rows += [{"params": params, **row} for params, part in tested for row in part.to_dict("records")]
            continue
        first = untested[0][1].iloc[0].to_dict()
        why = "; ".join(f"{params}: {part['why_not_testable'].iloc[0]}" for params, part in untested)
        tested_by = next((part["tested_by"].iloc[0] for _, part in untested if pd.notna(part["tested_by"].iloc[0])),
                         None)
        rows.append({**first, "params": ", ".join(p for p, _ in untested), "verdict": NOT_TESTABLE_HERE,
                     "why_not_testable": why, "tested_by": tested_by})
    return pd.DataFrame(rows, columns=columns)


def ledger_markdown(ledger: pd.DataFrame) -> str:
    """One line per (claim, experiment): the verdict, the comparisons met, and each comparison as the results page
    words it (labels with their marks, difference and interval, splits higher); then what the marks mean."""
    out = ["| claim | params | verdict | comparisons met | method − reference, setting: difference [interval] |",
           "| --- | --- | --- | --- | --- |"]
    for (cid, params), part in ledger.groupby(["claim_id", "params"], sort=False):
        verdict = part["verdict"].iloc[0]
        if verdict == NOT_TESTABLE_HERE:
            out.append(f"| {cid} | {params} | {verdict}: {part['why_not_testable'].iloc[0]} "
                       f"(tested by {part['tested_by'].iloc[0]}) | | |")
            continue
        met = part["meets"].map(flag)
        diffs = "; ".join(check_text(r) for r in part.itertuples())
        out.append(f"| {cid} | {params} | {verdict} | {int(met.sum())} of {len(part)} | {diffs} |")
    marks = claim_marks(ledger).strip()
    return "\n".join(out) + "\n" + (f"\n{marks}\n" if marks else "")
