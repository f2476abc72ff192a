"""Evaluate one trained run: clean-test predictions and, for LIMIT-style methods, noisy-label detection scores.

Outputs in ``spec.eval_dir`` (names in :class:`limitlab.experiment.paths.RunFiles`):

* ``predictions.npz`` — ``logits`` (n_test, K) float32 of the selected checkpoint, ``labels`` (clean test labels),
  ``index`` (positions in the canonical test set); input of ``limitlab bootstrap``.
* ``eval.json`` — test_acc, n_test, key, method_id, point, best_val_acc, best_epoch (from result.json) and the
  detection metrics ``detection_auc`` / ``detection_ap`` (null, with ``detection_note``, when undefined).
* ``val_predictions.npz`` — the same checkpoint on the noisy *validation* split: ``logits`` (n_val, K) float32,
  ``given_label`` (the noisy labels the checkpoint was selected on), ``clean_label`` (-1 where unknown),
  ``index`` (positions in the canonical training pool) and ``transition``, the K x K matrix
  P(given = j | clean = i) of the validation labels (the setting's T; the identity with ``clean_validation``)
  where the labels file has one. Input of the selection reliability (:mod:`limitlab.report.selection_reliability`:
  resampling the validation set, the noise-corrected validation accuracy). Not one of the run's required outputs
  (:data:`~limitlab.experiment.paths.RunFiles.EVALUATED`): runs evaluated before it existed are not redone for it,
  the report leaves their cells' reliability out and says so, and :func:`write_val_predictions` (``limitlab
  evaluate --val-predictions-only``) adds it alone, leaving every other file as it is.
* for methods with a q-network (``Method.uses_q`` and a ``q`` entry in model.pt), on the *training* set in eval
  mode without augmentation: the gradient scores of :mod:`limitlab.evaluation.detection` (a = classifier
  logits, b = q-network logits; Harutyunyan et al., ICML 2020, appendix Figures A2–A3)

  - ``grad_norm``  = ‖s(a) − s(b)‖₂, the norm of the predicted logit gradient μ,
  - ``distance``   = ‖μ − ξ‖₂ = ‖s(b) − e_ỹ‖₂, predicted vs cross-entropy gradient (the detection score),

  in ``train_scores.npz`` (with train_index, given_label, clean_label, is_corrupted, predicted_label = argmax b,
  classifier_label = argmax a) and ``suspicious.csv`` (every training example ranked by distance, largest first).
* for CE, the trivial detector every benchmark of noisy-label detection needs on the same data: the model's own
  cross-entropy loss on each training example's given label, −log softmax(a)_ỹ, in-sample (the model was trained
  on these labels), in ``train_loss.npz`` (loss, train_index, given_label, clean_label, is_corrupted). Not one of
  the run's required outputs: runs evaluated by earlier releases lack it and are not redone for it (the report
  says so; ``limitlab evaluate`` on such a run adds it).

The networks compute as in training: the fast paths (channels-last, bf16) come from
:func:`limitlab.training.device.fast_paths`, the model from :func:`limitlab.training.checkpoints.load_trained`.
"""

from __future__ import annotations

import json
from pathlib import Path

from limitlab import io
from limitlab.detection_metrics import detection_metrics
from limitlab.errors import LimitlabError
from limitlab.evaluation.detection import gradient_scores, ranked_suspicious
from limitlab.experiment.grid import RunSpec
from limitlab.experiment.paths import RunFiles


def read_result(run_dir: Path) -> dict:
    path = Path(run_dir) / RunFiles.RESULT
    if not path.is_file():
        raise LimitlabError(f"{path} does not exist: the run was not trained (or diverged); train it first")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LimitlabError(f"{path} is not valid JSON ({exc}); rerun the training of this run") from None


