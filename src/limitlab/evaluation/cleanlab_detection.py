"""cleanlab (confident learning, Northcutt et al. 2021) as a noisy-label detector beside LIMIT.

cleanlab's documented recipe: out-of-sample predicted probabilities for every training example from K-fold
cross-validation, then ``cleanlab.filter.find_label_issues`` and ``cleanlab.rank.get_label_quality_scores``.

1. ``split``: stratified K-fold (scikit-learn, by the *given* noisy label, shuffled with the setting's seed) of
   the setting's training split. Fold i's labels file is the setting's labels.npz with the training split
   reduced to the other K − 1 folds, and the held-out fold in ``heldout_position`` (positions in the full
   training split). Validation (noisy, for model selection) and test are the setting's own.
2. each fold is trained by ``limitlab train`` (the one training loop) with the spec of the study's
   ``cleanlab.source`` method (CE), so its checkpoint is selected on noisy validation like every run;
3. ``detect``: softmax of each fold's selected model on its held-out fold (eval mode, no augmentation) gives
   ``pred_probs`` (n_train × K, each row out of sample); then

   - the detection score is 1 − self-confidence = 1 − pred_probs[i, ỹ_i] (cleanlab's default label quality
     score, ``get_label_quality_scores``), so its ROC AUC / average precision for finding the corrupted labels
     are comparable with LIMIT's distance ‖s(b) − e_ỹ‖₂ (both are computed by
     :func:`limitlab.detection_metrics.detection_metrics`);
   - ``find_label_issues`` (default ``prune_by_noise_rate``) gives cleanlab's set of issues: its size, precision
     and recall against the truth;
   - ``estimate_py_and_noise_matrices_from_probabilities`` gives cleanlab's noise matrix; stored as
     T̂[true, given] = P(given | true) (cleanlab's ``noise_matrix`` transposed) next to the realised
     T[true, given] = #{clean = true, noisy = given} / #{clean = true} of this training split (labels.npz knows
     both labels). ``noise_rate`` = 1 − trace of cleanlab's calibrated joint P(given, true).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from limitlab import io
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import CleanlabSpec
from limitlab.experiment.paths import CleanlabFiles


def fold_positions(noisy: np.ndarray, folds: int, fold: int, seed: int) -> np.ndarray:
    """Sorted positions (in the training split) of held-out fold ``fold`` of a stratified K-fold on ``noisy``."""
    from sklearn.model_selection import StratifiedKFold

    if not 0 <= fold < folds:
        raise LimitlabError(f"--fold {fold} is outside 0..{folds - 1}")
    counts = np.bincount(noisy)
    if counts[counts > 0].min() < folds:
        raise LimitlabError(f"cannot split {len(noisy)} training labels into {folds} stratified folds: a class has "
                            f"only {counts[counts > 0].min()} examples (lower cleanlab.folds)")
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    held = list(kfold.split(np.zeros(len(noisy)), noisy))[fold][1]
    return np.sort(held)


def fold_labels(labels: dict[str, np.ndarray], folds: int, fold: int, seed: int) -> dict[str, np.ndarray]:
    """The labels file of one fold: training split = the other folds; ``heldout_position`` = this fold."""
    noisy = np.asarray(labels["train_noisy"])
    held = fold_positions(noisy, folds, fold, seed)
    keep = np.setdiff1d(np.arange(len(noisy)), held)
    out = dict(labels)
    for name in ("train_index", "train_noisy", "train_clean"):
        out[name] = np.asarray(labels[name])[keep]
    out["heldout_position"] = held
    out["folds"] = np.array([folds, fold])
    return out


def write_fold(labels_path: Path, folds: int, fold: int, seed: int, out: Path) -> Path:
    labels = io.load_npz(labels_path, "labels file")
    return io.save_npz(out, make_parents=True, **fold_labels(labels, folds, fold, seed))


def train_folds(spec: CleanlabSpec) -> list[str]:
    """Write every fold's labels file and train every fold that has not finished for its spec (one process: one
    torch start-up for all K folds). A fold counts as finished when its ``done.json`` (:mod:`limitlab.jobs.done_record`)
    matches its spec and its labels file is unchanged; an unfinished fold resumes from its ``state/``. Returns
    the keys of the folds trained now."""
    from limitlab.data.content_identity import verified_inputs
    from limitlab.jobs.done_record import DONE, has_trained, spec_sha256, write_done
    from limitlab.training.loop import train

    # the setting's labels checked against their record first (refused when edited or damaged), as every run does
    verified_inputs(spec.fold_specs[0].data_path, spec.labels_path)
    setting_labels = io.load_npz(spec.labels_path, "labels file")
    trained = []
    for i, fold in enumerate(spec.fold_specs):
        labels = fold_labels(setting_labels, spec.folds, i, spec.seed)
        path, done_path = Path(fold.labels_path), Path(fold.run_dir) / DONE
        old = io.load_npz(path, "fold labels file") if path.is_file() else None
        if old is None or set(old) != set(labels) or any(not np.array_equal(old[k], labels[k]) for k in labels):
            io.save_npz(path, make_parents=True, **labels)
            done_path.unlink(missing_ok=True)  # new labels: the fold's model is stale
        if has_trained(fold):
            continue
        done_path.unlink(missing_ok=True)
        train(fold)
        write_done(fold, spec_sha256(fold), train=True)
        trained.append(fold.key)
    return trained


def realised_noise_matrix(clean: np.ndarray, noisy: np.ndarray, num_classes: int) -> np.ndarray:
    """T[true, given] = fraction of the examples of true class `true` whose given label is `given`."""
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (clean, noisy), 1)
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def out_of_sample_probs(spec: CleanlabSpec) -> tuple[np.ndarray, object]:
    """pred_probs (n_train × K): each row from the fold model that did not train on it; and the setting's data."""
    import torch

    from limitlab.training.checkpoints import load_trained
    from limitlab.training.device import fast_paths, pick_device
    from limitlab.training.loop import predict
    from limitlab.training.run_data import load_run_data

    base = spec.fold_specs[0].model_copy(update={"labels_path": spec.labels_path})
    t = base.training
    device = pick_device(t.device)
    if t.threads:
        torch.set_num_threads(t.threads)
    fast = fast_paths(t, base.model.resolve(base.dataset.name), device)
    data = load_run_data(base, device, fast.channels_last)
    n, k = len(data.train), data.info.num_classes
    probs = np.full((n, k), np.nan, dtype=np.float64)
    for fold in spec.fold_specs:
        held = io.load_npz(fold.labels_path, "fold labels file")["heldout_position"]
        networks = load_trained(fold, data.info, uses_q=False, what=f"model.pt of cleanlab fold {fold.key}",
                                rebuild=f"train fold {fold.key} first (`limitlab cleanlab run` trains every fold "
                                "that has not finished)")
        networks = fast.place(networks, device)
        pos = torch.as_tensor(held, device=data.train.noisy.device)
        split = replace(data.train, noisy=data.train.noisy[pos], clean=data.train.clean[pos],
                        index=data.train.index[pos])
        logits = predict(networks["classifier"], split, t.eval_batch_size, fast.autocast_bf16)
        probs[held] = torch.softmax(logits.float(), 1).double().cpu().numpy()
    if np.isnan(probs).any():
        raise LimitlabError(f"{spec.key}: the folds do not cover the training split (fold labels files are stale; "
                            "delete them and rerun)")
    return probs, data


