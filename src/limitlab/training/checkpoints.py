"""Every torch file of a run: the selected model (``model.pt``), the resume state (``state/``), init sources.

* ``model.pt`` (:data:`RunFiles.MODEL`) — ``{"networks": {name: state dict (CPU)}, "meta", "spec", "epoch"}``
  of the checkpoint selected on noisy validation; written by :func:`save_model`, read for inference by
  :func:`load_trained` (evaluation, cleanlab's fold models) and as an init source by :func:`load_init`.
* ``state/last.pt`` — everything an interrupted run needs to go on (:data:`STATE_KEYS`), written after every
  epoch by :func:`save_state`, read back by :func:`load_resume_state` / :func:`restore_rng`.
* ``state/best.pt`` — ``{"networks", "epoch"}`` of the best epoch so far (:func:`save_best`, :func:`load_best`).

Every read goes through :func:`limitlab.io.load_torch` (to the CPU), so a missing or damaged file is one clear
error that says how to rebuild it. Writes are atomic and build the whole object in memory first, so a file's
bytes depend only on its content (same spec and seed: same bytes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from limitlab import io
from limitlab.data.content_identity import input_changes
from limitlab.data.registry import DatasetInfo
from limitlab.errors import LimitlabError
from limitlab.experiment.grid import RunSpec
from limitlab.experiment.paths import RunFiles
from limitlab.training.networks import build_networks

LAST = "last.pt"  # in RunFiles.STATE_DIR: the resume state after the last completed epoch
BEST = "best.pt"  # in RunFiles.STATE_DIR: the networks of the best epoch so far

STATE_KEYS = ("spec", "epoch", "networks", "optimizer", "method", "generator", "torch_rng", "history", "best",
              "prepared")


# --- model.pt -------------------------------------------------------------------------------------------------


def save_model(spec: RunSpec, networks: nn.ModuleDict, info: DatasetInfo, epoch: int) -> Path:
    """Write ``model.pt`` of ``spec``'s run: the networks (as they are now: the selected epoch's) on the CPU."""
    arch = {name: getattr(net, "arch", None) for name, net in networks.items()}
    meta = {"dataset": spec.dataset.name, "arch": arch["classifier"], "archs": arch,
            "num_classes": info.num_classes, "method": spec.method.method, "key": spec.key}
    return io.save_torch(Path(spec.run_dir) / RunFiles.MODEL,
                         {"networks": {name: {k: v.cpu() for k, v in net.state_dict().items()}
                                       for name, net in networks.items()},
                          "meta": meta, "spec": spec.model_dump(mode="json"), "epoch": epoch})


def load_trained(spec: RunSpec, info: DatasetInfo, *, uses_q: bool, head_bias: bool = True,
                 what: str | None = None, rebuild: str | None = None) -> nn.ModuleDict:
    """The selected model of ``spec``'s trained run (its ``model.pt``) in freshly built networks, on the CPU.

    The ``q`` network is built and loaded when ``uses_q`` and the checkpoint has one; every built network must
    match its saved state dict exactly. A missing or damaged file, or one written for another run, is a
    :class:`LimitlabError` naming the file (``what``) and how to rebuild it (``rebuild``)."""
    path = Path(spec.run_dir) / RunFiles.MODEL
    what = what or f"{RunFiles.MODEL} of run {spec.key} (written by the train stage)"
    rebuild = rebuild or ("delete it and rerun the train stage of this run (Snakemake does when model.pt is missing; "
                          "by hand: limitlab train --params FILE --run KEY, which rebuilds it from run_dir/state/)")
    ckpt = io.load_torch(path, what, rebuild, required=("networks",))
    if ckpt.get("meta", {}).get("key", spec.key) != spec.key:
        raise LimitlabError(f"{path} belongs to run {ckpt['meta']['key']!r}, not {spec.key!r}")
    networks = build_networks(spec, info, bool(uses_q and "q" in ckpt["networks"]), head_bias)
    networks.load_state_dict({f"{name}.{k}": v for name, sd in ckpt["networks"].items() if name in networks
                              for k, v in sd.items()})
    return networks


def load_init(spec: RunSpec, networks: nn.ModuleDict, info: DatasetInfo) -> dict[str, torch.Tensor]:
    """Copy the selected model of the init source run into the target network (classifier or q).

    Returns the source classifier's complete state dict (BatchNorm running statistics included, whatever
    ``init.state`` copied), for methods that use the source model itself (FW estimates T̂ with it)."""
    init = spec.method.init
    path = Path(spec.init_dir) / RunFiles.MODEL
    if not path.is_file():
        raise LimitlabError(f"{spec.method_id}: init checkpoint {path} does not exist; train the "
                            f"{init.source!r} run of this setting first (the pipeline does this automatically)")
    ckpt = io.load_torch(path, f"{spec.method_id}: init checkpoint (model.pt of the {init.source!r} run, written by "
                         "the train stage)", f"delete it and train that run again (the pipeline does this when the "
                         f"file is missing; by hand: limitlab train --spec ... for run {spec.init_dir})",
                         required=("networks", "meta"))
    if "classifier" not in ckpt["networks"]:
        raise LimitlabError(f"{spec.method_id}: init checkpoint {path} has no classifier network; train the "
                            f"{init.source!r} run again")
    target = networks[init.target]
    meta = ckpt.get("meta", {})
    want = {"dataset": spec.dataset.name, "arch": getattr(target, "arch", None), "num_classes": info.num_classes}
    for k, v in want.items():
        if meta.get(k) != v:
            raise LimitlabError(f"{spec.method_id}: init checkpoint {path} has {k}={meta.get(k)!r} but this run "
                                f"needs {k}={v!r} (init.source must be a run of the same dataset and architecture)")
    state = ckpt["networks"]["classifier"]
    if init.state == "parameters":  # the authors' behaviour: named parameters only, BN running stats untouched
        params = dict(target.named_parameters())
        missing = set(params) - set(state)
        if missing:
            raise LimitlabError(f"{spec.method_id}: init checkpoint {path} lacks parameters {sorted(missing)[:5]}")
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(state[name])
    else:
        # The MNIST q-network has one extra BatchNorm1d; the classifier's tensors are a subset of its state
        # dict, so a non-strict load is exact for every tensor the source has. Anything else must fit.
        own = target.state_dict()
        bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
        if bad:
            raise LimitlabError(f"{spec.method_id}: init checkpoint {path} does not fit the {init.target} "
                                f"network (unexpected or differently shaped tensors: {bad[:5]})")
        target.load_state_dict(state, strict=False)
    return state


# --- state/ ---------------------------------------------------------------------------------------------------


def save_best(state_dir: Path, networks_state: dict[str, torch.Tensor], epoch: int) -> None:
    """Write ``state/best.pt``: the state dict of the run's ModuleDict (``networks.state_dict()``) at ``epoch``."""
    io.save_torch(state_dir / BEST, {"networks": networks_state, "epoch": epoch})


