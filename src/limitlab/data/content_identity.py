"""Content identities of a run's inputs: what a dataset file and a noise realisation hold, not their bytes.

* **Dataset identity**: SHA-256 over every array of the canonical ``.npz`` (:mod:`limitlab.data.canonical`), in
  name order, each as ``name|dtype|shape`` then its bytes. Clothing1M's image paths count relative to the dataset
  root (the ``root`` array names the machine's folder, not the data).
* **Noise identity**: SHA-256 over the realisation: ``train_index``, ``train_noisy``, ``val_index``,
  ``val_noisy``, each as little-endian int64. The clean labels follow from the dataset and the indices, and the
  transition matrix describes the noise model, not this draw, so neither counts: the same draw exported and read
  back has the same identity.

``labels.json`` records both beside the file checksums (``dataset_id``, ``noise_id``), every run records the
identities it was trained on (``done.json``, ``inputs``) and the report shows them. :func:`verified_inputs`
is the one check before a run uses its inputs: a labels file or dataset that no longer matches what
``labels.json`` recorded is refused, never used silently.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from limitlab.errors import InputRefused
from limitlab.io import sha256_file

NOISE_ARRAYS = ("train_index", "train_noisy", "val_index", "val_noisy")
SHOWN = 12  # hex digits of an identity in messages and tables


def _update(h, name: str, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    h.update(f"{name}|{a.dtype.str}|{a.shape}\n".encode())
    h.update(a.tobytes())


def noise_id(arrays: Mapping[str, np.ndarray]) -> str:
    """Identity of a noise realisation (indices and noisy labels of both splits)."""
    h = hashlib.sha256()
    for name in NOISE_ARRAYS:
        _update(h, name, np.asarray(arrays[name]).astype("<i8"))
    return h.hexdigest()


def dataset_arrays_id(arrays: Mapping[str, np.ndarray]) -> str:
    """Identity of a canonical dataset's arrays (paths of a file dataset relative to its root)."""
    root = arrays.get("root")
    prefix = str(root.reshape(-1)[0]).rstrip("/") + "/" if root is not None and root.size == 1 else None
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        if name == "root":
            continue
        if prefix is not None and a.dtype.kind == "U" and name.endswith("_files"):
            a = np.char.replace(a, prefix, "", count=1)
        _update(h, name, a)
    return h.hexdigest()


def _stat_key(path) -> tuple:
    st = os.stat(path)
    return str(Path(path).resolve()), st.st_size, st.st_mtime_ns


# --- the fixes a refusal names (one wording per cause, grouped in the pipeline's summary) ----------------------

REDRAW = ("restore the file, or delete it and rerun the pipeline (the corrupt stage draws it again; what finished "
          "on the original is kept)")
REDOWNLOAD = ("restore the file, or delete it and rerun the pipeline (the download stage writes it again; what "
              "finished on the original is kept)")
WRITE_INPUT = "rerun the pipeline: its data stage writes it (snakemake ... data)"


def _unreadable(path, what: str, exc: Exception, fix: str) -> InputRefused:
    return InputRefused(f"{what} {path} is damaged or not an .npz file ({type(exc).__name__}: {exc})",
                        cause=f"{what} damaged", fix=fix)


@functools.lru_cache(maxsize=64)
def _dataset_id(key: tuple) -> str:
    try:
        with np.load(key[0], allow_pickle=False) as npz:
            return dataset_arrays_id({name: npz[name] for name in npz.files})
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _unreadable(key[0], "dataset file", exc, REDOWNLOAD) from None


@functools.lru_cache(maxsize=4096)
def _labels(key: tuple) -> tuple[str, str]:
    """(file sha256, noise identity) of a labels file."""
    try:
        with np.load(key[0], allow_pickle=False) as npz:
            missing = [name for name in NOISE_ARRAYS if name not in npz.files]
            if missing:  # a file of another kind, or cut short where numpy still reads it
                raise InputRefused(f"labels file {key[0]} lacks the array(s) {', '.join(missing)}",
                                   cause="labels file damaged", fix=REDRAW)
            return sha256_file(key[0]), noise_id({name: npz[name] for name in NOISE_ARRAYS})
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _unreadable(key[0], "labels file", exc, REDRAW) from None


@functools.lru_cache(maxsize=256)
def _file_sha256(key: tuple) -> str:
    return sha256_file(key[0])


def dataset_id(path) -> str:
    """Identity of the canonical dataset file at ``path`` (cached per file version within a process)."""
    return _dataset_id(_stat_key(path))


def labels_ids(path) -> tuple[str, str]:
    """(sha256 of the file's bytes, noise identity) of a labels file; a damaged file is :class:`InputRefused`."""
    return _labels(_stat_key(path))


def source_file_id(path) -> str | None:
    """SHA-256 of a file the user gives the pipeline (a noise file, a transition matrix, a human-label file), or
    None while it does not exist (the stage that reads it says what it must be). Cached per file version."""
    try:
        return _file_sha256(_stat_key(path))
    except (FileNotFoundError, NotADirectoryError):
        return None


def _folder_key(root) -> tuple:
    """The folder and (relative path, size, mtime) of every file under it, in path order: what its hash depends on."""
    root = Path(root)
    files = sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file())
    return (str(root.resolve()), *((rel, st.st_size, st.st_mtime_ns) for rel, p in files
                                   for st in (os.stat(p),)))


