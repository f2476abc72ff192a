"""Clothing1M from a local copy: its list files into canonical arrays (Xiao et al., CVPR 2015).

Clothing1M (Xiao et al., "Learning from massive noisy labeled data for image classification", CVPR 2015) has
real label noise and is never downloaded: the user gives the folder with ``images/`` and the three lists
``noisy_train.txt``, ``clean_val.txt``, ``clean_test.txt`` (the DMI authors' lists). Harutyunyan et al. (ICML 2020,
Table 2) train on the noisy list and select on the clean validation list; the canonical file therefore keeps
both lists in ``train_files`` with ``fixed_val_index`` pointing at the clean ones (docs/methods.md, "Datasets").
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from limitlab.data.dataset_info import DatasetInfo
from limitlab.errors import LimitlabError
from limitlab.io import sha256_file

CLOTHING1M_LISTS = ("noisy_train.txt", "clean_val.txt", "clean_test.txt")
CLOTHING1M_LIST_DIRS = ("", "annotations", "dmi_annotations")
CLOTHING1M_IMAGES_CHECKED = 5  # per list; checking ~1M files would take minutes on a network disk


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


def read_clothing1m(info: DatasetInfo, root: str | os.PathLike | None) -> tuple[dict[str, np.ndarray], dict]:
    """The canonical arrays (all but ``dataset``) and the metadata ``source`` entry of the copy under ``root``."""
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
