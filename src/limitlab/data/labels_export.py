"""Export a noise realisation in plain formats (``limitlab labels export``): files another tool can read, and that
the noise model 'file' (:mod:`limitlab.data.noise.from_file`) reads back.

From a setting's ``labels.npz`` and its summary ``labels.json`` (:mod:`limitlab.data.labels_file`), by the suffix
of the output:

* ``.csv``: ``index,clean_label,noisy_label,split``, one line per image of the realisation: the training split in
  its order, then the validation split (``split``: ``train`` / ``validation``); ``index`` is the original
  training index. No ``clean_label`` column when the clean labels are unknown (Clothing1M).
* ``.npy``: an int64 vector of length N (the dataset's training images): the noisy label of image i at i, ``-1``
  for images outside the realisation (a setting with ``n`` below the training split).
* ``.pt``: CIFAR-N style, for CIFAR-10/100 and a realisation that labels all 50,000 images (``n: all``):
  ``torch.save`` of ``{'clean_label': int64 (N,), 'noisy_label': int64 (N,)}`` in the order of the training
  batches, the layout of CIFAR-100N's ``CIFAR-100_human.pt`` (whose noisy key is ``noisy_label``).

Beside the file, ``FILE.json`` (e.g. ``noise.csv.json``) carries the realisation's identity: ``noise_id``
(:func:`limitlab.data.content_identity.noise_id`), the dataset and its ``dataset_id``, the setting it was drawn
for (noise model, p, n, seed, val_ratio, clean_validation), the file's sha256, and how to read it back. Read back
with that seed, n and val_ratio, the file gives the same realisation and the same noise_id. The labels file is
checked against its ``labels.json`` first: a file edited after ``limitlab corrupt`` wrote it is not exported.
"""

from __future__ import annotations

import io as _bytes_io
import json
import os
from pathlib import Path

import numpy as np

from limitlab import __version__, io
from limitlab.data.content_identity import SHOWN, labels_ids
from limitlab.data.labels_file import check_labels
from limitlab.data.registry import DATASETS, HUMAN_LABEL_SETS
from limitlab.errors import LimitlabError
from limitlab.io import sha256_file

EXPORT_FORMATS = (".csv", ".npy", ".pt")
SPLIT_NAMES = {"train": "train", "val": "validation"}


def manifest_path(out: str | os.PathLike) -> Path:
    """Where the identity of an exported file is written: ``FILE.json`` next to ``FILE``."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def _summary(labels_path: Path) -> dict:
    summary_path = labels_path.with_suffix(".json")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError):
        summary = None
    if not isinstance(summary, dict) or "noise_id" not in summary or "seed" not in summary:
        raise LimitlabError(f"{labels_path} has no readable summary {summary_path} with its noise identity; export "
                            "the labels of a setting that `limitlab corrupt` wrote (data/labels/<setting>/labels.npz)")
    return summary


def export_labels(labels_path: str | os.PathLike, out: str | os.PathLike) -> dict:
    """Write the realisation of ``labels_path`` to ``out`` (format by suffix, module docstring) and its identity
    to :func:`manifest_path`; returns the identity record."""
    labels_path, out = Path(labels_path), Path(out)
    if out.suffix not in EXPORT_FORMATS:
        raise LimitlabError(f"--out {out}: unknown format {out.suffix!r}; accepted: .csv (index, clean_label, "
                            "noisy_label, split), .npy (one noisy label per training image, -1 for none) or .pt "
                            "(CIFAR-N style, CIFAR datasets)")
    if not labels_path.is_file():
        raise LimitlabError(f"labels file {labels_path} does not exist; the pipeline's corrupt stage writes it "
                            "(snakemake ... data)")
    summary = _summary(labels_path)
    file_sha, noise = labels_ids(labels_path)
    if summary.get("labels_sha256") not in (None, file_sha) or summary["noise_id"] != noise:
        raise LimitlabError(f"{labels_path} no longer matches {labels_path.with_suffix('.json')} (noise id "
                            f"{noise[:SHOWN]}, recorded {str(summary['noise_id'])[:SHOWN]}): it changed after "
                            "`limitlab corrupt` wrote it and is not exported; regenerate it with the corrupt stage")
    dataset = summary.get("dataset")
    info = DATASETS.get(dataset)
    n_raw = summary.get("n_train_raw") or (info.n_train_raw if info is not None else None)
    if not isinstance(n_raw, int) or "num_classes" not in summary:
        raise LimitlabError(f"{labels_path.with_suffix('.json')} does not say how many training images "
                            f"{dataset!r} has (n_train_raw); regenerate the labels with the corrupt stage")
    arrays = check_labels(io.load_npz(labels_path, "labels file"), labels_path, n_raw, int(summary["num_classes"]))
    writer = {".csv": _csv_bytes, ".npy": _npy_bytes, ".pt": _pt_bytes}[out.suffix]
    io.write_bytes(out, writer(arrays, n_raw, dataset, labels_path), make_parents=True)
    record = identity_record(summary, out, labels_path, file_sha)
    io.write_json(manifest_path(out), record)
    return record


def identity_record(summary: dict, out: Path, labels_path: Path, labels_sha: str) -> dict:
    """What ``FILE.json`` holds: the realisation's identity, its setting, the file, and how to read it back."""
    setting = {k: summary.get(k) for k in ("noise", "p", "n", "seed", "val_ratio", "clean_validation")}
    cli = (f"limitlab corrupt --dataset {summary.get('dataset')} --noise file --file {out} --n {setting['n']} "
           f"--seed {setting['seed']} --val-ratio {setting['val_ratio']}"
           + (" --clean-validation" if setting["clean_validation"] else ""))
    return {
        "noise_id": summary["noise_id"],
        "dataset": summary.get("dataset"),
        "dataset_id": summary.get("dataset_id"),
        "num_classes": summary.get("num_classes"),
        "n_train_raw": summary.get("n_train_raw"),
        "sizes": summary.get("sizes"),
        "setting": setting,
        "realised_noise_rate": summary.get("realised_noise_rate"),
        "file": out.name,
        "format": out.suffix[1:],
        "sha256": sha256_file(out),
        "exported_from": {"labels_file": str(labels_path), "labels_sha256": labels_sha},
        # reading the file back with this seed, n and val_ratio draws the same split: the same noise_id
        "read_back": {
            "params": {"dataset": {"name": summary.get("dataset"), "val_ratio": setting["val_ratio"],
                                   "clean_validation": setting["clean_validation"]},
                       "noise": {"model": "file", "file": str(out)}, "n": [setting["n"]], "seeds": [setting["seed"]]},
            "command": cli,
        },
        "limitlab_version": __version__,
    }


