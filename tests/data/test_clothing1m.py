"""Clothing1M path: file lists → canonical index → streamed, augmented batches → one training epoch.

The real dataset is a million JPEGs obtained by request from its authors; these tests write a tiny folder of
the same layout (images/<d>/<dd>/<name>.jpg and the three annotation lists).
"""

import numpy as np
import pytest
import torch
from PIL import Image

from limitlab.data.canonical import load_canonical
from limitlab.data.download import download
from limitlab.data.labels_file import write_labels
from limitlab.data.noise.class_conditional import fixed_split
from limitlab.experiment import params_file as P
from limitlab.experiment.paths import dataset_path
from limitlab.training.loop import train
from limitlab.training.run_data import load_run_data
from limitlab.experiment.grid import runs_of


def _write_lists(root, rng):
    for split, count in (("noisy_train", 12), ("clean_val", 4), ("clean_test", 4)):
        lines = []
        for i in range(count):
            rel = f"images/{i % 3}/{i % 7:02d}/{split}_{i}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(root / rel)
            lines.append(f"{rel} {i % 14}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture()
def clothing(tmp_path):
    root = tmp_path / "clothing1m"
    _write_lists(root, np.random.default_rng(0))
    exp = P.validate({
        "name": "c1m", "data_dir": str(tmp_path / "data"),
        "studies": [{"id": "real", "dataset": {"name": "clothing1m", "root": str(root)},
                     "noise": {"model": "none", "p": [0.0]}, "seeds": [42], "model": {"arch": "resnet50"},
                     "training": {"epochs": 1, "batch_size": 8, "eval_batch_size": 8, "num_workers": 0,
                                  "threads": 2},
                     "methods": [{"method": "ce"}]}]})
    out = dataset_path(exp.data_dir, "clothing1m")
    out.parent.mkdir(parents=True)
    download("clothing1m", tmp_path / "raw", out, clothing1m_root=root)
    canon = load_canonical(out)
    labels = fixed_split(canon.train_y, canon.fixed_val_index, 14, seed=42)
    spec = runs_of(exp)[0].spec
    spec.labels_path.parent.mkdir(parents=True)
    write_labels(spec.labels_path, labels)
    return spec


def test_file_batches_are_augmented_streams_with_positions(clothing):
    data = load_run_data(clothing, torch.device("cpu"), channels_last=False)
    assert (len(data.train), len(data.val), len(data.test)) == (12, 4, 4)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    batches = list(data.train.iterate(order, 5, train=True, generator=torch.Generator().manual_seed(1)))
    assert [x.shape for x, _ in batches] == [(5, 3, 224, 224), (5, 3, 224, 224), (2, 3, 224, 224)]
    assert torch.equal(torch.cat([pos for _, pos in batches]), order)
    again = list(data.train.iterate(order, 5, train=True, generator=torch.Generator().manual_seed(1)))
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(batches, again)), "same generator, same augmentation"
    x_eval, _ = next(data.test.iterate(torch.arange(4), 4, train=False))
    assert x_eval.shape == (4, 3, 224, 224)


def test_one_epoch_of_resnet50_on_streamed_files(clothing):
    result = train(clothing)
    assert result["epochs_run"] == 1
    assert 0.0 <= result["test_acc"] <= 1.0
    assert (clothing.run_dir / "model.pt").is_file()
