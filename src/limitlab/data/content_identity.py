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
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from limitlab.errors import LimitlabError

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


@functools.lru_cache(maxsize=64)
def _dataset_id(key: tuple) -> str:
    with np.load(key[0], allow_pickle=False) as npz:
        return dataset_arrays_id({name: npz[name] for name in npz.files})


@functools.lru_cache(maxsize=4096)
def _labels(key: tuple) -> tuple[str, str]:
    """(file sha256, noise identity) of a labels file."""
    from limitlab.data.canonical import sha256_file

    with np.load(key[0], allow_pickle=False) as npz:
        return sha256_file(key[0]), noise_id({name: npz[name] for name in NOISE_ARRAYS if name in npz.files})


def dataset_id(path) -> str:
    """Identity of the canonical dataset file at ``path`` (cached per file version within a process)."""
    return _dataset_id(_stat_key(path))


def labels_ids(path) -> tuple[str, str]:
    """(sha256 of the file's bytes, noise identity) of a labels file."""
    try:
        return _labels(_stat_key(path))
    except KeyError as exc:  # an array is missing: check_labels says which, when training loads the file
        raise LimitlabError(f"labels file {path} lacks {exc}; rebuild it with the corrupt stage") from None


def verified_inputs(data_path, labels_path) -> dict[str, str]:
    """``{'dataset': id, 'noise': id}`` of a run's inputs, after checking them against ``labels.json``.

    Refused: a labels file whose bytes differ from the checksum ``labels.json`` recorded (edited, or replaced
    after ``limitlab corrupt`` wrote it; the message says whether the realisation changed), and a dataset whose
    content differs from the one the labels were drawn from. A labels file without ``labels.json`` (a cross-validation fold's) is identified but not checked."""
    data_path, labels_path = Path(data_path), Path(labels_path)
    for path, what in ((data_path, "dataset file"), (labels_path, "labels file")):
        if not path.is_file():
            raise LimitlabError(f"{what} {path} does not exist; the pipeline's data stage writes it "
                                f"(snakemake ... data)")
    file_sha, noise = labels_ids(labels_path)
    data = dataset_id(data_path)
    summary = labels_path.with_suffix(".json")
    record = _read_summary(summary)
    if record is None:
        return {"dataset": data, "noise": noise}
    fix = (f"regenerate both with the corrupt stage (delete {labels_path} and rerun the pipeline, or "
           f"`snakemake ... --forcerun corrupt`), or restore the file")
    if record.get("labels_sha256") not in (None, file_sha):
        what = (f"another noise realisation (noise id {noise[:SHOWN]}, recorded {str(record['noise_id'])[:SHOWN]})"
                if record.get("noise_id") not in (None, noise) else f"other bytes (sha256 {file_sha[:SHOWN]}, "
                f"recorded {str(record['labels_sha256'])[:SHOWN]})")
        raise LimitlabError(f"{labels_path} holds {what} than {summary} records: it changed after `limitlab corrupt` "
                            f"wrote it, and is not used; {fix}")
    if "dataset_id" in record:
        changed = record["dataset_id"] != data
    else:  # labels.json of a release before content identities: the dataset file's checksum
        from limitlab.data.canonical import sha256_file

        changed = record.get("data_sha256") not in (None, sha256_file(data_path))
    if changed:
        raise LimitlabError(f"dataset file {data_path} is not the one the labels in {labels_path} were drawn from "
                            f"(its content changed since: dataset id now {data[:SHOWN]}); rebuild it with the "
                            f"download stage (delete it and rerun the pipeline) or restore it")
    return {"dataset": data, "noise": noise}


def _read_summary(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LimitlabError(f"{path} is not readable JSON ({exc}); rebuild the setting's labels with the corrupt "
                            f"stage (delete {path.with_suffix('.npz')} and rerun the pipeline)") from None
    if not isinstance(record, dict):
        raise LimitlabError(f"{path} is not a labels summary (a JSON object); rebuild it with the corrupt stage")
    return record
