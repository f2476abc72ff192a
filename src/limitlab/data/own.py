"""Your own data: a dataset given by path, checked and imported into the canonical form (docs/methods.md, "Your own
data").

A params file names it ``dataset: {name: NAME, path: PATH}`` (optionally ``resize: S``); the pipeline's download
stage imports it (``limitlab download --dataset NAME --path PATH --out data/datasets/NAME.npz``) and from there it
is a dataset like the registered ones: its facts (``DatasetInfo.own``) are read from its canonical file
(:mod:`limitlab.data.canonical`), and its name may not be a registered dataset's (limitlab's or a plugin's,
:mod:`limitlab.data.registry`). Two kinds of source:

* **an image folder**, as torchvision's ``ImageFolder``: ``PATH/train/<class>/*.png`` and ``PATH/test/<class>/*.png``
  (images may lie deeper below their class folder; extensions :data:`IMAGE_EXTENSIONS`, any case; names starting
  with '.' are ignored). The class names are the folder names; the labels 0..K-1 follow their sorted order.
  Images are read with Pillow: grayscale ones (modes 1, L, LA) give 1 channel; when any image has colour, every
  image is RGB (3 channels, alpha dropped). 16-bit and float images are refused (save them as 8-bit).
* **an .npz** with ``train_x``, ``train_y``, ``test_x``, ``test_y`` and optionally ``class_names`` (strings, label
  order). Images are integers 0..255 shaped (N, H, W) (one channel), (N, C, H, W) or (N, H, W, C) with C 1 or 3;
  labels are integers 0..K-1 (K = the number of class names, else the largest label + 1).

Checks, each a :class:`~limitlab.errors.LimitlabError` naming the file: the layout above, at least 2 classes,
train and test have the same classes, labels in 0..K-1, no empty class (every class has training and test images),
readable images, and one square image size, unless ``resize: S`` is given: then every image is resized to S×S
(Pillow's bilinear filter; the aspect ratio is not kept). Normalisation is the per-channel mean and (population)
standard deviation of the training file's pixels in [0, 1], before the train/validation split. The import records
the source's content (:func:`limitlab.data.content_identity.source_id`) in the metadata; the pipeline also puts it
into the labels folder of every setting of the dataset, so a changed source never reuses a draw or a run.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from limitlab.data.canonical import own_info, validate_arrays
from limitlab.data.content_identity import source_id
from limitlab.data.registry import DATASET_REGISTRY, DatasetInfo, registered
from limitlab.errors import LimitlabError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
NPZ_ARRAYS = ("train_x", "train_y", "test_x", "test_y")  # required; class_names optional
SPLITS = ("train", "test")
_GRAY = ("1", "L", "LA", "La")
_DEEP = ("I", "F")  # 16/32-bit integer and float modes ('I;16', 'I;16B', ...: mode[0] or the whole mode)


def import_own(name: str, path: str | os.PathLike, resize: int | None = None,
               expect_source: str | None = None) -> tuple[dict[str, np.ndarray], dict, DatasetInfo]:
    """Read, check and convert the own dataset at ``path``: (canonical arrays, the metadata's ``source``, its info).

    ``expect_source`` is the content identity the pipeline planned with; a source that changed since is refused.
    """
    path = Path(path)
    if registered(name):
        raise LimitlabError(f"dataset name {name!r} is a registered dataset's ({DATASET_REGISTRY.origin(name)}); give "
                            f"your own dataset ({path}) another name")
    if resize is not None and not (isinstance(resize, int) and resize > 0):
        raise LimitlabError(f"resize must be a positive number of pixels, got {resize!r}")
    sha = source_id(path)
    if sha is None:
        raise LimitlabError(f"dataset {name!r}: {path} does not exist (accepted: an image folder with train/<class>/ "
                            "and test/<class>/ folders, or an .npz file with train_x, train_y, test_x, test_y)")
    if expect_source is not None and sha != expect_source:
        raise LimitlabError(f"dataset {name!r}: {path} changed after the pipeline was planned (content "
                            f"{sha[:12]}, planned {expect_source[:12]}); rerun the pipeline")
    if path.is_dir():
        xs, ys, class_names, n_files = _read_folder(path, resize)
        fmt = "image folder"
    else:
        xs, ys, class_names = _read_npz(path, resize)
        fmt, n_files = "npz", 1
    arrays = {"dataset": np.array([name]), "train_x": xs["train"], "train_y": ys["train"],
              "test_x": xs["test"], "test_y": ys["test"], "class_names": np.array(class_names)}
    arrays["mean"], arrays["std"] = _normalization(xs["train"], path)
    info = own_info(name, arrays)
    validate_arrays(info, arrays, where=f"dataset {name!r} read from {path}")
    source = {"loader": "limitlab.data.own", "path": path.as_posix(), "format": fmt, "files": n_files,
              "source_sha256": sha, "resize": resize,
              "image": {"channels": info.channels, "size": info.image_size}}
    return arrays, source, info


# --- image folders ---------------------------------------------------------------------------------------------


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _class_files(root: Path, split: str) -> dict[str, list[Path]]:
    """class name -> its image files (sorted by relative path) of one split folder; layout problems refused."""
    folder = root / split
    if not folder.is_dir():
        raise LimitlabError(f"{root}: no {split}/ folder; an image-folder dataset holds train/<class>/*.png and "
                            "test/<class>/*.png (as torchvision's ImageFolder)")
    out: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if not entry.is_dir():
            raise LimitlabError(f"{entry}: a file directly in {split}/; images go into their class folder, "
                                f"{split}/<class>/{entry.name}")
        files = sorted((f for f in entry.rglob("*") if f.is_file() and not _hidden(f.relative_to(entry))),
                       key=lambda f: f.relative_to(entry).as_posix())
        other = [f for f in files if f.suffix.lower() not in IMAGE_EXTENSIONS]
        if other:
            raise LimitlabError(f"{other[0]} is not an image file (accepted extensions: "
                                f"{', '.join(IMAGE_EXTENSIONS)}); move it out of {folder}")
        if not files:
            raise LimitlabError(f"{entry}: class {entry.name!r} has no images in {split}/ (every class needs "
                                "training and test images)")
        out[entry.name] = files
    return out


def _read_folder(root: Path, resize: int | None):
    files = {split: _class_files(root, split) for split in SPLITS}
    classes = sorted(files["train"])
    if set(files["test"]) != set(classes):
        only = lambda a, b: ", ".join(sorted(set(files[a]) - set(files[b]))) or "none"  # noqa: E731
        raise LimitlabError(f"{root}: train/ and test/ have different classes (only in train/: "
                            f"{only('train', 'test')}; only in test/: {only('test', 'train')}); give both the same "
                            "class folders")
    if len(classes) < 2:
        raise LimitlabError(f"{root}: {len(classes)} class folder(s) in train/; a classification dataset needs at "
                            "least 2")
    images: dict[str, list[np.ndarray]] = {}
    ys, where = {}, {}
    for split in SPLITS:
        paths = [(f, k) for k, c in enumerate(classes) for f in files[split][c]]
        images[split] = [_read_image(f, resize) for f, _ in paths]
        ys[split] = np.array([k for _, k in paths], dtype=np.int64)
        where[split] = [f for f, _ in paths]
    color = any(im.shape[2] == 3 for split in SPLITS for im in images[split])
    xs = {split: _stack([np.repeat(im, 3, axis=2) if color and im.shape[2] == 1 else im for im in images[split]],
                        where[split], resize) for split in SPLITS}
    return xs, ys, classes, sum(len(w) for w in where.values())


def _read_image(path: Path, resize: int | None) -> np.ndarray:
    """One image as uint8 (H, W, C), C 1 (grayscale) or 3 (RGB), resized to resize×resize when asked."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in _DEEP or img.mode.startswith("I;"):
                raise LimitlabError(f"{path} is a {img.mode!r} image (more than 8 bits per channel); save it as an "
                                    "8-bit grayscale or RGB image")
            img = img.convert("L" if img.mode in _GRAY else "RGB")
            if resize is not None and img.size != (resize, resize):
                img = img.resize((resize, resize), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise LimitlabError(f"{path} is not a readable image ({type(exc).__name__}: {exc})") from None
    return arr[:, :, None] if arr.ndim == 2 else arr


def _stack(images: list[np.ndarray], where: list, resize: int | None) -> np.ndarray:
    """(N, C, S, S) uint8 of images that all have one square size (checked here, naming the first odd file)."""
    first = images[0].shape[:2]
    for im, f in zip(images, where):
        if im.shape[:2] != first:
            raise LimitlabError(f"{f} is {im.shape[1]}×{im.shape[0]} pixels, {where[0]} is {first[1]}×{first[0]}: "
                                "give every image one size, or set dataset.resize: S to resize all to S×S")
    if first[0] != first[1]:
        raise LimitlabError(f"{where[0]} is {first[1]}×{first[0]} pixels, not square; set dataset.resize: S to "
                            "resize every image to S×S")
    return np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))


