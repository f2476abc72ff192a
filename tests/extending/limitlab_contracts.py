"""Contracts every registry entry keeps, built in or plugin: importable by a plugin's own tests.

A training method (``limitlab.methods.REGISTRY``) is used by the pipeline in three ways, each a contract here:

1. its config is written to JSON (a run's spec) and validated back, through the method's ``Config`` and through
   the params schema's union of all method configs (:func:`check_config_round_trip`);
2. the training loop builds its networks, calls ``prepare`` once, then ``loss(x, y, index).backward()`` per batch
   (:func:`check_one_batch`): the loss is a finite scalar, the logits are (batch, classes), the logs are detached
   finite scalars, and every network the method trains gets a finite, non-zero gradient;
3. a resumed run restores the method with ``load_state_dict`` of what ``state_dict`` returned, saved with
   ``torch.save`` and never calls ``prepare`` again (:func:`check_state_round_trip`): the restored method must
   compute the same loss on the same batch.

:func:`check_method` runs all three. A plugin's test calls it on the plugin's own method::

    import sys; sys.path.insert(0, "<limitlab checkout>/tests/extending")   # or copy this file
    from limitlab_contracts import check_method

    def test_boot_keeps_limitlabs_method_contracts():
        check_method("boot", {"method": "boot", "beta": 0.9})

A dataset entry (``limitlab.data.registry.DATASET_REGISTRY``) must describe itself consistently
(:func:`check_dataset_info`) and agree with the canonical file it builds (:func:`check_dataset_file`); where it can
be built here, its builder must write the same arrays every time (:func:`check_dataset` runs all three: a plugin's
test calls it on the plugin's dataset, ``check_dataset("sk_digits", tmp_path)``).

Everything runs on the CPU on a fake MNIST-shaped dataset (1×28×28, 10 classes): a fraction of a second per call.
"""

from __future__ import annotations

import copy
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from pydantic import TypeAdapter
from torch import nn

from limitlab.data.registry import DatasetInfo
from limitlab.methods import REGISTRY, Context, Method, MethodConfig, StepOutput

# A fake MNIST-shaped dataset: what build_networks reads from a DatasetInfo (cnn4 needs 28×28).
FAKE_INFO = DatasetInfo(name="contract_mnist", num_classes=10, channels=1, image_size=28, n_train_raw=64,
                        mean=(0.5,), std=(0.25,), class_names=tuple(str(k) for k in range(10)), pairs=None,
                        kind="tensor")
N_TRAIN = 64  # training examples that prepare()'s predict_train sees


# --- configs ------------------------------------------------------------------------------------------------

def method_class(name: str) -> type[Method]:
    assert name in REGISTRY, f"{name!r} is not a registered method (registered: {', '.join(REGISTRY)})"
    cls = REGISTRY[name]
    assert isinstance(cls, type) and issubclass(cls, Method), f"{name}: the registry entry {cls!r} is not a Method"
    assert issubclass(cls.Config, MethodConfig), f"{name}: {cls.__name__}.Config must derive from MethodConfig"
    literal = getattr(cls.Config.model_fields["method"].annotation, "__args__", (None,))
    assert literal == (name,), f"{name}: Config.method must be Literal[{name!r}], is {literal}"
    assert cls.name == name, f"{name}: the class says its name is {cls.name!r}"
    return cls


def default_config(name: str) -> dict[str, Any]:
    """The smallest config a plugin's method may accept without help: its name, plus an init block if it needs one."""
    cls = method_class(name)
    return {"method": name, **({"init": {}} if cls.Config.REQUIRES_INIT else {})}


def _json_round_trip(model: MethodConfig, validate) -> MethodConfig:
    text = model.model_dump_json()
    json.loads(text)  # plain JSON, nothing pydantic-specific
    return validate(text)


def check_config_round_trip(name: str, config: Mapping[str, Any]) -> MethodConfig:
    """``config`` validates, its JSON validates back equal (alone and through the params schema's union of every
    registered method's config), and so does each grid point's config (what a run's spec carries).
    Returns the config of the first grid point: what one training run gets."""
    from limitlab.experiment.schema import MethodEntry

    cls = method_class(name)
    cfg = cls.Config.model_validate(dict(config))
    assert cfg.method == name
    if cls.Config.REQUIRES_INIT:
        assert cfg.init is not None, f"{name} requires an init block (REQUIRES_INIT); the contract config lacks one"
    union = TypeAdapter(MethodEntry)
    back = _json_round_trip(cfg, cls.Config.model_validate_json)
    assert back == cfg, f"{name}: config changed through JSON:\n{cfg!r}\n->\n{back!r}"
    via_union = _json_round_trip(cfg, union.validate_json)
    assert type(via_union) is cls.Config and via_union == cfg, \
        f"{name}: the params schema's method union reads the config back as {via_union!r}"
    points = cfg.points()
    assert points, f"{name}: points() is empty: the config would train no run"
    for point in points:
        assert set(point) <= set(cfg.grid_fields()), f"{name}: point {point} names a field that is not a grid field"
        one = cfg.at(point)
        assert _json_round_trip(one, cls.Config.model_validate_json) == one, f"{name}: point {point} not JSON-stable"
        for field_name in cfg.grid_fields():
            assert not isinstance(getattr(one, field_name), list), f"{name}: {field_name} still a grid at {point}"
    return cfg.at(points[0])


