"""Real human label noise: CIFAR-10N / CIFAR-100N (Wei et al., "Learning with noisy labels revisited: a study
using real-world human annotations", ICLR 2022; docs/methods.md, "Noise models").

The label files CIFAR-10_human.pt / CIFAR-100_human.pt of github.com/UCSC-REAL/cifar-10-100n are a torch-saved
dict of arrays over the 50,000 training images in the order of the CIFAR training batches. They are never
downloaded; :func:`read_human_file` reads one without running pickled code (torch imported lazily),
:func:`check_human_labels` checks it against the canonical dataset, and :func:`corrupt_human` takes the chosen
label set for the setting's split. Which datasets have which label sets is
:data:`limitlab.data.registry.HUMAN_LABEL_SETS`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from limitlab.data.labels_file import NoiseSetting, NoisyLabels
from limitlab.data.noise.rules import setting_problem
from limitlab.data.noise.transition import check_num_classes, empirical_transition
from limitlab.data.registry import HUMAN_LABEL_SETS
from limitlab.data.split import check_n_val, check_seed, check_val_ratio, draw_split, parse_n
from limitlab.errors import LimitlabError

HUMAN_CLEAN_KEY = "clean_label"
# Noise rates over all 50,000 training images as published (Wei et al. 2022, Table 1 / the CIFAR-N README).
PUBLISHED_HUMAN_NOISE_RATES: dict[tuple[str, str], float] = {
    ("cifar10", "aggregate"): 0.0903, ("cifar10", "random1"): 0.1723, ("cifar10", "random2"): 0.1812,
    ("cifar10", "random3"): 0.1764, ("cifar10", "worst"): 0.4021, ("cifar100", "noisy"): 0.4020,
}
# numpy objects a label file saved with torch.save may reference (numpy 1 and 2 names); nothing else is unpickled.
_NUMPY_PICKLE_GLOBALS = ("numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
                         "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
                         "numpy._core.multiarray.scalar")


def _numpy_global(name: str):
    import importlib

    if name in _NUMPY_PICKLE_GLOBALS:
        module, attr = name.rsplit(".", 1)
        try:  # numpy 2 moved numpy.core to numpy._core (files saved under numpy 1 name the old module)
            return getattr(importlib.import_module(module.replace("numpy.core.", "numpy._core.")), attr)
        except ImportError:
            return getattr(importlib.import_module(module), attr)
    if name.startswith("numpy.dtypes.") and name.endswith("DType"):
        import numpy.dtypes

        return getattr(numpy.dtypes, name.rsplit(".", 1)[1], None)
    return None


def read_human_file(path: str | os.PathLike, what: str = "human label file") -> dict:
    """Read a CIFAR-N label file (``torch.save`` of a dict of arrays) without running arbitrary pickled code:
    ``torch.load(weights_only=True)`` with only NumPy's array reconstruction allowed. ``what`` names the file in
    messages (the noise model 'file' reads CIFAR-N-style files too)."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise LimitlabError(f"human label file {path} does not exist (give the local path of CIFAR-10_human.pt or "
                            "CIFAR-100_human.pt from github.com/UCSC-REAL/cifar-10-100n; it is never downloaded)")
    if not hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint"):
        raise LimitlabError(f"reading {what} {path} safely needs torch >= 2.5 (found {torch.__version__})")
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        allowed = [(_numpy_global(name), name) for name in names]
        refused = [name for obj, name in allowed if obj is None]
        if refused:
            raise LimitlabError(f"{what} {path} references {refused}; a CIFAR-N label file holds only "
                                "arrays (refused, to run no code from the file)")
        # dtype classes are only found while loading (not listed above); they are plain type objects
        allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
        with torch.serialization.safe_globals(allowed):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise LimitlabError(f"{what} {path} could not be read as a torch-saved dict ({exc})") from None
    if not isinstance(data, dict):
        raise LimitlabError(f"{what} {path} holds a {type(data).__name__}; expected a dict of label arrays "
                            f"(keys like {HUMAN_CLEAN_KEY!r}, 'worse_label', 'noisy_label')")
    return data