# --- npz files -------------------------------------------------------------------------------------------------


def _read_npz(path: Path, resize: int | None):
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in NPZ_ARRAYS if k not in z.files]
            if missing:
                raise LimitlabError(f"{path} lacks the array(s) {', '.join(missing)} (an own .npz dataset holds "
                                    f"{', '.join(NPZ_ARRAYS)} and optionally class_names)")
            arrays = {k: z[k] for k in (*NPZ_ARRAYS, "class_names") if k in z.files}
    except LimitlabError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise LimitlabError(f"{path} is not a readable .npz file of plain arrays ({type(exc).__name__}: {exc}; "
                            "object arrays, e.g. class names as Python objects, need np.array(names, dtype=str))"
                            ) from None
    xs = {split: _npz_images(arrays[f"{split}_x"], path, f"{split}_x", resize) for split in SPLITS}
    if xs["train"].shape[1:] != xs["test"].shape[1:]:
        raise LimitlabError(f"{path}: train_x images are {xs['train'].shape[1:]} (C, H, W), test_x images "
                            f"{xs['test'].shape[1:]}; give both one shape, or set dataset.resize: S")
    ys = {}
    for split in SPLITS:
        y, key = arrays[f"{split}_y"], f"{split}_y"
        if y.dtype.kind not in "iu" or y.ndim != 1 or len(y) != len(xs[split]):
            raise LimitlabError(f"{path}: {key} has dtype {y.dtype} and shape {y.shape}; expected integer labels, "
                                f"one per image of {split}_x ({len(xs[split])})")
        ys[split] = y.astype(np.int64)
    names = arrays.get("class_names")
    if names is not None and (names.dtype.kind != "U" or names.ndim != 1):
        raise LimitlabError(f"{path}: class_names has dtype {names.dtype} and shape {names.shape}; expected a 1-D "
                            "string array (np.array(names, dtype=str))")
    k = len(names) if names is not None else int(max(ys["train"].max(initial=0), ys["test"].max(initial=0))) + 1
    for split in SPLITS:
        y = ys[split]
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise LimitlabError(f"{path}: {split}_y holds labels in [{y.min()}, {y.max()}]; accepted: 0..{k - 1}"
                                + (" (one per class name in class_names)" if names is not None else ""))
    if k < 2:
        raise LimitlabError(f"{path}: {k} class(es); a classification dataset needs at least 2")
    class_names = [str(c) for c in names] if names is not None else [str(c) for c in range(k)]
    if len(set(class_names)) != k:
        raise LimitlabError(f"{path}: class_names repeats a name; give each class its own name")
    for split in SPLITS:
        counts = np.bincount(ys[split], minlength=k)
        if (counts == 0).any():
            c = int(np.flatnonzero(counts == 0)[0])
            raise LimitlabError(f"{path}: class {c} ({class_names[c]!r}) has no example in {split}_y (every class "
                                "needs training and test examples)")
    return xs, ys, class_names


