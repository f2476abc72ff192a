"""``limitlab claims``: the paper's claims judged on a study made of several experiments, in one ledger.

Each params file's results folder holds the claims.csv that ``limitlab aggregate`` wrote for its grid
(:mod:`limitlab.report.claims`); the ledger lists every comparison each experiment made, naming the params file, and
for a claim none of them can test, each one's reason and the params file that would test it
(:mod:`limitlab.report.claims_ledger`). A results folder is refused unless its experiment.json says its tables are
of that params file's grid, as ``limitlab compare`` refuses it.

Example:  limitlab claims --params params/table1_n1000_mnist5k.yaml --params params/figure1_mnist5k.yaml \\
              --out docs/tables/claims_mnist_n1000.csv --markdown docs/tables/claims_mnist_n1000.md
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("claims", help="the paper's claims over several experiments' results, in one ledger",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, action="append", type=Path,
                   help="a params file of the study (repeat for each experiment; its results must be aggregated)")
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument("--markdown", type=Path, default=None, help="also write the ledger as a markdown table")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab import io
    from limitlab.errors import LimitlabError
    from limitlab.experiment import params_file as P
    from limitlab.experiment.paths import ResultFiles
    from limitlab.report.claims_ledger import NOT_TESTABLE_HERE, claims_ledger, ledger_markdown
    from limitlab.report.provenance import read_results
    from limitlab.stages import results_folder

    if len(set(args.params)) != len(args.params):
        raise LimitlabError(f"--params names a file twice ({', '.join(map(str, args.params))}): give each once")
    claims = []
    for params in args.params:
        exp = P.load(params)
        tables = read_results(results_folder(exp, None), exp, str(params), also=(ResultFiles.CLAIMS,))
        claims.append((str(params), tables[ResultFiles.CLAIMS]))
    ledger = claims_ledger(claims)
    io.write_text(args.out, ledger.to_csv(index=False, float_format="%.4g", lineterminator="\n"), make_parents=True)
    if args.markdown is not None:
        io.write_text(args.markdown, ledger_markdown(ledger), make_parents=True)
    judged = ledger.loc[ledger["verdict"] != NOT_TESTABLE_HERE, "claim_id"].nunique()
    print(f"{ledger['claim_id'].nunique()} claim(s), {judged} judged by these runs -> {args.out}")
    return 0