def detect(spec: CleanlabSpec) -> dict:
    """Write pred_probs.npz, label_issues.csv and cleanlab.json in spec.out_dir; return cleanlab.json."""
    import cleanlab
    from cleanlab.count import estimate_joint, estimate_py_and_noise_matrices_from_probabilities
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from limitlab.detection_metrics import detection_metrics

    probs, data = out_of_sample_probs(spec)
    given = data.train.noisy.cpu().numpy()
    clean = data.train.clean.cpu().numpy()
    corrupted = given != clean
    k = probs.shape[1]
    quality = get_label_quality_scores(given, probs, method="self_confidence")
    issues = find_label_issues(given, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    _, noise_matrix, _, _ = estimate_py_and_noise_matrices_from_probabilities(given, probs)
    joint = estimate_joint(given, probs)
    true_t = realised_noise_matrix(clean, given, k)
    est_t = np.asarray(noise_matrix).T  # cleanlab: noise_matrix[given, true]; ours: [true, given]
    n_issues = int(issues.sum())
    hits = int((issues & corrupted).sum())
    out = {
        "key": spec.key, "study": spec.study, "setting": spec.setting_path, "source": spec.source_id,
        "folds": spec.folds, "p": spec.p, "cleanlab": cleanlab.__version__,
        **detection_metrics(1.0 - quality, corrupted),
        "detection_score": "1 - self-confidence = 1 - pred_probs[i, given_i] (cleanlab.rank.get_label_quality_scores)",
        "oos_acc_given": float((probs.argmax(1) == given).mean()),
        "oos_acc_clean": float((probs.argmax(1) == clean).mean()),
        "n_issues": n_issues, "issues_precision": hits / n_issues if n_issues else None,
        "issues_recall": hits / int(corrupted.sum()) if corrupted.any() else None,
        "noise_rate_estimate": float(1.0 - np.trace(joint)), "noise_rate_true": float(corrupted.mean()),
        "noise_matrix_estimate": est_t.round(6).tolist(), "noise_matrix_true": true_t.round(6).tolist(),
        "noise_matrix_mae": float(np.abs(est_t - true_t).mean()),
    }
    out_dir = Path(spec.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = data.train.index.cpu().numpy()
    io.save_npz(out_dir / CleanlabFiles.PROBS, pred_probs=probs.astype(np.float32), given_label=given,
                clean_label=clean, train_index=index, label_quality=quality, is_label_issue=issues,
                is_corrupted=corrupted)
    order = np.argsort(quality, kind="stable")
    io.write_text(out_dir / CleanlabFiles.ISSUES, pd.DataFrame({
        "rank": np.arange(1, len(order) + 1), "train_index": index[order], "given_label": given[order],
        "predicted_label": probs.argmax(1)[order], "label_quality": quality[order],
        "is_label_issue": issues[order].astype(int), "is_corrupted": corrupted[order].astype(int),
    }).to_csv(index=False))
    io.write_json(out_dir / CleanlabFiles.SUMMARY, out)
    return out