def _npz_images(x: np.ndarray, path: Path, key: str, resize: int | None) -> np.ndarray:
    """``x`` as uint8 (N, C, S, S): layout inferred (C is 1 or 3), values checked, resized when asked."""
    if x.dtype.kind not in "iu":
        raise LimitlabError(f"{path}: {key} has dtype {x.dtype}; accepted: integers 0..255, e.g. "
                            "(x * 255).round().astype('uint8') for pixels in [0, 1]")
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)
    elif not (x.ndim == 4 and x.shape[1] in (1, 3)):
        raise LimitlabError(f"{path}: {key} has shape {x.shape}; accepted: (N, H, W), (N, C, H, W) or (N, H, W, C) "
                            "with C = 1 (grayscale) or 3 (RGB)")
    if len(x) == 0:
        raise LimitlabError(f"{path}: {key} holds no images")
    if x.min() < 0 or x.max() > 255:
        raise LimitlabError(f"{path}: {key} holds values in [{x.min()}, {x.max()}]; accepted: 0..255")
    x = x.astype(np.uint8)
    if resize is not None and x.shape[2:] != (resize, resize):
        x = np.stack([_resized(im, resize) for im in x])
    elif x.shape[2] != x.shape[3]:
        raise LimitlabError(f"{path}: {key} images are {x.shape[3]}×{x.shape[2]} pixels, not square; set "
                            "dataset.resize: S to resize every image to S×S")
    return np.ascontiguousarray(x)


