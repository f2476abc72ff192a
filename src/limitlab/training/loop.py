"""The training loop shared by every method: Adam, noisy-validation model selection, early stopping, resume.

The loop knows nothing about methods: it asks ``method.loss(x, y, index)`` for a scalar, backpropagates it
and steps one Adam over every network of the run. After each epoch the classifier is evaluated on the noisy
validation split; the epoch with the highest noisy-validation accuracy is the selected model (the authors'
protocol, Harutyunyan et al., ICML 2020: no clean data is used for selection). State (networks, optimizer,
RNGs, history, early-stopping counters) is checkpointed atomically after every epoch
(:mod:`limitlab.training.checkpoints`), so a killed run restarted with the same spec resumes from its last
completed epoch and ends with the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from limitlab.errors import DivergedError
from limitlab.experiment.grid import RunSpec
from limitlab.experiment.paths import RunFiles
from limitlab.methods import REGISTRY, Context, Method
from limitlab.training import susceptibility
from limitlab.training.batches import Split
from limitlab.training.checkpoints import (load_best, load_init, load_resume_state, restore_rng, save_best,
                                           save_model, save_state)
from limitlab.training.device import FastPaths, fast_paths, pick_device, seed_everything
from limitlab.training.networks import build_networks
from limitlab.training.progress import Progress
from limitlab.training.results import write_results
from limitlab.training.run_data import RunData, load_run_data


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


def should_stop(history: list[dict], best: dict, patience: int | None) -> bool:
    """Early stopping as the authors' loop: checked after each epoch's validation pass (0-based epochs),
    stop once ``epoch − last_best_epoch ≥ patience``. A best at epoch b can thus still be replaced at
    epoch b + patience − 1 and training ends after epoch b + patience."""
    if patience is None or not history:
        return False
    return history[-1]["epoch"] - best["last_best_epoch"] >= patience


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


@dataclass
class _Run:
    """Everything a run trains with, built in a fixed order (the order of RNG draws is part of the result)."""

    device: torch.device
    fast: FastPaths
    data: RunData
    networks: nn.ModuleDict
    generator: torch.Generator
    method: Method
    optimizer: torch.optim.Optimizer

    @classmethod
    def build(cls, spec: RunSpec) -> "_Run":
        t = spec.training
        device = pick_device(t.device)
        if t.threads:
            torch.set_num_threads(t.threads)
        seed_everything(spec.training_seed)
        fast = fast_paths(t, spec.model.resolve(spec.dataset.name), device)
        data = load_run_data(spec, device, fast.channels_last)
        method_cls: type[Method] = REGISTRY[spec.method.method]
        networks = fast.place(build_networks(spec, data.info, method_cls.uses_q,
                                             getattr(method_cls, "head_bias", True)), device)
        if t.compile:
            for net in networks.values():
                net.compile()  # in place: state-dict keys stay the same, so checkpoints are interchangeable
        generator = torch.Generator(device=device)
        generator.manual_seed(spec.training_seed)
        # methods that assume the noise known (Pumpout/BC, SIGUA) read the true T and p from info
        ctx = Context(num_classes=data.info.num_classes, generator=generator, device=device,
                      info={"p": spec.p, "transition": data.transition})
        method = method_cls(spec.method, networks, ctx)
        return cls(device, fast, data, networks, generator, method, adam(networks, t))


def _validate(run: _Run, t) -> dict[str, float]:
    """Accuracy of the classifier (eval mode) on the noisy and clean validation labels, and on test if logged."""
    val_logits = predict(run.networks["classifier"], run.data.val, t.eval_batch_size, run.fast.autocast_bf16)
    row = {"val_acc": accuracy(val_logits, run.data.val.noisy),
           "val_acc_clean": accuracy(val_logits, run.data.val.clean)}
    if t.log_test:
        test_logits = predict(run.networks["classifier"], run.data.test, t.eval_batch_size, run.fast.autocast_bf16)
        row["test_acc"] = accuracy(test_logits, run.data.test.clean)
    return row


def train(spec: RunSpec, *, resume: bool = True) -> dict[str, Any]:
    """Train one run to completion (or early stop); write model.pt, history.csv and result.json in run_dir.

    Selected model = the epoch of highest noisy-validation accuracy (:func:`should_stop` for the patience).
    A loss that turns non-finite ends the run with the best checkpoint so far, recorded as ``diverged``."""
    t = spec.training
    state_dir = Path(spec.run_dir) / RunFiles.STATE_DIR
    run = _Run.build(spec)
    data, networks, method, optimizer = run.data, run.networks, run.method, run.optimizer
    autocast = run.fast.autocast_bf16
    # loaded onto the CPU: RNG states must stay CPU ByteTensors (set_rng_state rejects CUDA tensors), and
    # load_state_dict moves network and optimizer tensors to the device of the parameters they belong to
    st = load_resume_state(state_dir, spec, resume, data.inputs)
    if st is not None:
        networks.load_state_dict(st["networks"])
        optimizer.load_state_dict(st["optimizer"])
        method.load_state_dict(st["method"])
        restore_rng(st, run.generator, run.device)
        history, best, prepared, start = st["history"], st["best"], st["prepared"], st["epoch"] + 1
    else:
        source = load_init(spec, networks, data.info) if spec.method.init is not None else None
        prepared = method.prepare(lambda net: predict(net, data.train, t.eval_batch_size, autocast), source)
        history, best, start = [], {"epoch": -1, "val_acc": -math.inf, "last_best_epoch": 0}, 0

    # the probe is drawn from the split seed, not the training seed: runs of one split share it
    probe = (susceptibility.Probe.from_validation(data.val, data.info.num_classes, spec.seed, t.susceptibility_batch)
             if t.susceptibility else None)
    stopped_early = should_stop(history, best, t.patience)  # a resumed run that had already stopped
    diverged = None
    with Progress(f"{spec.method_id} {spec.setting_path}", t.epochs, math.ceil(len(data.train) / t.batch_size)) \
            as progress:
        for epoch in range(start, t.epochs):
            if stopped_early:
                break
            tic = time.perf_counter()
            method.ctx.epoch = epoch
            # one restored step on random labels from the epoch's starting state (training is unaffected)
            delta = probe.delta(method, optimizer, epoch, autocast) if probe is not None else None
            try:
                stats = train_epoch(method, optimizer, data.train, t.batch_size, run.generator, autocast,
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
            row = {"epoch": epoch, **stats, **_validate(run, t)}
            if probe is not None:
                row.update(susceptibility.history_columns(history, delta))
            row["time_s"] = time.perf_counter() - tic
            history.append(row)
            if row["val_acc"] > best["val_acc"]:
                best = {"epoch": epoch, "val_acc": row["val_acc"], "last_best_epoch": epoch}
                save_best(state_dir, networks.state_dict(), epoch)
            save_state(state_dir, spec, epoch, networks, optimizer, method, run.generator, run.device, history, best,
                       prepared, data.inputs)
            progress.epoch(row)
            stopped_early = should_stop(history, best, t.patience)

    # the selected model: tested once, written as model.pt
    networks.load_state_dict(load_best(state_dir)["networks"])
    test_acc = accuracy(predict(networks["classifier"], data.test, t.eval_batch_size, autocast), data.test.clean)
    save_model(spec, networks, data.info, best["epoch"])
    return write_results(spec, history, best, prepared, stopped_early, test_acc, run.device, diverged)
