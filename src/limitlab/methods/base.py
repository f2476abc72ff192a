"""The method registry and the interface every training method implements.

A method is one module in ``limitlab.methods`` that defines

* a pydantic ``Config`` (subclass of :class:`MethodConfig`) with ``method: Literal["name"]`` and its own
  hyperparameters, each either a value or a list of values (a grid), and
* a :class:`Method` subclass, registered with :func:`register`, whose :meth:`Method.loss` returns the batch
  objective. The training loop calls ``loss(...).backward()`` and one optimizer step; it never looks at which
  method it runs.

The params schema builds its discriminated union of method configs from this registry, so adding a method
never touches the loop or the schema.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal

from pydantic import Field, field_validator

from limitlab.experiment.strict import Strict
from limitlab.registry import Registry
from limitlab.torch_on_demand import nn, torch

Grid = float | list[float]  # a hyperparameter: one value, or a list of values to sweep


def non_negative(*fields: str):
    """A validator for grid fields whose every value must be >= 0: ``_check = non_negative("beta", "lamb")``."""

    def check(cls, v, info):
        for x in v if isinstance(v, list) else [v]:
            if x is not None and x < 0:
                raise ValueError(f"{info.field_name}={x} must be >= 0")
        return v

    return field_validator(*fields)(check)


class InitConfig(Strict):
    """Initialise this run from the selected checkpoint of another method of the same setting and seed."""

    source: str = Field("ce", description="id of the method entry (same study) whose checkpoint is loaded")
    target: Literal["classifier", "q"] = Field(
        "classifier",
        description="which network receives the weights. LIMIT '+ init' in the authors' code loads the q-network "
        "('q'); the paper's sentence reads as if the classifier were meant ('classifier').",
    )
    state: Literal["full", "parameters"] = Field(
        "full",
        description="'full' copies the whole state dict (incl. BatchNorm running statistics); 'parameters' copies "
        "only named parameters, as the authors' code does",
    )


class MethodConfig(Strict):
    """Fields shared by every method entry of a params file."""

    method: str = Field(description="the method's name (a built-in one or a plugin's; `limitlab plugins` lists them)")
    id: str | None = Field(None, description="row name in tables and metric keys (default: the method name)")
    label: str | None = Field(None, description="display name in tables and plots")
    lr: Grid | None = Field(None, description="learning rate (or grid) overriding training.lr")
    seeds: list[int] | None = Field(None, description="seeds for this method (default: the study's seeds)")
    training: dict[str, Any] | None = Field(None, description="overrides of the study's training settings")
    init: InitConfig | None = Field(None, description="start from the selected checkpoint of another method of the "
                                    "same setting and seed (FW and DMI need it; LIMIT + init)")

    # Names of the fields that are hyperparameters (may be grids). 'lr' is one for every method.
    HYPERPARAMETERS: ClassVar[tuple[str, ...]] = ()
    # FW and DMI start from the CE model: an init block is mandatory for them.
    REQUIRES_INIT: ClassVar[bool] = False
    INIT_TARGETS: ClassVar[tuple[str, ...]] = ("classifier",)

    @field_validator("id")
    @classmethod
    def _id_is_a_name(cls, v: str | None) -> str | None:
        if v is not None and not v.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"id {v!r} must contain only letters, digits, '_' and '-'")
        return v

    @property
    def row_id(self) -> str:
        return self.id or self.method

    def grid_fields(self) -> tuple[str, ...]:
        return (*self.HYPERPARAMETERS, "lr")

    def points(self) -> list[dict[str, float]]:
        """Cartesian product of the hyperparameter grids: one dict per training run (lr omitted when unset)."""
        axes: list[tuple[str, list[float]]] = []
        for name in self.grid_fields():
            value = getattr(self, name)
            if value is None:
                continue
            axes.append((name, list(value) if isinstance(value, list) else [value]))
        names = [n for n, _ in axes]
        return [dict(zip(names, combo)) for combo in itertools.product(*(vals for _, vals in axes))]

    def at(self, point: dict[str, float]) -> "MethodConfig":
        """This config with every grid replaced by the point's scalar value."""
        return self.model_copy(update=point)


@dataclass
class StepOutput:
    """What a method returns for one batch. ``loss`` is backpropagated; ``logits`` are the classifier's."""

    loss: torch.Tensor
    logits: torch.Tensor
    logs: dict[str, torch.Tensor] = field(default_factory=dict)  # scalars averaged per epoch into the history


@dataclass
class Context:
    """What a method may use besides the batch: read-only facts about the run."""

    num_classes: int
    epoch: int = 0
    generator: torch.Generator | None = None  # the run's RNG for sampling noise (saved on resume)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    info: dict[str, Any] = field(default_factory=dict)


# limitlab's methods and those of installed packages (entry-point group limitlab.methods): limitlab.registry
REGISTRY: Registry[type["Method"]] = Registry("method", "limitlab.methods")


def register(cls: type["Method"]) -> type["Method"]:
    """Class decorator: register a :class:`Method` under the name its ``Config.method`` Literal gives."""
    name = cls.Config.model_fields["method"].annotation.__args__[0]  # Literal["name"] -> "name"
    REGISTRY.register(name, cls)
    cls.name = name
    return cls


class Method:
    """Base class. Subclasses set ``Config`` and implement :meth:`loss`.

    ``networks`` is an ``nn.ModuleDict`` with at least ``classifier``; methods with a gradient predictor add
    ``q``. All its parameters are optimised by one optimizer (as in the authors' code).
    """

    name: ClassVar[str]
    Config: ClassVar[type[MethodConfig]]
    uses_q: ClassVar[bool] = False  # builds a second network (LIMIT, soft regularisation)

    def __init__(self, cfg: MethodConfig, networks: nn.ModuleDict, ctx: Context):
        self.cfg = cfg
        self.networks = networks
        self.ctx = ctx

    @property
    def classifier(self) -> nn.Module:
        return self.networks["classifier"]

    def prepare(self, predict_train: Callable[[nn.Module], torch.Tensor],
                init_source: dict[str, torch.Tensor] | None = None) -> dict[str, Any]:
        """Called once before epoch 0, after any init checkpoint was loaded (not again on resume).

        ``predict_train(net)`` returns ``net``'s logits on every training example (eval mode, no augmentation),
        in training-split order. ``init_source`` is the complete state dict of the init source run's selected
        classifier (None without ``init``). Returns JSON-able facts stored in the run's result (e.g. FW's T̂).
        """
        return {}

    def on_epoch_start(self, epoch: int) -> None:
        self.ctx.epoch = epoch

    def loss(self, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> StepOutput:
        """Batch objective for inputs ``x`` (normalised, augmented), noisy labels ``y``, dataset ``index``."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Extra state to checkpoint (e.g. an estimated transition matrix)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

