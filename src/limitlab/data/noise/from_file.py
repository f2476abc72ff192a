"""Noise from a file: noisy labels someone else drew (``noise.model: file``; docs/methods.md, "Noise models").

Accepted files, all indexed by the *original training index* i, the position of the image in the canonical
dataset's training arrays (:mod:`limitlab.data.canonical`; for CIFAR, the order of the training batches 1-5):

* ``.csv``: a header line, then one line per labelled image, any order. Columns: ``index`` and ``noisy_label``
  (required), ``clean_label`` (optional: checked against the dataset), ``split`` (optional, ``train`` or
  ``validation``: not used, see below). What ``limitlab labels export`` writes (:mod:`limitlab.data.labels_export`).
* ``.npy``: a 1-D integer vector of length N (the dataset's training images): entry i is the noisy label of
  image i, ``-1`` where the file has none.
* ``.pt``: the CIFAR-N layout (Wei et al., ICLR 2022): ``torch.save`` of a dict of integer arrays over all N
  images, ``clean_label`` (checked against the dataset) and ``noisy_label`` (CIFAR-100N's key); read without
  running pickled code (:func:`limitlab.data.noise.human.read_human_file`).

The file gives labels, not a split. The setting draws its split as every model does (:mod:`limitlab.data.split`:
its seed, ``n`` and ``val_ratio``) and takes the file's label of each chosen image, for validation too (the
image's clean label with ``clean_validation``). So the file may label every training image or only those the
setting uses; an image the setting needs and the file lacks is an error. A realisation exported and read back
with its setting's seed, n and val_ratio is the same draw (same indices, same noisy labels), hence has the same
noise identity (:func:`limitlab.data.content_identity.noise_id`). The ``split`` column is informational: with
another seed an image the file lists under ``validation`` may be drawn for training, which is what training on
someone else's noise with one's own seeds means.

Refused, each with the file, the line (CSV; the header is line 1) or position (.npy, .pt), the bad value and what
is accepted: an unknown format or column, an empty or NaN cell, a value that is not an integer, an index outside
0..N-1, an index listed twice, a label outside 0..K-1, a ``clean_label`` that differs from the dataset's.
Numbers written as floats with an integral value (``3.0``) are integers; nothing is ever rounded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from limitlab.data.labels_file import NoiseSetting, NoisyLabels
from limitlab.data.noise.transition import check_num_classes, empirical_transition
from limitlab.data.split import check_n_val, check_seed, check_val_ratio, draw_split, parse_n
from limitlab.errors import LimitlabError

FORMATS = (".csv", ".npy", ".pt")
CSV_COLUMNS = ("index", "clean_label", "noisy_label", "split")
CSV_REQUIRED = ("index", "noisy_label")
SPLIT_VALUES = ("train", "validation")
NO_LABEL = -1  # .npy: the file has no label for this image
PT_KEYS = ("clean_label", "noisy_label")
ACCEPTED = ("accepted: .csv (columns index, noisy_label[, clean_label, split]), .npy (one label per training "
            "image, -1 for none) or a CIFAR-N-style .pt (clean_label, noisy_label); `limitlab labels export` "
            "writes all three")
_NAN_WORDS = ("", "nan", "na", "n/a", "null", "none")


@dataclass(frozen=True)
class NoiseFile:
    """A checked noise file: the images it labels (original training indices) and their noisy labels, int64."""

    path: Path
    format: str        # 'csv', 'npy' or 'pt'
    index: np.ndarray
    noisy: np.ndarray
    clean_checked: bool  # the file had clean labels and they equal the dataset's

    def label_vector(self, n_raw: int) -> np.ndarray:
        """The noisy label of every training image, NO_LABEL where the file has none."""
        out = np.full(n_raw, NO_LABEL, dtype=np.int64)
        out[self.index] = self.noisy
        return out


class _Rows:
    """How a message names an entry: 'line L' of a CSV (header = line 1) or 'position i' of an array file."""

    def __init__(self, path: Path, csv: bool):
        self.path, self.csv = path, csv

    def __call__(self, row: int, index: int | None = None) -> str:
        if not self.csv:
            return f"position {row}"
        return f"line {row + 2}" + (f" (index {index})" if index is not None else "")

    def error(self, text: str) -> LimitlabError:
        return LimitlabError(f"noise file {self.path}: {text}")


def _integers(raw: np.ndarray, column: str, low: int, high: int, rows: _Rows, accepted: str,
              index: np.ndarray | None = None) -> np.ndarray:
    """``raw`` (a CSV column as text, or a numeric array) as int64, each entry an integer in low..high; the first
    bad entry is refused by its row (and index, once the indices are known)."""
    at = (lambda r: rows(r, None if index is None else int(index[r])))
    shown = (lambda r: repr(float(values[r])))  # the value as written (CSV) or as stored, never rounded
    if raw.dtype.kind in "US":  # CSV text: numbers, or words pandas would not read as one
        import pandas as pd

        text = np.char.strip(raw.astype(str))
        values = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
        shown = (lambda r: str(text[r]))
        for r in np.flatnonzero(np.isnan(values))[:1]:
            what = "is empty" if text[r] == "" else ("is NaN" if text[r].lower() in _NAN_WORDS
                                                     else f"{str(text[r])!r} is not a number")
            raise rows.error(f"{at(r)}: {column} {what}; {accepted}")
    elif raw.dtype.kind in "iu":
        if len(raw) and (raw.min() < low or raw.max() > high):
            r = int(np.flatnonzero((raw < low) | (raw > high))[0])
            raise rows.error(f"{at(r)}: {column} {raw[r]} is outside {low}..{high}; {accepted}")
        return raw.astype(np.int64)
    elif raw.dtype.kind == "f":
        values = raw.astype(np.float64)
        for r in np.flatnonzero(np.isnan(values))[:1]:
            raise rows.error(f"{at(r)}: {column} is NaN; {accepted}")
    else:
        raise rows.error(f"{column} holds {raw.dtype} values (e.g. {raw.reshape(-1)[:1].tolist()}); {accepted}")
    bad = ~np.isfinite(values) | (values != np.floor(values))
    for r in np.flatnonzero(bad)[:1]:
        raise rows.error(f"{at(r)}: {column} {shown(r)} is not an integer; {accepted}")
    out_of_range = (values < low) | (values > high)
    for r in np.flatnonzero(out_of_range)[:1]:
        raise rows.error(f"{at(r)}: {column} {shown(r)} is outside {low}..{high}; {accepted}")
    return values.astype(np.int64)


def read_noise_file(path: str | os.PathLike, clean_y: np.ndarray, num_classes: int, dataset: str = "") -> NoiseFile:
    """Read and check a noise file (module docstring) against the dataset's training labels ``clean_y``."""
    path = Path(path)
    clean_y = np.asarray(clean_y, dtype=np.int64)
    K, N = check_num_classes(num_classes), len(clean_y)
    name = dataset or "the dataset"
    if path.suffix not in FORMATS:
        raise LimitlabError(f"noise file {path}: unknown format {path.suffix!r}; {ACCEPTED}")
    if not path.is_file():
        raise LimitlabError(f"noise file {path} does not exist; {ACCEPTED}")
    labels = f"accepted: integer class labels 0..{K - 1} ({name} has {K} classes)"
    if path.suffix == ".csv":
        rows = _Rows(path, csv=True)
        frame = _read_csv(path, rows)
        index = _integers(frame["index"].to_numpy(dtype=str), "index", 0, N - 1, rows,
                          f"accepted: original training indices 0..{N - 1} ({name} has {N:,} training images)")
        noisy = _integers(frame["noisy_label"].to_numpy(dtype=str), "noisy_label", 0, K - 1, rows, labels, index)
        clean = (_integers(frame["clean_label"].to_numpy(dtype=str), "clean_label", 0, K - 1, rows, labels, index)
                 if "clean_label" in frame else None)
        _check_split_column(frame, rows, index)
        _check_unique(index, rows)
    else:
        rows = _Rows(path, csv=False)
        arrays = _read_array_file(path, rows, N, name)
        low = NO_LABEL if path.suffix == ".npy" else 0
        noisy = _integers(arrays["noisy_label"], "noisy_label", low, K - 1, rows,
                          labels + (", or -1 where the file has no label" if low < 0 else ""))
        index = np.flatnonzero(noisy != NO_LABEL).astype(np.int64)
        noisy = noisy[index]
        clean = (_integers(arrays["clean_label"], "clean_label", 0, K - 1, rows, labels)[index]
                 if "clean_label" in arrays else None)
    if clean is not None:
        differ = np.flatnonzero(clean != clean_y[index])
        if len(differ):
            r = int(differ[0]) if rows.csv else int(index[differ[0]])
            raise rows.error(f"{rows(r, int(index[differ[0]]))}: clean_label {clean[differ[0]]} differs from {name}'s "
                             f"training label {clean_y[index[differ[0]]]} of that image ({len(differ):,} of "
                             f"{len(index):,} labelled images differ): the file is for another dataset or another "
                             "image order; accepted: the dataset's own clean labels (or no clean_label)")
    return NoiseFile(path, path.suffix[1:], index, noisy, clean is not None)


