"""limitlab corrupt: split a canonical dataset into train/validation and draw its noisy labels.

Writes labels.npz (train_index, val_index, train_clean, train_noisy, val_clean, val_noisy, transition) and
labels.json (setting, realised noise rates, per-class rates, clean→noisy counts, checksums). See
limitlab.data.split and limitlab.data.noise for the procedure; identical inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from limitlab.data.canonical import load_canonical, stored_dataset
from limitlab.data.content_identity import dataset_id, verified_dataset
from limitlab.data.labels_file import write_labels
from limitlab.data.noise.class_conditional import corrupt, fixed_split
from limitlab.data.noise.from_file import corrupt_file, read_noise_file
from limitlab.data.noise.human import check_human_labels, corrupt_human, read_human_file
from limitlab.data.noise.instance import corrupt_instance
from limitlab.data.noise.rules import flip_std_problem, setting_problem
from limitlab.data.noise.transition import NOISE_MODELS, NOISE_REGISTRY, load_matrix, transition_matrix
from limitlab.data.registry import BUILTIN, DATASETS, HUMAN_LABEL_SETS, get_info
from limitlab.data.split import parse_n
from limitlab.errors import LimitlabError
from limitlab.io import check_npz_out, sha256_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corrupt", help="draw the train/validation split and noisy labels of one setting",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", type=Path, default=None,
                   help="read the setting from this params file (with --setting) instead of the options below: the "
                        "pipeline's and this command's labels then come from one definition")
    p.add_argument("--setting", default=None,
                   help="with --params: the setting's folder under data_dir/labels, e.g. mnist5k/uniform/p50/n300/s42 "
                        "(limitlab params check lists the grid)")
    p.add_argument("--dataset", default=None,
                   help=f"one of: {', '.join(DATASETS)}, or your own dataset's name (imported by limitlab download)")
    p.add_argument("--data", type=Path, default=None,
                   help="canonical dataset .npz (default: data/datasets/<DATASET>.npz)")
    p.add_argument("--noise", default=None, help=f"noise model, one of: {', '.join(NOISE_MODELS)}")
    p.add_argument("--p", default=None,
                   help="noise rate in [0, 1) (required for uniform/symmetric/pair; default 0 for none/matrix)")
    p.add_argument("--n", default="all", help="training-set size: a positive integer or 'all' (default)")
    p.add_argument("--seed", default=None, help="seed of the split and the noise draw (integer)")
    p.add_argument("--val-ratio", default=0.2, help="validation fraction of the training file (default 0.2)")
    p.add_argument("--n-val", default=None,
                   help="validation size of its own: the held-out part's first N, then what the subsample of --n "
                        "left (nested over N; default: the whole held-out part)")
    p.add_argument("--matrix", type=Path, default=None, help="noise 'matrix': KxK file (.npy, .csv or .txt)")
    p.add_argument("--flip-std", default=None,
                   help="noise 'instance': std of the per-example flip rate around p (default 0.1, Xia et al.)")
    p.add_argument("--human-file", type=Path, default=None,
                   help="noise 'human': local CIFAR-N label file (CIFAR-10_human.pt / CIFAR-100_human.pt)")
    p.add_argument("--label-set", default=None,
                   help="noise 'human': cifar10: aggregate, random1, random2, random3, worst; cifar100: noisy")
    p.add_argument("--file", type=Path, default=None,
                   help="noise 'file': noisy labels by original training index (.csv, .npy or CIFAR-N-style .pt; "
                        "limitlab labels export writes them)")
    p.add_argument("--clean-validation", action="store_true",
                   help="keep validation labels clean (the paper's Figure 1 runs)")
    p.add_argument("--out", type=Path, default=None,
                   help="labels .npz to write, e.g. PATH/labels.npz (with --params: the setting's labels file)")
    p.set_defaults(func=main)


def _integer(value, option: str, what: str = "an integer") -> int:
    """A command-line integer (``--seed``, ``--n-val``), or an error that names the option."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise LimitlabError(f"{option} must be {what}, got {value!r}") from None


