"""A plugin package written for the tests and installed the way pip leaves one: a module and a ``*.dist-info``
folder (METADATA, entry_points.txt) in a folder that a fresh process gets on its PYTHONPATH, so that
importlib.metadata finds it as it finds any installed package. Its module registers a method (:data:`METHOD`) or a
dataset (:data:`DATASET`), or is the ``body`` a test gives."""

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


# A dataset of 3 classes, 6×6 grayscale, 12 training and 6 test images of seeded random pixels; the seed is the
# version's digits, so that two versions build different data (as an upgrade that changes the data would)
DATASET = '''
import numpy as np

from limitlab.data.registry import DatasetInfo, register_dataset

INFO = DatasetInfo(name="{name}", num_classes=3, channels=1, image_size=6, n_train_raw=12, mean=(0.5,), std=(0.29,),
                   class_names=("a", "b", "c"), pairs=None, kind="tensor")


@register_dataset(INFO)
def build(context):
    rs = np.random.RandomState({seed})
    pixels = lambda n: rs.randint(0, 256, (n, 1, 6, 6)).astype(np.uint8)
    arrays = {"train_x": pixels(12), "train_y": np.arange(12, dtype=np.int64) % 3,
              "test_x": pixels(6), "test_y": np.arange(6, dtype=np.int64) % 3}
    return arrays, {"loader": "seeded random pixels", "seed": {seed}}
'''

GROUPS = {"method": "limitlab.methods", "dataset": "limitlab.datasets"}


def install(site: Path, *, package: str = "limitlab-test-plugin", version: str = "0.1", name: str = "boot",
            body: str | None = None, kind: str = "method") -> Path:
    """The plugin ``package`` at ``version`` under ``site``: one module registering the method or dataset (``kind``)
    ``name`` (or ``body`` as the module's source), declared in the group limitlab.methods or limitlab.datasets. A
    second call replaces it."""
    module = package.replace("-", "_")
    site.mkdir(parents=True, exist_ok=True)
    template = {"method": METHOD, "dataset": DATASET}[kind]
    seed = str(int("".join(ch for ch in version if ch.isdigit())))  # '0.1' -> 1, '0.2' -> 2
    source = template.replace("{name}", name).replace("{seed}", seed)
    (site / f"{module}.py").write_text(body if body is not None else source)
    for old in site.glob(f"{module}-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = site / f"{module}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{GROUPS[kind]}]\n{name} = {module}\n")
    return site
