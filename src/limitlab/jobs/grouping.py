"""Which runs share one pipeline job ("run jobs"), and the job ids.

A grid of thousands of runs cannot be one Snakemake job per run: Snakemake spends about 2 ms planning each job, so
the paper's MNIST grid (6,144 runs) would take 15-20 s to plan before anything runs, and a cluster would see
thousands of short GPU jobs (docs/performance.md). The pipeline therefore plans one job per ``runs_per_job``
consecutive runs of the grid; one job trains, evaluates and bootstraps its runs one after another in one process on
one GPU (:mod:`limitlab.jobs.execute`), and each run keeps its own folders.

Job ids are ``n<N>-<index>`` (index zero-padded to 5 digits). The id contains N, so the runs of a job never depend
on the settings of the Snakemake process that runs it: the login node and the job agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import GridIndex

ID = re.compile(r"n(\d+)-(\d{5})")


def job_id(n: int, index: int) -> str:
    return f"n{n}-{index:05d}"


def parse_id(job: str) -> tuple[int, int]:
    """(runs per job, index) of a job id; a LimitlabError for anything else."""
    m = ID.fullmatch(job)
    if not m or int(m[1]) < 1:
        raise LimitlabError(f"{job!r} is not a run-job id (n<runs per job>-<index>, e.g. n5-00003)")
    return int(m[1]), int(m[2])


def ordered(specs: Iterable) -> list:
    """The runs in grid order, except that a run initialised from another (``init_dir``) comes after its source.
    Then a job never waits for a run that a later job trains."""
    specs = list(specs)
    among = GridIndex(specs)  # sources outside ``specs`` do not hold a run back
    out, placed, waiting = [], set(), {}
    for s in specs:
        src = among.init_source(s)
        if src is not None and src.key not in placed:
            waiting.setdefault(src.key, []).append(s)
            continue
        stack = [s]
        while stack:
            cur = stack.pop()
            out.append(cur)
            placed.add(cur.key)
            stack.extend(reversed(waiting.pop(cur.key, [])))
    for rest in waiting.values():  # a source outside this list: keep the dependents in grid order
        out.extend(rest)
    return out


def split(specs: Iterable, n: int) -> dict[str, list]:
    """Job id -> its runs: ``n`` consecutive runs of :func:`ordered` per job."""
    if n < 1:
        raise LimitlabError(f"runs per job must be a positive integer, got {n}")
    runs = ordered(specs)
    return {job_id(n, i // n): runs[i:i + n] for i in range(0, len(runs), n)}