# --- one batch ----------------------------------------------------------------------------------------------

@dataclass
class Batch:
    x: torch.Tensor
    y: torch.Tensor
    index: torch.Tensor


def make_batch(batch_size: int, info: DatasetInfo = FAKE_INFO, seed: int = 1) -> Batch:
    """Random normalised inputs and random labels. With ``batch_size >= num_classes`` every class appears at least
    once: DMI's loss −log(|det(YᵀP)| + 0.001) is flat (exactly zero gradient, by design) on a batch lacking a class."""
    g = torch.Generator().manual_seed(seed)
    K = info.num_classes
    x = torch.randn(batch_size, info.channels, info.image_size, info.image_size, generator=g)
    if batch_size >= K:
        y = torch.cat([torch.arange(K), torch.randint(0, K, (batch_size - K,), generator=g)])
        y = y[torch.randperm(batch_size, generator=g)]
    else:
        y = torch.randint(0, K, (batch_size,), generator=g)
    index = torch.randperm(N_TRAIN, generator=g)[:batch_size]
    return Batch(x, y, index)


def _spec(info: DatasetInfo, arch: str) -> SimpleNamespace:
    """What build_networks reads of a run spec: its model block and dataset name."""
    from limitlab.experiment.schema import ModelConfig

    return SimpleNamespace(model=ModelConfig(arch=arch), dataset=SimpleNamespace(name=info.name))


def _context(info: DatasetInfo, seed: int) -> Context:
    # as _Run.build: the run's generator, and the true noise (methods that assume it known read it: Pumpout/BC)
    from limitlab.data.noise.transition import transition_matrix

    return Context(num_classes=info.num_classes, generator=torch.Generator().manual_seed(seed),
                   device=torch.device("cpu"),
                   info={"p": 0.5, "transition": transition_matrix("uniform", 0.5, info.num_classes)})


def _copy_init(target: nn.Module, state: dict[str, torch.Tensor], how: str) -> None:
    """What limitlab.training.checkpoints.load_init does with the source classifier's state dict."""
    if how == "parameters":
        with torch.no_grad():
            for pname, p in target.named_parameters():
                p.copy_(state[pname])
    else:
        own = target.state_dict()
        bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
        assert not bad, f"the init source does not fit the target network: {bad[:5]}"
        target.load_state_dict(state, strict=False)


@dataclass
class Built:
    method: Method
    networks: nn.ModuleDict
    prepared: dict[str, Any]
    info: DatasetInfo
    arch: str
    seed: int
    generator_state: torch.Tensor = field(repr=False, default=None)  # the run generator just before the batch


def build_method(name: str, cfg: MethodConfig, *, info: DatasetInfo = FAKE_INFO, arch: str = "cnn4",
                 seed: int = 0, epoch: int = 0) -> Built:
    """The method as the training loop builds it (limitlab.training.loop._Run.build), init copied and prepared."""
    from limitlab.training.networks import build_networks

    cls = method_class(name)
    spec = _spec(info, arch)
    torch.manual_seed(seed)
    networks = build_networks(spec, info, cls.uses_q, getattr(cls, "head_bias", True))
    assert isinstance(networks, nn.ModuleDict) and "classifier" in networks
    assert ("q" in networks) == bool(cls.uses_q)
    method = cls(cfg, networks, _context(info, seed))
    source = None
    if cfg.init is not None:
        # the init source: a freshly built plain classifier (what a CE run saves), copied as load_init does
        source = build_networks(spec, info, uses_q=False)["classifier"].state_dict()
        _copy_init(networks[cfg.init.target], source, cfg.init.state)
    train_x = torch.randn(N_TRAIN, info.channels, info.image_size, info.image_size,
                          generator=torch.Generator().manual_seed(seed + 1))

    def predict_train(net: nn.Module) -> torch.Tensor:  # as loop.predict: eval mode, no gradient, mode restored
        was = net.training
        net.eval()
        with torch.no_grad():
            out = net(train_x).float()
        net.train(was)
        return out

    prepared = method.prepare(predict_train, copy.deepcopy(source) if source is not None else None)
    assert isinstance(prepared, dict), f"{name}: prepare() must return a dict, not {type(prepared).__name__}"
    json.dumps(prepared)  # stored in the run's result.json
    networks.train()  # as train_epoch
    method.on_epoch_start(epoch)
    assert method.ctx.epoch == epoch, f"{name}: on_epoch_start({epoch}) must keep Context.epoch (the base class sets it)"
    return Built(method, networks, prepared, info, arch, seed)


