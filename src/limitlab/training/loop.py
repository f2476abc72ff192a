"""The training loop shared by every method: Adam, noisy-validation model selection, early stopping, resume.

The loop knows nothing about methods: it asks ``method.loss(x, y, index)`` for a scalar, backpropagates it
and steps one Adam over every network of the run. State (networks, optimizer, RNGs, history, early-stopping
counters) is checkpointed atomically after every epoch, so a killed run restarted with the same spec resumes
from its last completed epoch and ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from limitlab import io
from limitlab.data import datasets
from limitlab.training import networks as models
from limitlab.data import noise_all as noise
from limitlab.training import susceptibility
from limitlab.errors import DivergedError, LimitlabError
from limitlab.experiment.grid import RunSpec
from limitlab.training.batches import FileSplit, ImageTensors, Split
from limitlab.methods import REGISTRY, Context, Method

STATE_DIR = "state"  # resume state; not a pipeline output, so Snakemake never deletes it on failure
TIMING = "timing.json"  # per-epoch wall-clock times of the training loop; not a pipeline output, not DVC-tracked


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LimitlabError(f"training.device is {name!r} but CUDA is not available here (use 'auto' or 'cpu')")
    return dev


def seed_everything(seed: int) -> None:
    """Seed torch's global RNGs (init, dropout). The authors seeded only NumPy; we seed everything."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


@dataclass
class RunData:
    train: Split
    val: Split
    test: Split
    info: datasets.DatasetInfo
    transition: np.ndarray | None = None  # the setting's true T (labels file), for methods that assume it known


def load_run_data(spec: RunSpec, device: torch.device, channels_last: bool) -> RunData:
    canon = datasets.load_canonical(spec.data_path)
    info = canon.info
    labels = io.load_npz(spec.labels_path, "labels file")
    n_pool = len(canon.train_files) if info.kind == "files" else len(canon.train_y)
    noise.check_labels(labels, spec.labels_path, n_pool, info.num_classes, spec.n)
    if info.kind == "files":
        return _file_run_data(spec, canon, labels, device, channels_last)
    augment = spec.dataset.augmentation
    train_images = ImageTensors(canon.train_x, info.mean, info.std, device, augment, spec.dataset.crop_padding,
                                channels_last)
    test_images = ImageTensors(canon.test_x, info.mean, info.std, device, "none", 0, channels_last)

    def t(a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=torch.long, device=device)

    n_test = len(canon.test_y)
    return RunData(
        train=Split(train_images, t(labels["train_noisy"]), t(labels["train_clean"]), t(labels["train_index"])),
        val=Split(train_images, t(labels["val_noisy"]), t(labels["val_clean"]), t(labels["val_index"])),
        test=Split(test_images, t(canon.test_y), t(canon.test_y), torch.arange(n_test, device=device)),
        info=info,
        transition=labels.get("transition"),
    )


def _file_run_data(spec: RunSpec, canon, labels, device, channels_last) -> RunData:
    """Clothing1M: labels on the device, images streamed from disk by DataLoader workers."""
    info = canon.info

    def split(files, index, noisy, clean):
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.long, device=device)  # noqa: E731
        return FileSplit(np.asarray(files), t(noisy), t(clean), t(index), info.mean, info.std, device,
                         spec.training.num_workers, channels_last)

    return RunData(
        train=split(canon.train_files, labels["train_index"], labels["train_noisy"], labels["train_clean"]),
        val=split(canon.train_files, labels["val_index"], labels["val_noisy"], labels["val_clean"]),
        test=split(canon.test_files, np.arange(len(canon.test_y)), canon.test_y, canon.test_y),
        info=info,
        transition=labels.get("transition"),
    )


