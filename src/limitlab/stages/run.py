"""``limitlab run``: one pipeline job: train, evaluate and bootstrap several runs, one after another.

The pipeline plans one such job per ``runs_per_job`` consecutive runs of the grid (see
:mod:`limitlab.jobs.grouping` and :mod:`limitlab.jobs.execute`): ``--job n5-00003`` is the fourth group of 5 runs of the params file. Each run's output goes to
``LOGS/<run key>.log``; a run that fails is marked (failed.json) and the job goes on with the others. The job
writes ``--out`` (a list of its runs and how each ended) when it has been through all of them.

The job ends with the shell that started it (:func:`limitlab.pipeline.parent_death.end_with_parent`): if Snakemake's
job shell is killed, the run in progress is marked interrupted and resumes in the next job instead of training on
beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from limitlab.errors import LimitlabError
from limitlab.pipeline.parent_death import end_with_parent


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="train, evaluate and bootstrap the runs of one pipeline job",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--job", required=True, help="job id n<runs per job>-<index> (the pipeline's {shard})")
    p.add_argument("--expect", default=None,
                   help="identity of the job's specs when it was planned: refuse to run if the params changed since")
    p.add_argument("--logs", type=Path, required=True, help="folder of the per-run logs (<run key>.log)")
    p.add_argument("--out", type=Path, required=True, help="job summary to write (JSON), e.g. data/jobs/NAME/ID.json")
    p.add_argument("--retry-failed", action="store_true", help="run cells that have a failed.json marker again")
    p.set_defaults(func=main)


def main(args) -> int:
    end_with_parent()  # first: the imports below take seconds
    from limitlab import io
    from limitlab.experiment import params_file
    from limitlab.experiment.grid import GridIndex
    from limitlab.jobs.execute import run_job
    from limitlab.jobs.grouping import parse_id, split
    from limitlab.jobs.done_record import specs_sha256
    from limitlab.methods import REGISTRY

    exp = params_file.load(args.params)
    grid = GridIndex.of(exp)
    n, _ = parse_id(args.job)
    jobs = split(grid.specs, n)
    if args.job not in jobs:
        raise LimitlabError(f"{args.params} has {len(grid.specs)} runs, {len(jobs)} job(s) of {n}: no job {args.job}")
    runs = jobs[args.job]
    if args.expect is not None and specs_sha256(runs, grid) != args.expect:
        raise LimitlabError(f"the runs of job {args.job} in {args.params} changed after Snakemake planned it "
                            "(the params file was edited meanwhile): run snakemake again")
    bootstrap = exp.bootstrap.model_dump()
    entries, status = run_job(runs, lambda s: REGISTRY[s.method.method].uses_q, bootstrap, args.logs, grid,
                              retry_failed=args.retry_failed)
    counts = {k: sum(e["status"] == k for e in entries) for k in ("ok", "refused", "failed", "skipped", "interrupted")}
    print(f"job {args.job}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v))
    if status:
        return status  # a run ran out of memory: no summary, so Snakemake retries the job
    io.write_json(args.out, {"job": args.job, "params": exp.name, "runs": entries}, make_parents=True)
    return 0
