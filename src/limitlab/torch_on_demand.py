"""Stand-ins for ``torch``, ``torch.nn`` and ``torch.nn.functional`` that import torch on first attribute use.

The method modules define both a pydantic config (which the params schema needs) and their torch code. Reading a
params file (``limitlab params``, ``aggregate``, ``plot``, the Snakefile) only touches the configs, so those
modules import torch through these stand-ins and torch (about 2 s to import) is loaded only by the stages that
train or evaluate. ``sys.modules`` holds no entry for torch until then.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """``LazyModule("torch.nn")`` behaves like the module once an attribute is read from it."""

    __slots__ = ("_name", "_module")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r}, {state}>"


torch: Any = LazyModule("torch")
nn: Any = LazyModule("torch.nn")
F: Any = LazyModule("torch.nn.functional")
