"""Every Snakemake internal that limitlab's workflow reads or changes, in one place, for the versions it supports.

Supported: Snakemake 8.10 (``min_version`` of workflow/Snakefile, and pyproject's floor) up to, not including, 10
(:data:`SUPPORTED`); the tests run on the installed version (9.27.1 when this was written), and every name below
was checked against the 8.10.0 sources. Snakemake has no public API for these, so each is read here and nowhere
else, and another version is refused up front (:func:`check_version`) instead of failing somewhere inside a run
with an AttributeError. A name missing even so (a patched Snakemake) is a :class:`~limitlab.errors.LimitlabError`
naming it (:func:`_read`). To support a new major version: check each name below in its sources, then raise
:data:`SUPPORTED`.

What limitlab reads and changes, and why:

* ``workflow.dag_settings``: ``targets`` (what the command line asked for; else ``workflow.default_target``),
  ``target_jobs``, ``until``, ``omit_from``, ``allowed_rules`` and ``batch`` (what stops it short of its targets),
  with ``workflow.touch`` (``--touch``): which dvc.yaml stages an invocation completes (:func:`request`);
* ``workflow.group_settings.group_components``: a profile's ``group-components: run=N`` (:func:`profile_group_size`);
* ``workflow.remote_exec``: whether this is a cluster job's own snakemake, which runs one given job
  (:func:`in_cluster_job`);
* ``workflow.dag.forcefiles``: the outputs Snakemake runs again although their consumers look up to date
  (:func:`force_outputs`; ``--forcerun`` takes rules or files from the command line, not from a workflow);
* ``snakemake.logging.logger`` and the words of Snakemake's refusal when a lock is there (:data:`LOCK_REFUSAL`), and
  the lock files of its default (file) persistence (:data:`LOCKS`): :mod:`limitlab.pipeline.snakemake_lock`.

workflow/rules/package.smk reads ``workflow.current_basedir`` and ``snakemake.sourcecache`` itself: it runs before
limitlab can be imported (it is the check that it can).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limitlab.errors import LimitlabError

SUPPORTED = ((8, 10), (10, 0))  # Snakemake versions [from, below)
LOCKS = Path(".snakemake") / "locks"  # the default (file) persistence's locks: N.input.lock, N.output.lock
LOCK_REFUSAL = "cannot be locked"  # in Snakemake's "Error: Directory cannot be locked ..." (LockException)


def _shown(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


def supported_range() -> str:
    """The supported versions as pip writes them: ``>=8.10,<10.0``."""
    return f">={_shown(SUPPORTED[0])},<{_shown(SUPPORTED[1])}"


def check_version(found: str | None = None) -> None:
    """Refuse a Snakemake outside :data:`SUPPORTED` (``found``: a version string, else the installed one's)."""
    if found is None:
        import snakemake

        found = snakemake.__version__
    match = re.match(r"(\d+)\.(\d+)", str(found))
    if match is None or not SUPPORTED[0] <= (int(match[1]), int(match[2])) < SUPPORTED[1]:
        raise LimitlabError(f"limitlab's workflow runs on Snakemake {supported_range()} (it reads Snakemake "
                            f"internals known for those versions: limitlab.pipeline.snakemake_internals); this is "
                            f"Snakemake {found}. Install a supported one: pip install 'snakemake{supported_range()}'")


def _read(obj: Any, path: str) -> Any:
    """``obj.<path>`` (dotted), or a LimitlabError that names the internal and the supported versions."""
    value = obj
    for name in path.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise LimitlabError(f"this Snakemake has no workflow.{path}, which limitlab's workflow reads; "
                                f"limitlab supports Snakemake {supported_range()} "
                                "(limitlab.pipeline.snakemake_internals)") from None
    return value


@dataclass(frozen=True)
class Request:
    """What one snakemake invocation asked for: its targets (rule names or files; the default target when the
    command line names none) and which options stop it short of them."""

    targets: tuple[str, ...]
    until: bool = False          # --until
    omit_from: bool = False      # --omit-from
    allowed_rules: bool = False  # --allowed-rules
    target_jobs: bool = False    # --target-jobs
    batch: bool = False          # --batch
    touch: bool = False          # --touch


def request(workflow) -> Request:
    """The :class:`Request` of the invocation that reads this workflow (read from its settings at the end of a run)."""
    targets = _read(workflow, "dag_settings.targets") or [_read(workflow, "default_target")]
    stops = ("until", "omit_from", "allowed_rules", "target_jobs", "batch")
    return Request(targets=tuple(sorted(t for t in targets if t is not None)),
                   **{name: bool(_read(workflow, f"dag_settings.{name}")) for name in stops},
                   touch=bool(_read(workflow, "touch")))


def profile_group_size(workflow, group: str) -> Any:
    """The profile's ``group-components: GROUP=N`` (as Snakemake parsed it), or None. Known once the DAG is being
    built, not while the workflow is read."""
    return _read(workflow, "group_settings.group_components").get(group)


def in_cluster_job(workflow) -> bool:
    """Whether this snakemake runs one job of a cluster run (``--mode remote``), not a whole invocation."""
    return bool(_read(workflow, "remote_exec"))


def force_outputs(workflow, outputs: Iterable[str]) -> None:
    """Make Snakemake run the jobs of these outputs although their consumers are up to date. Only while the DAG is
    being built (from an input function), when ``workflow.dag`` exists."""
    _read(workflow, "dag.forcefiles").update(outputs)


def logger():
    """Snakemake's logger: where its lock refusal is logged (a filter there adds limitlab's unlock command)."""
    from snakemake.logging import logger as snakemake_logger

    return snakemake_logger
