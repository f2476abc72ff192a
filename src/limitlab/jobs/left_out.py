"""The one rule that leaves a run out of a job, used by the plan (Snakemake) and by ``limitlab run``.

A run is left out when

* it has a failure marker (``failed.json`` in its run or eval folder, :mod:`limitlab.experiment.failure_markers`)
  written for its current spec and has not finished since, unless ``--retry-failed`` (``--config
  retry_failed=true``) is given: ``failed``;
* its init source (the run of the grid whose model it starts from) is left out, recursively: ``skipped``;
* when the job runs it (``sources_must_have_trained``), its init source has not trained: ``skipped``. At planning
  time the source has usually not trained yet because it trains in this very invocation, so the plan does not ask.

A skipped run gets no marker of its own, so it runs once its source is fixed.
"""

from __future__ import annotations

from limitlab.experiment import failure_markers
from limitlab.jobs.done_record import has_trained, read_done, stages_finished


def left_out_reason(spec, grid, *, retry_failed: bool, sources_must_have_trained: bool,
                    _cache: dict | None = None) -> str | None:
    """'failed', 'skipped' or None (the run is run). ``grid``: the :class:`~limitlab.experiment.grid.GridIndex` of
    the params file (init sources). ``_cache`` (key -> reason) spares the recursion repeated work over a grid."""
    if _cache is not None and spec.key in _cache:
        return _cache[spec.key]
    reason = None
    if not retry_failed and _has_failed(spec, grid):
        reason = "failed"
    else:
        src = grid.init_source(spec)
        if src is not None and (
                left_out_reason(src, grid, retry_failed=retry_failed,
                                sources_must_have_trained=sources_must_have_trained, _cache=_cache) is not None
                or sources_must_have_trained and not has_trained(src, grid)):
            reason = "skipped"
    if _cache is not None:
        _cache[spec.key] = reason
    return reason


def _has_failed(spec, grid) -> bool:
    # a stat first (failed_with reads the marker only when there is one): the plan asks this of every run
    spec_json = None
    for folder in (spec.run_dir, spec.eval_dir):
        if failure_markers.has_marker(folder, "failed"):
            spec_json = spec_json or spec.model_dump_json()
            if failure_markers.failed_with(folder, spec_json):
                # stale beside a run that finished since (an earlier release marked refused inputs as failures):
                # not left out, and the next job that sees the run removes it
                return not stages_finished(read_done(spec, grid))
    return False