def _resolve_p(noise: str, p) -> float:
    if p is None:
        if noise == "instance" or noise in NOISE_REGISTRY and NOISE_REGISTRY[noise].needs_p:
            raise LimitlabError(f"noise model {noise!r} needs a rate: pass --p in [0, 1)")
        return 0.0
    try:
        return float(p)
    except (TypeError, ValueError):
        raise LimitlabError(f"--p must be a number in [0, 1), got {p!r}") from None


def run_corrupt(dataset: str, data_path: str | Path | None, noise: str, p: float | None, n: int | str | None,
                seed: int, out: str | Path, val_ratio: float = 0.2, n_val: int | None = None,
                matrix: str | Path | np.ndarray | None = None, clean_validation: bool = False,
                flip_std: float | str | None = None,
                human_file: str | Path | None = None, label_set: str | None = None,
                noise_file: str | Path | None = None) -> dict:
    """Draw one setting's labels from the canonical dataset at ``data_path`` and write them to ``out``.

    ``data_path`` None means ``data/datasets/<dataset>.npz``; ``n`` None or 'all' means the whole training
    split; ``n_val`` a validation size of its own (:mod:`limitlab.data.split`, step 3; None: the held-out part);
    ``matrix`` is a file or an array (noise 'matrix' only); ``flip_std`` (default 0.1) is for noise
    'instance'; ``human_file`` and ``label_set`` for noise 'human'; ``noise_file`` for noise 'file'. Returns the summary written to
    ``out.with_suffix('.json')``. Cheap argument checks run before the dataset is loaded (but after an own dataset
    is: its facts are read from its canonical file, :mod:`limitlab.data.own`).
    """
    data_path = Path(data_path) if data_path is not None else Path("data/datasets") / f"{dataset}.npz"
    own = dataset not in BUILTIN and data_path.is_file() and stored_dataset(data_path) in (dataset, None)
    data = _load(data_path, dataset) if own else None
    info = get_info(dataset)
    out = check_npz_out(out, "summary")
    if noise not in NOISE_MODELS:
        raise LimitlabError(f"unknown noise model {noise!r}; accepted: {', '.join(NOISE_MODELS)}")
    p = _resolve_p(noise, p)
    flip_std = _parse_flip_std(flip_std)
    n = parse_n(n)
    seed = _integer(seed, "--seed")
    if matrix is not None and noise != "matrix":
        raise LimitlabError(f"--matrix is only used with --noise matrix, not {noise!r}")
    problem = setting_problem(dataset, noise, label_set, spelling="cli")  # the rules the params schema applies too
    if problem is not None:
        raise LimitlabError(problem)
    _check_model_options(dataset, noise, p, flip_std, human_file, label_set, noise_file)
    if noise in ("instance", "human", "file"):
        T = None
    else:
        if isinstance(matrix, (str, Path)):
            matrix = load_matrix(matrix, info.num_classes)
        T = transition_matrix(noise, p, info.num_classes, pairs=info.pairs, matrix=matrix)

    if data is None:
        data = _load(data_path, dataset)
    extra = {}
    if noise == "instance":
        labels = corrupt_instance(data.train_x, data.train_y, info.num_classes, p=p, seed=seed,
                                  flip_std=0.1 if flip_std is None else flip_std, n=n,
                                  val_ratio=val_ratio, n_val=n_val, clean_validation=clean_validation, dataset=dataset)
    elif noise == "human":
        human_file = Path(human_file)
        human_y = check_human_labels(read_human_file(human_file), f"human label file {human_file}",
                                     dataset, label_set, data.train_y, info.num_classes)
        labels = corrupt_human(data.train_y, human_y, info.num_classes, seed=seed, label_set=label_set,
                               n=n, val_ratio=val_ratio, n_val=n_val, clean_validation=clean_validation,
                               dataset=dataset)
        extra = {"human_file": human_file.name, "human_file_sha256": sha256_file(human_file)}
    elif noise == "file":
        checked = read_noise_file(noise_file, data.train_y, info.num_classes, dataset)
        labels = corrupt_file(data.train_y, checked, info.num_classes, seed=seed, n=n, val_ratio=val_ratio,
                              n_val=n_val, clean_validation=clean_validation, dataset=dataset)
        # the file as the params name it (the report shows where the noise came from) and its bytes
        extra = {"noise_file": Path(noise_file).as_posix(), "noise_file_sha256": sha256_file(noise_file)}
    elif info.kind == "files":
        if n_val is not None:
            raise LimitlabError(f"{dataset} has a fixed validation list: a validation size (n_val) cannot be set")
        labels = fixed_split(data.train_y, data.fixed_val_index, info.num_classes, seed=seed, n=n, dataset=dataset)
    else:
        labels = corrupt(data.train_y, T, seed=seed, n=n, val_ratio=val_ratio, n_val=n_val,
                         clean_validation=clean_validation, dataset=dataset, noise=noise, p=p)
    extra.update({"data_file": data_path.name, "data_sha256": sha256_file(data_path),
                  "dataset_id": dataset_id(data_path), "n_train_raw": data.n_train_raw})
    return write_labels(out, labels, extra=extra)


