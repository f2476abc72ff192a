"""``limitlab plugins``: every registered method, noise model and dataset (limitlab's own and other packages'), with
where each comes from.

Another installed package adds a method, a class-conditional noise model or a dataset by declaring an entry point in
the group ``limitlab.methods``, ``limitlab.noise_models`` or ``limitlab.datasets`` (see docs/extending.md); its name
is then usable in a params file like a built-in one. A plugin that fails to import, or registers a name that exists,
is a clear error naming the package and the entry point.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list the registered methods, noise models and datasets and the packages they "
                                       "come from",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=main)


def main(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from limitlab.data.noise.transition import NOISE_REGISTRY
    from limitlab.data.registry import DATASET_REGISTRY
    from limitlab.methods import REGISTRY

    table = Table(title="registered entries (params files name them)", title_justify="left")
    for column in ("kind", "name", "package", "version", "entry point"):
        table.add_column(column)
    for kind, name, origin in [*REGISTRY.rows(), *NOISE_REGISTRY.rows(), *DATASET_REGISTRY.rows()]:
        table.add_row(kind, name, origin.distribution, origin.version, origin.entry_point or "built in")
    Console(width=120).print(table)
    return 0
