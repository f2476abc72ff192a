"""Params files editors understand: params/schema.json (the JSON Schema of a params file, from the pydantic models)
and the key reference in config/README.md are current; every shipped params file names the schema on its first
line, which changes nothing parsed; the schema accepts every shipped file, and a bad value is flagged by the schema
(jsonschema) and by pydantic at the same field path; a plugin's names are accepted by the shipped schema and known
by the --installed one."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from limitlab.experiment.grid import runs_of
from limitlab.experiment.params_reference import BEGIN, END, reference, replace_section
from limitlab.experiment.params_schema import params_schema, schema_text

REPO = Path(__file__).resolve().parents[2]
SCHEMA_FILE = REPO / "params" / "schema.json"
README = REPO / "config" / "README.md"
SHIPPED = sorted([*(REPO / "params").rglob("*.yaml"), *REPO.glob("examples/*/params/*.yaml")])
SCHEMA = params_schema()
VALIDATOR = Draft7Validator(SCHEMA)
SMOKE = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())


def shipped_id(path: Path) -> str:
    return str(path.relative_to(REPO))


# --- the committed files are current ---------------------------------------------------------------------------


def test_params_schema_json_is_current():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "params/schema.json is out of date with the pydantic models: run `limitlab params schema --out "
        "params/schema.json` and commit it")


def test_the_key_reference_in_config_readme_is_current():
    text = README.read_text(encoding="utf-8")
    assert replace_section(text, reference(), str(README)) == text, (
        "config/README.md's key reference is out of date with the pydantic models: run `limitlab params schema "
        "--markdown --out config/README.md` and commit it")


def test_the_schemas_are_valid_json_schemas_and_describe_every_field():
    for schema in (SCHEMA, params_schema(installed=True)):
        Draft7Validator.check_schema(schema)
    undescribed = [f"{name}.{key}" for name, d in SCHEMA["definitions"].items() if name != "MethodEntry"
                   for key, prop in d.get("properties", {}).items()
                   if key != "method" and not prop.get("description")]
    assert not undescribed, f"fields without a description (add Field(description=...)): {undescribed}"


# --- every shipped params file names the schema, and the schema accepts it ----------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=shipped_id)
def test_every_shipped_params_file_names_the_schema_on_its_first_line(path):
    first, _, rest = path.read_text(encoding="utf-8").partition("\n")
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, f"{shipped_id(path)}: first line {first!r}; expected '# yaml-language-server: $schema=<path>'"
    assert (path.parent / match.group(1)).resolve() == SCHEMA_FILE, f"{match.group(1)} is not params/schema.json"
    assert yaml.safe_load(rest) == yaml.safe_load(first + "\n" + rest)  # a comment: nothing parsed changes


@pytest.mark.parametrize("path", SHIPPED, ids=shipped_id)
def test_the_schema_accepts_every_shipped_params_file(path):
    data = params_file.read_yaml(path, path.read_text(encoding="utf-8"))
    problems = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(data)]
    assert not problems, f"{shipped_id(path)}: " + "; ".join(problems)


def test_the_example_in_config_readme_is_a_valid_params_file():
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)]
    examples = [b for b in blocks if isinstance(b, dict) and "studies" in b]
    assert examples
    for data in examples:
        assert not list(VALIDATOR.iter_errors(data))
        assert len(runs_of(params_file.validate(data, "config/README.md"))) == 16  # what the README says


# --- a bad value: the same field path from the schema and from pydantic -----------------------------------------


def readable(path: list, data) -> str:
    """A jsonschema error path as limitlab's messages write pydantic's: a keyed study or method by its position
    (as pydantic sees the entries after entries_by_id), rendered by the same function."""
    loc, node, parent = [], data, None
    for part in path:
        if isinstance(node, dict) and parent in ("studies", "methods") and isinstance(part, str):
            loc.append(list(node).index(part))
        else:
            loc.append(part)
        present = isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int)
        parent, node = part, node[part] if present else None  # a missing key ends the path
    return params_file._readable_loc(tuple(loc), data)


def schema_paths(data) -> set[str]:
    """Where the schema flags ``data``: an unknown key at the key and a missing one at its name, as pydantic does."""
    found = set()
    for err in VALIDATOR.iter_errors(data):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            paths = [[*path, k] for k in err.instance if k not in err.schema.get("properties", {})]
        elif err.validator == "required":
            paths = [[*path, k] for k in err.validator_value if k not in err.instance]
        else:
            paths = [path]
        found |= {readable(p, data) for p in paths}
    return found


def pydantic_paths(data) -> set[str]:
    """The field paths of the error `limitlab params check` prints (one line per problem: '  PATH: message')."""
    with pytest.raises(LimitlabError) as caught:
        params_file.validate(data, "probe.yaml")
    return {line.strip().split(": ", 1)[0] for line in str(caught.value).splitlines()[1:]}


def list_item(path: str) -> str:
    """A value in a list: pydantic's list validators name the list, the schema the item."""
    return re.sub(r"\[\d+\]$", "", path)


