"""``limitlab labels export --labels PATH --out FILE``: a setting's noise realisation in plain formats (CSV, .npy,
CIFAR-N-style .pt) with its identity in ``FILE.json``, for another tool or for ``noise: {model: file}``
(limitlab.data.labels_export)."""

from __future__ import annotations

import argparse
from pathlib import Path


EXPORT_HELP = """Write the noise realisation of a setting's labels.npz in a plain format, by the suffix of --out:

  .csv  index,clean_label,noisy_label,split: one line per image of the realisation (index: the original
        training index; split: train / validation), the training split in its order, then validation
  .npy  int64 vector, one noisy label per training image of the dataset, -1 for images outside the realisation
  .pt   CIFAR-N style (cifar10 / cifar100, n: all): torch.save of {'clean_label', 'noisy_label'} over all images

FILE.json beside it holds the realisation's noise id, the dataset id and the setting. `noise: {model: file,
file: FILE}` (or limitlab corrupt --noise file --file FILE) with the same seed, n and val_ratio gives the same
realisation, hence the same noise id and the same training."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("labels", help="export a setting's noisy labels to share or to train on elsewhere")
    lsub = p.add_subparsers(dest="labels_command", metavar="ACTION")
    lsub.required = True
    e = lsub.add_parser("export", help="write a labels.npz realisation as .csv, .npy or CIFAR-N-style .pt",
                        description=EXPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--labels", type=Path, required=True, help="a setting's labels.npz (data/labels/<setting>/)")
    e.add_argument("--out", type=Path, required=True,
                   help="FILE.csv (index, clean_label, noisy_label, split), FILE.npy (noisy label per training "
                        "image, -1 for none) or FILE.pt (CIFAR-N style, CIFAR datasets with n: all)")
    e.set_defaults(func=export)


def export(args: argparse.Namespace) -> int:
    from limitlab.data.labels_export import export_labels, manifest_path

    record = export_labels(args.labels, args.out)
    setting = record["setting"]
    print(f"{args.out}: {record['dataset']} {setting['noise']} p={setting['p']:g} n={setting['n']} "
          f"seed={setting['seed']} ({record['sizes']['train']:,} train + {record['sizes']['val']:,} validation "
          f"labels); noise id {record['noise_id'][:12]} (in {manifest_path(args.out)})")
    print(f"train on it: noise: {{model: file, file: {args.out}}} with seeds: [{setting['seed']}], n: "
          f"[{setting['n']}], val_ratio {setting['val_ratio']:g} (same noise id), or: {record['read_back']['command']}")
    return 0
