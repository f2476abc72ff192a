"""A run's identity and the tag in its folder names: different specs never share a folder.

The identity of a run is the SHA-256 of its spec's JSON (:class:`~limitlab.experiment.grid.RunSpec`: the
dataset, the setting, the model, the training, the method at its hyperparameter point, the paths of its inputs)
and, for a run initialised from another run, of its source's identity, so that retraining the source retrains
it. A run's folders end in ``-<TAG>``, the first :data:`TAG_LENGTH` hex digits of its identity:
``data/runs/<study>/<setting>/<method>/<point>-<TAG>/``. Two params files that ask for the same spec share the
folder (a cache); two that differ in anything that changes training get different folders, so neither can
overwrite the other's model or read it as its own.

The identity is computed from the spec with the tags taken out of its folders (:func:`identity_json`): the tag is
made from the identity, and a spec's identity is the same as in releases whose folders had no tag, which is how
their finished runs are adopted (:mod:`limitlab.jobs.adopt`). The bytes hashed here are part of the contract
with finished results: changing them retrains every finished run.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

TAG_LENGTH = 12
_TAG = re.compile(r"-[0-9a-f]{%d}(?=/|$)" % TAG_LENGTH)  # '-<tag>' at the end of a path component
FOLDERS = ("run_dir", "eval_dir", "init_dir")


def untagged(path) -> Path:
    """``path`` with the run tags taken out of its components: the folder of the release before tags."""
    return Path(_TAG.sub("", Path(path).as_posix()))


def tagged(path, identity: str) -> Path:
    """The folder ``path`` of a run with this identity: ``path-<first TAG_LENGTH hex digits>``."""
    return Path(f"{Path(path).as_posix()}-{identity[:TAG_LENGTH]}")


def identity_json(spec) -> str:
    """The JSON that a run's identity hashes: the spec, its folders without their tags. ``plugins`` (the packages
    and versions of plugin entries the run uses) is left out when there are none, so that the identities of runs of
    limitlab's own entries are those of releases before plugins."""
    update = {f: untagged(getattr(spec, f)) for f in FOLDERS if getattr(spec, f, None) is not None}
    exclude = {"plugins"} if getattr(spec, "plugins", None) is None else None
    return spec.model_copy(update=update).model_dump_json(exclude=exclude)


def run_identity(spec, source_identity: str | None = None) -> str:
    """SHA-256 (hex) of :func:`identity_json` and, for a run initialised from another run, its identity."""
    h = hashlib.sha256(identity_json(spec).encode())
    if source_identity is not None:
        h.update(source_identity.encode())
    return h.hexdigest()
