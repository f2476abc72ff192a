"""Atomic, deterministic file writing, and the checksum of a file.

Every artifact is written to a temporary file in the destination folder and renamed into place, so a
killed process never leaves a half-written file that a later stage (or Snakemake) could take as done.
:func:`sha256_file` is the one file checksum limitlab records and compares (dataset metadata, labels summaries,
content identities, the outputs ``done.json`` lists): here, where every family may import it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from limitlab.errors import LimitlabError, ResourceExhausted

_UMASK = os.umask(0)
os.umask(_UMASK)

# A fixed timestamp makes .npz files byte-identical across runs (zip stores one per member).
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_in_the_way(folder: str | os.PathLike) -> Path | None:
    """The part of ``folder`` (itself or the nearest existing folder above it) that exists but is not a folder
    (a file, a broken link), else None. Such a part is why neither a mkdir nor a write below it can work, which
    the OS reports as "File exists" or "Not a directory"."""
    folder = Path(folder)
    for part in (folder, *folder.parents):
        if part.is_dir():
            return None
        if part.exists() or part.is_symlink():
            return part
    return None


def not_a_folder(path: str | os.PathLike, blocker: Path, option: str | None = None) -> LimitlabError:
    """The error for a ``path`` that cannot be written because ``blocker`` (a part of it) is not a folder."""
    what = f"{option} {path}" if option else f"cannot write {path}"
    kind = "a file" if blocker.is_file() else "a broken link or a special file"
    return LimitlabError(f"{what}: {blocker} is {kind}, not a folder; nothing was written (move it away, or "
                         f"choose another {option or 'path'})")


def check_folder(folder: str | os.PathLike, option: str | None = None) -> Path:
    """Refuse an output folder that cannot be created or written into because a part of it is a file, before any
    work starts; ``option`` names it in the error ('--results-dir'). Returns ``Path(folder)``; it may not exist
    yet."""
    blocker = file_in_the_way(folder)
    if blocker is not None:
        raise not_a_folder(folder, blocker, option)
    return Path(folder)


def check_out_path(path: str | os.PathLike, option: str | None = None) -> Path:
    """Refuse an output file whose folder cannot be created or written into because a part of it is a file,
    before any work starts; ``option`` names it in the error ('--out'). Returns ``Path(path)``."""
    blocker = file_in_the_way(Path(path).parent)
    if blocker is not None:
        raise not_a_folder(path, blocker, option)
    return Path(path)


def _check_parent(path: Path) -> None:
    if not path.parent.is_dir():
        raise LimitlabError(
            f"cannot write {path}: its folder {path.parent} does not exist (create it first, or choose another --out)"
        )


def check_npz_out(out: str | os.PathLike, companion: str = "metadata") -> Path:
    """Refuse an ``--out`` that is not a writable ``.npz`` path before any work starts.

    An npz artifact always has a JSON beside it (``out.with_suffix('.json')``: a dataset's ``metadata``, a labels
    file's ``summary``); ``companion`` names it in the error. The folder must exist already. Returns ``Path(out)``.
    """
    out = Path(out)
    if out.suffix != ".npz":
        raise LimitlabError(f"--out {out} must end in .npz (its {companion} goes to {out.with_suffix('.json')})")
    check_out_path(out, "--out")
    _check_parent(out)
    return out


def write_error(path: Path, exc: OSError) -> LimitlabError:
    """One-line error for a failed write: the path and the cause in words (disk full, permission, ...)."""
    causes = {
        errno.ENOSPC: "the disk is full (no space left on device)",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied (the folder is not writable for you)",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
        errno.EISDIR: "it is a folder, not a file (give a file name)",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }
    blocker = file_in_the_way(Path(path).parent) if exc.errno in (errno.ENOTDIR, errno.EEXIST) else None
    if blocker is not None:  # the OS says "File exists" / "Not a directory"; the user needs to know which part
        return not_a_folder(path, blocker)
    cause = causes.get(exc.errno, exc.strerror or str(exc))
    # a full disk or quota is the machine's state, not the input's: the run that met it is interrupted, not failed
    kind = ResourceExhausted if exc.errno in (errno.ENOSPC, errno.EDQUOT) else LimitlabError
    return kind(f"cannot write {path}: {cause}; nothing was written")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, make_parents: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``, on error removed.

    An OSError while creating, writing or renaming (read-only folder, disk full, ``path`` a folder) becomes a
    :class:`LimitlabError` naming ``path`` and the cause; the temporary file is removed either way.
    """
    path = check_out_path(path)
    try:
        if make_parents:
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    _check_parent(path)
    if path.is_dir():
        raise write_error(path, OSError(errno.EISDIR, "is a directory"))
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_error(path, exc) from None
    tmp_path = Path(tmp)
    try:
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; artifacts get the usual permissions
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes, *, make_parents: bool = False) -> Path:
    with atomic_path(path, make_parents=make_parents) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def torch_bytes(obj: Any) -> bytes:
    """``torch.save`` of ``obj`` into memory. Saved to a file, the zip's inner folder is named after the file
    (a random temporary name here), so the bytes would differ on every save; in memory it is always 'archive',
    and the bytes depend only on ``obj``."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def save_torch(path: str | os.PathLike, obj: Any, *, make_parents: bool = False) -> Path:
    """Write ``obj`` as a torch file atomically, with bytes that depend only on ``obj`` (see :func:`torch_bytes`)."""
    return write_bytes(path, torch_bytes(obj), make_parents=make_parents)


def load_torch(path: str | os.PathLike, what: str, rebuild: str, required: tuple[str, ...] = ()) -> dict:
    """``torch.load`` (to the CPU) of a checkpoint dict, with one clear error when it is missing or damaged.

    ``what`` names the file ('model.pt of run X, written by `limitlab train`'), ``rebuild`` says how to make it
    again; ``required`` are keys the dict must have.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise LimitlabError(f"{what} {path} does not exist; {rebuild}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            AttributeError, ImportError, IndexError, KeyError, TypeError) as exc:
        size = path.stat().st_size
        why = "it is empty" if size == 0 else f"{size} bytes, not a readable torch file: {str(exc).splitlines()[0]}"
        raise LimitlabError(f"{what} {path} is damaged ({why}); {rebuild}") from None
    if not isinstance(obj, dict) or not set(required) <= set(obj):
        have = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise LimitlabError(f"{what} {path} is not a limitlab checkpoint (needs {list(required)}, has {have}); "
                            f"{rebuild}")
    return obj


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
