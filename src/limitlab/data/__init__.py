"""The data family: everything between a dataset's source and the labels a run trains on.

It owns the dataset registry (:mod:`~limitlab.data.registry`, open to plugins: classes, shapes, sizes, pair-noise
pairs, human label sets, and each dataset's builder; the entry's types in :mod:`~limitlab.data.dataset_info`), the
canonical on-disk format of a dataset and its loading (:mod:`~limitlab.data.canonical`), building that format
(:mod:`~limitlab.data.download`; limitlab's builders :mod:`~limitlab.data.sources`, :mod:`~limitlab.data.clothing1m`), a
user's own image folder or .npz checked and imported into it (:mod:`~limitlab.data.own`; the example folder of
scikit-learn's digits: :mod:`~limitlab.data.digits`), the seeded train/validation split (:mod:`~limitlab.data.split`), the noise models and the rules of which dataset
accepts which (:mod:`limitlab.data.noise`), the labels file of one data setting
(:mod:`~limitlab.data.labels_file`), its export in plain formats (:mod:`~limitlab.data.labels_export`) and the
content identities of a dataset and a noise realisation, checked
before a run uses them (:mod:`~limitlab.data.content_identity`); docs/methods.md, sections "Datasets" and "Noise models", describes them.

Of limitlab it may import: ``errors``, ``io``, ``registry`` (the one shape of its registries), nothing else
(docs/architecture.md, "Import rules"). Besides the standard library: numpy/scipy/sklearn (scipy lazily; pandas
lazily, to read and write CSV noise files; Pillow lazily, to read image folders), NO torch or torchvision at import
time (only inside the functions that read torchvision datasets or CIFAR-N files), so that the schema, the corrupt
stage and the report can use it without loading torch.
"""
