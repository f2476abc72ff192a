"""A study's ``dataset:`` block: a registered dataset by name, or your own by path (docs/methods.md, "Datasets").

``dataset: {name: mnist5k}`` names a registered dataset (:mod:`limitlab.data.registry`: limitlab's own, or one an
installed package registers, docs/extending.md). ``dataset: {name: digits,
path: data/own/digits, resize: 28}`` is your own: an image folder or an .npz (:mod:`limitlab.data.own` says what
it must hold), imported by the pipeline's download stage; ``name`` is how it shows in folders and tables
(``data/datasets/<name>.npz``, the settings' ``<name>/noise/...``), so it must not be a registered name. Its source
is a source file of every setting (:meth:`limitlab.experiment.paths.Setting.source_files`): the content of the
folder or file is part of every labels folder, so a changed source never reuses a draw or a run.

``path`` and ``resize`` are left out of the dump while unset, so that built-in datasets' run specs, and so their
identities (:mod:`limitlab.experiment.identity`), are those of releases before own datasets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_serializer, model_validator

from limitlab.experiment.strict import Strict

# limitlab's built-in datasets, for readers that may not import limitlab.data (the params JSON schema); validation
# reads the dataset registry, plugins included, and tests/extending checks this tuple against its built-in entries
DATASET_NAMES = ("mnist5k", "mnist", "cifar10", "cifar100", "clothing1m")
# the name of an own dataset (and of a registered one: limitlab.data.registry.SAFE_NAME, checked to be the same)
OWN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
CNN4_SIZE = 28  # the paper's MNIST network (limitlab.training.networks.cnn4) takes 28×28 images


class DatasetConfig(Strict):
    name: str = Field(description="a registered dataset (built in: mnist5k, mnist, cifar10, cifar100, clothing1m; "
                                  "or a plugin's, `limitlab plugins`) or, with 'path', the name of your own (folders "
                                  "and tables show it)")
    path: Path | None = Field(None, description="your own dataset: an image folder (train/<class>/*.png, "
                              "test/<class>/*.png) or an .npz (train_x, train_y, test_x, test_y[, class_names])")
    resize: int | None = Field(None, gt=0, le=4096, description="own dataset: resize every image to resize×resize "
                               "pixels when it is imported (bilinear); the MNIST network cnn4 needs 28")
    val_ratio: float = Field(0.2, gt=0, lt=1, description="fraction of the training file held out for validation")
    clean_validation: bool = Field(False, description="keep validation labels clean (paper Figure 1 only)")
    augment: Literal["auto", "none", "crop_flip"] = Field(
        "auto", description="'auto': crop+flip for CIFAR, none for MNIST (as the paper) and own datasets")
    crop_padding: int = Field(4, ge=0, description="zero padding before the random crop (authors' code: 4)")
    root: Path | None = Field(None, description="clothing1m: folder with images/ and the annotation lists")

    @property
    def augmentation(self) -> str:
        if self.augment != "auto":
            return self.augment
        return "crop_flip" if self.name in ("cifar10", "cifar100") else "none"

    @property
    def own(self) -> bool:
        """A user's dataset given by path (imported by the download stage), not a built-in one."""
        return self.path is not None

    @model_validator(mode="after")
    def _builtin_or_own(self) -> "DatasetConfig":
        # the dataset registry, plugins included (limitlab.data.registry): read here, never at import time
        from limitlab.data.registry import DATASET_REGISTRY, registered, unknown_dataset

        if self.path is None:
            problem = unknown_dataset(self.name)
            if problem is not None:
                raise ValueError(problem)
            if self.resize is not None:
                raise ValueError("'resize' is only used with 'path' (your own dataset)")
            return self
        if registered(self.name):
            raise ValueError(f"dataset name {self.name!r} is a registered dataset's ("
                             f"{DATASET_REGISTRY.origin(self.name)}); give your own dataset ({self.path}) another name")
        if not OWN_NAME.fullmatch(self.name):
            raise ValueError(f"dataset name {self.name!r} is not a safe folder name (it names data/datasets/<name>.npz "
                             "and every setting's folder); accepted: a letter, then letters, digits, '_' and '-', at "
                             "most 64 characters")
        if self.root is not None:
            raise ValueError("'root' is clothing1m's; your own dataset is given by 'path'")
        return self

    @model_serializer(mode="wrap")
    def _unset_own_fields_left_out(self, handler):
        data = handler(self)
        for key in ("path", "resize"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


def arch_problem(dataset: DatasetConfig, archs: set[str]) -> str | None:
    """Why the networks ``archs`` cannot take the images of an own dataset, or None. cnn4 takes 28×28 images only:
    the size is ``resize`` or, without it, that of the first training image (a cheap look; the import checks all)."""
    if not dataset.own or "cnn4" not in archs:
        return None
    if dataset.resize is not None:
        size = (dataset.resize, dataset.resize)
    else:
        from limitlab.data.own import peek_size

        size = peek_size(dataset.path)
    if size is None or size == (CNN4_SIZE, CNN4_SIZE):
        return None
    return (f"model.arch cnn4 (the paper's MNIST network, what 'auto' picks for your own dataset) takes "
            f"{CNN4_SIZE}×{CNN4_SIZE} images; dataset {dataset.name!r} ({dataset.path}) has {size[1]}×{size[0]}: set "
            f"dataset.resize: {CNN4_SIZE}, or model.arch: mlp4 (any size)")


def one_source_per_name(datasets: list[DatasetConfig]) -> str | None:
    """Studies of one params file that give one dataset name two sources (they would share data/datasets/<name>.npz)."""
    seen: dict[str, DatasetConfig] = {}
    for d in datasets:
        first = seen.setdefault(d.name, d)
        if (first.path, first.resize) != (d.path, d.resize):
            return (f"dataset {d.name!r} is given twice with different sources (path {first.path}, resize "
                    f"{first.resize} / path {d.path}, resize {d.resize}); give each source its own name")
    return None
