"""Evaluate one trained run: clean-test predictions and, for LIMIT-style methods, noisy-label detection scores.

Outputs in ``spec.eval_dir``:

* ``predictions.npz`` — ``logits`` (n_test, K) float32 of the selected checkpoint, ``labels`` (clean test labels),
  ``index`` (positions in the canonical test set); input of ``limitlab bootstrap``.
* ``eval.json`` — test_acc, n_test, key, method_id, point, best_val_acc, best_epoch (from result.json) and the
  detection metrics ``detection_auc`` / ``detection_ap`` (null, with ``detection_note``, when undefined).
* for methods with a q-network (``Method.uses_q`` and a ``q`` entry in model.pt), on the *training* set in eval
  mode without augmentation (methods.md §6.4), with a = classifier logits and b = q-network logits:

  - ``grad_norm``  = ‖s(a) − s(b)‖₂, the norm of the predicted logit gradient μ (Figure A2),
  - ``distance``   = ‖μ − ξ‖₂ = ‖s(b) − e_ỹ‖₂, predicted vs cross-entropy gradient (Figure A3; the detection
    score: a large distance means the q-network disagrees with the given label),

  in ``train_scores.npz`` (with train_index, given_label, clean_label, is_corrupted, predicted_label = argmax b,
  classifier_label = argmax a) and ``suspicious.csv`` (every training example ranked by distance, largest first).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from limitlab import io
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import RunSpec


def detection_metrics(scores: np.ndarray, is_corrupted: np.ndarray) -> dict:
    """ROC AUC and average precision of ``scores`` for finding corrupted labels (positives = corrupted).

    Both are undefined when only one class is present (e.g. p = 0); they are then None with a note saying why.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    is_corrupted = np.asarray(is_corrupted, dtype=bool)
    n_pos = int(is_corrupted.sum())
    out = {"n_train": int(len(is_corrupted)), "n_corrupted": n_pos, "detection_auc": None, "detection_ap": None,
           "detection_note": None}
    if n_pos == 0 or n_pos == len(is_corrupted):
        which = "no" if n_pos == 0 else "only"
        out["detection_note"] = f"undefined: the training set has {which} corrupted labels (one class present)"
        return out
    out["detection_auc"] = float(roc_auc_score(is_corrupted, scores))
    out["detection_ap"] = float(average_precision_score(is_corrupted, scores))
    return out


def gradient_scores(logits_a: torch.Tensor, logits_b: torch.Tensor, given: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-example ‖s(a) − s(b)‖₂ (predicted-gradient norm) and ‖s(b) − e_ỹ‖₂ (distance to the CE gradient)."""
    sa = torch.softmax(logits_a.float(), 1)
    sb = torch.softmax(logits_b.float(), 1)
    onehot = torch.nn.functional.one_hot(given, sb.shape[1]).float()
    return {"grad_norm": (sa - sb).norm(dim=1).cpu().numpy(), "distance": (sb - onehot).norm(dim=1).cpu().numpy()}


def ranked_suspicious(scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """All training examples sorted by distance, largest first (stable, so ties keep the training order)."""
    order = np.argsort(-scores["distance"], kind="stable")
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        "train_index": scores["train_index"][order],
        "given_label": scores["given_label"][order],
        "predicted_label": scores["predicted_label"][order],
        "score": scores["distance"][order],
        "is_corrupted": scores["is_corrupted"][order].astype(int),
    })


def read_result(run_dir: Path) -> dict:
    path = Path(run_dir) / "result.json"
    if not path.is_file():
        raise LimitlabError(f"{path} does not exist: the run was not trained (or diverged); train it first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LimitlabError(f"{path} is not valid JSON ({exc}); rerun the training of this run") from None


def evaluate(spec: RunSpec) -> dict:
    """Write predictions.npz, eval.json and (q-network methods) train_scores.npz + suspicious.csv; return eval.json."""
    from limitlab.methods import REGISTRY
    from limitlab.training.loop import _use_fast_cuda, accuracy, build_networks, load_run_data, pick_device, predict

    run_dir, eval_dir = Path(spec.run_dir), Path(spec.eval_dir)
    result = read_result(run_dir)
    ckpt_path = run_dir / "model.pt"
    ckpt = io.load_torch(ckpt_path, f"model.pt of run {spec.key} (written by the train stage)",
                         "delete it and rerun the train stage of this run (Snakemake does when model.pt is missing; "
                         "by hand: limitlab train --params FILE --run KEY, which rebuilds it from run_dir/state/)",
                         required=("networks",))
    if ckpt.get("meta", {}).get("key", spec.key) != spec.key:
        raise LimitlabError(f"{ckpt_path} belongs to run {ckpt['meta']['key']!r}, not {spec.key!r}")

    t = spec.training
    device = pick_device(t.device)
    arch = spec.model.resolve(spec.dataset.name)
    channels_last, autocast = _use_fast_cuda(t.channels_last, arch, device), _use_fast_cuda(t.bf16, arch, device)
    data = load_run_data(spec, device, channels_last)
    method_cls = REGISTRY[spec.method.method]
    uses_q = bool(method_cls.uses_q and "q" in ckpt["networks"])
    networks = build_networks(spec, data.info, uses_q, getattr(method_cls, "head_bias", True))
    networks.load_state_dict({f"{name}.{k}": v for name, sd in ckpt["networks"].items() if name in networks
                              for k, v in sd.items()})
    networks.to(device)
    if channels_last:
        networks = networks.to(memory_format=torch.channels_last)

    test_logits = predict(networks["classifier"], data.test, t.eval_batch_size, autocast)
    eval_dir.mkdir(parents=True, exist_ok=True)
    io.save_npz(eval_dir / "predictions.npz", logits=test_logits.float().cpu().numpy(),
                labels=data.test.clean.cpu().numpy(), index=data.test.index.cpu().numpy())
    out = {
        "key": spec.key, "method_id": spec.method_id, "method": spec.method.method, "point": spec.point,
        "test_acc": accuracy(test_logits, data.test.clean), "n_test": len(data.test),
        "best_val_acc": result.get("best_val_acc"), "best_epoch": result.get("best_epoch"),
        "test_acc_train_stage": result.get("test_acc"), "has_q": uses_q,
        "detection_auc": None, "detection_ap": None,
        "detection_note": "the method has no q-network (gradient predictor)",
    }
    if uses_q:
        train_a = predict(networks["classifier"], data.train, t.eval_batch_size, autocast)
        train_b = predict(networks["q"], data.train, t.eval_batch_size, autocast)
        scores = gradient_scores(train_a, train_b, data.train.noisy)
        scores.update(
            train_index=data.train.index.cpu().numpy(), given_label=data.train.noisy.cpu().numpy(),
            clean_label=data.train.clean.cpu().numpy(),
            is_corrupted=(data.train.noisy != data.train.clean).cpu().numpy(),
            predicted_label=train_b.argmax(1).cpu().numpy(), classifier_label=train_a.argmax(1).cpu().numpy())
        io.save_npz(eval_dir / "train_scores.npz", **scores)
        io.write_text(eval_dir / "suspicious.csv", ranked_suspicious(scores).to_csv(index=False))
        out.update(detection_metrics(scores["distance"], scores["is_corrupted"]))
        out["detection_score"] = "distance = ||s(b) - e_given||_2 (q-network vs given label), eval mode, no augmentation"
    io.write_json(eval_dir / "eval.json", out)
    return out
