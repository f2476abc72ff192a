"""Reading a params file: YAML in, a validated :class:`~limitlab.experiment.schema.Experiment` out.

Every problem becomes one :class:`~limitlab.errors.LimitlabError` that names the file, the dotted field path
(list entries by their id: ``studies[uniform].methods[limit_g].beta``), the bad value and what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from limitlab.errors import LimitlabError
from limitlab.experiment.schema import Experiment
from limitlab.methods import REGISTRY


def _accepted(err: dict) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f" (accepted: {ctx['expected']})"
    if "discriminator" in ctx or err["type"] == "union_tag_invalid":
        return f" (accepted methods: {', '.join(sorted(REGISTRY))})"
    if err["type"] == "extra_forbidden":
        return " (unknown key: check its spelling and which section or method it belongs to)"
    return ""


def format_errors(source: str, exc: ValidationError, data: Any) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the params"]
    for err in exc.errors():
        loc = _readable_loc(err["loc"], data)
        value = err.get("input")
        shown = "" if err["type"] == "missing" else f" (got {value!r})"
        if isinstance(value, dict) and len(repr(value)) > 80:
            shown = ""
        lines.append(f"  {loc}: {err['msg']}{shown}{_accepted(err)}")
    return "\n".join(lines)


def _readable_loc(loc: tuple, data: Any) -> str:
    """Dotted path with list items shown by their id when they have one: studies[uniform].methods[limit_g]."""
    parts: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int) and isinstance(node, dict) and 0 <= part < len(node):  # mapping layout (by id)
            name, node = list(node.items())[part]
            parts[-1 if parts else 0:] = [f"{parts[-1] if parts else ''}[{name}]"]
            continue
        if isinstance(part, int):
            name = None
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict):
                name = node[part].get("id") or node[part].get("method")
            parts[-1 if parts else 0:] = [f"{parts[-1] if parts else ''}[{name or part}]"]
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif part in REGISTRY:  # discriminated-union tag: pydantic adds the method name to the path
                continue
            else:
                node = None
            parts.append(str(part))
    return ".".join(parts) or "(top level)"


def validate(data: Any, source: str = "<params>") -> Experiment:
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        raise LimitlabError(format_errors(source, exc, data)) from None


def load(path: str | Path) -> Experiment:
    """Read and validate an experiment file."""
    path = Path(path)
    if path.is_dir():
        raise LimitlabError(f"params file {path} is a folder, not a file; name a YAML file, e.g. {path}/default.yaml")
    if not path.is_file():
        raise LimitlabError(f"params file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise LimitlabError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LimitlabError(f"{path}: expected a mapping at the top level (name:, studies:, ...), got {type(data).__name__}")
    return validate(data, str(path))
