"""The experiment: what a params file says, validated, and the grid of runs it expands into.

Owns the pydantic schema (:mod:`~limitlab.experiment.schema`, with its strict base class), reading a params file
with errors that name the field (:mod:`~limitlab.experiment.params_file`), every name on disk built from params
(:mod:`~limitlab.experiment.paths`: settings, run folders, per-run file names, table keys), a run's identity and
the tag in its folder names (:mod:`~limitlab.experiment.identity`), the failure and interruption markers a run
folder may hold (:mod:`~limitlab.experiment.failure_markers`: written by run jobs and the cleanlab rule's shell,
read by the plan, the run jobs and the report) and the expansion into runs (:mod:`~limitlab.experiment.grid`), and
the JSON Schema of a params file with its key reference (:mod:`~limitlab.experiment.params_schema`,
:mod:`~limitlab.experiment.params_reference`). Torch-free.

Of limitlab it may import: ``errors``, ``io``, ``methods`` (whose configs are part of the schema) and ``data``
(inside functions only: the schema asks it for dataset sizes and noise rules in its validators, the JSON Schema
for the registries' names when it is generated). One exception, to be moved (docs/architecture.md, "Exceptions"):
:mod:`~limitlab.experiment.params_file` checks a claims file that a params file names with
:func:`limitlab.report.claims.load_claims`.
"""
