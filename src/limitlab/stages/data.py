"""limitlab data: your own data (docs/methods.md, "Your own data").

``limitlab data digits --out data/own/digits`` writes scikit-learn's bundled handwritten digits (1,797 8×8
images, offline) as an image folder, train/<digit>/*.png and test/<digit>/*.png with a fixed, seeded,
class-balanced test part (limitlab.data.digits); params/beyond/own_data_digits.yaml trains on it.
``limitlab data check PATH [--resize S]`` reads an image folder or .npz as the pipeline's import does and prints
what it found (classes, sizes, image shape, normalisation, content identity), or the error that would stop it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from limitlab.data.digits import DIGITS_SEED, DIGITS_TEST_FRACTION


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="your own data: write the digits example folder, check a folder or .npz",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    psub = p.add_subparsers(dest="data_command", metavar="ACTION")
    psub.required = True
    d = psub.add_parser("digits", help="write scikit-learn's digits as an image folder (train/<c>/, test/<c>/)")
    d.add_argument("--out", type=Path, required=True, help="folder to write (must not exist or be empty)")
    d.add_argument("--test-fraction", type=float, default=DIGITS_TEST_FRACTION,
                   help=f"share of each class in test/ (default {DIGITS_TEST_FRACTION})")
    d.add_argument("--seed", type=int, default=DIGITS_SEED, help=f"seed of the split (default {DIGITS_SEED})")
    d.set_defaults(func=digits)
    c = psub.add_parser("check", help="check an image folder or .npz as the import would, and summarise it")
    c.add_argument("path", type=Path)
    c.add_argument("--resize", type=int, default=None, help="resize every image to RESIZE×RESIZE, as dataset.resize")
    c.set_defaults(func=check)


def digits(args: argparse.Namespace) -> int:
    from limitlab.data.digits import write_digits

    counts = write_digits(args.out, args.test_fraction, args.seed)
    print(f"{args.out}: {counts['train']} training and {counts['test']} test images of 10 classes (8×8 grayscale)")
    return 0


def check(args: argparse.Namespace) -> int:
    import numpy as np

    from limitlab.data.own import import_own

    arrays, source, info = import_own("own", args.path, args.resize)
    counts = {split: np.bincount(arrays[f"{split}_y"], minlength=info.num_classes).tolist()
              for split in ("train", "test")}
    print(f"{args.path}: {source['format']}, {info.num_classes} classes, {info.channels} channel(s), "
          f"{info.image_size}×{info.image_size} pixels, content sha256 {source['source_sha256'][:12]}")
    for k, name in enumerate(info.class_names):
        print(f"  {k:>3} {name}: {counts['train'][k]} train, {counts['test'][k]} test")
    print(f"normalisation: mean {[round(v, 4) for v in info.mean]}, std {[round(v, 4) for v in info.std]}")
    return 0
