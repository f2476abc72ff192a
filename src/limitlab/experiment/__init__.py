"""The experiment: what a params file says, validated, and the grid of runs it expands into.

Owns the pydantic schema (:mod:`~limitlab.experiment.schema`, with its strict base class), reading a params file
with errors that name the field (:mod:`~limitlab.experiment.params_file`), every name on disk built from params
(:mod:`~limitlab.experiment.paths`: settings, run folders, per-run file names, table keys), a run's identity and
the tag in its folder names (:mod:`~limitlab.experiment.identity`) and the expansion into runs
(:mod:`~limitlab.experiment.grid`), and the JSON Schema of a params file with its key reference
(:mod:`~limitlab.experiment.params_schema`, :mod:`~limitlab.experiment.params_reference`). Torch-free. May import
limitlab.errors and limitlab.methods (whose configs are part of the schema); nothing from data, training,
evaluation, jobs or report at import time (the schema asks limitlab.data for dataset sizes and noise rules inside
its validators only, the JSON Schema for the registries' names when it is generated).
"""