def study(data) -> dict:
    return data["studies"]["uniform"]


def as_list(data) -> None:
    data["studies"] = [{"id": k, **v} for k, v in data["studies"].items()]
    methods = data["studies"][0]["methods"]
    data["studies"][0]["methods"] = [{"id": k, "method": k, **(v or {})} for k, v in methods.items()]


BAD = {
    "negative epochs": lambda d: study(d)["training"].update(epochs=-1),
    "zero batch size in the list layout": lambda d: (as_list(d), d["studies"][0]["training"].update(batch_size=0)),
    "an unknown top-level key": lambda d: d.update(epoch=3),
    "an unknown key in a study": lambda d: study(d).update(epochs=3),
    "a key of another method": lambda d: study(d)["methods"]["ce"].update(beta=1.0),
    "an unknown key in the list layout": lambda d: (as_list(d), d["studies"][0]["methods"][0].update(beta=1.0)),
    "a grid value that is not a number": lambda d: study(d)["methods"]["limit_g"].update(beta=[1.0, "high"]),
    "an unknown architecture": lambda d: study(d).update(model={"arch": "cnn5"}),
    "an unknown device": lambda d: study(d)["training"].update(device="gpu"),
    "bf16 as text": lambda d: study(d)["training"].update(bf16="yes"),
    "an unsafe experiment name": lambda d: d.update(name="../elsewhere"),
    "an interval coverage above 1": lambda d: d.update(bootstrap={"ci": 1.5}),
    "a noise rate of 1.5": lambda d: study(d)["noise"].update(p=1.5),
    "negative GPUs": lambda d: d.setdefault("resources", {}).update(train={"gpus": -1}),
    "a negative seed": lambda d: study(d).update(seeds=[42, -1]),
    "a missing seed list": lambda d: study(d).pop("seeds"),
    "a missing noise rate": lambda d: study(d)["noise"].pop("p"),
}


@pytest.mark.parametrize("edit", BAD.values(), ids=BAD.keys())
def test_a_bad_value_is_flagged_by_the_schema_and_by_pydantic_at_the_same_field_path(edit):
    data = copy.deepcopy(SMOKE)
    edit(data)
    from_pydantic = {list_item(p) for p in pydantic_paths(data)}
    from_schema = {list_item(p) for p in schema_paths(data)}
    assert from_pydantic and from_schema == from_pydantic


def test_smoke_without_edits_is_valid_for_both():
    assert not schema_paths(SMOKE)
    params_file.validate(copy.deepcopy(SMOKE), "smoke")


# --- plugins: the shipped schema accepts their names, the --installed one knows them --------------------------


def test_the_shipped_schema_takes_another_method_name_as_a_plugins_and_checks_its_shared_keys():
    def with_method(entry: dict) -> dict:
        data = copy.deepcopy(SMOKE)
        study(data)["methods"]["boot"] = entry
        return data

    assert not schema_paths(with_method({"method": "bootstrap_soft", "beta": 0.8}))
    assert not schema_paths(with_method({"beta": 0.8}))  # a key that may be a plugin method's name
    assert schema_paths(with_method({"method": "bootstrap_soft", "lr": -0.1})) == {"studies[uniform].methods[boot].lr"}
    assert schema_paths(with_method({"method": "bootstrap_soft", "training": {"epoch": 3}})) == {
        "studies[uniform].methods[boot].training.epoch"}
    assert schema_paths(with_method({"method": "limit", "lamda": 3})) == {"studies[uniform].methods[boot].lamda"}