@functools.lru_cache(maxsize=16)
def _folder_sha256(key: tuple) -> str:
    root, h = Path(key[0]), hashlib.sha256()
    for rel, size, _ in key[1:]:
        h.update(f"{rel}\0{size}\0".encode())
        with open(root / rel, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def source_id(path) -> str | None:
    """Content identity of a source the user gives the pipeline: a file's SHA-256 (:func:`source_file_id`), or for a
    folder (an own image dataset, :mod:`limitlab.data.own`) the SHA-256 over every file under it in relative-path
    order, each as ``path\\0size\\0`` then its bytes; None while it does not exist. Cached per version of the files."""
    if Path(path).is_dir():
        return _folder_sha256(_folder_key(path))
    return source_file_id(path)


def input_changes(old: Mapping | None, new: Mapping | None) -> str:
    """'noise 1a2b… -> 3c4d…' for each input identity that differs between two records (first :data:`SHOWN` hex
    digits); a record that is not a mapping was written by a release that did not record inputs."""
    if not isinstance(old, Mapping):
        return "not recorded by the release that wrote it"
    new = new or {}
    return ", ".join(f"{k} {str(old.get(k))[:SHOWN]} -> {str(new.get(k))[:SHOWN]}"
                     for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))


def sources_tag(ids: Mapping[str, str]) -> str:
    """The tag that keys a setting's folders on the content of its source files: the first :data:`SHOWN` hex digits
    of the SHA-256 over ``role=sha256`` lines in role order (two files of one name never share a folder). It has the
    shape of a run's folder tag (12 hex digits, limitlab.experiment.identity), whose ``untagged`` takes it off."""
    text = "".join(f"{role}={ids[role]}\n" for role in sorted(ids))
    return hashlib.sha256(text.encode()).hexdigest()[:SHOWN]


def verified_dataset(data_path) -> str:
    """The identity of a canonical dataset file, after checking it against the checksum its download stage
    recorded (``<name>.json``, ``npz_sha256``): an edited or replaced dataset is refused before anything is drawn
    from it or trained on it, whichever stage runs first."""
    data_path = Path(data_path)
    if not data_path.is_file():
        raise InputRefused(f"dataset file {data_path} does not exist", cause="input missing", fix=WRITE_INPUT)
    data = dataset_id(data_path)
    meta = _read_record(data_path.with_suffix(".json"), "dataset metadata", REDOWNLOAD)
    recorded = (meta or {}).get("npz_sha256")
    sha = _file_sha256(_stat_key(data_path)) if recorded is not None else None
    if sha != recorded:
        raise InputRefused(f"dataset file {data_path} changed after the download stage wrote it (sha256 "
                           f"{sha[:SHOWN]}, recorded {str(recorded)[:SHOWN]} in "
                           f"{data_path.with_suffix('.json')}), and is not used", cause="dataset file changed",
                           fix=REDOWNLOAD)
    return data


def verified_inputs(data_path, labels_path) -> dict[str, str]:
    """``{'dataset': id, 'noise': id}`` of a run's inputs, after checking them against their records; each refusal
    is an :class:`~limitlab.errors.InputRefused` with its cause and the fix that works.

    Refused: a dataset whose bytes differ from what its download stage recorded (:func:`verified_dataset`); a
    labels file whose bytes differ from the checksum ``labels.json`` recorded (edited, or replaced after ``limitlab
    corrupt`` wrote it; the message says whether the realisation changed); a dataset whose content differs from
    the one the labels were drawn from; a damaged file. A labels file without ``labels.json`` (a cross-validation
    fold's) is identified but not checked."""
    data_path, labels_path = Path(data_path), Path(labels_path)
    data = verified_dataset(data_path)
    if not labels_path.is_file():
        raise InputRefused(f"labels file {labels_path} does not exist", cause="input missing", fix=WRITE_INPUT)
    file_sha, noise = labels_ids(labels_path)
    summary = labels_path.with_suffix(".json")
    record = _read_record(summary, "labels summary", f"delete it and {labels_path} and rerun the pipeline (the "
                          "corrupt stage draws both again; what finished on the original is kept)")
    if record is None:
        return {"dataset": data, "noise": noise}
    if record.get("labels_sha256") not in (None, file_sha):
        what = (f"another noise realisation (noise id {noise[:SHOWN]}, recorded {str(record['noise_id'])[:SHOWN]})"
                if record.get("noise_id") not in (None, noise) else f"other bytes (sha256 {file_sha[:SHOWN]}, "
                f"recorded {str(record['labels_sha256'])[:SHOWN]})")
        raise InputRefused(f"{labels_path} holds {what} than {summary} records: it changed after `limitlab corrupt` "
                           f"wrote it, and is not used", cause="labels file changed", fix=REDRAW)
    if "dataset_id" in record:
        changed = record["dataset_id"] != data
    else:  # labels.json of a release before content identities: the dataset file's checksum
        changed = record.get("data_sha256") not in (None, _file_sha256(_stat_key(data_path)))
    if changed:
        raise InputRefused(f"dataset file {data_path} is not the one the labels in {labels_path} were drawn from "
                           f"(its content changed since: dataset id now {data[:SHOWN]})",
                           cause="dataset file changed", fix=REDOWNLOAD)
    return {"dataset": data, "noise": noise}


def _read_record(path: Path, what: str, fix: str) -> dict | None:
    """The JSON record beside an input (None when there is none); an unreadable one is refused."""
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputRefused(f"{what} {path} is not readable JSON ({exc})", cause=f"{what} damaged", fix=fix) from None
    if not isinstance(record, dict):
        raise InputRefused(f"{what} {path} is not a JSON object", cause=f"{what} damaged", fix=fix)
    return record
