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
    import io as bytes_io

    import pandas as pd

    from limitlab import io
    from limitlab.errors import LimitlabError
    from limitlab.experiment import params_file as P
    from limitlab.report.paper_comparison import compare, keep_finished, markdown
    from limitlab.report.provenance import RECORDED_TABLES, check_record
    from limitlab.stages import results_folder

    earlier = None if args.keep_from is None else read_keep_from(args.keep_from)
    exp = P.load(args.params)
    folder = results_folder(exp, args.results_dir)
    tables = {}
    for name in RECORDED_TABLES:
        path = folder / name
        if not path.is_file():
            raise LimitlabError(f"{path} does not exist: aggregate the experiment first "
                                f"(limitlab aggregate --params {args.params}, or the pipeline's `all` target)")
        tables[name] = path.read_bytes()
    # the tables must be this experiment's: another experiment's results folder would pass its cells off as ours
    check_record(folder, exp, args.params, tables,
                 f" --results-dir {args.results_dir}" if args.results_dir is not None else "")
    frames = {name: pd.read_csv(bytes_io.BytesIO(data)) for name, data in tables.items()}
    datasets = {s.dataset.name for s in exp.studies}
    paper_dataset = args.paper_dataset or (datasets.pop() if len(datasets) == 1 else None)
    if paper_dataset is None:
        raise LimitlabError(f"{args.params} has studies on several datasets ({', '.join(sorted(datasets))}): "
                            "name the paper's one with --paper-dataset")
    frame = compare(frames["table.csv"], frames["selection.csv"], paper_dataset)
    kept = 0
    if args.keep_from is not None:
        frame, kept = keep_finished(frame, earlier, str(args.keep_from))
    io.write_text(args.out, frame.to_csv(index=False, float_format="%.4g", lineterminator="\n"), make_parents=True)
    if args.markdown is not None:
        io.write_text(args.markdown, markdown(frame), make_parents=True)
    done = frame[frame["ours_mean_pct"].notna() & (frame["rule"] == "paper")]
    print(f"{len(frame)} row(s), {len(done)} cell(s) with a result: {int(done['within'].eq(True).sum())} within the "
          f"paper's range -> {args.out}"
          + (f" ({kept} row(s) kept from {args.keep_from}: their runs are not in this results folder)" if kept else ""))
    return 0


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
