"""The keys of a params file as a Markdown reference (``limitlab params schema --markdown``), rendered from the JSON
Schema of :mod:`limitlab.experiment.params_schema`, so the reference, the editors' schema and the pydantic models
say the same. ``config/README.md`` holds it between two marker lines (:func:`replace_section`)."""

from __future__ import annotations

import json
import re
from typing import Any

from limitlab.errors import LimitlabError
from limitlab.experiment.params_schema import DEF, DEFS, ENTRY, OVERRIDE, PLUGIN_ENTRY, params_schema

BEGIN = ("<!-- BEGIN generated key reference: `limitlab params schema --markdown --out config/README.md` "
         "rewrites what follows, up to END -->")
END = "<!-- END generated key reference -->"
ID = "<id>"


def reference(installed: bool = False) -> str:
    """Every key of a params file, one table per section, with its type, default, accepted values and description."""
    schema = params_schema(installed)
    defs = schema[DEFS]
    skip = {OVERRIDE, PLUGIN_ENTRY, *(b["then"]["$ref"].removeprefix(DEF) for b in defs[ENTRY]["allOf"])}
    paths: dict[str, list[str]] = {}  # definition -> the keys that hold it (resources.train, .evaluate, .default)
    order: list[tuple[str, str, dict[str, Any]]] = []

    def visit(path: str, name: str, node: dict[str, Any]) -> None:
        order.append((path, name, node))
        props = node.get("properties", {})
        if node.get("title") == ENTRY:  # the keys every method shares hold the nested ones (init)
            props = defs[node["allOf"][0]["then"]["$ref"].removeprefix(DEF)]["properties"]
        children = []
        for key, prop in props.items():
            for child in _refs(prop):
                if child not in skip:
                    first = child not in paths
                    paths.setdefault(child, []).append(f"{path}.{key}{f'.{ID}' if _keyed(prop) else ''}".lstrip("."))
                    if first:
                        children.append(child)
        for child in children:
            visit(paths[child][0], child, defs[child])

    visit("", "", schema)
    lines: list[str] = []
    for path, name, node in order:
        if name == ENTRY:
            lines += _methods(path, node, defs, installed)
        else:
            title = ", ".join(f"`{where}`" for where in paths[name]) if path else "Top level"
            lines += _section(path, node, defs, title=title)
    return "\n".join(lines).rstrip("\n") + "\n"


def _section(path: str, node: dict[str, Any], defs: dict[str, Any], title: str,
             keys: list[str] | None = None) -> list[str]:
    out = [f"### {title}", ""]
    if node.get("description") and path:
        out += [_md(node["description"]).replace("\n", " "), ""]
    props = {k: v for k, v in node.get("properties", {}).items() if keys is None or k in keys}
    if not props:
        return out + ["No keys of its own.", ""]
    required = set(node.get("required", []))
    out += ["| key | type | default | accepted | description |", "| --- | --- | --- | --- | --- |"]
    notes = []
    for key, prop in props.items():
        default = "required" if key in required else _default(prop, defs)
        summary, _, more = prop.get("description", "").partition("\n\n")
        out.append(f"| `{key}` | {_cell(_type(prop, defs))} | {_cell(default)} | {_cell(_accepted(prop))} | "
                   f"{_cell(summary)} |")
        if more:
            notes += ["", f"`{key}`, its values:", "", _md(more)]
    return out + notes + [""]