PLUGIN = '''
from typing import Literal

from pydantic import Field

from limitlab.methods import Method, MethodConfig, register


class BootConfig(MethodConfig):
    method: Literal["boot"]
    beta: float = Field(0.95, description="weight of the given label")


@register
class Boot(Method):
    Config = BootConfig
'''


def test_the_installed_schema_knows_a_plugins_method_and_refuses_other_names_while_the_shipped_one_is_unchanged(
        tmp_path):
    """A plugin installed as pip leaves one (a module and its dist-info with the entry point), in a fresh process."""
    site = tmp_path / "site"
    (site / "limitlab_test_boot-0.1.dist-info").mkdir(parents=True)
    (site / "limitlab_test_boot.py").write_text(PLUGIN)
    (site / "limitlab_test_boot-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: limitlab-test-boot\nVersion: 0.1\n")
    (site / "limitlab_test_boot-0.1.dist-info" / "entry_points.txt").write_text(
        "[limitlab.methods]\nboot = limitlab_test_boot\n")
    code = ("import json; from limitlab.experiment.params_schema import params_schema, schema_text; "
            "print(json.dumps([params_schema(installed=True), schema_text()]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(site)})
    assert out.returncode == 0, out.stderr[-2000:]
    installed, shipped = json.loads(out.stdout)
    assert shipped == schema_text()  # the committed schema does not depend on what is installed
    validator = Draft7Validator(installed)
    data = copy.deepcopy(SMOKE)
    study(data)["methods"]["boot"] = {"beta": 0.9}
    assert not list(validator.iter_errors(data))
    study(data)["methods"]["boot"] = {"beta": "high"}
    assert [list(e.absolute_path) for e in validator.iter_errors(data)] == [
        ["studies", "uniform", "methods", "boot", "beta"]]
    study(data)["methods"]["boot"] = {"method": "bootstrap_soft"}
    assert [e.validator for e in validator.iter_errors(data)] == ["enum"]
    study(data)["methods"]["boot"] = {"method": "boot"}
    study(data)["noise"]["model"] = "unifrom"
    assert [list(e.absolute_path) for e in validator.iter_errors(data)] == [["studies", "uniform", "noise", "model"]]


# --- the command ---------------------------------------------------------------------------------------------


def test_limitlab_params_schema_writes_the_schema_and_the_reference(tmp_path, capsys):
    assert main(["params", "schema", "--out", str(tmp_path / "s" / "schema.json")]) == 0
    assert (tmp_path / "s" / "schema.json").read_text() == schema_text()
    assert main(["params", "schema"]) == 0
    assert capsys.readouterr().out == schema_text()
    assert main(["params", "schema", "--markdown"]) == 0
    assert capsys.readouterr().out == reference()
    new = tmp_path / "REFERENCE.md"
    assert main(["params", "schema", "--markdown", "--out", str(new)]) == 0
    assert new.read_text() == f"{BEGIN}\n\n{reference()}\n{END}\n"
    doc = tmp_path / "README.md"
    doc.write_text(f"# Mine\n\nprose\n\n{BEGIN}\nold\n{END}\n\nmore prose\n")
    assert main(["params", "schema", "--markdown", "--out", str(doc)]) == 0
    assert doc.read_text() == f"# Mine\n\nprose\n\n{BEGIN}\n\n{reference()}\n{END}\n\nmore prose\n"


def test_limitlab_params_schema_refuses_a_document_without_markers_and_a_folder(tmp_path, capsys):
    doc = tmp_path / "notes.md"
    doc.write_text("my notes\n")
    assert main(["params", "schema", "--markdown", "--out", str(doc)]) == 2
    assert doc.read_text() == "my notes\n" and "marker lines" in capsys.readouterr().err
    assert main(["params", "schema", "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
