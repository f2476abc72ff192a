"""``limitlab params check FILE`` validates an experiment file (with the files it names: data_dir, the claims
file, model.pretrained) and summarises its grid;
``limitlab params runs FILE`` lists its run keys; ``limitlab params spec FILE KEY`` prints one run's spec;
``limitlab params schema`` writes the JSON Schema of a params file (:mod:`limitlab.experiment.params_schema`, what
editors read: params/schema.json), ``--markdown`` its keys as a reference
(:mod:`limitlab.experiment.params_reference`: config/README.md)."""

from __future__ import annotations

import argparse
from collections import Counter

from limitlab.errors import LimitlabError
from limitlab.experiment.grid import runs_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="validate and inspect experiment params files")
    psub = p.add_subparsers(dest="params_command", metavar="ACTION")
    psub.required = True
    c = psub.add_parser("check", help="validate a params file and summarise its grid")
    c.add_argument("file", nargs="+")
    c.set_defaults(func=check)
    r = psub.add_parser("runs", help="list the run keys of a params file")
    r.add_argument("file")
    r.set_defaults(func=runs)
    s = psub.add_parser("spec", help="print the JSON run spec of one run key")
    s.add_argument("file")
    s.add_argument("key")
    s.set_defaults(func=spec)
    sc = psub.add_parser("schema", help="write the JSON Schema of a params file (editors complete keys and underline "
                                        "errors with it), or its keys as a Markdown reference")
    sc.add_argument("--markdown", action="store_true", help="the keys as a Markdown reference instead of the schema")
    sc.add_argument("--installed", action="store_true",
                    help="the methods and noise models installed here, plugins included, and no other name; default: "
                         "limitlab's own, any other name accepted as a plugin's (what params/schema.json holds)")
    sc.add_argument("--out", metavar="FILE", help="write FILE instead of printing; with --markdown, an existing FILE "
                                                  "keeps its text and only the part between its marker lines is "
                                                  "replaced (config/README.md)")
    sc.set_defaults(func=schema)


def check(args) -> int:
    from rich.console import Console

    from limitlab.experiment import params_file as P
    from rich.table import Table

    console = Console()
    problems = []
    for path in args.file:
        try:
            exp = P.load(path)
            P.check_local_files(exp, path)  # the pretrained weights: needed to train, checked before it starts
            runs_of(exp)  # noqa: B018  expanding the grid is part of the check
        except LimitlabError as exc:  # report every file, not only the first bad one
            problems.append(str(exc))
            from limitlab.stages import print_error
            from rich.markup import escape

            print_error(escape(str(exc)))
            continue
        table = Table(title=f"{path}: {exp.name} — valid", title_justify="left")
        for col in ("study", "dataset", "noise", "p", "n", "seeds", "methods", "runs"):
            table.add_column(col)
        per_study = Counter(r.spec.study for r in runs_of(exp))
        for s in exp.studies:
            n_val = f" (validation {', '.join(map(str, s.n_val))})" if s.n_val else ""
            train = f" × training {', '.join(map(str, s.train_seeds))}" if s.train_seeds else ""
            table.add_row(s.id, s.dataset.name, s.noise.model, ", ".join(f"{p:g}" for p in s.noise.p),
                          ", ".join(map(str, s.n)) + n_val, ", ".join(map(str, s.seeds)) + train,
                          ", ".join(m.row_id for m in s.methods), str(per_study[s.id]))
        console.print(table)
        console.print(f"{len(runs_of(exp))} training runs in total; results in {exp.results_path}")
    if problems:
        raise LimitlabError(f"{len(problems)} of {len(args.file)} params file(s) are invalid (see above)")
    return 0


def runs(args) -> int:
    from limitlab.experiment import params_file as P

    for r in runs_of(P.load(args.file)):
        print(r.key)
    return 0


def spec(args) -> int:
    from limitlab.experiment import params_file as P

    by_key = {r.key: r for r in runs_of(P.load(args.file))}
    if args.key not in by_key:
        raise LimitlabError(f"{args.file}: no run {args.key!r} (list them with: limitlab params runs {args.file})")
    print(by_key[args.key].spec.model_dump_json(indent=2))
    return 0


def schema(args) -> int:
    import sys

    from limitlab import io

    out = None if args.out is None else io.check_out_path(args.out, "--out")
    if out is not None and out.is_dir():
        example = out / ("README.md" if args.markdown else "schema.json")
        raise LimitlabError(f"--out {out} is a folder; name a file, e.g. {example}")
    if args.markdown:
        from limitlab.experiment.params_reference import BEGIN, END, reference, replace_section

        text = reference(args.installed)
        if out is not None and out.is_file():  # a document that holds the reference: the rest of it is kept
            text = replace_section(out.read_text(encoding="utf-8"), text, str(out))
        elif out is not None:
            text = f"{BEGIN}\n\n{text}\n{END}\n"
    else:
        from limitlab.experiment.params_schema import schema_text

        text = schema_text(args.installed)
    if out is None:
        sys.stdout.write(text)
        return 0
    io.write_text(out, text, make_parents=True)
    print(f"wrote {out}", file=sys.stderr)
    return 0
