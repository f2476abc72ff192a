"""The canonical on-disk form of every dataset, and loading it back (docs/methods.md, "Datasets").

Canonical form
--------------
Every dataset is converted once (``limitlab download``) into ONE uncompressed, byte-deterministic ``.npz``
(:func:`limitlab.io.save_npz`, ``allow_pickle=False`` everywhere) plus a metadata JSON beside it
(``<out>.with_suffix('.json')``).

Tensor datasets (``kind == 'tensor'``: mnist, cifar10, cifar100, mnist5k, and a plugin's, e.g. the example
plugin's sk_digits):

=========== ======== =============== =====================================================
array       dtype    shape           meaning
=========== ======== =============== =====================================================
dataset     <U       (1,)            registry name, e.g. ``['cifar10']``
train_x     uint8    (N, C, H, W)    raw training file (split into train/val later)
train_y     int64    (N,)            clean labels 0..K-1
test_x      uint8    (M, C, H, W)    clean test set
test_y      int64    (M,)
=========== ======== =============== =====================================================

File datasets (``kind == 'files'``: clothing1m):

=============== ======== ======= ============================================================
array           dtype    shape   meaning
=============== ======== ======= ============================================================
dataset         <U       (1,)    ``['clothing1m']``
root            <U       (1,)    absolute dataset root the paths were built from
train_files     <U       (N,)    full image paths: noisy_train list, then clean_val list
train_y         int64    (N,)    the lists' labels (noisy for noisy_train, clean for clean_val)
fixed_val_index int64    (V,)    positions of the clean_val entries inside ``train_files``
test_files      <U       (M,)    full image paths of clean_test
test_y          int64    (M,)
=============== ======== ======= ============================================================

Own datasets (``DatasetInfo.own``: a user's image folder or npz imported by :mod:`limitlab.data.own`) are tensor
datasets whose facts travel in the file itself, so that the file alone says what it is:

=========== ======== =============== =====================================================
class_names <U       (K,)            class names, label order (folder names, sorted)
mean        float64  (C,)            per-channel mean of the training images in [0, 1]
std         float64  (C,)            per-channel standard deviation of the same
=========== ======== =============== =====================================================

Strings are fixed-width unicode arrays so that ``allow_pickle`` can stay ``False``; single strings are stored
as one-element arrays (``save_npz`` writes contiguous arrays, which are at least 1-D).

This module owns that format: :class:`CanonicalData` (a file loaded into memory), :func:`validate_arrays` (the
table above, checked against the registry), :func:`load_canonical` and :func:`metadata_path`; the checksums
recorded in metadata and labels summaries are :func:`limitlab.io.sha256_file`. Writing is
:mod:`limitlab.data.download`.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from limitlab.data.registry import DatasetInfo, get_info, register, registered, unknown_dataset
from limitlab.errors import LimitlabError
from limitlab.io import load_npz


@dataclass(frozen=True)
class CanonicalData:
    """A canonical dataset loaded from its npz. Tensor datasets fill ``*_x``; Clothing1M fills ``*_files``."""

    info: DatasetInfo
    path: Path
    train_y: np.ndarray
    test_y: np.ndarray
    train_x: np.ndarray | None = None
    test_x: np.ndarray | None = None
    train_files: np.ndarray | None = None
    test_files: np.ndarray | None = None
    fixed_val_index: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def n_train_raw(self) -> int:
        """Number of examples in the raw training file (what the train/validation split is drawn from)."""
        return int(len(self.train_y))


def _expected_arrays(info: DatasetInfo) -> dict[str, tuple[str, int]]:
    """name → (dtype kind, ndim) of every array the canonical npz of ``info`` must hold."""
    if info.kind == "tensor":
        own = {"class_names": ("U", 1), "mean": ("f8", 1), "std": ("f8", 1)} if info.own else {}
        return {"dataset": ("U", 1), "train_x": ("u1", 4), "train_y": ("i8", 1), "test_x": ("u1", 4),
                "test_y": ("i8", 1), **own}
    return {"dataset": ("U", 1), "root": ("U", 1), "train_files": ("U", 1), "train_y": ("i8", 1),
            "fixed_val_index": ("i8", 1), "test_files": ("U", 1), "test_y": ("i8", 1)}


def _single_str(arr: np.ndarray) -> str | None:
    """The string of a one-element unicode array (how the canonical npz stores single strings), else None."""
    return str(arr.reshape(-1)[0]) if arr.dtype.kind == "U" and arr.size == 1 else None


def _dtype_matches(arr: np.ndarray, want: str) -> bool:
    return arr.dtype.kind == "U" if want == "U" else arr.dtype == np.dtype(want)


def validate_arrays(info: DatasetInfo, arrays: dict[str, np.ndarray], where: str) -> None:
    """Check names, dtypes, shapes and label ranges of canonical arrays; ``where`` names the file in errors."""
    expected = _expected_arrays(info)
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise LimitlabError(f"{where}: missing array(s) {', '.join(missing)} for dataset {info.name!r} "
                            f"(a canonical {info.kind} dataset holds {', '.join(sorted(expected))}); "
                            "rerun `limitlab download`")
    unexpected = sorted(set(arrays) - set(expected))
    if unexpected:
        raise LimitlabError(f"{where}: unexpected array(s) {', '.join(unexpected)} for dataset {info.name!r} (a "
                            f"canonical {info.kind} dataset holds exactly {', '.join(sorted(expected))})")
    for key, (dtype, ndim) in expected.items():
        arr = arrays[key]
        if not _dtype_matches(arr, dtype) or arr.ndim != ndim:
            raise LimitlabError(f"{where}: array {key!r} has dtype {arr.dtype} and {arr.ndim} dimension(s); "
                                f"expected {np.dtype(dtype) if dtype != 'U' else 'unicode'} with {ndim}")
    if _single_str(arrays["dataset"]) != info.name:
        raise LimitlabError(f"{where} holds dataset {_single_str(arrays['dataset'])!r}, not {info.name!r}; "
                            "pass the matching --dataset or --data")
    for split in ("train", "test"):
        y = arrays[f"{split}_y"]
        items = arrays[f"{split}_x"] if info.kind == "tensor" else arrays[f"{split}_files"]
        if len(items) != len(y):
            raise LimitlabError(f"{where}: {split} has {len(items)} examples but {len(y)} labels")
        if len(y) and (y.min() < 0 or y.max() >= info.num_classes):
            raise LimitlabError(f"{where}: {split}_y has labels in [{y.min()}, {y.max()}]; "
                                f"{info.name} accepts 0..{info.num_classes - 1}")
        if info.kind == "tensor":
            shape = tuple(items.shape[1:])
            want = (info.channels, info.image_size, info.image_size)
            if shape != want:
                raise LimitlabError(f"{where}: {split}_x images have shape {shape}; {info.name} expects {want}")
    if info.own:
        _validate_own(info, arrays, where)
    if info.kind == "files":
        idx = arrays["fixed_val_index"]
        n = len(arrays["train_y"])
        if len(idx) and (idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != len(idx)):
            raise LimitlabError(f"{where}: fixed_val_index must hold distinct positions in 0..{n - 1}")


def _validate_own(info: DatasetInfo, arrays: dict[str, np.ndarray], where: str) -> None:
    """The facts an own dataset's file carries agree with its images (its registry entry is read from them)."""
    names, mean, std = arrays["class_names"], arrays["mean"], arrays["std"]
    if len(names) != info.num_classes or len(names) < 2 or len(set(names.tolist())) != len(names):
        raise LimitlabError(f"{where}: class_names holds {len(names)} name(s) for {info.num_classes} classes; "
                            "expected at least 2 distinct names, one per class")
    if len(mean) != info.channels or len(std) != info.channels or not (np.all(np.isfinite(mean))
                                                                       and np.all(std > 0)):
        raise LimitlabError(f"{where}: normalization mean {mean.tolist()} / std {std.tolist()} does not fit "
                            f"{info.channels}-channel images (finite means, positive standard deviations)")