def load_best(state_dir: Path) -> dict[str, Any]:
    """``state/best.pt`` (to the CPU): the networks of the best epoch, which become model.pt."""
    return io.load_torch(state_dir / BEST, "best checkpoint", "delete the run's state/ folder and train the run "
                         "again", required=("networks", "epoch"))


def save_state(state_dir: Path, spec: RunSpec, epoch: int, networks, optimizer, method, generator, device, history,
               best, prepared, inputs: dict | None) -> None:
    """Write ``state/last.pt`` after a completed epoch (:data:`STATE_KEYS`, plus the run key and CUDA's RNG).
    ``inputs``: the content identities of the dataset and noise realisation the epochs were trained on."""
    io.save_torch(state_dir / LAST, {
        "key": spec.key, "spec": spec.model_dump(mode="json"), "inputs": inputs, "epoch": epoch,
        "networks": networks.state_dict(), "optimizer": optimizer.state_dict(), "method": method.state_dict(),
        "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "history": history, "best": best, "prepared": prepared,
    })


def restore_rng(st: dict, generator: torch.Generator, device: torch.device) -> None:
    """Restore the batch-order generator and torch's global RNGs from a resume state.

    ``set_rng_state`` / ``cuda.set_rng_state`` take CPU ByteTensors only, whatever device the run uses, and
    the generator takes its state on its own device; a state loaded onto another device is moved first."""
    generator.set_state(st["generator"].to(generator.get_state().device))
    torch.set_rng_state(st["torch_rng"].cpu())
    if device.type == "cuda" and st.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(st["cuda_rng"].cpu(), device)


