"""The command line's stages: one module per ``limitlab <stage>`` subcommand, each a thin layer.

A stage module parses its arguments (``register(subparsers)``) and calls the family that does the work: params
(experiment), download and corrupt (data), train (training), run (jobs), evaluate, bootstrap and cleanlab
(evaluation), aggregate, plot, report-assets (report), timing (jobs). Heavy imports happen inside each stage's
``main``, so ``limitlab --help`` and the torch-free stages start without torch.
"""
