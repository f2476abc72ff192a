"""The ``limitlab`` command: one subcommand per pipeline stage.

Each stage module exposes ``register(subparsers)``, which adds its subcommand and sets ``func`` (a callable
taking the parsed ``argparse.Namespace``). User errors (:class:`LimitlabError`) are printed without a
traceback and exit with status 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import signal
import sys

from limitlab import __version__
from limitlab.errors import LimitlabError, Terminated
from limitlab.stages import print_error

# Stage modules in pipeline order; each has register(subparsers).
STAGES = ["params", "data", "download", "corrupt", "labels", "run", "train", "evaluate", "bootstrap", "aggregate", "plot",
          "cleanlab", "report_assets", "timing", "upgrade", "compare", "claims",
          "plugins", "examples"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="limitlab",
        description="Reproducible LIMIT / noisy-label pipeline. Each subcommand is one pipeline stage.",
    )
    parser.add_argument("--version", action="version", version=f"limitlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in STAGES:
        try:
            module = importlib.import_module(f"limitlab.stages.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"limitlab.stages.{name}":
                continue  # stage not built yet
            raise
        module.register(sub)
    return parser


WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def _raise_terminated(signum, frame):
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    """Exit statuses: 0 done; 2 a LimitlabError (bad input, a refused or diverged run: it would repeat);
    1 a bug (traceback); 130 Ctrl-C, 143 SIGTERM, 75 out of memory or disk space: interruptions, which the pipeline
    resumes instead of marking the cell failed (limitlab.experiment.failure_markers)."""
    if (sys.argv[1:] if argv is None else argv) == ["--version"]:  # before the stages: a broken plugin cannot stop it
        print(f"limitlab {__version__}")
        return 0
    from limitlab.experiment.failure_markers import EXIT_OUT_OF_MEMORY, out_of_memory, out_of_resources

    try:  # the stages import the params schema, which reads the method registry: plugins load here
        parser = build_parser()
    except LimitlabError as exc:
        from rich.markup import escape

        print_error(escape(str(exc)))
        return 2
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        result = args.func(args)
    except LimitlabError as exc:
        from rich.markup import escape

        print_error(escape(str(exc)))
        return EXIT_OUT_OF_MEMORY if out_of_resources(exc) else 2  # a full disk: free space, then rerun
    except KeyboardInterrupt:
        print_error("interrupted (Ctrl-C); a rerun resumes from the last completed epoch")
        return 130
    except Terminated:
        print_error("terminated (SIGTERM); a rerun resumes from the last completed epoch")
        return 128 + signal.SIGTERM
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS:
            raise
        from rich.markup import escape

        from limitlab.io import write_error  # a write outside limitlab.io (e.g. a mkdir): same one line

        print_error(escape(str(write_error(exc.filename or "(unknown path)", exc))))
        return EXIT_OUT_OF_MEMORY if out_of_resources(exc) else 2
    except Exception as exc:
        if not out_of_memory(exc):
            raise
        from rich.markup import escape

        first = escape(str(exc).splitlines()[0]) if str(exc) else ""
        print_error(f"out of memory ({type(exc).__name__}: {first}); "
                    "not a failure of the run: give the job more memory (resources: mem_mb, a larger GPU) or use a "
                    "smaller training.batch_size / eval_batch_size; a rerun resumes from the last completed epoch")
        return EXIT_OUT_OF_MEMORY
    finally:
        signal.signal(signal.SIGTERM, previous)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