def _csv_bytes(arrays: dict, n_raw: int, dataset: str, labels_path: Path) -> bytes:
    import pandas as pd

    parts = []
    for split, name in SPLIT_NAMES.items():
        parts.append(pd.DataFrame({"index": arrays[f"{split}_index"], "clean_label": arrays[f"{split}_clean"],
                                   "noisy_label": arrays[f"{split}_noisy"], "split": name}))
    frame = pd.concat(parts, ignore_index=True)
    if (frame["clean_label"] < 0).any():  # clean labels unknown (Clothing1M): no column rather than a fake -1
        frame = frame.drop(columns="clean_label")
    return frame.to_csv(index=False, lineterminator="\n").encode()


def _label_vector(arrays: dict, n_raw: int, kind: str) -> np.ndarray:
    out = np.full(n_raw, -1, dtype=np.int64)
    for split in SPLIT_NAMES:
        out[arrays[f"{split}_index"]] = arrays[f"{split}_{kind}"]
    return out


def _npy_bytes(arrays: dict, n_raw: int, dataset: str, labels_path: Path) -> bytes:
    buffer = _bytes_io.BytesIO()
    np.save(buffer, _label_vector(arrays, n_raw, "noisy"), allow_pickle=False)
    return buffer.getvalue()


def _pt_bytes(arrays: dict, n_raw: int, dataset: str, labels_path: Path) -> bytes:
    if dataset not in HUMAN_LABEL_SETS:
        raise LimitlabError(f"--out *.pt: the CIFAR-N-style file is for {', '.join(HUMAN_LABEL_SETS)} (the images of "
                            f"the CIFAR training batches), not {dataset!r}; accepted for {dataset}: .csv or .npy")
    clean, noisy = _label_vector(arrays, n_raw, "clean"), _label_vector(arrays, n_raw, "noisy")
    unlabelled = int(np.sum(noisy < 0))
    if unlabelled:
        raise LimitlabError(f"{labels_path} labels {n_raw - unlabelled:,} of {dataset}'s {n_raw:,} training images "
                            "(n below the training split), but a CIFAR-N-style file has one label per image; "
                            "accepted: a setting with n: all, or --out *.csv / *.npy (they may cover part)")
    return io.torch_bytes({"clean_label": clean, "noisy_label": noisy})
