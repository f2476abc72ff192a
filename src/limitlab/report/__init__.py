"""The report family: everything made from finished runs' outputs, never from training itself. It owns reading run
outputs (:mod:`.run_outputs`) and checking each run against its spec and inputs (:mod:`.provenance`), cells and
hyperparameter selection (:mod:`.cells`; the last-epoch and oracle rules beside the paper's in
:mod:`.selection_rules`; the susceptibility selection in :mod:`.susceptibility_selection`), learning curves
(:mod:`.curves`), the tables (:mod:`.tables`: table.md, the terminal table, table.csv, selection.csv,
detection.csv) and metrics.json (:mod:`.metrics`), written by the driver :mod:`.aggregate`; the paper's numbers
(:mod:`.paper_numbers`); the results page of Snakemake's report (:mod:`.results_page`); and the figures
(:mod:`.figures`).

Of limitlab it may import: ``experiment``, ``data`` (torch-free: a setting's inputs checked with
:func:`limitlab.data.content_identity.verified_inputs`, the one check every stage uses; images and noise models for
figures), ``detection_metrics`` (scoring every detector), ``io`` and ``errors``. Besides them numpy / pandas /
matplotlib / seaborn / scipy / sklearn (rich for the terminal); never torch, nor :mod:`limitlab.training`,
:mod:`limitlab.evaluation`, :mod:`limitlab.jobs` or :mod:`limitlab.pipeline`: failure markers are read with
:func:`limitlab.experiment.failure_markers.read_marker`.
"""
