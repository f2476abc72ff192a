"""scikit-learn's bundled handwritten digits written as an image folder: the example of your own data.

``load_digits`` ships with scikit-learn (offline): 1,797 grayscale 8×8 digits, 10 classes, pixel values 0..16
(Alpaydin & Kaynak, UCI "Optical Recognition of Handwritten Digits", its test part). :func:`write_digits` writes
them as ``<out>/train/<digit>/<index>.png`` and ``<out>/test/<digit>/<index>.png`` (``index`` = the image's position
in ``load_digits``; pixels scaled to 0..255 as ``round(v·255/16)``), with a class-balanced test part: for each class
c (in order 0..9) ``RandomState(seed).permutation`` of its positions, the first ``round(test_fraction · count)``
taken. ``limitlab data digits --out data/own/digits`` runs it; params/beyond/own_data_digits.yaml trains on it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from limitlab.errors import LimitlabError

DIGITS_SEED = 0
DIGITS_TEST_FRACTION = 0.2


def digits_split(y: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the test images: per class, a seeded permutation's first round(fraction · count)."""
    rs = np.random.RandomState(seed)
    is_test = np.zeros(len(y), dtype=bool)
    for c in range(int(y.max()) + 1):
        members = np.flatnonzero(y == c)
        is_test[members[rs.permutation(len(members))[:int(round(test_fraction * len(members)))]]] = True
    return is_test


def write_digits(out: str | os.PathLike, test_fraction: float = DIGITS_TEST_FRACTION,
                 seed: int = DIGITS_SEED) -> dict[str, int]:
    """Write the digits image folder at ``out`` (which must not exist or be empty); returns the image counts."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise LimitlabError(f"the digits example needs scikit-learn ({exc}); install it with "
                            "`pip install scikit-learn`") from exc
    from PIL import Image

    if not 0.0 < test_fraction < 1.0:
        raise LimitlabError(f"--test-fraction must be in (0, 1), got {test_fraction}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LimitlabError(f"{out} already exists and is not an empty folder; delete it or choose another --out")
    digits = load_digits()
    images = np.round(np.asarray(digits.images, dtype=np.float64) * 255.0 / 16.0).astype(np.uint8)
    y = np.asarray(digits.target, dtype=np.int64)
    is_test = digits_split(y, test_fraction, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))  # complete or absent, never half written
    try:
        for i, (image, label) in enumerate(zip(images, y)):
            folder = tmp / ("test" if is_test[i] else "train") / str(int(label))
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i:04d}.png")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"train": int((~is_test).sum()), "test": int(is_test.sum())}
