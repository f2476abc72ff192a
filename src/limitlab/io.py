"""Atomic, deterministic file writing.

Every artifact is written to a temporary file in the destination folder and renamed into place, so a
killed process never leaves a half-written file that a later stage (or Snakemake) could take as done.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from limitlab.errors import LimitlabError

_UMASK = os.umask(0)
os.umask(_UMASK)

# A fixed timestamp makes .npz files byte-identical across runs (zip stores one per member).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise LimitlabError(
            f"cannot write {path}: its folder {path.parent} does not exist (create it first, or choose another --out)"
        )


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, make_parents: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``, on error removed."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    _check_parent(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; artifacts get the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes, *, make_parents: bool = False) -> Path:
    with atomic_path(path, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, make_parents: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), make_parents=make_parents)


def write_json(path: str | os.PathLike, obj: Any, *, make_parents: bool = False) -> Path:
    """Pretty, key-sorted JSON (stable diffs), written atomically."""
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n",
                      make_parents=make_parents)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def save_npz(path: str | os.PathLike, *, make_parents: bool = False, **arrays: np.ndarray) -> Path:
    """Write an uncompressed .npz whose bytes depend only on the arrays (fixed zip timestamps, sorted names)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return write_bytes(path, buf.getvalue(), make_parents=make_parents)


def load_npz(path: str | os.PathLike, what: str = "file") -> dict[str, np.ndarray]:
    """Load every array of an .npz into memory, with a clear error for a missing or damaged file."""
    path = Path(path)
    if not path.is_file():
        raise LimitlabError(f"{what} {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise LimitlabError(f"{what} {path} is damaged or not an .npz file ({exc}); delete it and rerun its stage") from exc