def _load(data_path: Path, dataset: str):
    if data_path.is_file():  # an edited dataset is refused here too, so a redraw cannot re-record it as the truth
        verified_dataset(data_path)
    return load_canonical(data_path, name=dataset)


def _check_model_options(dataset: str, noise: str, p: float, flip_std, human_file, label_set,
                         noise_file=None) -> None:
    """Options that belong to one noise model only, and what 'human' and 'file' need (after
    :func:`setting_problem`: the dataset accepts the model, and a given label set is one of its sets)."""
    if flip_std is not None and noise != "instance":
        raise LimitlabError(f"--flip-std is only used with --noise instance, not {noise!r}")
    problem = flip_std_problem(flip_std, "--flip-std") if flip_std is not None else None
    if problem is not None:
        raise LimitlabError(problem)
    if (human_file is not None or label_set is not None) and noise != "human":
        raise LimitlabError(f"--human-file and --label-set are only used with --noise human, not {noise!r}")
    if noise == "human":
        if human_file is None or label_set is None:
            raise LimitlabError("--noise human needs --human-file (the local CIFAR-N .pt file) and --label-set "
                                f"(for {dataset}: {', '.join(HUMAN_LABEL_SETS[dataset])})")
        if p != 0.0:
            raise LimitlabError(f"--noise human takes its rate from the file: leave --p out (or 0), got {p:g}")
    if noise_file is not None and noise != "file":
        raise LimitlabError(f"--file is only used with --noise file, not {noise!r}")
    if noise == "file":
        if noise_file is None:
            raise LimitlabError("--noise file needs --file: the noisy labels by original training index (.csv, .npy "
                                "or CIFAR-N-style .pt; limitlab labels export writes them)")
        if p != 0.0:
            raise LimitlabError(f"--noise file takes its labels from the file: leave --p out (or 0), got {p:g}")


SETTING_OPTIONS = ("dataset", "noise", "p", "seed", "matrix", "flip_std", "human_file", "label_set", "file")


