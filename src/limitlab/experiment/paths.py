"""Names on disk, all built from params (never by globbing): setting folders, run folders, per-run files.

A *setting* is one labelled dataset: (dataset, noise model, p, n, seed) plus the split options. Its folder part
``dataset/noise/pXX/nN/sSEED`` appears in every artifact path of the setting. Noise rates, sizes and
hyperparameter values become path parts without dots (DVC flattens metric keys with '.').

Every file a run writes is named once here (:class:`RunFiles`), so the training loop, the evaluation, the run
jobs and the report agree on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


class RunFiles:
    """File names of one run. In ``run_dir`` (training) and ``eval_dir`` (evaluation, bootstrap)."""

    # run_dir
    MODEL = "model.pt"              # selected networks + meta (what evaluation and init sources load)
    HISTORY = "history.csv"         # one row per epoch
    RESULT = "result.json"          # best epoch, validation and test accuracy of the selected checkpoint
    TRAIN_TIMES = "timing.json"     # per-epoch wall seconds of the loop (not DVC-tracked: never byte-stable)
    STATE_DIR = "state"             # resume state (last.pt, best.pt); not a pipeline output
    DONE = "done.json"              # the run's identity and the stages that finished for it (limitlab.jobs)
    # eval_dir
    PREDICTIONS = "predictions.npz"  # clean-test logits of the selected checkpoint
    EVAL = "eval.json"               # test accuracy and detection metrics
    TRAIN_SCORES = "train_scores.npz"  # q-network methods: per-example gradient scores on the training split
    SUSPICIOUS = "suspicious.csv"      # q-network methods: training examples ranked by the detection score
    TRAIN_LOSS = "train_loss.npz"      # CE: per-example loss on its own training labels (the trivial detector)
    VAL_PREDICTIONS = "val_predictions.npz"  # noisy-validation logits of the selected checkpoint (not required)
    BOOTSTRAP = "bootstrap.json"       # bootstrap of the test accuracy
    STAGE_TIMES = "stage_timing.json"  # wall seconds of train / evaluate / bootstrap (not DVC-tracked)
    # either folder: why a run did not finish (limitlab.jobs.outcome_markers)
    FAILED = "failed.json"
    INTERRUPTED = "interrupted.json"

    TRAINED = (MODEL, HISTORY, RESULT)           # run_dir outputs of training
    EVALUATED = (PREDICTIONS, EVAL)              # eval_dir outputs of every evaluation
    Q_EVALUATED = (TRAIN_SCORES, SUSPICIOUS)     # ... and of a q-network method's


class ResultFiles:
    """File names in an experiment's results folder (``results_dir``), the one place they are spelled: the rules
    (workflow/rules) declare them from here, ``limitlab aggregate``, ``plot``, ``timing`` and ``report-assets``
    write them, ``compare``, ``claims``, the results page and the figure index read them."""

    # limitlab aggregate
    TABLE_MD = "table.md"              # the tables for reading (summary, every cell, selection, paired, claims ...)
    TABLE = "table.csv"                # one row per cell, every number
    SELECTION = "selection.csv"        # one row per grid point of every cell
    METRICS = "metrics.json"           # flat keys for `dvc metrics diff`
    CURVES = "curves.csv"              # seed-mean per-epoch curves of the selected points
    PAIRED = "paired.csv"              # paired differences over splits
    CLAIMS = "claims.csv"              # the paper's claims on this grid
    DETECTION = "detection.csv"        # noisy-label detection (LIMIT, cleanlab, the trivial detector)
    INPUTS = "inputs.csv"              # content identities of every setting's dataset and noise
    EXPERIMENT = "experiment.json"     # which experiment and grid the tables are of (compare, claims)
    SUSCEPTIBILITY = "susceptibility.csv"  # the susceptibility pools (runs trained with susceptibility: true)
    # limitlab plot
    FIGURES = "figures"                # PNG + PDF of every figure
    FIGURE_INDEX = "figures/index.json"  # the one list of figures drawn and skipped
    # limitlab timing
    TIMING_MD = "timing.md"
    TIMING = "timing.csv"
    TIMING_ROWS = "timing_rows.csv"    # what each row of the results table cost
    TIMING_ROWS_BY_SETTING = "timing_rows_by_setting.csv"  # the same per data setting (several settings only)
    # limitlab report-assets
    REPORT = "report"
    RESULTS_PAGE = "report/results.html"
    REPORT_FIGURES = "report/figures"  # the figures by family, for Snakemake's report

    AGGREGATED = (METRICS, TABLE_MD, TABLE, SELECTION, CURVES, PAIRED, CLAIMS)  # the pipeline's report files
    TIMED = (TIMING_MD, TIMING)                                                # per-stage wall time and memory
    RECORDED = (TABLE, SELECTION)  # the tables `limitlab compare` reads, recorded in experiment.json


class CleanlabFiles:
    """File names of one cleanlab detection job, in ``cv_dir/cleanlab/`` (the folds' own runs use :class:`RunFiles`)."""

    SUMMARY = "cleanlab.json"       # detection metrics, issues found, noise-rate and noise-matrix estimates
    PROBS = "pred_probs.npz"        # out-of-sample predicted probabilities and per-example scores
    ISSUES = "label_issues.csv"     # training examples ranked by label quality


# history.csv columns of the susceptibility probe (training writes them, the report selects by them): Δ_t, the
# accuracy change on random labels after one restored step, and ζ(t) = mean(Δ_0, …, Δ_t)
SUSCEPTIBILITY_DELTA, SUSCEPTIBILITY_ZETA = "susceptibility_delta", "susceptibility"


def p_tag(p: float) -> str:
    """Noise rate as a path/metric-key part without dots: 0.8 -> 'p80', 0.89 -> 'p89', 0.005 -> 'p0_5'."""
    pct = round(p * 100, 6)
    text = f"{pct:g}" if not math.isclose(pct, round(pct)) else str(int(round(pct)))
    return "p" + text.replace(".", "_")


def n_tag(n: int | str) -> str:
    return f"n{n}"


def value_tag(v: float) -> str:
    """Hyperparameter value in a folder name: 0.1 -> '0.1', 1e-05 -> '1e-05', 5.0 -> '5'."""
    return f"{v:g}"


def point_tag(point: dict[str, float], train_seed: int | None = None) -> str:
    """Folder name of a hyperparameter point: {'beta': 0.1, 'lamb': 5} -> 'beta0.1_lamb5'; {} -> 'default'; a run
    on a training seed of its own (RunSpec.train_seed) ends in '-t<seed>': 'beta0.1_lamb5-t7'."""
    tag = "_".join(f"{k}{value_tag(v)}" for k, v in sorted(point.items())) or "default"
    return tag if train_seed is None else f"{tag}-t{train_seed}"


def key_part(text) -> str:
    """A metric-key/file-name part without dots or slashes (DVC flattens nested keys with '.')."""
    return str(text).replace(".", "_").replace("/", "_")


def cell_key(prefix: str, dataset: str, noise_dir: str, p: float, n) -> str:
    """The key of a table column (a setting without its seed): '[STUDY/]dataset/noise/pXX/nN', used for metric keys,
    figure names and every table's 'setting' column. ``prefix`` is 'STUDY/' when two studies of one file share
    dataset and noise folder (their keys would collide), else ''."""
    return prefix + "/".join(key_part(x) for x in (dataset, noise_dir, p_tag(p), n_tag(n)))


@dataclass(frozen=True)
class Setting:
    dataset: str
    noise: str
    p: float
    n: int | str
    seed: int
    val_ratio: float = 0.2
    clean_validation: bool = False
    matrix: str | None = None
    flip_std: float = 0.1          # noise 'instance'
    human_file: str | None = None  # noise 'human'
    label_set: str | None = None   # noise 'human'
    noise_file: str | None = None  # noise 'file'
    dataset_source: str | None = None  # an own dataset's image folder or .npz (limitlab.data.own); None: built-in
    # the content of the files the user gives this setting (noise file, matrix, human labels, an own dataset), as
    # the first hex digits of a SHA-256 (limitlab.data.content_identity.sources_tag); set by the grid, None
    # without such files
    sources_tag: str | None = None
    n_val: int | None = None  # a validation size of its own (limitlab.data.split, step 3); None: the held-out part

    def source_files(self) -> dict[str, str]:
        """The files the user gives this setting, by role: what its labels are drawn from besides a built-in
        dataset (an own dataset's source is one of them: role 'dataset', a file or a folder)."""
        files = {"matrix": self.matrix, "human_file": self.human_file, "noise_file": self.noise_file,
                 "dataset": self.dataset_source}
        return {role: path for role, path in files.items() if path is not None}

    @property
    def noise_dir(self) -> str:
        name = self.noise if self.matrix is None else f"matrix-{Path(self.matrix).stem}"
        if self.noise == "instance" and abs(self.flip_std - 0.1) > 1e-12:
            name += f"-std{value_tag(self.flip_std)}"
        if self.noise == "human":
            name += f"-{self.label_set}"
        if self.noise == "file":  # two files, two settings; a new version of one file replaces its realisation
            name += f"-{Path(self.noise_file).stem}"
        if self.clean_validation:
            name += "-cleanval"
        if abs(self.val_ratio - 0.2) > 1e-12:
            name += f"-val{value_tag(self.val_ratio)}"
        if self.n_val is not None:
            name += f"-nval{self.n_val}"
        return name

    @property
    def path(self) -> str:
        """dataset/noise/pXX/nN/sSEED: the part of every artifact path that names the setting."""
        return f"{self.dataset}/{self.noise_dir}/{p_tag(self.p)}/{n_tag(self.n)}/s{self.seed}"

    @property
    def folder(self) -> str:
        """The setting's folder under data_dir/labels (and data_dir/cv): :attr:`path`, ended by ``-<tag>`` of its
        source files' content when it has any, so that two noise files of one name (or two versions of one
        file) never share a labels folder nor, through the labels path in their specs, a run folder."""
        return self.path if self.sources_tag is None else f"{self.path}-{self.sources_tag}"

    def labels_path(self, data_dir: Path) -> Path:
        return Path(data_dir) / "labels" / self.folder / "labels.npz"


def dataset_path(data_dir: Path, dataset: str) -> Path:
    return Path(data_dir) / "datasets" / f"{dataset}.npz"
