"""``limitlab compare``: an experiment's cells beside the paper's numbers, per selection rule, with measured causes.

Reads the results folder's table.csv and selection.csv (written by ``limitlab aggregate``) and writes one CSV row
per (method, p, n, selection rule) of every cell the paper reports: ours (mean, std, splits), the grid used
(full / sub-grid against the paper's), the paper's number, the difference, whether it is within the tolerance
(the paper's ± where it gives one, else our seed std) and the measured cause where it is not
(:mod:`limitlab.report.paper_comparison`). ``--paper-dataset`` names the paper's dataset to compare with when ours
stands in for it (mnist5k → mnist; default: the study's own dataset name). ``--keep-from`` an earlier comparison
CSV keeps its rows for the cells these results have not run (a study whose runs were made on several machines or
sessions and are not all in one results folder); rows with results of their own are always recomputed. A results
folder is refused unless its experiment.json (written by ``limitlab aggregate``) says that its tables are of this
params file's grid: another experiment's folder would pass its cells off as this one's.

Each row of the paper's rule and of the last epoch (the same point) also gets its cell's selection reliability
from table.csv (:mod:`limitlab.report.selection_reliability`): ``selection_reliability`` (the chance that the rule,
on a resampled validation set, picks a point within 1 test point of the cell's test-best point),
``labels_needed_90`` and ``coin_toss`` (reliability below the documented threshold: read ``within`` with it);
empty where it was not computed, on oracle rows, and, for rows kept from ``--keep-from``, taken from that file
when it has them. ``--markdown`` marks the coin-toss rows.

Example:  limitlab compare --params params/table1_n1000_mnist5k.yaml --paper-dataset mnist \\
              --out docs/tables/table1_mnist_n1000.csv --markdown docs/tables/table1_mnist_n1000.md
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="compare an experiment's table with the paper's numbers, per selection rule",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file (its results must be aggregated)")
    p.add_argument("--paper-dataset", default=None,
                   help="the paper's dataset to compare with (e.g. mnist for mnist5k; default: our dataset's name)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="folder with table.csv and selection.csv (default: the params' results_dir)")
    p.add_argument("--out", type=Path, required=True, help="CSV to write")
    p.add_argument("--keep-from", type=Path, default=None,
                   help="an earlier comparison CSV (usually --out itself): rows these results leave 'not run' are "
                        "taken from it where it has a result (a study run on several machines or sessions)")
    p.add_argument("--markdown", type=Path, default=None, help="also write the paper rule's rows as a markdown table")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab import io
    from limitlab.errors import LimitlabError
    from limitlab.experiment import params_file as P
    from limitlab.experiment.paths import ResultFiles
    from limitlab.report.paper_comparison import compare, keep_finished, markdown
    from limitlab.report.provenance import read_results
    from limitlab.stages import results_folder

    earlier = None if args.keep_from is None else read_keep_from(args.keep_from)
    exp = P.load(args.params)
    folder = results_folder(exp, args.results_dir)
    frames = read_results(folder, exp, args.params,
                          option=f" --results-dir {args.results_dir}" if args.results_dir is not None else "")
    datasets = {s.dataset.name for s in exp.studies}
    paper_dataset = args.paper_dataset or (datasets.pop() if len(datasets) == 1 else None)
    if paper_dataset is None:
        raise LimitlabError(f"{args.params} has studies on several datasets ({', '.join(sorted(datasets))}): "
                            "name the paper's one with --paper-dataset")
    frame = compare(frames[ResultFiles.TABLE], frames[ResultFiles.SELECTION], paper_dataset)
    not_run_here = frame["grid"].eq("not run").to_numpy()
    kept = 0
    if args.keep_from is not None:
        frame, kept = keep_finished(frame, earlier, str(args.keep_from))
    frame = with_reliability(frame, frames[ResultFiles.TABLE], earlier,
                             not_run_here & frame["grid"].ne("not run").to_numpy())
    io.write_text(args.out, frame.to_csv(index=False, float_format="%.4g", lineterminator="\n"), make_parents=True)
    if args.markdown is not None:
        io.write_text(args.markdown, marked_markdown(frame, markdown), make_parents=True)
    done = frame[frame["ours_mean_pct"].notna() & (frame["rule"] == "paper")]
    within = done["within"].eq(True)
    coins = int((within & done["coin_toss"].eq(True)).sum())
    print(f"{len(frame)} row(s), {len(done)} cell(s) with a result: {int(within.sum())} within the paper's range"
          + (f" ({coins} of them coin tosses: selection reliability below the threshold)" if coins else "")
          + f" -> {args.out}"
          + (f" ({kept} row(s) kept from {args.keep_from}: their runs are not in this results folder)" if kept else ""))
    return 0


RELIABILITY = {"selection_reliability": "reliability_p_within_1pt", "labels_needed_90": "reliability_labels_needed_90",
               "coin_toss": "coin_toss"}  # compare CSV column -> table.csv column
NOISY_SELECTION = ("paper", "last_epoch")  # the rules whose point the noisy validation set chose


def _flag(v):
    """True / False / None from a table.csv or CSV cell (a CSV reads booleans with gaps as text or floats)."""
    import pandas as pd

    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return str(v).strip().lower() in ("true", "1", "1.0")


def with_reliability(frame, table, earlier=None, kept=None):
    """``frame`` (the comparison rows) with :data:`RELIABILITY`'s columns appended: from ``table`` (table.csv) by
    (setting, method), on the rows of :data:`NOISY_SELECTION`; rows in ``kept`` (taken from ``earlier``, the
    --keep-from CSV) take that file's values where it has the columns."""
    import pandas as pd

    frame = frame.copy()
    cols = [c for c in RELIABILITY.values() if c in table]
    lookup = {(r["setting"], r["method_id"]): r for _, r in table[["setting", "method_id", *cols]].iterrows()}
    old = {}
    if earlier is not None and kept is not None and all(c in earlier for c in RELIABILITY):
        key = ["method_id", "p", "n", "rule", "setting"]
        e = earlier.assign(p=earlier["p"].astype(float), n=earlier["n"].astype(str))
        old = {tuple(r[k] for k in key): r for _, r in e.iterrows()}
    values = {c: [] for c in RELIABILITY}
    for i, (_, r) in enumerate(frame.iterrows()):
        src = None
        if r["rule"] in NOISY_SELECTION:
            if kept is not None and kept[i]:
                src = old.get((r["method_id"], float(r["p"]), str(r["n"]), r["rule"], r["setting"]))
                src = None if src is None else {t: src[c] for c, t in RELIABILITY.items()}
            else:
                src = lookup.get((r["setting"], r["method_id"]))
        for c, t in RELIABILITY.items():
            v = None if src is None or t not in src else src[t]
            values[c].append(_flag(v) if c == "coin_toss" else (None if v is None or pd.isna(v) else v))
    for c in RELIABILITY:
        frame[c] = pd.Series(values[c], index=frame.index, dtype="Int64" if c == "labels_needed_90" else object)
    return frame


