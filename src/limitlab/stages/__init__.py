"""The command line's stages: one module per ``limitlab <stage>`` subcommand, each a thin layer.

A stage module parses its arguments (``register(subparsers)``) and calls the family that does the work: params
(experiment), data, download and corrupt (data), train (training), run (jobs), evaluate, bootstrap and cleanlab
(evaluation), aggregate, plot, report-assets (report), timing (jobs). Heavy imports happen inside each stage's
``main``, so ``limitlab --help`` and the torch-free stages start without torch.
"""

from __future__ import annotations

from pathlib import Path


def results_folder(exp, given: Path | None, *inside: str) -> Path:
    """The folder a report stage writes to: ``--results-dir`` when given, else the params' results folder.

    Refused before any work when a part of it, or of its subfolder ``inside`` that the stage creates, is a file:
    the OS would only say "File exists" or "Not a directory".
    """
    from limitlab import io

    folder = Path(given) if given is not None else Path(exp.results_path)
    blocker = io.file_in_the_way(folder.joinpath(*inside))
    if blocker is not None:
        option = "--results-dir" if given is not None else "the params' results folder (results_dir)"
        raise io.not_a_folder(folder, blocker, option)
    return folder