def _finite_scalar(t: Any, what: str) -> None:
    assert isinstance(t, torch.Tensor), f"{what} is a {type(t).__name__}, not a tensor"
    assert t.dim() == 0, f"{what} has shape {tuple(t.shape)}, not a scalar"
    assert t.is_floating_point(), f"{what} has dtype {t.dtype}"
    assert torch.isfinite(t).item(), f"{what} is {t.item()}"


def run_batch(built: Built, batch: Batch) -> StepOutput:
    built.generator_state = built.method.ctx.generator.get_state()
    out = built.method.loss(batch.x, batch.y, batch.index)
    assert isinstance(out, StepOutput), f"loss() must return a StepOutput, not {type(out).__name__}"
    return out


def check_one_batch(name: str, built: Built, batch: Batch, no_gradient: Sequence[str] = ()) -> StepOutput:
    """One training step's forward and backward. ``no_gradient`` names the networks that by design get none on
    this batch (e.g. LIMIT's classifier during warm-up): their gradients must be absent or zero."""
    networks = built.networks
    unknown = set(no_gradient) - set(networks)
    assert not unknown, f"no_gradient names networks {sorted(unknown)} that {name} does not have"
    networks.zero_grad(set_to_none=True)
    out = run_batch(built, batch)
    _finite_scalar(out.loss, f"{name}: loss")
    assert out.loss.requires_grad, f"{name}: the loss does not depend on any parameter"
    K = built.info.num_classes
    assert tuple(out.logits.shape) == (len(batch.y), K), \
        f"{name}: logits have shape {tuple(out.logits.shape)}, expected {(len(batch.y), K)}"
    assert torch.isfinite(out.logits).all(), f"{name}: logits are not finite"
    for key, value in out.logs.items():  # averaged per epoch by train_epoch: detached finite scalars
        assert isinstance(key, str) and key != "train_loss", f"{name}: log key {key!r}"
        _finite_scalar(value, f"{name}: log {key!r}")
        assert not value.requires_grad, f"{name}: log {key!r} is not detached (keeps every batch's graph alive)"
    out.loss.backward()
    norms = {}
    for net_name, net in networks.items():
        total = 0.0
        for pname, p in net.named_parameters():
            where = f"{name}: {net_name}.{pname}"
            if p.grad is None:
                assert net_name in no_gradient, f"{where} gets no gradient"
                continue
            assert torch.isfinite(p.grad).all(), f"{where} has a non-finite gradient"
            total += float(p.grad.abs().sum())
        norms[net_name] = total
        if net_name in no_gradient:
            assert total == 0.0, f"{name}: {net_name} should get no gradient by design, got |g|₁ = {total:g}"
        else:
            assert total > 0.0, f"{name}: every gradient of {net_name} is zero (the method does not train it)"
    assert any(v > 0 for v in norms.values()), f"{name}: no network gets a non-zero gradient ({norms})"
    return out


# --- state --------------------------------------------------------------------------------------------------