def own_info(name: str, arrays: dict[str, np.ndarray]) -> DatasetInfo:
    """The registry entry of an own dataset, read from its canonical arrays (:func:`validate_arrays` checks them)."""
    x, empty = arrays.get("train_x"), np.zeros(0)
    shape = x.shape if x is not None and x.ndim == 4 else (0, 0, 0, 0)
    names = arrays.get("class_names", np.zeros(0, dtype="U1")).reshape(-1)
    return DatasetInfo(
        name=name, num_classes=len(names), channels=int(shape[1]), image_size=int(shape[2]),
        n_train_raw=len(arrays.get("train_y", empty)), mean=tuple(map(float, arrays.get("mean", empty))),
        std=tuple(map(float, arrays.get("std", empty))), class_names=tuple(map(str, names)), pairs=None,
        kind="tensor", own=True)


def load_canonical(path: str | os.PathLike, name: str | None = None) -> CanonicalData:
    """Load a canonical dataset npz, checking its arrays against the registry entry.

    ``name`` (optional) is the dataset the caller expects; a file holding another dataset is an error. An own
    dataset's entry is read from the file (:func:`own_info`) and registered (:func:`limitlab.data.registry.register`).
    """
    path = Path(path)
    arrays = load_npz(path, what="dataset file")
    if "dataset" not in arrays:
        raise LimitlabError(f"dataset file {path} has no 'dataset' array: it was not written by "
                            "`limitlab download`; rerun that stage")
    stored = _single_str(arrays["dataset"])
    own = stored is not None and not registered(stored) and "class_names" in arrays
    if not own and not registered(stored):
        raise LimitlabError(f"dataset file {path}: {unknown_dataset(str(stored))}; the file is no own dataset either "
                            f"(no class_names array): install the package that registers {stored!r}, or rerun "
                            "`limitlab download`")
    info = own_info(stored, arrays) if own else get_info(stored)
    if name is not None and name != stored:
        raise LimitlabError(f"dataset file {path} holds {stored!r}, but --dataset is {name!r}")
    validate_arrays(info, arrays, where=f"dataset file {path}")
    if own:
        register(info)
    fields = {k: arrays[k] for k in _expected_arrays(info) if k not in ("dataset", "root", "class_names", "mean",
                                                                         "std")}
    return CanonicalData(info=info, path=path, **fields)


def stored_dataset(path: str | os.PathLike) -> str | None:
    """The dataset name a canonical file holds, reading only that array; None when it cannot tell (a damaged file:
    :func:`load_canonical` then says what is wrong)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return _single_str(z["dataset"]) if "dataset" in z.files else None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return None


def metadata_path(out: str | os.PathLike) -> Path:
    """Where the metadata JSON of a canonical npz lives."""
    return Path(out).with_suffix(".json")
