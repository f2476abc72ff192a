"""Label-noise models: how a setting's noisy labels are drawn from its clean ones (docs/methods.md, "Noise models").

:mod:`~limitlab.data.noise.transition` defines the models (:data:`NOISE_MODELS`) and their class-level transition
matrices T[i, j] = P(noisy = j | clean = i), with inverse-CDF sampling; :mod:`~limitlab.data.noise.class_conditional`
corrupts a split with one T (uniform and pair noise of Harutyunyan et al., ICML 2020, Tables 1–2) or keeps
Clothing1M's fixed split; :mod:`~limitlab.data.noise.instance` is the instance-dependent noise of Xia et al.
(NeurIPS 2020); :mod:`~limitlab.data.noise.human` the CIFAR-N human labels of Wei et al. (ICLR 2022);
:mod:`~limitlab.data.noise.from_file` noisy labels from a user's file (CSV, .npy, CIFAR-N-style .pt);
:mod:`~limitlab.data.noise.rules` says which dataset accepts which model (used by the params schema and the
corrupt stage). All draw on the setting's one ``np.random.RandomState(seed)`` after the split of
:mod:`limitlab.data.split`, and return :class:`limitlab.data.labels_file.NoisyLabels`. Same import rules as
:mod:`limitlab.data`. Of limitlab it may import: ``errors``, ``io``, ``registry`` (and limitlab.data itself).
numpy/scipy (pandas lazily, for CSV files); torch only inside :func:`~limitlab.data.noise.human.read_human_file`.
"""
