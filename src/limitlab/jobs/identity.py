"""A run's identity and what has finished for it (``run_dir/done.json``).

The identity of a run is the SHA-256 of its spec's JSON and, for a run initialised from another run of the grid, of
its source's identity, so that retraining the source retrains it. ``done.json`` records that identity and which
stages (train, evaluate, bootstrap) finished for it; a stage whose inputs are unchanged is not run again, and a
changed spec starts over. A job's identity (its Snakemake params) is the hash of its runs' identities: a changed
cell reruns its own job only.

The bytes hashed here are part of the contract with finished results: changing them retrains every finished run.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from limitlab import io
from limitlab.experiment.paths import RunFiles

DONE = RunFiles.DONE


def spec_sha256(spec, grid=None) -> str:
    """Identity of a run (hex SHA-256); ``grid`` (a :class:`~limitlab.experiment.grid.GridIndex`) finds its init
    source, whose identity is folded in."""
    h = hashlib.sha256(spec.model_dump_json().encode())
    src = grid.init_source(spec) if grid is not None else None
    if src is not None:
        h.update(spec_sha256(src, grid).encode())
    return h.hexdigest()


def specs_sha256(specs: Sequence, grid=None) -> str:
    """Identity of a job's runs (16 hex digits): changes when any of its runs' identities changes."""
    h = hashlib.sha256()
    for s in specs:
        h.update(spec_sha256(s, grid).encode())
    return h.hexdigest()[:16]


def run_files(spec, uses_q: bool) -> list[Path]:
    """Every output of a finished run: training's, then evaluation's, then the bootstrap (last)."""
    run_dir, eval_dir = Path(spec.run_dir), Path(spec.eval_dir)
    names = [*RunFiles.EVALUATED, *(RunFiles.Q_EVALUATED if uses_q else ())]
    return ([run_dir / n for n in RunFiles.TRAINED] + [eval_dir / n for n in names]
            + [eval_dir / RunFiles.BOOTSTRAP])


def read_done(spec, grid=None) -> dict:
    """done.json of the run if it was written for this very run (:func:`spec_sha256`), else {}."""
    try:
        done = json.loads((Path(spec.run_dir) / DONE).read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) and done.get("spec_sha256") == spec_sha256(spec, grid) else {}


def write_done(spec, identity: str, **stages) -> None:
    io.write_json(Path(spec.run_dir) / DONE, {"key": spec.key, "spec_sha256": identity, **stages})


def has_trained(spec, grid=None) -> bool:
    """Training finished for this run's identity and its model file is there (what an init source must be)."""
    return read_done(spec, grid).get("train") is True and (Path(spec.run_dir) / RunFiles.MODEL).is_file()


def is_complete(spec, uses_q: bool, bootstrap: dict, grid=None) -> bool:
    """Whether every stage of the run finished for this run's identity (and these bootstrap settings)."""
    done = read_done(spec, grid)
    return (done.get("train") is True and done.get("evaluate") is True and done.get("bootstrap") == bootstrap
            and all(p.is_file() for p in run_files(spec, uses_q)))
