"""Reading a params file: YAML in, a validated :class:`~limitlab.experiment.schema.Experiment` out.

Every problem becomes one :class:`~limitlab.errors.LimitlabError` that names the file, the dotted field path
(list entries by their id: ``studies[uniform].methods[limit_g].beta``), the bad value and what is accepted.
Beyond the schema: ``comparisons.reference`` must be a method id (:func:`check_reference`); :func:`load`, which
every stage and the pipeline's planning call, also refuses a ``data_dir`` that is a file and a bad claims file
(:func:`check_files`); ``limitlab params check`` also a missing ``model.pretrained`` (:func:`check_local_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from limitlab.errors import LimitlabError
from limitlab.experiment.schema import ComparisonConfig, Experiment
from limitlab.methods import REGISTRY


def _accepted(err: dict) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f" (accepted: {ctx['expected']})"
    if "discriminator" in ctx or err["type"] == "union_tag_invalid":
        return f" (accepted methods: {', '.join(sorted(REGISTRY))})"
    if err["type"] == "finite_number":
        return " (accepted: a finite number; .inf and .nan are not)"
    if err["type"] == "extra_forbidden":
        return " (unknown key: check its spelling and which section or method it belongs to)"
    return ""


def format_errors(source: str, exc: ValidationError, data: Any) -> str:
    located = [(_readable_loc(err["loc"], data), err) for err in exc.errors()]
    lines = []
    for loc, err in located:
        if _other_union_member(loc, err, located):
            continue
        value = err.get("input")
        shown = "" if err["type"] == "missing" else f" (got {value!r})"
        if isinstance(value, (dict, list)) and len(repr(value)) > 80:  # a whole section: the path says which
            shown = ""
        lines.append(f"  {loc}: {err['msg']}{shown}{_accepted(err)}")
    return "\n".join([f"{source}: {len(lines)} problem(s) in the params", *lines])


def _other_union_member(loc: str, err: dict, located: list[tuple[str, dict]]) -> bool:
    """Whether ``err`` is a union member's "not my type" beside a real problem at or under the same place.

    pydantic tries each member of a union (a grid, ``lr: float | list[float]``): for ``lr: .inf`` it reports
    "should be a finite number" from ``float`` and "should be a valid list" from ``list[float]``. A value of the
    wrong type at ``loc`` is never validated further, so another error at or under ``loc`` means a member took it.
    """
    if not err["type"].endswith("_type"):
        return False
    return any(other is not err and not other["type"].endswith("_type")
               and (where == loc or where.startswith((f"{loc}.", f"{loc}[")))
               for where, other in located)


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
            elif node is not None and not isinstance(node, dict):  # a union member's tag ('float', 'list[float]')
                continue
            else:
                node = None
            parts.append(str(part))
    return ".".join(parts) or "(top level)"


def validate(data: Any, source: str = "<params>") -> Experiment:
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as exc:
        raise LimitlabError(format_errors(source, exc, data)) from None
    check_reference(exp, source)
    return exp


def load(path: str | Path) -> Experiment:
    """Read and validate an experiment file, with the files every stage relies on: data_dir must be a folder (or
    not exist yet) and the claims file must be valid (:func:`check_files`)."""
    path = Path(path)
    if path.is_dir():
        raise LimitlabError(f"params file {path} is a folder, not a file; name a YAML file, e.g. {path}/default.yaml")
    if not path.is_file():
        raise LimitlabError(f"params file {path} does not exist")
    data = read_yaml(path, _utf8_text(path))
    if not isinstance(data, dict):
        raise LimitlabError(f"{path}: expected a mapping at the top level (name:, studies:, ...), got {type(data).__name__}")
    exp = validate(data, str(path))
    check_files(exp, str(path))
    return exp


def check_reference(exp: Experiment, source: str) -> None:
    """``comparisons.reference`` must be a method id of a study. The default, ce, may be absent (a grid without
    CE has no reference rows), but a named one that no study has would leave the comparisons out without a word."""
    ids = list(dict.fromkeys(m.row_id for s in exp.studies for m in s.methods))
    ref = exp.comparisons.reference
    if ref not in ids and ref != ComparisonConfig.model_fields["reference"].default:
        raise LimitlabError(f"{source}: comparisons.reference {ref!r} is not a method id of any study (accepted: "
                            f"{', '.join(ids)})")


def check_files(exp: Experiment, source: str) -> None:
    """The files of the params that every stage relies on: ``data_dir`` must be a folder (or not exist yet: it is
    created), and ``comparisons.claims`` a valid claims file, read as ``limitlab aggregate`` reads it, so that a
    bad one stops the pipeline before training, not at its last step."""
    from limitlab.io import file_in_the_way

    blocker = file_in_the_way(exp.data_dir)
    if blocker is not None:
        what = f"data_dir {exp.data_dir}" + ("" if blocker == Path(exp.data_dir) else f": {blocker}")
        raise LimitlabError(f"{source}: {what} is {'a file' if blocker.is_file() else 'not a folder'}, not a "
                            "folder (accepted: a folder for the datasets, labels and runs, created when missing)")
    if exp.comparisons.claims is not None:
        from limitlab.report.claims import load_claims  # a report module: only when a params file names a claims file

        try:
            load_claims(exp.comparisons.claims)
        except LimitlabError as exc:
            raise LimitlabError(f"{source}: comparisons.claims: {exc}") from None


def check_local_files(exp: Experiment, source: str) -> None:
    """Files only the machine that trains needs (``limitlab params check``): each study's ``model.pretrained``
    and the files its noise is drawn from (``noise.file``, ``noise.matrix``) must be files. Not part of
    :func:`load`, which the report stages also call, where these may be absent."""
    for study in exp.studies:
        own = study.dataset.path
        if own is not None and not (Path(own).is_dir() or Path(own).is_file()):
            raise LimitlabError(f"{source}: studies[{study.id}].dataset.path: {own} does not exist (your own "
                                "dataset: an image folder with train/<class>/ and test/<class>/, or an .npz; "
                                "relative paths are read from the folder the pipeline runs in; the digits example: "
                                "limitlab data digits --out data/own/digits)")
        for field in ("file", "matrix"):
            given = getattr(study.noise, field, None)
            if given is not None and not Path(given).is_file():
                state = "is a folder, not a file" if Path(given).is_dir() else "does not exist"
                what = {"file": f"the {'noise' if study.noise.model == 'file' else 'human-label'} file its labels "
                                "are read from", "matrix": "the transition matrix its labels are drawn with"}[field]
                raise LimitlabError(f"{source}: studies[{study.id}].noise.{field}: {given} {state} ({what}; "
                                    "relative paths are read from the folder the pipeline runs in, e.g. "
                                    "params/noise/NAME.csv from the repository root)")
        weights = study.model.pretrained
        if weights is not None and not Path(weights).is_file():
            state = "is a folder, not a file" if Path(weights).is_dir() else "does not exist"
            raise LimitlabError(f"{source}: studies[{study.id}].model.pretrained: {weights} {state} (accepted: a local "
                                "file of torchvision's resnet50 ImageNet weights, e.g. resnet50-11ad3fa6.pth; "
                                "never downloaded), or leave 'pretrained' out for random initialisation")


def _utf8_text(path: Path) -> str:
    """The file's text; bytes that are not UTF-8 (a file saved as Latin-1 or UTF-16) are refused by offset, since
    the locale's encoding would read the same file differently on another machine."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise LimitlabError(f"{path}: not valid UTF-8 at byte {exc.start} (line {line}): "
                            f"{raw[exc.start:exc.end]!r} ({exc.reason}); save the file as UTF-8") from None
    return text.removeprefix("\ufeff")  # a byte-order mark some editors write


