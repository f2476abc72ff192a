"""A plugin package written for the tests and installed the way pip leaves one: a module and a ``*.dist-info``
folder (METADATA, entry_points.txt) in a folder that a fresh process gets on its PYTHONPATH, so that
importlib.metadata finds it as it finds any installed package."""

from __future__ import annotations

from pathlib import Path

# Soft bootstrapping (Reed et al., ICLR 2015 workshop): l = CE(beta e_y + (1 - beta) softmax(a), a)
METHOD = '''
from typing import Literal

from limitlab.methods import Method, MethodConfig, StepOutput, register
from limitlab.methods.base import Grid
from limitlab.torch_on_demand import F


class BootConfig(MethodConfig):
    method: Literal["{name}"]
    beta: Grid = 0.95
    HYPERPARAMETERS = ("beta",)


@register
class Boot(Method):
    Config = BootConfig

    def loss(self, x, y, index):
        logits = self.classifier(x).float()
        target = self.cfg.beta * F.one_hot(y, logits.shape[1]) + (1 - self.cfg.beta) * logits.softmax(1).detach()
        return StepOutput(-(target * logits.log_softmax(1)).sum(1).mean(), logits)
'''


def install(site: Path, *, package: str = "limitlab-test-plugin", version: str = "0.1", name: str = "boot",
            body: str | None = None) -> Path:
    """The plugin ``package`` at ``version`` under ``site``: one module registering the method ``name`` (or
    ``body`` as the module's source), declared in the group limitlab.methods. A second call replaces it."""
    module = package.replace("-", "_")
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(body if body is not None else METHOD.replace("{name}", name))
    for old in site.glob(f"{module}-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[limitlab.methods]\n{name} = {module}\n")
    return site
