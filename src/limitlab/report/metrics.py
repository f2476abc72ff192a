"""metrics.json (the nested numbers DVC tracks) and cleanlab's results, keyed like the cells.

Keys: ``<cell key parts>.<method id>.{test_acc, test_acc_std, val_acc, detection_auc, detection_ap, n_seeds}`` for
every complete cell (the paper's selection rule), with ``test_acc_last_epoch[_std]`` and ``test_acc_oracle[_std]``
beside them (:mod:`limitlab.report.selection_rules`; the oracle is an upper bound, not a result),
``split_std`` and ``train_std`` for a cell with several training seeds per split (:mod:`limitlab.report.variance_split`),
and ``<cell key parts>.cleanlab_k<K>.{detection_auc, detection_ap, n_issues, ...}`` for every cleanlab job with a
readable cleanlab.json. Key parts come from params (no dots; DVC flattens with '.').
"""

from __future__ import annotations

from pathlib import Path

from limitlab.experiment.grid import cleanlab_specs
from limitlab.experiment.paths import CleanlabFiles
from limitlab.experiment.schema import Experiment
from limitlab.report.cells import Cell, cleanlab_job_key, setting_prefixes
from limitlab.report.run_outputs import read_json

CLEANLAB_METRICS = ("detection_auc", "detection_ap", "n_issues", "noise_rate_estimate", "noise_rate_true",
                    "noise_matrix_mae")


def metrics_dict(cells: list[Cell]) -> dict:
    """Nested dict for DVC: key parts from params (no dots); only complete cells; null values left out."""
    out: dict = {}
    for c in cells:
        if c.status != "ok":
            continue
        node = out
        for part in (*c.key.split("/"), c.method_id):
            node = node.setdefault(part, {})
        for name in ("test_acc", "test_acc_std", "val_acc", "detection_auc", "detection_ap", "n_seeds"):
            if c.stats.get(name) is not None:
                node[name] = c.stats[name]
        for rule in ("last_epoch", "oracle"):  # the other selection rules (report.selection_rules): new keys only
            r = c.rules.get(rule)
            for name, value in (() if r is None else ((f"test_acc_{rule}", r.test_acc),
                                                       (f"test_acc_{rule}_std", r.test_acc_std))):
                if value is not None:
                    node[name] = value
        split = c.variance  # a study with train_seeds: where the spread comes from (new keys only)
        if split is not None:
            node.update({"split_std": split.split_std, "train_std": split.train_std})
    return out


def add_cleanlab(metrics: dict, cleanlab: list[dict]) -> dict:
    """Add ``<setting>.<cleanlab_kK>.{detection_auc, detection_ap, n_issues, ...}`` (nulls left out) to ``metrics``."""
    for r in cleanlab:
        node = metrics
        for part in (*r["setting"].split("/"), r["detector"]):
            node = node.setdefault(part, {})
        node.update({k: r[k] for k in CLEANLAB_METRICS if r[k] is not None})
    return metrics


def cleanlab_results(exp: Experiment, messages: list[str] | None = None) -> list[dict]:
    """cleanlab.json of every cleanlab job of the grid (studies with a ``cleanlab:`` block), keyed like the cells.

    Each row: setting (cell key), detector ('cleanlab_k<K>'), label and cleanlab.json's numbers; jobs whose
    file is missing or unreadable are left out with a message."""
    prefixes = setting_prefixes(exp)
    rows = []
    for spec in cleanlab_specs(exp):
        path = Path(spec.out_dir) / CleanlabFiles.SUMMARY
        data, problem = read_json(path)
        if data is None:
            if messages is not None:
                messages.append(f"cleanlab {spec.key}: {problem} ({path})")
            continue
        rows.append({**data, **cleanlab_job_key(spec, prefixes), "seed": spec.seed})
    return rows