def marked_markdown(frame, markdown) -> str:
    """The paper rule's markdown table with the coin-toss mark after the label of each coin-toss cell, and a note."""
    from limitlab.report.selection_reliability import COIN_TOSS_BELOW, COIN_TOSS_MARK

    shown = frame.copy()
    coin = shown["coin_toss"].eq(True)
    shown.loc[coin, "label"] = shown.loc[coin, "label"].astype(str) + f" {COIN_TOSS_MARK}"
    text = markdown(shown)
    if coin[shown["rule"] == "paper"].any():
        text += (f"\n`{COIN_TOSS_MARK}` = a coin toss: on resampled noisy validation sets the paper's rule picks a point "
                 f"within 1 test point of the cell's test-best point less often than {COIN_TOSS_BELOW:g} (the "
                 "selection reliability, docs/methods.md): its \"within\" says little.\n")
    return text


KEEP_FROM_ACCEPTED = "accepted: a CSV written by limitlab compare"


def read_keep_from(path: Path):
    """The ``--keep-from`` CSV as a frame, or one error saying what the file is instead (a folder, missing, empty,
    not text, not CSV); its columns are checked by :func:`limitlab.report.paper_comparison.keep_finished`."""
    import io as bytes_io

    import pandas as pd

    from limitlab.errors import LimitlabError

    what = f"--keep-from {path}"
    if path.is_dir():
        raise LimitlabError(f"{what} is a folder, not a file ({KEEP_FROM_ACCEPTED}, e.g. the --out of an earlier run)")
    if not path.is_file():
        raise LimitlabError(f"{what}: no such file ({KEEP_FROM_ACCEPTED})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LimitlabError(f"{what} cannot be read ({exc.strerror or exc}; {KEEP_FROM_ACCEPTED})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LimitlabError(f"{what} is not a text file: not valid UTF-8 at byte {exc.start} "
                            f"({raw[exc.start:exc.end]!r}); {KEEP_FROM_ACCEPTED}") from None
    if not text.strip():
        raise LimitlabError(f"{what} is empty ({KEEP_FROM_ACCEPTED})")
    try:
        return pd.read_csv(bytes_io.StringIO(text.removeprefix("\ufeff")))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise LimitlabError(f"{what} is not readable as CSV ({str(exc).strip().splitlines()[0]}); "
                            f"{KEEP_FROM_ACCEPTED}") from None