def _load(spec: RunSpec):
    """(training config, run data, networks on the device, bf16 autocast) of a trained run, as training ran it."""
    from limitlab.methods import REGISTRY
    from limitlab.training.checkpoints import load_trained
    from limitlab.training.device import fast_paths, pick_device
    from limitlab.training.run_data import load_run_data

    t = spec.training
    device = pick_device(t.device)
    fast = fast_paths(t, spec.model.resolve(spec.dataset.name), device)
    data = load_run_data(spec, device, fast.channels_last)
    method_cls = REGISTRY[spec.method.method]
    networks = fast.place(load_trained(spec, data.info, uses_q=method_cls.uses_q,
                                       head_bias=getattr(method_cls, "head_bias", True)), device)
    return t, data, networks, fast.autocast_bf16


def _save_val_predictions(spec: RunSpec, t, data, networks, autocast: bool) -> Path:
    """val_predictions.npz: the selected checkpoint's logits on the noisy validation split (module docstring)."""
    import numpy as np

    from limitlab.training.loop import predict

    logits = predict(networks["classifier"], data.val, t.eval_batch_size, autocast).float().cpu().numpy()
    arrays = {"logits": logits, "given_label": data.val.noisy.cpu().numpy(),
              "clean_label": data.val.clean.cpu().numpy(), "index": data.val.index.cpu().numpy()}
    if spec.dataset.clean_validation:  # the validation labels are the clean ones, whatever the training noise
        arrays["transition"] = np.eye(logits.shape[1])
    elif data.transition is not None:
        arrays["transition"] = np.asarray(data.transition, dtype=float)
    return io.save_npz(Path(spec.eval_dir) / RunFiles.VAL_PREDICTIONS, make_parents=True, **arrays)


def write_val_predictions(spec: RunSpec) -> Path:
    """Add val_predictions.npz to an evaluated run, alone: the model (model.pt) is loaded as :func:`evaluate` loads
    it and only the validation split is predicted; predictions.npz, eval.json and done.json stay as they are, so
    the pipeline sees the run exactly as before (the file is not one of its required outputs)."""
    read_result(Path(spec.run_dir))  # a clear error for an untrained run
    return _save_val_predictions(spec, *_load(spec))


def evaluate(spec: RunSpec) -> dict:
    """Write predictions.npz, val_predictions.npz, eval.json and (q-network methods) train_scores.npz +
    suspicious.csv; return eval.json."""
    from limitlab.training.loop import accuracy, predict

    run_dir, eval_dir = Path(spec.run_dir), Path(spec.eval_dir)
    result = read_result(run_dir)
    t, data, networks, autocast = _load(spec)
    uses_q = "q" in networks

    test_logits = predict(networks["classifier"], data.test, t.eval_batch_size, autocast)
    eval_dir.mkdir(parents=True, exist_ok=True)
    io.save_npz(eval_dir / RunFiles.PREDICTIONS, logits=test_logits.float().cpu().numpy(),
                labels=data.test.clean.cpu().numpy(), index=data.test.index.cpu().numpy())
    _save_val_predictions(spec, t, data, networks, autocast)
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
        io.save_npz(eval_dir / RunFiles.TRAIN_SCORES, **scores)
        io.write_text(eval_dir / RunFiles.SUSPICIOUS, ranked_suspicious(scores).to_csv(index=False))
        out.update(detection_metrics(scores["distance"], scores["is_corrupted"]))
        out["detection_score"] = "distance = ||s(b) - e_given||_2 (q-network vs given label), eval mode, no augmentation"
    if spec.method.method == "ce":
        import torch.nn.functional as F

        train_a = predict(networks["classifier"], data.train, t.eval_batch_size, autocast).float()
        io.save_npz(eval_dir / RunFiles.TRAIN_LOSS,
                    loss=F.cross_entropy(train_a, data.train.noisy, reduction="none").cpu().numpy(),
                    train_index=data.train.index.cpu().numpy(), given_label=data.train.noisy.cpu().numpy(),
                    clean_label=data.train.clean.cpu().numpy(),
                    is_corrupted=(data.train.noisy != data.train.clean).cpu().numpy())
    io.write_json(eval_dir / RunFiles.EVAL, out)
    return out
