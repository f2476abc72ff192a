"""An example limitlab plugin: one method and one noise model from the literature that limitlab does not ship, and
one dataset.

* ``bootstrap_soft`` (:mod:`limitlab_example.bootstrap`): the soft bootstrapping loss of Reed et al., "Training
  deep neural networks on noisy labels with bootstrapping" (ICLR 2015 workshop).
* ``mnist_flips`` (:mod:`limitlab_example.mnist_flips`): the asymmetric MNIST flips of Patrini et al., "Making deep
  neural networks robust to label noise: a loss correction approach" (CVPR 2017): 2→7, 3→8, 5↔6, 7→1.
* ``sk_digits`` (:mod:`limitlab_example.sk_digits`): scikit-learn's bundled 8×8 handwritten digits (offline) with a
  fixed, documented train/test split.

Installed beside limitlab, all three are usable by name in a params file (docs/extending.md of limitlab).
"""