def _default(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """The default; a mapping's only where it is not that of its own keys (below), e.g. resources.train's."""
    if "default" not in prop:
        return ""
    default = prop["default"]
    if isinstance(default, dict) and _ref_of(prop):
        own = {k: p.get("default") for k, p in defs[_ref_of(prop)].get("properties", {}).items()}
        if all(own.get(k) == v for k, v in default.items()):
            return "(below)"
    return _value(default)


def _methods(path: str, entry: dict[str, Any], defs: dict[str, Any], installed: bool) -> list[str]:
    """The method entries: the keys every method shares, then each method's own keys."""
    configs = [(branch["if"]["properties"]["method"]["const"], defs[branch["then"]["$ref"].removeprefix(DEF)])
               for branch in entry["allOf"] if "const" in branch["if"]["properties"]["method"]]
    shared = [k for k in configs[0][1]["properties"] if all(k in c["properties"] for _, c in configs)]
    plugins = ("" if installed else " Another name is a plugin's method (`limitlab plugins` lists them): the shared "
               "keys are checked, its own keys are the plugin's.")
    out = _section(path, {"properties": {"method": entry["properties"]["method"],
                                         **{k: v for k, v in configs[0][1]["properties"].items() if k in shared
                                            and k != "method"}}, "required": ["method"]}, defs, title=f"`{path}`")
    out[2:2] = [f"A method entry: `method` names the method (a key of `methods:` that is a method's name may leave "
                f"it out) and picks the keys below.{plugins} A list of values for a hyperparameter (any key marked "
                "'or a list') is a grid: one run per value.", ""]
    for name, config in configs:
        own = [k for k in config["properties"] if k not in shared]
        out += _section(path, config, defs, title=f"`method: {name}`", keys=own)
    return out


def _keyed(prop: dict[str, Any]) -> bool:
    then = prop.get("then", {})
    return prop.get("if") == {"type": "array"} and "items" in then and "$ref" in json.dumps(then["items"])


def _ref_of(prop: dict[str, Any]) -> str | None:
    """The definition ``prop`` is (a ``$ref``, alone or as the one member of an ``allOf``), or None."""
    refs = [prop] if "$ref" in prop else prop.get("allOf", [])
    if len(refs) == 1 and set(refs[0]) == {"$ref"}:
        return refs[0]["$ref"].removeprefix(DEF)
    return None


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"].removeprefix(DEF))
        for value in node.values():
            found += [r for r in _refs(value) if r not in found]
    elif isinstance(node, list):
        for value in node:
            found += [r for r in _refs(value) if r not in found]
    return found


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if name := _ref_of(prop):
        return "mapping of a method's `training` keys" if name == OVERRIDE else "mapping (below)"
    if "if" in prop:
        cond, other = prop["if"], prop.get("else", {})
        if cond == {"type": "null"}:
            return f"{_type(other, defs)}, or null"
        if _keyed(prop):
            return "mapping by id, or a list"
        return f"{_type(other, defs)}, or a list"
    if "anyOf" in prop:
        members = [_type(m, defs) for m in prop["anyOf"]]
        return " or ".join(dict.fromkeys(m for m in members if m != "null")) + (", or null" if "null" in members else "")
    if "const" in prop:
        return f"`{_value(prop['const'])}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{_value(v)}`" for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("items", {})
        count = f"{prop['minItems']} " if prop.get("minItems") == prop.get("maxItems") and "minItems" in prop else ""
        return f"list of {count}{_plural(_type(items, defs))}"
    return {"integer": "integer", "number": "number", "string": "text", "boolean": "boolean", "null": "null",
            "object": "mapping"}.get(kind, kind)


def _plural(kind: str) -> str:
    return {"integer": "integers", "number": "numbers", "text": "texts"}.get(kind, kind)


def _accepted(prop: dict[str, Any]) -> str:
    """Ranges and patterns, from the value's own schema (the list items of a grid, the non-null member)."""
    rules = []
    for node in _leaves(prop):
        for key, symbol in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
            if key in node:
                rules.append(f"{symbol} {_value(node[key])}")
        if "pattern" in node:
            rules.append(f"matches `{node['pattern']}`")
        if node.get("uniqueItems"):
            rules.append("no duplicates")
    return ", ".join(dict.fromkeys(rules))


def _leaves(prop: dict[str, Any]) -> list[dict[str, Any]]:
    if "if" in prop and "$ref" not in json.dumps(prop):
        return [*(_leaves(prop["then"]) if "then" in prop else []), *_leaves(prop.get("else", {}))]
    if "anyOf" in prop:
        return [leaf for m in prop["anyOf"] for leaf in _leaves(m)]
    out = [prop]
    for key in ("items",):
        if isinstance(prop.get(key), dict):
            out += _leaves(prop[key])
    return out


def _value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value)


def _cell(text: str) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def _md(text: str) -> str:
    """Text as Markdown shows it: outside `code`, a '<' that would open a tag (results/<name>) and '*' (*.png) are
    escaped."""
    parts = text.split("`")
    return "`".join(part if i % 2 else re.sub(r"<(?=[A-Za-z/!?])", r"\\<", part).replace("*", "\\*")
                    for i, part in enumerate(parts))


def replace_section(document: str, generated: str, where: str) -> str:
    """``document`` with the text between :data:`BEGIN` and :data:`END` replaced by ``generated``."""
    if document.count(BEGIN) != 1 or document.count(END) != 1 or document.index(BEGIN) > document.index(END):
        raise LimitlabError(f"{where}: expected the marker lines {BEGIN!r} and {END!r}, once each and in that order, "
                            "around the generated key reference; put them back where the reference goes")
    head, rest = document.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    return f"{head}{BEGIN}\n\n{generated}\n{END}{tail}"
