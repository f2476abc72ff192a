"""``limitlab upgrade``: move the runs that earlier releases finished into their present folders.

Run folders end in a tag made from the run's identity (``data/runs/<key>-<tag>/``), so that two params files
that differ never share a run, and the labels folder of a setting drawn from a user's file ends in a tag of that
file's content. Runs finished by a release whose folders had no run tag, or whose settings had no content tag,
are found by the identity in their ``done.json`` (and, for the second, by the file content their labels summary
records) and moved, never retrained; a folder that belongs to another spec stays where it is. Run it
once per params file after upgrading, before the pipeline (Snakemake then plans no run job for them); a run job
that finds such a run moves it too. ``--dry-run`` only counts.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("upgrade", help="move runs finished by earlier releases into their present folders",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", required=True, help="experiment params file")
    p.add_argument("--dry-run", action="store_true", help="count the runs that would move, move nothing")
    p.set_defaults(func=main)


def main(args) -> int:
    from limitlab.experiment import params_file
    from limitlab.experiment.grid import GridIndex
    from limitlab.jobs.adopt import adopt, adoptable

    exp = params_file.load(args.params)
    grid = GridIndex.of(exp)
    moved = [s.key for s in grid.specs if (adoptable(s, grid) if args.dry_run else adopt(s, grid))]
    verb = "would move" if args.dry_run else "moved"
    print(f"{args.params}: {verb} {len(moved)} of {len(grid.specs)} run(s) into their present folders"
          + (f" (first: {moved[0]})" if moved else ""))
    return 0
