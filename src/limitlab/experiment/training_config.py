"""A study's ``model:`` and ``training:`` blocks: the networks, and every method's protocol (docs/methods.md,
"Selection and evaluation"; a method's own ``training:`` overrides fields of the study's, validated against
:data:`TrainingOverride`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, create_model, field_validator

from limitlab.experiment.strict import Strict

ARCHS = ("auto", "cnn4", "mlp4", "resnet34", "resnet50")


class ModelConfig(Strict):
    arch: Literal[ARCHS] = Field("auto", description="'auto': cnn4 for MNIST, resnet34 for CIFAR, resnet50 for Clothing1M")  # type: ignore[valid-type]
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout in the hidden blocks (mlp4 only)")
    q_arch: Literal[ARCHS] | Literal["same"] = Field("same", description="gradient predictor architecture")  # type: ignore[valid-type]
    pretrained: Path | None = Field(
        None, description="resnet50: local file of ImageNet weights (never downloaded); absent = random init")
    bn_warmup: Literal["none", "authors"] = Field(
        "none", description="BatchNorm running statistics at the start: 'none' = PyTorch's (mean 0, var 1); "
        "'authors' = after the shape-inference forward passes of the authors' network builder on N(0, 1) "
        "inputs (train mode; docs/methods.md, 'Selection and evaluation', and docs/choices.md), which the paper's numbers include")

    def resolve(self, dataset: str) -> str:
        if self.arch != "auto":
            return self.arch
        return {"cifar10": "resnet34", "cifar100": "resnet34", "clothing1m": "resnet50"}.get(dataset, "cnn4")


class TrainingConfig(Strict):
    batch_size: int = Field(256, gt=0, description="training mini-batch size")
    epochs: int = Field(400, gt=0, description="maximum number of training epochs (the paper: 400)")
    patience: int | None = Field(100, gt=0, description="early stopping patience in epochs; null = never stop early")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate (a method's 'lr' overrides it)")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam's two moment decay rates, each in [0, 1)")
    eps: float = Field(1e-8, gt=0, description="Adam's epsilon (added to the denominator)")
    weight_decay: float = Field(0.0, ge=0, description="Adam's coupled L2, not applied to biases and 1-D params")
    device: str = Field("auto", description="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    threads: int | None = Field(None, gt=0, description="torch CPU threads (default: torch's choice)")
    channels_last: Literal["auto", True, False] = Field("auto", description="'auto': on for convolutional nets")
    bf16: Literal["auto", True, False] = Field(
        False, description="bf16 autocast on CUDA (never on CPU). Off by default: the paper trained in fp32. "
        "Opt in with true, or 'auto' (on for ResNets only); bf16 numbers are not the paper's protocol")
    compile: bool = Field(False, description="torch.compile the networks (pays off on long runs: ~20 s per network "
                                             "to compile, then 1.4x faster steps for cnn4 on CPU)")
    eval_batch_size: int = Field(1024, gt=0, description="batch size of the evaluation passes (no effect on results)")
    log_test: bool = Field(True, description="log clean test accuracy per epoch (curves only, never selection)")
    susceptibility: bool = Field(False, description="track susceptibility to random labels every epoch")
    susceptibility_batch: int = Field(128, gt=0, description="examples in the susceptibility probe batch of each epoch")
    num_workers: int = Field(4, ge=0, description="decoding workers for file datasets (Clothing1M)")

    @field_validator("betas")
    @classmethod
    def _adam_betas(cls, v: tuple[float, float]) -> tuple[float, float]:
        # torch.optim.Adam refuses them only when the optimizer is built, i.e. in the middle of a pipeline run
        bad = [b for b in v if not 0.0 <= b < 1.0]
        if bad:
            raise ValueError(f"Adam betas {list(v)}: {bad} outside [0, 1); accepted: two numbers in [0, 1), "
                             "e.g. [0.9, 0.999]")
        return v

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if not DEVICE_PATTERN.fullmatch(v):
            raise ValueError(f"device {v!r} is not a torch device; accepted: {DEVICES_ACCEPTED}")
        return v


DEVICE_PATTERN = re.compile(r"auto|cpu|mps|(cuda|xpu)(:\d+)?")
DEVICES_ACCEPTED = "'auto', 'cpu', 'cuda', 'cuda:N', 'mps', 'xpu', 'xpu:N'"


# A method's `training:` block may override any training field; validated against this all-optional model.
TrainingOverride = create_model(
    "TrainingOverride",
    __base__=Strict,
    **{name: (f.annotation | None, None) for name, f in TrainingConfig.model_fields.items()},
)