def _assert_same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and np.array_equal(a, b), where
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for k in a:
            _assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            _assert_same(u, v, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def check_state_round_trip(name: str, built: Built, batch: Batch, loss: torch.Tensor) -> None:
    """``state_dict()`` survives torch.save/torch.load as a resume state does (checkpoints.save_state /
    load_resume_state); a method built afresh and restored from it, without prepare(), reproduces ``loss`` on the
    same batch with the run generator in the same state (as restore_rng leaves it)."""
    state = built.method.state_dict()
    assert isinstance(state, dict), f"{name}: state_dict() must return a dict, not {type(state).__name__}"
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    loaded = torch.load(buf, map_location="cpu", weights_only=False)
    _assert_same(state, loaded, f"{name}: state_dict() after torch.save/load")
    cls = method_class(name)
    fresh = cls(built.method.cfg, built.networks, _context(built.info, built.seed))
    fresh.load_state_dict(loaded)
    _assert_same(state, fresh.state_dict(), f"{name}: state_dict() of the restored method")
    fresh.on_epoch_start(built.method.ctx.epoch)
    fresh.ctx.generator.set_state(built.generator_state)
    again = fresh.loss(batch.x, batch.y, batch.index).loss
    torch.testing.assert_close(again.detach(), loss.detach(), rtol=1e-6, atol=1e-7,
                               msg=lambda m: f"{name}: the restored method computes another loss: {m}")


# --- all together -------------------------------------------------------------------------------------------

def check_method(name: str, config: Mapping[str, Any] | None = None, *, epoch: int = 0,
                 no_gradient: Sequence[str] = (), batch_size: int = 16, arch: str = "cnn4",
                 seed: int = 0) -> dict[str, Any]:
    """Every contract of the registered method ``name`` with ``config`` (default: :func:`default_config`), on one
    batch at ``epoch``. Returns what prepare() returned, for further checks of the caller's own."""
    cfg = check_config_round_trip(name, config if config is not None else default_config(name))
    built = build_method(name, cfg, arch=arch, seed=seed, epoch=epoch)
    batch = make_batch(batch_size, built.info, seed=seed + 2)
    out = check_one_batch(name, built, batch, no_gradient)
    check_state_round_trip(name, built, batch, out.loss)
    return built.prepared


# --- datasets -----------------------------------------------------------------------------------------------

def check_dataset_info(key: str, info: DatasetInfo) -> None:
    """The static facts of a dataset entry agree with each other."""
    assert isinstance(info, DatasetInfo), f"{key}: entry is a {type(info).__name__}"
    assert info.name == key, f"registered as {key!r} but named {info.name!r}"
    K = info.num_classes
    assert isinstance(K, int) and K >= 2, f"{key}: num_classes = {K!r}"
    assert len(info.class_names) == K, f"{key}: {len(info.class_names)} class names for {K} classes"
    assert len(set(info.class_names)) == K and all(isinstance(c, str) and c for c in info.class_names), \
        f"{key}: class names must be distinct non-empty strings"
    assert isinstance(info.channels, int) and info.channels >= 1, f"{key}: channels = {info.channels!r}"
    assert len(info.mean) == len(info.std) == info.channels, \
        f"{key}: {len(info.mean)} means and {len(info.std)} stds for {info.channels} channel(s)"
    assert all(math.isfinite(m) and 0.0 <= m <= 1.0 for m in info.mean), f"{key}: mean {info.mean} not in [0, 1]"
    assert all(math.isfinite(s) and s > 0.0 for s in info.std), f"{key}: std {info.std} must be positive"
    assert isinstance(info.image_size, int) and info.image_size > 0, f"{key}: image_size = {info.image_size!r}"
    assert info.n_train_raw is None or (isinstance(info.n_train_raw, int) and info.n_train_raw > 0), \
        f"{key}: n_train_raw = {info.n_train_raw!r}"
    assert info.kind in ("tensor", "files"), f"{key}: kind {info.kind!r}"
    if info.pairs is not None:
        sources = [s for s, _ in info.pairs]
        assert len(set(sources)) == len(sources), f"{key}: a class flips to two classes in pairs {info.pairs}"
        for s, d in info.pairs:
            assert 0 <= s < K and 0 <= d < K and s != d, f"{key}: pair ({s}, {d}) out of 0..{K - 1} or a self-flip"


def check_dataset_file(key: str, info: DatasetInfo, path: Path):
    """A canonical file of the dataset loads against the entry (load_canonical checks names, dtypes, shapes (N, C,
    S, S) as the entry says, and label ranges), holds n_train_raw training examples and every class in both splits.
    Returns the dataset, loaded."""
    from limitlab.data.canonical import load_canonical

    data = load_canonical(path, key)
    assert data.info == info
    if info.n_train_raw is not None:
        assert data.n_train_raw == info.n_train_raw, \
            f"{key}: {path} holds {data.n_train_raw} training examples, the entry says {info.n_train_raw}"
    for split in ("train", "test"):
        y = getattr(data, f"{split}_y")
        assert len(y) and 0 <= y.min() and y.max() < info.num_classes, f"{key}: {split} labels outside 0..K-1"
        counts = np.bincount(y, minlength=info.num_classes)
        assert (counts > 0).all(), f"{key}: class(es) {np.flatnonzero(counts == 0).tolist()} absent from {split}"
        if info.kind == "tensor":
            x = getattr(data, f"{split}_x")
            assert x.shape == (len(y), info.channels, info.image_size, info.image_size) and x.dtype == np.uint8, \
                f"{key}: {split}_x is {x.dtype} {x.shape}"
    return data


def check_dataset(name: str, workdir: Path, raw_root: Path | None = None):
    """Every contract of the registered dataset ``name``: its facts agree with each other (:func:`check_dataset_info`);
    its builder, run by ``limitlab download`` twice into ``workdir``, writes files that agree with the facts
    (:func:`check_dataset_file`) and have one content identity (the same arrays both times; run identities build on
    it); the metadata records the sizes and, for a plugin's dataset, its package and version. ``raw_root`` is where
    the builder may keep downloads (default ``workdir/raw``, reused by the second build). Returns the dataset."""
    from limitlab.data.canonical import metadata_path
    from limitlab.data.content_identity import dataset_id
    from limitlab.data.download import download
    from limitlab.data.registry import DATASET_REGISTRY

    assert name in DATASET_REGISTRY, f"{name!r} is not a registered dataset (registered: {', '.join(DATASET_REGISTRY)})"
    entry, origin = DATASET_REGISTRY[name], DATASET_REGISTRY.origin(name)
    check_dataset_info(name, entry.info)
    built = []
    for attempt in ("first", "second"):
        (Path(workdir) / attempt).mkdir(parents=True, exist_ok=True)
        built.append(download(name, Path(raw_root or Path(workdir) / "raw"), Path(workdir) / attempt / f"{name}.npz"))
    first, second = (dataset_id(path) for path in built)
    assert first == second, f"{name}: two builds hold different arrays (content identity {first[:12]} / {second[:12]})"
    data = check_dataset_file(name, entry.info, built[0])
    meta = json.loads(metadata_path(built[0]).read_text())
    assert meta["sizes"] == {"train": len(data.train_y), "test": len(data.test_y), **(
        {"fixed_val": len(data.fixed_val_index)} if entry.info.kind == "files" else {})}
    json.dumps(meta["source"])  # the builder's description of its source is plain JSON
    if not origin.builtin:
        assert meta["source"]["plugin"] == {"package": origin.distribution, "version": origin.version,
                                            "entry_point": origin.entry_point}, meta["source"]
    return data


# --- noise models (limitlab.data.noise.transition.NOISE_REGISTRY) ----------------------------------------------


def check_noise_model(name: str, p: float = 0.4, num_classes: int = 10, pairs=((2, 7), (3, 8)),
                      n_per_class: int = 400) -> None:
    """A class-conditional noise model keeps its contract: a row-stochastic K x K matrix at rate ``p``; drawn labels
    in 0..K-1; the same seed draws the same labels, another seed others; the realised wrong-label fraction matches
    the matrix's expected one (sum over classes of (1 - T_ii) / K on balanced labels) within 4 standard errors; the
    labels summary records the realised rate and the model's definition."""
    import numpy as np

    from limitlab.data.labels_file import summarize
    from limitlab.data.noise.class_conditional import corrupt
    from limitlab.data.noise.transition import NOISE_MODELS, NOISE_REGISTRY, transition_matrix

    assert name in NOISE_REGISTRY and NOISE_MODELS[name], f"{name}: registered with a one-line definition"
    T = transition_matrix(name, p if NOISE_REGISTRY[name].needs_p else 0.0, num_classes, pairs=pairs)
    assert T.shape == (num_classes, num_classes) and np.allclose(T.sum(1), 1.0) and (T >= 0).all()
    clean = np.repeat(np.arange(num_classes), n_per_class)
    draws = [corrupt(clean, T, seed=seed, n="all", val_ratio=0.2, noise=name, p=p) for seed in (1, 1, 2)]
    a, b, c = draws
    assert ((a.train_noisy >= 0) & (a.train_noisy < num_classes)).all(), f"{name}: labels outside 0..K-1"
    assert (a.train_noisy == b.train_noisy).all() and (a.train_index == b.train_index).all(), f"{name}: not seeded"
    if (T != np.eye(num_classes)).any():
        assert (a.train_noisy != c.train_noisy).any(), f"{name}: another seed drew the same labels"
    expected = float((1.0 - np.diag(T)).mean())
    realised = float((a.train_noisy != a.train_clean).mean())
    se = max((expected * (1 - expected) / len(a.train_noisy)) ** 0.5, 1e-9)
    assert abs(realised - expected) <= 4 * se + 1e-12, f"{name}: realised {realised:.4f}, expected {expected:.4f}"
    summary = summarize(a)
    assert summary["realised_noise_rate"]["train"] == pytest_approx(realised), f"{name}: realised rate not recorded"
    assert summary.get("noise_definition") == NOISE_MODELS[name], f"{name}: definition not recorded"


def pytest_approx(x: float):
    import pytest

    return pytest.approx(x, abs=1e-9)
