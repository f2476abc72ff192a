"""``limitlab timing``: per-stage jobs, wall time and peak memory of a pipeline run (see :mod:`limitlab.pipeline.stage_timing`).

Reads the Snakemake benchmark files of the experiment (logs/<name>/benchmarks/<rule>/...) and the runs'
timing files; writes timing.csv and timing.md into the results folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from limitlab.experiment.grid import runs_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("timing", help="per-stage job count, wall time and peak memory from benchmark files",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--benchmarks", type=Path, default=None,
                   help="benchmark folder (default: logs/<name>/benchmarks, where the Snakefile writes them)")
    p.add_argument("--results-dir", type=Path, default=None,
                   help="output folder (default: the params' results_dir, else results/<name>)")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab.experiment import params_file as P
    from limitlab.pipeline.stage_timing import row_costs, write_timing
    from limitlab.report.cells import run_setting_key, setting_prefixes
    from limitlab.stages import results_folder

    exp = P.load(args.params)
    bench = args.benchmarks or Path("logs") / exp.name / "benchmarks"
    out = results_folder(exp, args.results_dir)
    runs = runs_of(exp)
    labels = {(st.id, m.row_id): m.label or m.row_id for st in exp.studies for m in st.methods}
    rows = {Path(r.spec.run_dir): labels[(r.spec.study, r.spec.method_id)] for r in runs}
    cores = {Path(r.spec.run_dir): r.spec.training.threads or exp.resources.train.cpus for r in runs}
    prefixes = setting_prefixes(exp)
    settings = {Path(r.spec.run_dir): run_setting_key(r.spec, prefixes) for r in runs}  # table.csv's 'setting'
    table = write_timing(bench, [Path(r.spec.run_dir) for r in runs], out, [Path(r.spec.eval_dir) for r in runs],
                         row_costs(rows, cores), row_costs(rows, cores, settings))
    print(f"{len(table)} stage(s), {int(table['jobs'].sum()) if len(table) else 0} job(s) -> {out}/timing.md")
    return 0
