"""Run jobs: how the pipeline runs the grid, the only family that knows a scheduler exists.

Owns which runs share one job (:mod:`~limitlab.jobs.grouping`), a run's identity and ``done.json``
(:mod:`~limitlab.jobs.identity`), the one rule that leaves a run out (:mod:`~limitlab.jobs.left_out`), the
failure and interruption markers (:mod:`~limitlab.jobs.failure_markers`), executing a job
(:mod:`~limitlab.jobs.execute`, ``limitlab run``), the plan the Snakefile asks for (:mod:`~limitlab.jobs.plan`) and
the per-stage timing table (:mod:`~limitlab.jobs.stage_timing`). May import experiment, io and errors at import
time; training and evaluation only inside :func:`~limitlab.jobs.execute.run_one` (the plan stays torch-free).
"""
