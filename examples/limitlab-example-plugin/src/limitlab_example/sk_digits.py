"""scikit-learn's handwritten digits as a limitlab dataset, ``sk_digits``: 1,797 8×8 grayscale images of 10 classes,
bundled with scikit-learn (``sklearn.datasets.load_digits``, read offline; the test part of the UCI "Optical
Recognition of Handwritten Digits" data, Alpaydin & Kaynak 1998), as canonical tensors.

* Images: uint8 (N, 1, 8, 8), pixel = round(v · 255 / 16) of scikit-learn's values v in 0..16.
* Labels: the digit, int64 0..9; class names '0'..'9'.
* Split (fixed): :data:`TEST_PER_CLASS` = 36 digits of each class are the clean test set (360), the other 1,437 the
  training file limitlab splits into training and validation. For each class c = 0..9 in order, the test digits are
  the first 36 of ``np.random.RandomState(SPLIT_SEED).permutation`` of that class's positions (ascending), one
  RandomState for all classes; both parts keep scikit-learn's order.
* Normalisation: the per-channel mean and population standard deviation of the training pixels in [0, 1]
  (:data:`MEAN`, :data:`STD`; the plugin's tests recompute them).

The paper's MNIST network (cnn4) takes 28×28 images: train on ``sk_digits`` with ``model: {arch: mlp4}``.
"""

from __future__ import annotations

import numpy as np

from limitlab.data.registry import BuildContext, DatasetInfo, register_dataset

SPLIT_SEED = 0
TEST_PER_CLASS = 36
N_TRAIN = 1_437
MEAN = (0.3059,)
STD = (0.3764,)

INFO = DatasetInfo(name="sk_digits", num_classes=10, channels=1, image_size=8, n_train_raw=N_TRAIN, mean=MEAN,
                   std=STD, class_names=tuple(str(d) for d in range(10)), pairs=None, kind="tensor")


def held_out_positions(y: np.ndarray) -> np.ndarray:
    """Positions of the test digits (ascending): per class in order, the first TEST_PER_CLASS of a seeded permutation."""
    rs = np.random.RandomState(SPLIT_SEED)
    chosen = []
    for c in range(INFO.num_classes):
        members = np.flatnonzero(y == c)
        chosen.append(members[rs.permutation(len(members))[:TEST_PER_CLASS]])
    return np.sort(np.concatenate(chosen))


@register_dataset(INFO)
def build(context: BuildContext) -> tuple[dict[str, np.ndarray], dict]:
    """The canonical arrays of sk_digits and where they came from (nothing is downloaded: ``context`` is unused)."""
    import sklearn
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    y = digits.target.astype(np.int64)
    is_test = np.zeros(len(y), dtype=bool)
    is_test[held_out_positions(y)] = True
    arrays = {"train_x": images[~is_test], "train_y": y[~is_test], "test_x": images[is_test], "test_y": y[is_test]}
    source = {"loader": "sklearn.datasets.load_digits", "scikit_learn_version": sklearn.__version__,
              "pixels": "round(v * 255 / 16) of the 0..16 values",
              "test_split": f"{TEST_PER_CLASS} per class, RandomState({SPLIT_SEED}).permutation of each class's "
                            "positions (classes in order), first ones taken; original order kept"}
    return arrays, source