def _read_csv(path: Path, rows: _Rows):
    import pandas as pd

    try:  # all text: the checks below see exactly what the file says (no silent float or NaN conversion)
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise rows.error(f"not readable as CSV ({str(exc).strip()}); {ACCEPTED}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    unknown = [c for c in frame.columns if c not in CSV_COLUMNS]
    missing = [c for c in CSV_REQUIRED if c not in frame.columns]
    if unknown or missing:
        what = (f"unknown column(s) {unknown}" if unknown else "") + ("; " if unknown and missing else "") + (
            f"no {' and no '.join(missing)} column" if missing else "")
        raise rows.error(f"{what} (header: {list(frame.columns)}); accepted columns: index, noisy_label (required), "
                         "clean_label, split (optional)")
    if frame.empty:
        raise rows.error("has a header but no rows; accepted: one line per labelled training image")
    return frame


def _check_split_column(frame, rows: _Rows, index: np.ndarray) -> None:
    if "split" not in frame:
        return
    split = np.char.strip(frame["split"].to_numpy(dtype=str))
    bad = np.flatnonzero(~np.isin(split, SPLIT_VALUES))
    for r in bad[:1]:
        raise rows.error(f"{rows(int(r), int(index[r]))}: split {str(split[r])!r}; accepted: "
                         f"{' or '.join(SPLIT_VALUES)} (informational: the setting draws its own split)")


def _check_unique(index: np.ndarray, rows: _Rows) -> None:
    values, first, counts = np.unique(index, return_index=True, return_counts=True)
    repeated = np.flatnonzero(counts > 1)
    if len(repeated):
        v = values[repeated[0]]
        lines = np.flatnonzero(index == v)[:2]
        raise rows.error(f"index {v} is on {rows(int(lines[0]))} and {rows(int(lines[1]))} ({len(repeated):,} "
                         "index value(s) appear more than once); accepted: each training index at most once")


def _read_array_file(path: Path, rows: _Rows, N: int, name: str) -> dict[str, np.ndarray]:
    """{'noisy_label'[, 'clean_label']}: 1-D arrays of length N from a .npy vector or a CIFAR-N-style .pt."""
    shape = f"one entry per training image: shape ({N},) ({name} has {N:,} training images)"
    if path.suffix == ".npy":
        try:
            arrays = {"noisy_label": np.load(path, allow_pickle=False)}
        except (OSError, ValueError, EOFError) as exc:
            raise rows.error(f"not readable as a NumPy .npy array ({exc}); {ACCEPTED}") from None
    else:
        from limitlab.data.noise.human import read_human_file

        data = read_human_file(path, what="noise file")
        missing = [k for k in PT_KEYS if k not in data]
        if missing:
            raise rows.error(f"no {' and no '.join(map(repr, missing))} entry (it has: "
                             f"{', '.join(map(repr, sorted(map(str, data))))}); a CIFAR-N-style noise file has "
                             f"{PT_KEYS[0]!r} and {PT_KEYS[1]!r} (the CIFAR-10N label sets themselves: noise model "
                             "'human' with its label_set)")
        arrays = {k: data[k].numpy() if hasattr(data[k], "numpy") else np.asarray(data[k]) for k in PT_KEYS}
    for key, a in arrays.items():
        if a.ndim != 1 or len(a) != N:
            raise rows.error(f"{key} has shape {tuple(a.shape)}; accepted: {shape}")
        if a.dtype.kind not in "iuf":  # text or bools are not labels (a CSV is read as text on purpose, not these)
            raise rows.error(f"{key} holds {a.dtype} values (e.g. {a[:1].tolist()}); accepted: integer labels")
    return arrays


def corrupt_file(clean_y: np.ndarray, noise_file: NoiseFile, num_classes: int, *, seed: int,
                 n: int | str | None = None, val_ratio: float = 0.2, n_val: int | None = None,
                 clean_validation: bool = False,
                 dataset: str = "") -> NoisyLabels:
    """Split as every other model (:mod:`limitlab.data.split`) and take the file's label of each chosen image
    (validation: the clean label with ``clean_validation``). No random labels are drawn. ``transition`` is the
    empirical clean->noisy frequency matrix of the training split."""
    clean_y = np.asarray(clean_y, dtype=np.int64)
    K, N = check_num_classes(num_classes), len(clean_y)
    n = parse_n(n)
    val_ratio = check_val_ratio(val_ratio, N)
    n_val = check_n_val(n_val, N, val_ratio, n)
    rs = np.random.RandomState(check_seed(seed))
    train, val = draw_split(rs, N, val_ratio, n, n_val)
    by_index = noise_file.label_vector(N)
    where = f"seed {seed}, n {'all' if n is None else n}, val_ratio {val_ratio:g}"
    needed = {"training": train} if clean_validation else {"training": train, "validation": val}
    missing = {split: idx[by_index[idx] == NO_LABEL] for split, idx in needed.items()}
    lacking = sum(len(m) for m in missing.values())
    if lacking:
        split, first = next((s, m[0]) for s, m in missing.items() if len(m))
        used = sum(len(i) for i in needed.values())
        raise LimitlabError(
            f"noise file {noise_file.path} has no label for index {first}, which the setting ({where}) puts in its "
            f"{split} split ({lacking:,} of the {used:,} images it uses lack one; the file labels "
            f"{len(noise_file.index):,} of {dataset or 'the dataset'}'s {N:,} training images); accepted: a file "
            "that labels every image the setting uses: all training images, or an export (limitlab labels export) "
            "of a setting with the same seed, n and val_ratio")
    train_noisy = by_index[train]
    val_noisy = clean_y[val].copy() if clean_validation else by_index[val]
    T = empirical_transition(clean_y[train], train_noisy, K)
    setting = NoiseSetting(dataset, "file", 0.0, n, int(seed), val_ratio, bool(clean_validation), n_val)
    labelled = noise_file.index
    details = {
        "file_labels": {
            "format": noise_file.format,
            "labelled_images": int(len(labelled)),
            "training_images": int(N),
            "clean_label_checked": noise_file.clean_checked,
            # the file's own wrong-label fraction over every image it labels (the setting's: realised_noise_rate)
            "noise_rate_file": float(np.mean(noise_file.noisy != clean_y[labelled])) if len(labelled) else None,
        },
        "rng": "numpy.random.RandomState(seed): permutation, [choice] (labels from the file)",
    }
    return NoisyLabels(setting, train, val, clean_y[train], train_noisy, clean_y[val], val_noisy, T, details)