def check_human_labels(data: dict, where: str, dataset: str, label_set: str, clean_y: np.ndarray,
                       num_classes: int) -> np.ndarray:
    """Validate a CIFAR-N dict against the dataset and return the chosen label set as int64 (N,).

    Checks: the dataset has human labels and ``label_set`` is one of them; the file has ``clean_label`` and the
    set's key; both are 1-D integer arrays with one label per training image, in 0..K-1; and ``clean_label``
    equals the dataset's training labels (same images, same order).
    """
    problem = setting_problem(dataset, "human", label_set, spelling="cli")
    if problem is not None:
        raise LimitlabError(problem)
    sets = HUMAN_LABEL_SETS[dataset]
    key, N = sets[label_set], len(clean_y)
    missing = [k for k in (HUMAN_CLEAN_KEY, key) if k not in data]
    if missing:
        raise LimitlabError(f"{where}: no {' and no '.join(repr(k) for k in missing)} entry (it has: "
                            f"{', '.join(map(repr, sorted(map(str, data))))}); a {dataset} label file "
                            f"{'CIFAR-10_human.pt' if dataset == 'cifar10' else 'CIFAR-100_human.pt'} has "
                            f"{', '.join(repr(k) for k in (HUMAN_CLEAN_KEY, *sets.values()))}")
    arrays = {}
    for k in (HUMAN_CLEAN_KEY, key):
        value = data[k]
        arr = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
        if arr.ndim != 1 or len(arr) != N:
            raise LimitlabError(f"{where}: {k!r} has shape {tuple(arr.shape)}; {dataset} has {N:,} training images, "
                                f"so it must have shape ({N},)")
        if arr.dtype.kind not in "iu" or (N and (arr.min() < 0 or arr.max() >= num_classes)):
            shown = f"[{arr.min()}, {arr.max()}]" if arr.dtype.kind in "iuf" and N else str(arr.dtype)
            raise LimitlabError(f"{where}: {k!r} holds {shown}; expected integer labels in 0..{num_classes - 1}")
        arrays[k] = arr.astype(np.int64)
    differ = np.flatnonzero(arrays[HUMAN_CLEAN_KEY] != clean_y)
    if len(differ):
        raise LimitlabError(f"{where}: {HUMAN_CLEAN_KEY!r} differs from {dataset}'s training labels at {len(differ):,} "
                            f"of {N:,} images (first at index {differ[0]}): the file is for another dataset or another "
                            "image order (CIFAR-N follows the order of the CIFAR training batches 1-5)")
    return arrays[key]


def corrupt_human(clean_y: np.ndarray, human_y: np.ndarray, num_classes: int, *, seed: int, label_set: str,
                  n: int | str | None = None, val_ratio: float = 0.2, n_val: int | None = None,
                  clean_validation: bool = False,
                  dataset: str = "") -> NoisyLabels:
    """Split as every other model (:mod:`limitlab.data.split`) and take the human labels of the chosen
    images: the validation labels come from the same human label set (they exist for all 50,000 training images).
    No random labels are drawn. ``transition`` is the empirical clean->noisy frequency matrix of the training split
    (identity row for an absent class)."""
    clean_y = np.asarray(clean_y, dtype=np.int64)
    human_y = np.asarray(human_y, dtype=np.int64)
    K = check_num_classes(num_classes)
    n = parse_n(n)
    val_ratio = check_val_ratio(val_ratio, len(clean_y))
    n_val = check_n_val(n_val, len(clean_y), val_ratio, n)
    rs = np.random.RandomState(check_seed(seed))
    train, val = draw_split(rs, len(clean_y), val_ratio, n, n_val)
    T = empirical_transition(clean_y[train], human_y[train], K)
    val_noisy = clean_y[val].copy() if clean_validation else human_y[val]
    setting = NoiseSetting(dataset, "human", 0.0, n, int(seed), val_ratio, bool(clean_validation), n_val)
    published = PUBLISHED_HUMAN_NOISE_RATES.get((dataset, label_set))
    file_rate = float(np.mean(human_y != clean_y)) if len(clean_y) else None
    details = {
        "human_labels": {
            "label_set": label_set,
            "key": HUMAN_LABEL_SETS.get(dataset, {}).get(label_set),
            "noise_rate_all_images": file_rate,
            "published_noise_rate": published,
            # the published rates are rounded to 0.01 %; a file that realises another rate is another file
            "matches_published": (None if published is None or file_rate is None
                                  else bool(abs(file_rate - published) <= 5e-5 + 1e-12)),
            "reference": "Wei et al. ICLR 2022 (CIFAR-10N / CIFAR-100N), github.com/UCSC-REAL/cifar-10-100n",
        },
        "rng": "numpy.random.RandomState(seed): permutation, [choice] (labels from the file)",
    }
    return NoisyLabels(setting, train, val, clean_y[train], human_y[train], clean_y[val], val_noisy, T, details)

