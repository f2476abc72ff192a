"""The data of one run: the setting's noisy training/validation split and the clean test set, on the device.

The labels file (``spec.labels_path``, written by ``limitlab corrupt``) holds positions into the canonical
training pool with their noisy and clean labels; the images come from the canonical dataset
(``spec.data_path``). Tensor datasets live in memory (:class:`~limitlab.training.batches.ImageTensors`);
Clothing1M streams JPEGs from disk (:class:`~limitlab.training.batches.FileSplit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from limitlab import io
from limitlab.data.canonical import load_canonical
from limitlab.data.content_identity import verified_inputs
from limitlab.data.labels_file import check_labels
from limitlab.data.registry import DatasetInfo
from limitlab.experiment.grid import RunSpec
from limitlab.training.batches import FileSplit, ImageTensors, Split


@dataclass
class RunData:
    train: Split
    val: Split
    test: Split
    info: DatasetInfo
    transition: np.ndarray | None = None  # the setting's true T (labels file), for methods that assume it known
    inputs: dict | None = None  # content identities of the dataset and noise realisation (verified_inputs)


def load_run_data(spec: RunSpec, device: torch.device, channels_last: bool) -> RunData:
    """Training and (noisy) validation split of the setting, clean test set; images in ``channels_last`` if set.
    Inputs that no longer match what their ``labels.json`` recorded are refused first (:func:`verified_inputs`)."""
    inputs = verified_inputs(spec.data_path, spec.labels_path)
    canon = load_canonical(spec.data_path)
    info = canon.info
    labels = io.load_npz(spec.labels_path, "labels file")
    n_pool = len(canon.train_files) if info.kind == "files" else len(canon.train_y)
    check_labels(labels, spec.labels_path, n_pool, info.num_classes, spec.n)
    if info.kind == "files":
        return _file_run_data(spec, canon, labels, device, channels_last, inputs)
    augment = spec.dataset.augmentation
    train_images = ImageTensors(canon.train_x, info.mean, info.std, device, augment, spec.dataset.crop_padding,
                                channels_last)
    test_images = ImageTensors(canon.test_x, info.mean, info.std, device, "none", 0, channels_last)

    def t(a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.long, device=device)

    n_test = len(canon.test_y)
    return RunData(
        train=Split(train_images, t(labels["train_noisy"]), t(labels["train_clean"]), t(labels["train_index"])),
        val=Split(train_images, t(labels["val_noisy"]), t(labels["val_clean"]), t(labels["val_index"])),
        test=Split(test_images, t(canon.test_y), t(canon.test_y), torch.arange(n_test, device=device)),
        info=info,
        transition=labels.get("transition"),
        inputs=inputs,
    )


def _file_run_data(spec: RunSpec, canon, labels, device, channels_last, inputs) -> RunData:
    """Clothing1M: labels on the device, images streamed from disk by DataLoader workers."""
    info = canon.info

    def split(files, index, noisy, clean):
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.long, device=device)  # noqa: E731
        return FileSplit(np.asarray(files), t(noisy), t(clean), t(index), info.mean, info.std, device,
                         spec.training.num_workers, channels_last)

    return RunData(
        train=split(canon.train_files, labels["train_index"], labels["train_noisy"], labels["train_clean"]),
        val=split(canon.train_files, labels["val_index"], labels["val_noisy"], labels["val_clean"]),
        test=split(canon.test_files, np.arange(len(canon.test_y)), canon.test_y, canon.test_y),
        info=info,
        transition=labels.get("transition"),
        inputs=inputs,
    )
