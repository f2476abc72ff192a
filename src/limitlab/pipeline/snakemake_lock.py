"""Snakemake's lock as a user meets it: the exact unlock command, and when limitlab's notes may print.

A snakemake killed outright (kill -9 of its process group, a closed terminal, a killed ``dvc repro``) leaves its
lock in ``.snakemake/locks``, and every later run stops with Snakemake's LockException, which says "--unlock"
but not with which profile and params file. No hook runs on that path (``onerror`` is for failed jobs);
Snakemake logs the refusal, and a dry run's warning about it, through its logger, so a logging filter there
(:func:`install_unlock_hint`) adds the exact command.

limitlab's notes on the plan (failed cells left out, interrupted cells that resume) describe what this run will
do; :func:`notes_wait_for_onstart` decides when they print. Where the lock files are and how Snakemake words its
refusal are Snakemake internals (:mod:`limitlab.pipeline.snakemake_internals`).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from limitlab.pipeline.snakemake_internals import LOCK_REFUSAL, LOCKS

UNLOCK_REPEATS = ("--profile", "--snakefile", "-s", "--directory", "-d")  # what --unlock needs to find this lock


def lock_present(locks: Path = LOCKS) -> bool:
    return any(Path(locks).glob("*.lock"))


def notes_wait_for_onstart(locks: Path = LOCKS) -> bool:
    """Whether limitlab's notes on the plan wait for the Snakefile's ``onstart`` instead of printing while the
    workflow is read. They wait when a lock is present: then either another snakemake is running here (the notes
    would describe its run, not this one's) or a killed one left its lock and this run is refused (the notes
    would describe a run that does not happen). ``onstart`` runs only once Snakemake holds its own lock and jobs
    start, never in a dry run."""
    return lock_present(locks)


def unlock_command(params: str, argv: list[str] | None = None, environ=None, cwd: str | None = None) -> str:
    """``snakemake --unlock`` for this invocation: its profile (--profile, else $SNAKEMAKE_PROFILE, as dvc.yaml's
    stages use it), Snakefile, directory and params file. In a DVC stage ($DVC_STAGE) the variable and the folder
    were dvc's, not the user's shell's: the command names the profile and starts with a cd."""
    argv = sys.argv[1:] if argv is None else argv
    environ = os.environ if environ is None else environ
    repeated: list[str] = []
    for i, arg in enumerate(argv):
        if arg.split("=", 1)[0] in UNLOCK_REPEATS:
            repeated += [arg] if "=" in arg else argv[i : i + 2]
    profile = environ.get("SNAKEMAKE_PROFILE")
    if profile and not any(arg.split("=", 1)[0] == "--profile" for arg in repeated):
        repeated = ["--profile", profile, *repeated]
    command = shlex.join(["snakemake", "--unlock", *repeated, "--config", f"params={params}"])
    return f"cd {shlex.quote(cwd or os.getcwd())} && {command}" if environ.get("DVC_STAGE") else command


def install_unlock_hint(logger, params: str) -> None:
    """Add a filter to Snakemake's logger: its "Directory cannot be locked" gets the command that removes a stale
    lock (once per logger, also when the Snakefile is read again in the same process)."""

    def limitlab_unlock_hint(record) -> bool:
        if isinstance(record.msg, str) and LOCK_REFUSAL in record.msg:
            again = "dvc repro" if os.environ.get("DVC_STAGE") else "snakemake"
            record.msg += (f"\nlimitlab: if no other snakemake is running in this folder, the lock was left by one "
                           f"that was killed (kill -9, a closed terminal, a killed dvc repro); remove it with\n"
                           f"    {unlock_command(params)}\nand run {again} again.")
        return True

    for old in [f for f in logger.filters if getattr(f, "__name__", "") == limitlab_unlock_hint.__name__]:
        logger.removeFilter(old)
    logger.addFilter(limitlab_unlock_hint)