def _from_params(args: argparse.Namespace) -> argparse.Namespace:
    """The options of the setting ``--setting`` of the params file ``--params`` (what the pipeline's corrupt job
    draws); an option given beside them is refused, so that the two cannot disagree."""
    from limitlab.experiment import params_file
    from limitlab.experiment.grid import all_settings
    from limitlab.experiment.paths import dataset_path

    given = [f"--{name.replace('_', '-')}" for name in SETTING_OPTIONS if getattr(args, name) is not None]
    given += ["--clean-validation"] if args.clean_validation else []
    given += ["--n"] if args.n != "all" else []
    given += ["--val-ratio"] if args.val_ratio != 0.2 else []
    given += ["--n-val"] if args.n_val is not None else []
    if given:
        raise LimitlabError(f"--params and --setting define the setting: leave out {', '.join(given)}")
    if args.setting is None:
        raise LimitlabError("--params needs --setting: the setting's folder under data_dir/labels, e.g. "
                            "mnist5k/uniform/p50/n300/s42")
    exp = params_file.load(args.params)
    settings = all_settings(exp)
    if args.setting not in settings:
        shown = ", ".join(list(settings)[:5]) + (" ..." if len(settings) > 5 else "")
        raise LimitlabError(f"{args.params} has no setting {args.setting!r}; its settings: {shown}")
    _, s = settings[args.setting]
    data_dir = Path(exp.data_dir)
    out = args.out or s.labels_path(data_dir)
    if args.out is None:  # the setting's own folder of the pipeline's layout: made here as the pipeline makes it
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    return argparse.Namespace(
        dataset=s.dataset, data=args.data or dataset_path(data_dir, s.dataset), noise=s.noise, p=s.p, n=s.n,
        seed=s.seed, val_ratio=s.val_ratio, n_val=s.n_val, matrix=s.matrix, clean_validation=s.clean_validation,
        flip_std=s.flip_std if s.noise == "instance" else None, human_file=s.human_file, label_set=s.label_set,
        file=s.noise_file, out=out)


def main(args: argparse.Namespace) -> int:
    if args.params is not None:
        args = _from_params(args)
    elif args.setting is not None:
        raise LimitlabError("--setting names a setting of a params file: give --params FILE too")
    missing = [f"--{name}" for name in ("dataset", "noise", "seed", "out") if getattr(args, name) is None]
    if missing:
        raise LimitlabError(f"missing {', '.join(missing)}: give them, or --params FILE --setting FOLDER")
    try:
        val_ratio = float(args.val_ratio)
    except ValueError:
        raise LimitlabError(f"--val-ratio must be a number in (0, 1), got {args.val_ratio!r}") from None
    n_val = None if args.n_val is None else _integer(args.n_val, "--n-val", "a positive integer")
    summary = run_corrupt(args.dataset, args.data, args.noise, args.p, args.n, args.seed, args.out,
                          val_ratio=val_ratio, n_val=n_val, matrix=args.matrix,
                          clean_validation=args.clean_validation,
                          flip_std=_parse_flip_std(args.flip_std), human_file=args.human_file,
                          label_set=args.label_set, noise_file=args.file)
    print_summary(summary, args.out)
    return 0


def _parse_flip_std(flip_std):
    """--flip-std as typed (text) becomes a float; a caller's number (or None: left out) is passed on as it is,
    for :func:`flip_std_problem` to judge."""
    if not isinstance(flip_std, str):
        return flip_std
    try:
        return float(flip_std)
    except ValueError:
        raise LimitlabError(flip_std_problem(flip_std, "--flip-std")) from None


def _fmt(rate: float | None) -> str:
    return "unknown" if rate is None else f"{rate:.4f}"


def print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{summary['dataset']} {summary['noise']} p={summary['p']:g} n={summary['n']} "
                        f"seed={summary['seed']} → {out}", title_justify="left")
    for col in ("split", "size", "expected noise rate", "realised noise rate"):
        table.add_column(col, justify="right" if col != "split" else "left")
    for split in ("train", "val"):
        table.add_row(split, f"{summary['sizes'][split]:,}", _fmt(summary["expected_noise_rate"][split]),
                      _fmt(summary["realised_noise_rate"][split]))
    console = Console()
    console.print(table)
    human = summary.get("human_labels")
    if human:
        line = (f"human labels {human['label_set']!r} ({human['key']}): {_fmt(human['noise_rate_all_images'])} wrong "
                f"over all {summary['n_train_raw']:,} images")
        if human["published_noise_rate"] is not None:
            verdict = "matches" if human["matches_published"] else "[bold red]does NOT match[/] (another file?)"
            line += f"; published {human['published_noise_rate']:.4f}: {verdict}"
        console.print(line)
    from_file = summary.get("file_labels")
    if from_file:
        from rich.markup import escape

        console.print(f"noisy labels from {escape(summary['noise_file'])} ({from_file['format']}, labels "
                      f"{from_file['labelled_images']:,} of {from_file['training_images']:,} training images); "
                      f"noise id {summary['noise_id'][:12]}")
