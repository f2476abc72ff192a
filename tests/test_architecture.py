"""The floor plan holds: family packages, no import circle inside limitlab (function-level imports count), no
module too long to read, the torch-free families really are, and every import between families is one the import
table allows (:data:`IMPORTS`, which docs/architecture.md shows and every family's ``__init__`` states)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "limitlab"
ARCHITECTURE = REPO / "docs" / "architecture.md"
MAX_LINES = 450
MAX_FLAT = 8  # modules directly in src/limitlab/
TORCH_FREE = ("limitlab.experiment", "limitlab.data", "limitlab.report", "limitlab.pipeline", "limitlab.jobs.adopt",
              "limitlab.jobs.done_record", "limitlab.jobs.run_state", "limitlab.jobs.left_out",
              "limitlab.jobs.grouping",
              "limitlab.detection_metrics")

# The import table: which limitlab families (packages) and top-level modules each may import, at import time or
# inside a function. A dotted name allows that one module of a family only. Whole-family entries are layered: no
# two families may import each other as a whole. docs/architecture.md, "Import rules", shows this table (the test
# below keeps it equal) and each family's __init__ says it in a sentence "Of limitlab it may import: ...".
IMPORTS: dict[str, set[str]] = {
    "errors": set(),
    "io": {"errors"},
    "registry": {"errors"},
    "torch_on_demand": set(),
    "detection_metrics": set(),
    "data": {"errors", "io", "registry"},
    "methods": {"errors", "registry", "torch_on_demand", "experiment.strict"},
    "experiment": {"errors", "io", "data", "methods"},
    "training": {"errors", "io", "torch_on_demand", "data", "methods", "experiment"},
    "evaluation": {"errors", "io", "detection_metrics", "data", "methods", "experiment", "training", "jobs.done_record"},
    "jobs": {"errors", "io", "data", "experiment", "training", "evaluation"},
    "pipeline": {"errors", "io", "data", "experiment", "jobs"},
    "report": {"errors", "io", "detection_metrics", "data", "experiment"},
    "stages": {"errors", "io", "data", "methods", "experiment", "training", "evaluation", "jobs", "pipeline",
               "report"},
    "cli": {"errors", "io", "experiment", "stages"},
}
# Imports the table does not allow, each until what it needs has moved (also in docs/architecture.md): module ->
# imported module. The test fails when one is no longer needed, so that the list only shrinks.
EXCEPTIONS = {
    # the claims file is checked when a params file names it; its model moves to experiment once report/claims.py
    # is free to change
    ("limitlab.experiment.params_file", "limitlab.report.claims"),
}
# Old module paths kept as a re-export of the new one (each its own reason in its docstring): no family rule applies
MOVED = {"limitlab.jobs.dvc_record": "limitlab.pipeline.dvc_record"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """limitlab modules that ``path`` imports anywhere (module level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        out |= {n for n in names if n in known}
    return out


def test_no_import_circle():
    mods = modules()
    graph = {name: imports_of(path, set(mods)) - {name} for name, path in mods.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_modules_are_short_and_the_top_level_is_small():
    long = {name: n for name, p in modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    flat = sorted(p.name for p in SRC.glob("*.py"))
    assert len(flat) <= MAX_FLAT, flat


def test_every_family_says_what_it_owns():
    for init in SRC.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc) > 80 and "TODO" not in doc, f"{init.relative_to(SRC.parent)} needs a docstring"


def test_torch_free_families_import_without_torch():
    names = [n for n in modules() if n.startswith(TORCH_FREE)]
    code = ("import importlib, sys\n"
            f"for n in {names!r}: importlib.import_module(n)\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'torchvision'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"importing {TORCH_FREE} loaded torch: {out[:300]}"


def unit(module: str) -> str:
    """The family or top-level module a limitlab module belongs to: limitlab.report.figures.index -> report."""
    return module.split(".")[1]


def allowed(importer: str, imported: str) -> bool:
    rules = IMPORTS[unit(importer)]
    name = imported.split(".", 1)[1]
    return unit(imported) == unit(importer) or unit(imported) in rules or any(
        name == rule or name.startswith(f"{rule}.") for rule in rules if "." in rule)


def test_every_family_and_top_level_module_is_in_the_import_table():
    assert {unit(name) for name in modules() if name != "limitlab"} == set(IMPORTS)
    for rules in IMPORTS.values():
        assert {rule.split(".")[0] for rule in rules} <= set(IMPORTS)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """limitlab modules that ``path`` imports anywhere, each import named by the module it takes names from:
    ``from limitlab.jobs import done_record`` imports limitlab.jobs.done_record, not the package limitlab.jobs."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                    for a in node.names} & known
    return out - {"limitlab"}  # the package itself holds only its version


def test_imports_between_families_follow_the_table():
    mods = modules()
    found = {(name, other) for name, path in mods.items() if name != "limitlab" and name not in MOVED
             for other in imported_modules(path, set(mods))}
    broken = sorted(f"{a} -> {b}" for a, b in found if not allowed(a, b) and (a, b) not in EXCEPTIONS)
    assert not broken, ("imports the table in tests/test_architecture.py (IMPORTS) does not allow; move what is "
                        "shared to a family both may import, or change the table and docs/architecture.md: "
                        + "; ".join(broken))
    stale = sorted(f"{a} -> {b}" for a, b in EXCEPTIONS if (a, b) not in found or allowed(a, b))
    assert not stale, f"exceptions no longer needed (remove them from EXCEPTIONS and docs/architecture.md): {stale}"


def test_families_are_layered():
    """Two families never import each other as a whole: a way back goes to one named module."""
    whole = {(a, b) for a, rules in IMPORTS.items() for b in rules if "." not in b}
    assert not sorted((a, b) for a, b in whole if (b, a) in whole)


def test_moved_modules_only_re_export_their_new_path():
    """An old path is its docstring, ``from NEW import *`` and at most a ``__main__`` block (for python -m)."""
    mods = modules()
    for old, new in MOVED.items():
        body = ast.parse(mods[old].read_text()).body[1:]
        assert isinstance(body[0], ast.ImportFrom) and body[0].module == new and body[0].names[0].name == "*", old
        assert all(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in body[1:]), old
        assert imports_of(mods[old], set(mods)) == {new}, old


def doc_table(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table under ``heading`` in docs/architecture.md, as cells."""
    text = ARCHITECTURE.read_text()
    section = text[text.index(heading):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows[1:]  # without the header


def names(cell: str) -> set[str]:
    return set(re.findall(r"`([\w.]+)`", cell))


def test_architecture_doc_shows_the_import_table():
    rows = doc_table("## Import rules")
    shown = {next(iter(names(row[0]))): names(row[1]) for row in rows}
    assert shown == IMPORTS, "docs/architecture.md's import table differs from IMPORTS in tests/test_architecture.py"
    exceptions = {(f"limitlab.{a}", f"limitlab.{b}") for row in doc_table("### Exceptions")
                  for a, b in [sorted(names(row[0])) + sorted(names(row[1]))]}
    assert exceptions == EXCEPTIONS


def test_family_docstrings_state_the_table():
    """Each family package (and sub-package) says what it may import: "Of limitlab it may import: ``io``, ...".
    The sentence ends at a full stop followed by a space or the end of a line."""
    for init in sorted(SRC.glob("*/**/__init__.py")):
        family = init.relative_to(SRC).parts[0]
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        said = re.search(r"Of limitlab it may import[^:]*:(.*?)\.(?:\s|$)", doc, re.S)
        assert said, f"{init.relative_to(SRC.parent)}: no sentence 'Of limitlab it may import: ...'"
        assert set(re.findall(r"``([\w.]+)``", said[1])) == IMPORTS[family], init.relative_to(SRC.parent)


def test_test_files_import_no_other_test_file():
    """Shared test code lives in tests/helpers/ (or a conftest.py), so that every test file runs alone."""
    tests = Path(__file__).resolve().parent
    names = {path.stem for path in tests.rglob("test_*.py")}
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported = {node.module.split(".")[0]}
            else:
                continue
            assert not imported & names, f"{path.relative_to(tests)} imports the test file {imported & names}"
