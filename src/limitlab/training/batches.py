"""Training data in memory: uint8 images on the device, batches sliced by index and augmented as whole tensors.

Tensor datasets (MNIST, CIFAR, mnist5k) are a few hundred MB at most as uint8, so they live on the GPU when
there is one; a batch is ``images[idx]`` converted, augmented and normalised in a handful of tensor ops. Clothing1M
(a million JPEGs) streams through a DataLoader with decoding workers behind the same ``iterate`` interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F


def random_crop_flip(x: torch.Tensor, padding: int, generator: torch.Generator | None) -> torch.Tensor:
    """Per-example horizontal flip (p = 0.5) then a random crop of the original size from a zero-padded image.

    Equivalent to torchvision's RandomHorizontalFlip + RandomCrop(size, padding) applied to each example, done
    for the whole batch at once with advanced indexing.
    """
    b, c, h, w = x.shape
    dev = x.device
    flip = torch.rand(b, generator=generator, device=dev) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if padding == 0:
        return x
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=dev)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=dev)
    rows = (dy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=dev))[:, None, None, :]
    return padded[torch.arange(b, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None], rows, cols]


class ImageTensors:
    """uint8 images (N, C, H, W) held on ``device``; :meth:`batch` returns normalised float batches."""

    def __init__(self, images: np.ndarray | torch.Tensor, mean, std, device: torch.device, augment: str = "none",
                 padding: int = 4, channels_last: bool = False):
        self.images = torch.as_tensor(images).to(device)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.augment = augment
        self.padding = padding
        self.channels_last = channels_last

    def __len__(self) -> int:
        return self.images.shape[0]

    def batch(self, idx: torch.Tensor, train: bool, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self.images[idx].float().div_(255.0)
        if train and self.augment == "crop_flip":
            x = random_crop_flip(x, self.padding, generator)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


@dataclass
class Split:
    """One split (train / val / test): images plus noisy and clean labels, all on the device."""

    images: ImageTensors
    noisy: torch.Tensor
    clean: torch.Tensor
    index: torch.Tensor  # position of each example in the canonical training (or test) set

    def __len__(self) -> int:
        return len(self.noisy)

    def iterate(self, order: torch.Tensor, batch_size: int, train: bool,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (inputs, positions within this split) for consecutive slices of ``order``."""
        for start in range(0, len(order), batch_size):
            pos = order[start:start + batch_size]
            yield self.images.batch(self.index[pos], train, generator), pos


class _ImageFiles(torch.utils.data.Dataset):
    """JPEG files decoded by PIL in DataLoader workers; item = (image tensor, position in the order)."""

    def __init__(self, files, transform, seed: int):
        self.files = files
        self.transform = transform
        self.seed = seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from PIL import Image

        with Image.open(self.files[i]) as img, torch.random.fork_rng(devices=[]):
            # seeded per item: the augmentation depends on (epoch seed, position), not on worker scheduling
            torch.manual_seed(self.seed + i)
            return self.transform(img.convert("RGB")), i


def file_transforms(mean, std, train: bool, size: int = 224, resize: int = 256):
    """Clothing1M, the authors' transforms (Harutyunyan et al., ICML 2020): train Resize(256²) → RandomCrop(224) →
    flip; eval Resize(224²)."""
    from torchvision import transforms as T

    aug = [T.Resize((resize, resize)), T.RandomCrop(size), T.RandomHorizontalFlip()] if train else [T.Resize((size, size))]
    return T.Compose([*aug, T.ToTensor(), T.Normalize(mean, std)])


@dataclass
class FileSplit:
    """A split of a file dataset (Clothing1M): same interface as :class:`Split`, images streamed from disk.

    Batches come from a DataLoader with decoding workers in the loop's ``order``; each example's augmentation is
    seeded from the run's generator and its position, so runs stay reproducible whatever the worker count.
    """

    files: np.ndarray  # every path of the canonical set; index maps split positions to it
    noisy: torch.Tensor
    clean: torch.Tensor
    index: torch.Tensor
    mean: tuple
    std: tuple
    device: torch.device
    num_workers: int = 4
    channels_last: bool = False

    def __len__(self) -> int:
        return len(self.noisy)

    def iterate(self, order: torch.Tensor, batch_size: int, train: bool,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = order.cpu()
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)) if generator else 0
        seed %= 2**62 - len(order)  # room for seed + position
        paths = self.files[self.index.cpu()[order].numpy()]
        dataset = _ImageFiles([str(f) for f in paths], file_transforms(self.mean, self.std, train), seed)
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=False, num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda")
        for x, i in loader:
            x = x.to(self.device, non_blocking=True)
            yield (x.contiguous(memory_format=torch.channels_last) if self.channels_last else x), order[i].to(self.device)
