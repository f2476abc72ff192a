"""Run jobs: what ``limitlab run`` does with the runs of one pipeline job, and nothing of the scheduler that started it.

Owns which runs share one job (:mod:`~limitlab.jobs.grouping`), what finished for a run, on which inputs, with
which outputs (``done.json``, :mod:`~limitlab.jobs.done_record`), whether a run is finished or which of its stages
run again and why (:mod:`~limitlab.jobs.run_state`, the one place that decides it), adopting runs finished in an
earlier release's folders (:mod:`~limitlab.jobs.adopt`), the one rule that leaves a run out (:mod:`~limitlab.jobs.left_out`) and
executing a job (:mod:`~limitlab.jobs.execute`). What talks to Snakemake and DVC is :mod:`limitlab.pipeline`;
the failure markers a run job writes are a run-folder format, :mod:`limitlab.experiment.failure_markers`.

Of limitlab it may import: ``experiment``, ``data`` (the content identities of a run's inputs, checked before
use), ``io``, ``errors``, and ``training`` and ``evaluation`` only inside :func:`~limitlab.jobs.execute.run_one`
(the plan that reads these modules stays torch-free). :mod:`limitlab.jobs.dvc_record` is the old path of
:mod:`limitlab.pipeline.dvc_record`, kept for the command dvc.yaml runs.
"""
