"""The command line's stages: one module per ``limitlab <stage>`` subcommand, each a thin layer.

A stage module parses its arguments (``register(subparsers)``) and calls the family that does the work: params
(experiment), data, download and corrupt (data), train (training), run (jobs), evaluate, bootstrap and cleanlab
(evaluation), aggregate, plot, report-assets (report), timing (pipeline). Heavy imports happen inside each stage's
``main``, so ``limitlab --help`` and the torch-free stages start without torch.

Of limitlab it may import: ``errors``, ``io``, ``data``, ``methods``, ``experiment``, ``training``, ``evaluation``,
``jobs``, ``pipeline`` and ``report``: the family a stage drives. :mod:`limitlab.cli` imports the stages, never the
other way (:func:`print_error` is here for both).
"""

from __future__ import annotations

import sys
from pathlib import Path


def print_error(message: str) -> None:
    """One error as the command line prints it (``limitlab.cli.main``, and a stage that reports several)."""
    try:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    except Exception:  # rich missing or markup in the message: plain text is fine
        print(f"error: {message}", file=sys.stderr)


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
