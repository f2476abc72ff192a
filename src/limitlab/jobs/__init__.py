"""Run jobs: how the pipeline runs the grid, the only family that knows a scheduler exists.

Owns which runs share one job (:mod:`~limitlab.jobs.grouping`), what finished for a run, on which inputs, with
which outputs (``done.json``, :mod:`~limitlab.jobs.identity`), adopting runs finished before run tags
(:mod:`~limitlab.jobs.adopt`), the one rule that leaves a run out (:mod:`~limitlab.jobs.left_out`), the
failure and interruption markers (:mod:`~limitlab.jobs.failure_markers`), executing a job
(:mod:`~limitlab.jobs.execute`, ``limitlab run``), the plan the Snakefile asks for (:mod:`~limitlab.jobs.plan`,
with Snakemake's ``--config`` checked by :mod:`~limitlab.jobs.run_config`), what a user meets of Snakemake's lock
(:mod:`~limitlab.jobs.snakemake_lock`), a job that ends with its shell (:mod:`~limitlab.jobs.parent_death`) and
the per-stage timing table (:mod:`~limitlab.jobs.stage_timing`). May import experiment, io and errors at import
time; training and evaluation only inside :func:`~limitlab.jobs.execute.run_one` (the plan stays torch-free).
"""