def build_networks(spec: RunSpec, info: datasets.DatasetInfo, uses_q: bool, head_bias: bool = True) -> nn.ModuleDict:
    arch = spec.model.resolve(spec.dataset.name)
    common = dict(num_classes=info.num_classes, in_channels=info.channels, image_size=info.image_size)
    nets = {"classifier": models.build(arch, **common, dropout=spec.model.dropout, pretrained=spec.model.pretrained,
                                       head_bias=head_bias)}
    if uses_q:
        q_arch = arch if spec.model.q_arch == "same" else spec.model.q_arch
        nets["q"] = models.build(q_arch, **common, q_network=True)
    if spec.model.bn_warmup == "authors":
        shape = (info.channels, info.image_size, info.image_size)
        for name, net in nets.items():
            models.authors_shape_passes(net, shape, include_head=head_bias or name != "classifier")
    return nn.ModuleDict(nets)


def adam(networks: nn.ModuleDict, t) -> torch.optim.Optimizer:
    """One Adam over every network; coupled L2 (Adam's weight_decay) only on weights, not biases or 1-D params."""
    decay, no_decay = [], []
    for name, p in networks.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": t.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.Adam(groups, lr=t.lr, betas=t.betas, eps=t.eps)


@torch.no_grad()
def predict(net: nn.Module, split: Split, batch_size: int, autocast: bool = False) -> torch.Tensor:
    """Eval-mode logits of ``net`` on every example of ``split`` (float32, on the split's device)."""
    was_training = net.training
    net.eval()
    out = []
    order = torch.arange(len(split), device=split.noisy.device)
    for x, _ in split.iterate(order, batch_size, train=False):
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            out.append(net(x).float())
    net.train(was_training)
    return torch.cat(out)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Exact accuracy (the authors averaged per-batch accuracies; we count every example once)."""
    return float((logits.argmax(1) == labels).float().mean())


def load_init(spec: RunSpec, networks: nn.ModuleDict, info: datasets.DatasetInfo) -> dict[str, torch.Tensor]:
    """Copy the selected model of the init source run into the target network (classifier or q).

    Returns the source classifier's complete state dict (BatchNorm running statistics included, whatever
    ``init.state`` copied), for methods that use the source model itself (FW estimates T̂ with it)."""
    init = spec.method.init
    path = Path(spec.init_dir) / "model.pt"
    if not path.is_file():
        raise LimitlabError(f"{spec.method_id}: init checkpoint {path} does not exist; train the "
                            f"{init.source!r} run of this setting first (the pipeline does this automatically)")
    ckpt = io.load_torch(path, f"{spec.method_id}: init checkpoint (model.pt of the {init.source!r} run, written by "
                         "the train stage)", f"delete it and train that run again (the pipeline does this when the "
                         f"file is missing; by hand: limitlab train --spec ... for run {spec.init_dir})",
                         required=("networks", "meta"))
    if "classifier" not in ckpt["networks"]:
        raise LimitlabError(f"{spec.method_id}: init checkpoint {path} has no classifier network; train the "
                            f"{init.source!r} run again")
    target = networks[init.target]
    meta = ckpt.get("meta", {})
    want = {"dataset": spec.dataset.name, "arch": getattr(target, "arch", None), "num_classes": info.num_classes}
    for k, v in want.items():
        if meta.get(k) != v:
            raise LimitlabError(f"{spec.method_id}: init checkpoint {path} has {k}={meta.get(k)!r} but this run "
                                f"needs {k}={v!r} (init.source must be a run of the same dataset and architecture)")
    state = ckpt["networks"]["classifier"]
    if init.state == "parameters":  # the authors' behaviour: named parameters only, BN running stats untouched
        params = dict(target.named_parameters())
        missing = set(params) - set(state)
        if missing:
            raise LimitlabError(f"{spec.method_id}: init checkpoint {path} lacks parameters {sorted(missing)[:5]}")
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state[name])
    else:
        # The MNIST q-network has one extra BatchNorm1d; the classifier's tensors are a subset of its state
        # dict, so a non-strict load is exact for every tensor the source has. Anything else must fit.
        own = target.state_dict()
        bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
        if bad:
            raise LimitlabError(f"{spec.method_id}: init checkpoint {path} does not fit the {init.target} "
                                f"network (unexpected or differently shaped tensors: {bad[:5]})")
        target.load_state_dict(state, strict=False)
    return state


@dataclass
class Progress:
    """Rich progress bar on a terminal; one plain line per epoch otherwise (cluster logs)."""

    label: str
    epochs: int
    batches: int
    live: bool = field(default_factory=lambda: sys.stdout.isatty())

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress, TextColumn, TimeElapsedColumn

            self._p = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                   TimeElapsedColumn(), TextColumn("{task.fields[stats]}"))
            self._p.__enter__()
            self._epochs = self._p.add_task(self.label, total=self.epochs, stats="")
            self._batches = self._p.add_task("  batches", total=self.batches, stats="")
        return self

    def __exit__(self, *exc):
        if self.live:
            self._p.__exit__(*exc)

    def batch(self, i: int, loss: float) -> None:
        if self.live:
            self._p.update(self._batches, completed=i, stats=f"loss {loss:.4f}")

    def epoch(self, row: dict) -> None:
        text = (f"epoch {row['epoch']:>3}  loss {row['train_loss']:.4f}  train(noisy) {row['train_acc_noisy']:.4f}  "
                f"val {row['val_acc']:.4f}" + (f"  test {row['test_acc']:.4f}" if "test_acc" in row else "")
                + f"  {row['time_s']:.1f}s")
        if self.live:
            self._p.update(self._epochs, completed=row["epoch"] + 1, stats=text)
            self._p.reset(self._batches)
        else:
            print(f"[{self.label}] {text}", flush=True)


def train_epoch(method: Method, optimizer: torch.optim.Optimizer, split: Split, batch_size: int,
                generator: torch.Generator, autocast: bool = False, where: str = "",
                on_batch=None) -> dict[str, float]:
    """One pass over ``split`` in a random order: the method's loss, backward, one optimizer step per batch.

    Returns the epoch means of the loss and the method's logs, and the training accuracy against the noisy
    and the clean labels (train mode, as the batches were seen: the memorisation signal).
    """
    method.on_epoch_start(method.ctx.epoch)
    method.networks.train()
    device = split.noisy.device
    order = torch.randperm(len(split), generator=generator, device=device)
    sums: dict[str, torch.Tensor] = {}
    correct_noisy = torch.zeros((), device=device)
    correct_clean = torch.zeros((), device=device)
    for i, (x, pos) in enumerate(split.iterate(order, batch_size, True, generator)):
        y = split.noisy[pos]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            out = method.loss(x, y, split.index[pos])
        if not torch.isfinite(out.loss):
            raise DivergedError(f"{where or method.name} diverged at batch {i}: loss is {out.loss.item()}; "
                                "no checkpoint was written for this epoch")
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()
        pred = out.logits.detach().argmax(1)
        correct_noisy += (pred == y).sum()
        correct_clean += (pred == split.clean[pos]).sum()
        for k, v in {"train_loss": out.loss.detach(), **out.logs}.items():
            sums[k] = sums.get(k, 0.0) + v.float() * len(pos)
        if on_batch is not None:
            on_batch(i + 1, float(out.loss))
    n = len(split)
    return {**{k: float(v) / n for k, v in sums.items()},
            "train_acc_noisy": float(correct_noisy) / n, "train_acc_clean": float(correct_clean) / n}


def _use_fast_cuda(flag, arch: str, device: torch.device) -> bool:
    return bool(device.type == "cuda" and (arch.startswith("resnet") if flag == "auto" else flag))


def train(spec: RunSpec, *, resume: bool = True) -> dict[str, Any]:
    """Train one run to completion (or early stop); write model.pt, history.csv and result.json in run_dir."""
    t = spec.training
    run_dir = Path(spec.run_dir)
    state_dir = run_dir / STATE_DIR
    device = pick_device(t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    seed_everything(spec.seed)
    arch = spec.model.resolve(spec.dataset.name)
    # channels-last convolutions are faster on CPU too (2.3x for cnn4 on 2 cores, see docs/performance.md)
    channels_last = arch != "mlp4" if t.channels_last == "auto" else t.channels_last
    autocast = _use_fast_cuda(t.bf16, arch, device)

    data = load_run_data(spec, device, channels_last)
    method_cls: type[Method] = REGISTRY[spec.method.method]
    networks = build_networks(spec, data.info, method_cls.uses_q, getattr(method_cls, "head_bias", True)).to(device)
    if channels_last:
        networks = networks.to(memory_format=torch.channels_last)
    if t.compile:
        for net in networks.values():
            net.compile()  # in place: state-dict keys stay the same, so checkpoints are interchangeable
    generator = torch.Generator(device=device)
    generator.manual_seed(spec.seed)
    # methods that assume the noise known (Pumpout/BC, SIGUA) read the true T and p from info
    ctx = Context(num_classes=data.info.num_classes, generator=generator, device=device,
                  info={"p": spec.p, "transition": data.transition})
    method = method_cls(spec.method, networks, ctx)
    optimizer = adam(networks, t)

    last = state_dir / "last.pt"
    # loaded onto the CPU: RNG states must stay CPU ByteTensors (set_rng_state rejects CUDA tensors), and
    # load_state_dict moves network and optimizer tensors to the device of the parameters they belong to
    st = load_resume_state(state_dir, spec, resume)
    if st is not None:
        networks.load_state_dict(st["networks"])
        optimizer.load_state_dict(st["optimizer"])
        method.load_state_dict(st["method"])
        restore_rng(st, generator, device)
        history, best, prepared, start = st["history"], st["best"], st["prepared"], st["epoch"] + 1
    else:
        source = None
        if spec.method.init is not None:
            source = load_init(spec, networks, data.info)
        prepared = method.prepare(lambda net: predict(net, data.train, t.eval_batch_size, autocast), source)
        history, best, start = [], {"epoch": -1, "val_acc": -math.inf, "last_best_epoch": 0}, 0

    probe = (susceptibility.Probe.from_validation(data.val, data.info.num_classes, spec.seed, t.susceptibility_batch)
             if t.susceptibility else None)
    label = f"{spec.method_id} {spec.setting_path}"
    n_batches = math.ceil(len(data.train) / t.batch_size)
    stopped_early = should_stop(history, best, t.patience)  # a resumed run that had already stopped
    diverged = None
    with Progress(label, t.epochs, n_batches) as progress:
        for epoch in range(start, t.epochs):
            if stopped_early:
                break
            tic = time.perf_counter()
            method.ctx.epoch = epoch
            # one restored step on random labels from the epoch's starting state (training is unaffected)
            delta = probe.delta(method, optimizer, epoch, autocast) if probe is not None else None
            try:
                stats = train_epoch(method, optimizer, data.train, t.batch_size, generator, autocast,
                                    where=f"{spec.method_id} ({spec.method.method}) at epoch {epoch}",
                                    on_batch=progress.batch if progress.live else None)
            except DivergedError as exc:
                if best["epoch"] < 0:  # nothing to fall back on: the run fails
                    raise
                # the authors' behaviour: training ends, the best checkpoint saved before the divergence is
                # tested and competes in model selection; the result records that the run diverged
                diverged = {"epoch": epoch, "reason": str(exc)}
                print(f"[{spec.method_id}] {exc}; keeping the best checkpoint (epoch {best['epoch']})", flush=True)
                break
            row = {"epoch": epoch, **stats}
            val_logits = predict(networks["classifier"], data.val, t.eval_batch_size, autocast)
            row["val_acc"] = accuracy(val_logits, data.val.noisy)
            row["val_acc_clean"] = accuracy(val_logits, data.val.clean)
            if t.log_test:
                row["test_acc"] = accuracy(predict(networks["classifier"], data.test, t.eval_batch_size, autocast),
                                           data.test.clean)
            if probe is not None:
                row.update(susceptibility.history_columns(history, delta))
            row["time_s"] = time.perf_counter() - tic
            history.append(row)
            if row["val_acc"] > best["val_acc"]:
                best = {"epoch": epoch, "val_acc": row["val_acc"], "last_best_epoch": epoch}
                io.save_torch(state_dir / "best.pt", {"networks": networks.state_dict(), "epoch": epoch})
            _save_state(last, spec, epoch, networks, optimizer, method, generator, device, history, best, prepared)
            progress.epoch(row)
            stopped_early = should_stop(history, best, t.patience)

    return _finish(spec, networks, data, method_cls, history, best, prepared, stopped_early, autocast, device,
                   diverged)


def should_stop(history: list[dict], best: dict, patience: int | None) -> bool:
    """Early stopping as the authors' loop: checked after each epoch's validation pass (0-based epochs),
    stop once ``epoch − last_best_epoch ≥ patience``. A best at epoch b can thus still be replaced at
    epoch b + patience − 1 and training ends after epoch b + patience."""
    if patience is None or not history:
        return False
    return history[-1]["epoch"] - best["last_best_epoch"] >= patience


def restore_rng(st: dict, generator: torch.Generator, device: torch.device) -> None:
    """Restore the batch-order generator and torch's global RNGs from a resume state.

    ``set_rng_state`` / ``cuda.set_rng_state`` take CPU ByteTensors only, whatever device the run uses, and
    the generator takes its state on its own device; a state loaded onto another device is moved first."""
    generator.set_state(st["generator"].to(generator.get_state().device))
    torch.set_rng_state(st["torch_rng"].cpu())
    if device.type == "cuda" and st.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(st["cuda_rng"].cpu(), device)


STATE_KEYS = ("spec", "epoch", "networks", "optimizer", "method", "generator", "torch_rng", "history", "best",
              "prepared")


def load_resume_state(state_dir: Path, spec: RunSpec, resume: bool = True) -> dict[str, Any] | None:
    """Make ``state_dir`` ready and return the resume state it holds (loaded to the CPU), or None for epoch 0.

    A kill can leave partial or stale state; each case is one printed line, never a traceback:
    a file where the folder should be is removed; unfinished ``.*.tmp`` files are removed; a ``last.pt`` that
    is empty, truncated, not a torch file, lacks an entry (e.g. the optimizer) or was written for another spec
    is removed and the run starts over; a ``best.pt`` that is missing or damaged is rebuilt from ``last.pt``
    when the best epoch is the last one, otherwise the run starts over (the selected model would be lost).
    """
    def say(text: str) -> None:
        print(f"[{spec.method_id}] {text}", flush=True)

    if state_dir.exists() and not state_dir.is_dir():
        state_dir.unlink()
        say(f"{state_dir} was a file, not the resume-state folder: removed it; starting from epoch 0")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise io.write_error(state_dir, exc) from None
    stale = sorted(state_dir.glob(".*.tmp"))
    for tmp in stale:
        tmp.unlink()
    if stale:
        say(f"removed {len(stale)} unfinished temporary file(s) in {state_dir} left by a killed run: "
            + ", ".join(t.name for t in stale))
    last, best_path = state_dir / "last.pt", state_dir / "best.pt"
    if not resume or not last.is_file():
        return None

    def start_over(why: str) -> None:
        for f in (last, best_path):
            f.unlink(missing_ok=True)
        say(f"{why}: removed it; starting from epoch 0")

    try:
        st = io.load_torch(last, "resume state", "", required=STATE_KEYS)
    except LimitlabError as exc:
        return start_over(str(exc).rsplit(";", 1)[0])
    if st["spec"] != spec.model_dump(mode="json"):
        # the params of this cell changed since that state was written: it is a different run now
        return start_over(f"{last} was written for another spec of this run")
    if not isinstance(st["history"], list) or len(st["history"]) != st["epoch"] + 1:
        return start_over(f"resume state {last} is inconsistent (epoch {st['epoch']}, "
                          f"{len(st['history']) if isinstance(st['history'], list) else '?'} history rows)")
    best_epoch = st["best"].get("epoch") if isinstance(st["best"], dict) else None
    try:
        best = io.load_torch(best_path, "best checkpoint", "", required=("networks", "epoch"))
        problem = None if best["epoch"] == best_epoch else f"{best_path} holds epoch {best['epoch']}, not {best_epoch}"
    except LimitlabError as exc:
        problem = str(exc).rsplit(";", 1)[0]
    if problem is not None:
        if best_epoch != st["epoch"]:
            return start_over(f"{problem}, and the best epoch ({best_epoch}) is in no other file; {last}")
        io.save_torch(best_path, {"networks": st["networks"], "epoch": best_epoch})
        say(f"{problem}: rebuilt it from {last} (the best epoch {best_epoch} is the last one)")
    say(f"resuming from {last} after epoch {st['epoch']}")
    return st


def _save_state(path: Path, spec: RunSpec, epoch: int, networks, optimizer, method, generator, device, history, best,
                prepared) -> None:
    io.save_torch(path, {
        "key": spec.key, "spec": spec.model_dump(mode="json"), "epoch": epoch,
        "networks": networks.state_dict(), "optimizer": optimizer.state_dict(), "method": method.state_dict(),
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "history": history, "best": best, "prepared": prepared,
    })


def _finish(spec, networks, data, method_cls, history, best, prepared, stopped_early, autocast, device,
            diverged: dict | None = None) -> dict:
    run_dir = Path(spec.run_dir)
    best_state = torch.load(run_dir / STATE_DIR / "best.pt", map_location="cpu", weights_only=False)
    networks.load_state_dict(best_state["networks"])
    test_logits = predict(networks["classifier"], data.test, spec.training.eval_batch_size, autocast)
    arch = {name: getattr(net, "arch", None) for name, net in networks.items()}
    meta = {"dataset": spec.dataset.name, "arch": arch["classifier"], "archs": arch,
            "num_classes": data.info.num_classes, "method": spec.method.method, "key": spec.key}
    # in memory first: a torch file's bytes then depend only on its content (same spec + seed = same bytes)
    io.save_torch(run_dir / "model.pt", {"networks": {name: {k: v.cpu() for k, v in net.state_dict().items()}
                                                      for name, net in networks.items()},
                                         "meta": meta, "spec": spec.model_dump(mode="json"), "epoch": best["epoch"]})
    import pandas as pd

    # Wall-clock times go to timing.json (not tracked by DVC, see .dvcignore), so history.csv and result.json
    # are byte-identical for the same spec and seed and `dvc status` stays clean after a rerun.
    times = [r["time_s"] for r in history]
    io.write_text(run_dir / "history.csv",
                  pd.DataFrame([{k: v for k, v in r.items() if k != "time_s"} for r in history]).to_csv(index=False))
    io.write_json(run_dir / TIMING, {"train_time_s": float(sum(times)), "epoch_time_s": times})
    result = {
        "key": spec.key, "method_id": spec.method_id, "method": spec.method.method, "point": spec.point,
        "best_epoch": best["epoch"], "best_val_acc": best["val_acc"], "epochs_run": len(history),
        "stopped_early": stopped_early, "test_acc": accuracy(test_logits, data.test.clean),
        "device": str(device), "prepared": prepared, "torch": torch.__version__, "diverged": diverged,
    }
    io.write_json(run_dir / "result.json", result)
    return result
