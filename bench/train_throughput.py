"""Training throughput: limitlab's in-memory loop vs a straightforward DataLoader-over-a-Dataset loop.

MNIST 4-layer CNN, 48,000 training examples (mnist5k's 4,000 canonical training images tiled 12x), batch 256,
the best of two epochs per measurement after a short warm-up, for CE and LIMIT_G. Both loops use the same method code
(the registry's loss) and the same torch thread count; they differ only in how batches are made and in
limitlab's default memory format (channels-last), which is part of its loop.

    python bench/train_throughput.py [--threads 2] [--epochs 1]

Prints a table; not a test. Results are recorded in docs/performance.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from limitlab.data.canonical import load_canonical
from limitlab.data.download import download
from limitlab.data.registry import get_info
from limitlab.training import networks as models
from limitlab.training.batches import ImageTensors, Split
from limitlab.methods import REGISTRY, Context
from limitlab.experiment.schema import TrainingConfig
from limitlab.training.loop import adam, train_epoch

N = 48_000
BATCH = 256


def mnist48k() -> tuple[np.ndarray, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mnist5k.npz"
        download("mnist5k", Path(tmp) / "raw", out)
        canon = load_canonical(out)
    reps = -(-N // len(canon.train_y))
    return np.tile(canon.train_x, (reps, 1, 1, 1))[:N], np.tile(canon.train_y, reps)[:N]


def make_method(name: str, channels_last: bool, compile: bool = False):
    cfg = {"ce": {"method": "ce"}, "limit": {"method": "limit", "q_dist": "gaussian", "beta": 1.0}}[name]
    cls = REGISTRY[cfg["method"]]
    nets = {"classifier": models.cnn4(10)}
    if cls.uses_q:
        nets["q"] = models.cnn4(10, q_network=True)
    networks = torch.nn.ModuleDict(nets)
    if channels_last:
        networks = networks.to(memory_format=torch.channels_last)
    if compile:
        for net in networks.values():
            net.compile()
    gen = torch.Generator().manual_seed(0)
    method = cls(cls.Config.model_validate(cfg), networks, Context(num_classes=10, generator=gen))
    return method, adam(networks, TrainingConfig()), gen


def limitlab_epoch(name: str, x: np.ndarray, y: np.ndarray, warmup: int, compile: bool = False,
                   repeats: int = 2) -> float:
    """Samples per second of limitlab's train_epoch (the loop's inner pass) on in-memory tensors."""
    info = get_info("mnist5k")
    images = ImageTensors(x, info.mean, info.std, torch.device("cpu"), channels_last=True)
    labels = torch.as_tensor(y)
    split = Split(images, labels, labels, torch.arange(len(y)))
    method, opt, gen = make_method(name, channels_last=True, compile=compile)
    # warm-up with a full and a short batch: both shapes are compiled before the clock starts
    n_warm = warmup + len(y) % BATCH
    warm = Split(images, labels[:n_warm], labels[:n_warm], torch.arange(n_warm))
    train_epoch(method, opt, warm, BATCH, gen)
    best = 0.0
    for _ in range(repeats):  # best of a few epochs: the machine is shared, noise only slows things down
        tic = time.perf_counter()
        train_epoch(method, opt, split, BATCH, gen)
        best = max(best, len(y) / (time.perf_counter() - tic))
    return best


class MnistArrays(Dataset):
    """The usual torchvision-style dataset: one PIL image per item, ToTensor + Normalize per sample."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        info = get_info("mnist5k")
        self.x, self.y = x[:, 0], y
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(info.mean, info.std)])

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.x[i], mode="L")), int(self.y[i])


def dataloader_epoch(name: str, x: np.ndarray, y: np.ndarray, warmup: int, workers: int, repeats: int = 2) -> float:
    """Samples per second of a plain DataLoader loop with the same method loss and optimizer."""
    method, opt, gen = make_method(name, channels_last=False)
    loader = DataLoader(MnistArrays(x, y), batch_size=BATCH, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    method.networks.train()

    def run(limit: int | None) -> int:
        seen = 0
        for xb, yb in loader:
            out = method.loss(xb, yb, torch.arange(len(yb)))
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            opt.step()
            seen += len(yb)
            if limit is not None and seen >= limit:
                break
        return seen

    run(warmup)
    best = 0.0
    for _ in range(repeats):
        tic = time.perf_counter()
        seen = run(None)
        best = max(best, seen / (time.perf_counter() - tic))
    return best


def batches_only(x: np.ndarray, y: np.ndarray, workers: int) -> tuple[float, float]:
    """Samples per second of making the batches alone (no model): limitlab's slices vs the DataLoader."""
    info = get_info("mnist5k")
    images = ImageTensors(x, info.mean, info.std, torch.device("cpu"), channels_last=True)
    labels = torch.as_tensor(y)
    split = Split(images, labels, labels, torch.arange(len(y)))
    tic = time.perf_counter()
    for _ in split.iterate(torch.randperm(len(y)), BATCH, True):
        pass
    fast = len(y) / (time.perf_counter() - tic)
    loader = DataLoader(MnistArrays(x, y), batch_size=BATCH, shuffle=True, num_workers=workers)
    tic = time.perf_counter()
    for _ in loader:
        pass
    return fast, len(y) / (time.perf_counter() - tic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workers", type=int, default=0, help="DataLoader workers of the baseline loop")
    ap.add_argument("--warmup", type=int, default=2048)
    ap.add_argument("--skip-compile", action="store_true", help="omit the torch.compile column")
    ap.add_argument("--repeats", type=int, default=2, help="timed epochs per cell (the best is reported)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x, y = mnist48k()
    rows = {}
    for name in ("ce", "limit"):
        rows[name] = (limitlab_epoch(name, x, y, args.warmup, repeats=args.repeats),
                      None if args.skip_compile else limitlab_epoch(name, x, y, args.warmup, True, args.repeats),
                      dataloader_epoch(name, x, y, args.warmup, args.workers, args.repeats))
    table = Table(title=f"Training throughput, MNIST CNN, {N:,} examples, batch {BATCH}, "
                        f"{args.threads} threads, {args.workers} DataLoader workers")
    for col in ("method", "limitlab", "limitlab + compile", "DataLoader loop", "speed-up", "speed-up + compile",
                "cost vs CE", "cost vs CE + compile"):
        table.add_column(col, justify="right")
    ce, ce_c, _ = rows["ce"]
    for name, (fast, comp, slow) in rows.items():
        table.add_row(name.upper(), f"{fast:,.0f}/s", f"{comp:,.0f}/s" if comp else "—", f"{slow:,.0f}/s",
                      f"{fast / slow:.2f}x", f"{comp / slow:.2f}x" if comp else "—", f"{ce / fast:.2f}x",
                      f"{ce_c / comp:.2f}x" if comp else "—")
    fast, slow = batches_only(x, y, args.workers)
    table.add_row("batches only", f"{fast:,.0f}/s", "—", f"{slow:,.0f}/s", f"{fast / slow:.1f}x", "—", "—", "—")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
