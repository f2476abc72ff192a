"""One snakemake invocation of limitlab's workflow, as workflow/rules/common.smk asks for it: the checked
``--config``, the params file and its plan, and what the workflow does while Snakemake reads it, builds the DAG
and ends.

Three decisions on Snakemake's state are made here and tested without running Snakemake
(tests/pipeline/test_invocation.py); Snakemake's state itself is read only through
:mod:`limitlab.pipeline.snakemake_internals`:

* when limitlab's notes on the plan print: while the workflow is read, or in ``onstart`` when a lock is there
  (:func:`limitlab.pipeline.snakemake_lock.notes_wait_for_onstart`);
* which finished run jobs Snakemake is made to run again: those whose run outputs are missing or damaged
  (:meth:`limitlab.pipeline.plan.RunJobPlan.rerun_stale`), checked once per runs-per-job value and invocation,
  never in a cluster job's own snakemake (:meth:`Invocation.job_files`);
* which dvc.yaml stages an invocation completes for the DVC record: none when it stops short of its targets
  (:func:`limitlab.pipeline.dvc_record.completed_targets`).

Each answer that reaches Snakemake as a rule's params or a shell string comes from :mod:`limitlab.pipeline.plan`
unchanged, so a run's identity and its job's params stay what they were.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from limitlab.pipeline import dvc_record, snakemake_internals, snakemake_lock
from limitlab.pipeline.plan import RunJobPlan, refusal_lines
from limitlab.pipeline.run_config import CONFIG_FILE, check_config


def to_stderr(lines: Iterable[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)


class Invocation:
    """Created while Snakemake reads the workflow (``config`` and ``workflow``: the Snakefile's globals). Raises a
    LimitlabError for an unsupported Snakemake, a bad ``--config`` or a bad params file, before anything is
    planned; the Snakefile turns it into Snakemake's WorkflowError."""

    def __init__(self, config: Mapping[str, Any], workflow, say: Callable[[Iterable[str]], None] = to_stderr,
                 locks=snakemake_internals.LOCKS):
        snakemake_internals.check_version()
        self.config = check_config(config)  # unknown --config keys and unreadable values, before any planning
        self.params: str = self.config["params"]
        try:
            self.exp = params_file.load(self.params)
            self.plan = RunJobPlan(self.exp, self.config, source=self.params)
        except LimitlabError as exc:  # the params problem, not a traceback into pydantic
            raise LimitlabError(f"{exc}\n(choose the params file with: --config params=params/NAME.yaml, or "
                                f"`params:` in {CONFIG_FILE})") from None
        self.workflow = workflow
        self.say = say
        # Snakemake's lock refusal names the exact unlock command (limitlab.pipeline.snakemake_lock)
        snakemake_lock.install_unlock_hint(snakemake_internals.logger(), self.params)
        self.notes_wait = snakemake_lock.notes_wait_for_onstart(locks)
        self._checked: set[int] = set()  # runs-per-job values whose finished jobs were checked
        if not self.notes_wait:
            self.say(self.plan.messages())

    def on_start(self) -> None:
        """The Snakefile's ``onstart``: the notes on the plan, when a lock kept them back while it was read."""
        if self.notes_wait:
            self.say(self.plan.messages())

    def end_of_run(self, finished: bool) -> None:
        """The Snakefile's ``onsuccess`` / ``onerror``: the runs refused for their inputs, grouped by cause with the
        fix, then the DVC record of the working directory's dvc.yaml, if it has one."""
        self.say(refusal_lines(self.plan.refused_inputs()))
        targets = dvc_record.completed_targets(snakemake_internals.request(self.workflow))
        self.say(dvc_record.after_snakemake(self.params, targets, finished))

    def runs_per_job(self) -> int:
        """N at DAG-building time (the profile's group-components are known then, not while the workflow is read)."""
        return self.plan.runs_per_job(snakemake_internals.profile_group_size(self.workflow, "run"))

    def job_files(self) -> list[str]:
        """The run jobs' summaries, every target's input. Finished jobs with a missing or damaged run output are
        forced to run again (each rebuilds only that); Snakemake alone reruns no job whose consumers are up to
        date. Checked once per N in an invocation, and not in a cluster job's own snakemake, which runs one given
        job."""
        n = self.runs_per_job()
        if n not in self._checked and not snakemake_internals.in_cluster_job(self.workflow):
            self._checked.add(n)
            stale, messages = self.plan.rerun_stale(n)
            snakemake_internals.force_outputs(self.workflow, stale)
            self.say(messages)
        return self.plan.job_files(n)
