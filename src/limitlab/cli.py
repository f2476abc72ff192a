"""The ``limitlab`` command: one subcommand per pipeline stage.

Each stage module exposes ``register(subparsers)``, which adds its subcommand and sets ``func`` (a callable
taking the parsed ``argparse.Namespace``). User errors (:class:`LimitlabError`) are printed without a
traceback and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from limitlab import __version__
from limitlab.errors import LimitlabError

# Stage modules in pipeline order; each has register(subparsers).
STAGES = ["params", "download", "corrupt", "train", "evaluate", "bootstrap", "aggregate", "plot", "timing"]


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


def print_error(message: str) -> None:
    try:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    except Exception:  # rich missing or markup in the message: plain text is fine
        print(f"error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except LimitlabError as exc:
        from rich.markup import escape

        print_error(escape(str(exc)))
        return 2
    except KeyboardInterrupt:
        print_error("interrupted")
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
