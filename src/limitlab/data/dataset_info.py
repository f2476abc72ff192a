"""What a dataset entry is: its static facts (:class:`DatasetInfo`) and how its canonical file is built
(:class:`DatasetEntry`, a builder called with a :class:`BuildContext`); docs/extending.md, "A dataset".

These types sit below everything else of the data family: the dataset registry (:mod:`limitlab.data.registry`)
holds entries of them, the builders of limitlab's own datasets (:mod:`limitlab.data.sources`,
:mod:`limitlab.data.clothing1m`) and those of plugins are written against them, and the canonical format
(:mod:`limitlab.data.canonical`) checks files against them. Pure Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset.

    ``n_train_raw`` is the size of the raw training file that the train/validation split is drawn from
    (None for Clothing1M, whose size is set by its noisy_train list). ``pairs`` are the (source, destination)
    class flips of pair noise, or None when pair noise is not defined for the dataset. ``mean``/``std`` are
    the per-channel normalization applied after scaling pixels to [0, 1] (docs/methods.md, "Datasets").
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
    own: bool = False  # a user's dataset given by path (limitlab.data.own), not a registry entry


@dataclass(frozen=True)
class BuildContext:
    """What a builder may use besides its own code: the dataset's facts, the folder where downloaded raw files are
    kept (``limitlab download --raw-root``, the pipeline's ``<data_dir>/raw``: reuse what is there, so that a
    second build works offline) and the local copy a params file names (``dataset.root``; Clothing1M's images
    and lists), None when it names none."""

    info: DatasetInfo
    raw_root: Path
    root: Path | None = None


# build(context) -> (arrays, source): the canonical arrays without 'dataset' (tensor datasets: train_x uint8
# (N, C, H, W), train_y int64 (N,), test_x, test_y; limitlab.data.canonical) and a JSON-able description of
# where they came from, recorded as the metadata's 'source'
Builder = Callable[[BuildContext], "tuple[dict[str, Any], dict[str, Any]]"]


@dataclass(frozen=True)
class DatasetEntry:
    """One entry of the dataset registry: the facts every stage may assume without opening the file, and the
    function that builds the canonical arrays (called by ``limitlab download``, the pipeline's download stage)."""

    info: DatasetInfo
    build: Builder
