"""What talks to Snakemake and DVC: the workflow's side of limitlab, torch-free (the Snakefile imports it while it
is being read).

Owns one snakemake invocation of the workflow and the decisions it makes on Snakemake's state
(:mod:`~limitlab.pipeline.invocation`: when the notes on the plan print, which finished jobs run again, which
dvc.yaml stages an invocation completes), the plan the Snakefile asks for (:mod:`~limitlab.pipeline.plan`: run
jobs, their identity, inputs and resources, the cheap stages' arguments), Snakemake's ``--config``
(:mod:`~limitlab.pipeline.run_config`), Snakemake's lock as a user meets it (:mod:`~limitlab.pipeline.snakemake_lock`),
every Snakemake internal limitlab reads or changes, with the versions it supports
(:mod:`~limitlab.pipeline.snakemake_internals`), dvc.lock's record of what Snakemake built
(:mod:`~limitlab.pipeline.dvc_record`), a run job that ends with its Snakemake job shell
(:mod:`~limitlab.pipeline.parent_death`) and the per-stage timing table from Snakemake's benchmark files
(:mod:`~limitlab.pipeline.stage_timing`). The run jobs themselves are :mod:`limitlab.jobs`.

Of limitlab it may import: ``jobs``, ``experiment``, ``data``, ``io`` and ``errors``; besides them snakemake (only
through :mod:`~limitlab.pipeline.snakemake_internals`), yaml and pandas. Never torch.
"""
