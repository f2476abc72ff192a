"""A run's done record (``run_dir/done.json``): what finished for which run identity, on which inputs, with which
outputs.

The identity of a run (:mod:`limitlab.experiment.identity`) is the SHA-256 of its spec's JSON and, for a run
initialised from another run of the grid, of its source's identity. ``done.json`` records that identity, which
stages (train, evaluate, bootstrap) finished for it, the identities of the inputs they consumed and the size and
checksum of each output; a record of another identity is no record (a changed spec starts over). What the record
means for a run (finished, or which stages run again) is decided in :mod:`limitlab.jobs.run_state`. A job's identity
(its Snakemake params) is the hash of its runs' identities: a changed cell reruns its own job only.

The bytes hashed here are part of the contract with finished results: changing them retrains every finished run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

from limitlab import io
from limitlab.experiment.identity import run_identity
from limitlab.experiment.paths import RunFiles
from limitlab.io import sha256_file

DONE = RunFiles.DONE


def spec_sha256(spec, grid=None) -> str:
    """Identity of a run (hex SHA-256); ``grid`` (a :class:`~limitlab.experiment.grid.GridIndex`) finds its init
    source, whose identity is folded in."""
    return grid.identity(spec) if grid is not None else run_identity(spec)


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


def file_record(path: Path) -> list:
    """[size, sha256] of an output file, as done.json records it."""
    return [path.stat().st_size, sha256_file(path)]


def write_done(spec, identity: str, files: Sequence[Path] = (), inputs: dict | None = None, **stages) -> None:
    """Record the run's identity, the stages that finished, the identities of the inputs they used
    (:func:`~limitlab.data.content_identity.verified_inputs`) and the size and checksum of each output ``files``:
    a file that no longer matches is rebuilt (:func:`damaged`)."""
    record = {"key": spec.key, "spec_sha256": identity, **stages}
    if inputs is not None:
        record["inputs"] = inputs
    if files:
        record["outputs"] = {output_name(spec, p): file_record(p) for p in files}
    io.write_json(Path(spec.run_dir) / DONE, record)


def output_name(spec, path) -> str:
    """An output's name in done.json: 'run/<file>' or 'eval/<file>' (the folders move with their tags)."""
    folder, name = os.path.split(os.fspath(path))
    return f"run/{name}" if folder == os.fspath(spec.run_dir) else f"eval/{name}"


def damaged(spec, done: dict, files: Sequence, checksums_up_to: float = math.inf) -> list[str]:
    """The ``files`` that are missing or differ from done.json's record (size, and sha256 for files of at most
    ``checksums_up_to`` bytes), each as 'PATH (missing)' or 'PATH (damaged: ...)'. Files done.json has no record
    of (a release before records) only need to exist. (Strings and os.stat: the plan asks this of every run.)"""
    recorded = done.get("outputs") if isinstance(done.get("outputs"), dict) else {}
    problems = []
    for path in map(os.fspath, files):
        try:
            size = os.stat(path).st_size
        except OSError:
            problems.append(f"{path} (missing)")
            continue
        want = recorded.get(output_name(spec, path))
        if not (isinstance(want, list) and len(want) == 2):
            continue
        if size != want[0]:
            problems.append(f"{path} (damaged: {size} bytes, {want[0]} when written)")
        elif size <= checksums_up_to and sha256_file(path) != want[1]:
            problems.append(f"{path} (damaged: its checksum differs from the one recorded when it was written)")
    return problems


def stages_finished(done: dict) -> bool:
    """Whether a done.json record says training, evaluation and the bootstrap finished."""
    return done.get("train") is True and done.get("evaluate") is True and "bootstrap" in done


def has_trained(spec, grid=None) -> bool:
    """Training finished for this run's identity and its model file is there (what an init source must be)."""
    return read_done(spec, grid).get("train") is True and (Path(spec.run_dir) / RunFiles.MODEL).is_file()