def read_yaml(path: Path, text: str) -> Any:
    """``yaml.safe_load`` of ``text``, but a mapping key written twice is an error: YAML would keep the last value
    silently (a method id pasted twice would replace the first entry). Keys are checked on the composed node tree,
    where each key still has its line and the path of mappings above it."""
    loader = yaml.SafeLoader(text)
    loader.name = str(path)  # YAML's own messages then name the file, not "<unicode string>"
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _refuse_duplicate_keys(root, (), loader, path, set())
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise LimitlabError(f"{path}: not valid YAML: {exc}") from None
    finally:
        loader.dispose()


MERGE_TAG = "tag:yaml.org,2002:merge"  # '<<: *anchor' merges keys; an explicit key after it overrides on purpose


def _refuse_duplicate_keys(node: yaml.Node, where: tuple[str, ...], loader: yaml.SafeLoader, path: Path,
                           seen: set[int]) -> None:
    if id(node) in seen:  # an alias repeats a node: check it once (and never loop on a recursive one)
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_duplicate_keys(item, (*where, _entry_id(item) or str(i)), loader, path, seen)
        return
    if not isinstance(node, yaml.MappingNode):
        return
    first_mark: dict[Any, yaml.Mark] = {}
    for key_node, value_node in node.value:
        if key_node.tag == MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
            _refuse_duplicate_keys(value_node, where, loader, path, seen)
            continue
        key = _key_value(key_node, loader)
        mark = key_node.start_mark
        if key in first_mark:
            first = first_mark[key]
            at = f"line {first.line + 1}" if first.line != mark.line else f"column {first.column + 1} of this line"
            raise LimitlabError(f"{path}:{mark.line + 1}: {_duplicate(key, where)} (first written at {at}); "
                                "YAML would keep only the last one: remove or rename one of them")
        first_mark[key] = mark
        _refuse_duplicate_keys(value_node, (*where, str(key)), loader, path, seen)


def _entry_id(node: yaml.Node) -> str | None:
    """The ``id:`` of a list entry written as a mapping (``- id: uniform``): its name in messages."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == "id" and isinstance(value_node, yaml.ScalarNode):
                return value_node.value
    return None


def _key_value(key_node: yaml.ScalarNode, loader: yaml.SafeLoader) -> Any:
    """The key as YAML reads it (``1`` and ``0x1`` are the same int key), or its text when that is unhashable."""
    try:
        key = loader.construct_object(key_node)
        hash(key)
        return key
    except (yaml.YAMLError, TypeError):
        return key_node.value


def _duplicate(key: Any, where: tuple[str, ...]) -> str:
    if where == ("studies",):
        return f"duplicate study id {key!r}"
    if len(where) == 3 and where[0] == "studies" and where[2] == "methods":
        return f"duplicate method id {key!r} in study {where[1]!r}"
    return f"duplicate key {key!r} in {'.'.join(where) or '(top level)'}"
