"""The floor plan holds: family packages, no import circle inside limitlab (function-level imports count), no
module too long to read, and the torch-free families really are."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "limitlab"
MAX_LINES = 450
MAX_FLAT = 8  # modules directly in src/limitlab/
TORCH_FREE = ("limitlab.experiment", "limitlab.data", "limitlab.report", "limitlab.jobs.plan", "limitlab.jobs.run_config",
              "limitlab.jobs.adopt", "limitlab.jobs.identity", "limitlab.jobs.snakemake_lock",
              "limitlab.jobs.dvc_record")


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