def _resized(im: np.ndarray, size: int) -> np.ndarray:
    """One (C, H, W) uint8 image resized to (C, size, size) as an image file would be (Pillow, bilinear)."""
    from PIL import Image

    img = Image.fromarray(im[0] if im.shape[0] == 1 else im.transpose(1, 2, 0))
    arr = np.asarray(img.resize((size, size), Image.Resampling.BILINEAR))
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


# --- shared ----------------------------------------------------------------------------------------------------


def _normalization(x: np.ndarray, path: Path, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and population std of the training pixels in [0, 1], from exact integer sums."""
    total = np.zeros(x.shape[1], dtype=np.int64)
    squares = np.zeros(x.shape[1], dtype=np.int64)
    for i in range(0, len(x), chunk):
        part = x[i:i + chunk].astype(np.int64)
        total += part.sum(axis=(0, 2, 3))
        squares += (part * part).sum(axis=(0, 2, 3))
    count = len(x) * x.shape[2] * x.shape[3]
    mean = total / count / 255.0
    std = np.sqrt(np.maximum(squares / count / 255.0**2 - mean**2, 0.0))
    if (std <= 0).any():
        raise LimitlabError(f"{path}: every training pixel of channel {int(np.flatnonzero(std <= 0)[0])} has one "
                            "value; images without contrast cannot be normalised")
    return mean.astype(np.float64), std.astype(np.float64)


def peek_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(height, width) of the first training image at ``path`` without reading the rest (the params check of an
    architecture with a fixed input size); None when it cannot tell (the import then says why)."""
    path = Path(path)
    try:
        if path.is_dir():
            from PIL import Image

            for entry in sorted((path / "train").iterdir()):
                images = sorted(f for f in entry.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS
                                and not _hidden(f.relative_to(entry))) if entry.is_dir() else []
                if images and not entry.name.startswith("."):
                    with Image.open(images[0]) as img:
                        return img.size[1], img.size[0]
            return None
        fmt = np.lib.format
        with zipfile.ZipFile(path) as z, z.open("train_x.npy") as f:
            major, _ = fmt.read_magic(f)
            shape = (fmt.read_array_header_1_0(f) if major == 1 else fmt.read_array_header_2_0(f))[0]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    if len(shape) == 3:
        return shape[1], shape[2]
    if len(shape) == 4:
        return (shape[1], shape[2]) if shape[-1] in (1, 3) and shape[1] not in (1, 3) else (shape[2], shape[3])
    return None