def load_resume_state(state_dir: Path, spec: RunSpec, resume: bool = True,
                      inputs: dict | None = None) -> dict[str, Any] | None:
    """Make ``state_dir`` ready and return the resume state it holds (loaded to the CPU), or None for epoch 0.

    A kill can leave partial or stale state; each case is one printed line, never a traceback:
    a file where the folder should be is removed; unfinished ``.*.tmp`` files are removed; a ``last.pt`` that
    is empty, truncated, not a torch file, lacks an entry (e.g. the optimizer), was written for another spec or
    for other ``inputs`` (another dataset or noise realisation, or a release that did not record them: a state is
    never resumed on data it was not trained on) is removed and the run starts over; a ``best.pt`` that is missing or damaged is rebuilt from ``last.pt``
    when the best epoch is the last one, otherwise the run starts over (the selected model would be lost).
    """
    def say(text: str) -> None:
        print(f"[{spec.method_id}] {text}", flush=True)

    if state_dir.exists() and not state_dir.is_dir():
        state_dir.unlink()
        say(f"{state_dir} was a file, not the resume-state folder: removed it; starting from epoch 0")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise io.write_error(state_dir, exc) from None
    stale = sorted(state_dir.glob(".*.tmp"))
    for tmp in stale:
        tmp.unlink()
    if stale:
        say(f"removed {len(stale)} unfinished temporary file(s) in {state_dir} left by a killed run: "
            + ", ".join(t.name for t in stale))
    last, best_path = state_dir / LAST, state_dir / BEST
    if not resume or not last.is_file():
        return None

    def start_over(why: str) -> None:
        for f in (last, best_path):
            f.unlink(missing_ok=True)
        say(f"{why}: removed it; starting from epoch 0")

    try:
        st = io.load_torch(last, "resume state", "", required=STATE_KEYS)
    except LimitlabError as exc:
        return start_over(str(exc).rsplit(";", 1)[0])
    if st["spec"] != spec.model_dump(mode="json"):
        # the params of this cell changed since that state was written: it is a different run now
        return start_over(f"{last} was written for another spec of this run")
    if st.get("inputs") != inputs:
        return start_over(f"{last} was trained on other inputs ({input_changes(st.get('inputs'), inputs)})")
    if not isinstance(st["history"], list) or len(st["history"]) != st["epoch"] + 1:
        return start_over(f"resume state {last} is inconsistent (epoch {st['epoch']}, "
                          f"{len(st['history']) if isinstance(st['history'], list) else '?'} history rows)")
    best_epoch = st["best"].get("epoch") if isinstance(st["best"], dict) else None
    try:
        best = io.load_torch(best_path, "best checkpoint", "", required=("networks", "epoch"))
        problem = None if best["epoch"] == best_epoch else f"{best_path} holds epoch {best['epoch']}, not {best_epoch}"
    except LimitlabError as exc:
        problem = str(exc).rsplit(";", 1)[0]
    if problem is not None:
        if best_epoch != st["epoch"]:
            return start_over(f"{problem}, and the best epoch ({best_epoch}) is in no other file; {last}")
        save_best(state_dir, st["networks"], best_epoch)
        say(f"{problem}: rebuilt it from {last} (the best epoch {best_epoch} is the last one)")
    say(f"resuming from {last} after epoch {st['epoch']}")
    return st

