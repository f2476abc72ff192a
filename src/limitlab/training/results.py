"""The text outputs of a finished training run: ``history.csv``, ``timing.json`` and ``result.json``.

``history.csv`` and ``result.json`` are byte-identical for the same spec and seed (DVC-tracked: ``dvc status``
stays clean after a rerun); wall-clock times, which never are, go to ``timing.json`` (not tracked, see
.dvcignore). ``result.json`` is written last: its presence marks a finished run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from limitlab import io
from limitlab.experiment.grid import RunSpec
from limitlab.experiment.paths import RunFiles


def write_results(spec: RunSpec, history: list[dict], best: dict, prepared, stopped_early: bool, test_acc: float,
                  device: torch.device, diverged: dict | None = None) -> dict:
    """Write history.csv (one row per epoch, without times), timing.json and result.json; return the result."""
    import pandas as pd

    run_dir = Path(spec.run_dir)
    times = [r["time_s"] for r in history]
    io.write_text(run_dir / RunFiles.HISTORY,
                  pd.DataFrame([{k: v for k, v in r.items() if k != "time_s"} for r in history]).to_csv(index=False))
    # threads: what the loop's wall time cost in cores (limitlab timing's core-hours per row)
    io.write_json(run_dir / RunFiles.TRAIN_TIMES, {"train_time_s": float(sum(times)), "epoch_time_s": times,
                                                   "threads": torch.get_num_threads()})
    result = {
        "key": spec.key, "method_id": spec.method_id, "method": spec.method.method, "point": spec.point,
        "best_epoch": best["epoch"], "best_val_acc": best["val_acc"], "epochs_run": len(history),
        "stopped_early": stopped_early, "test_acc": test_acc,
        "device": str(device), "prepared": prepared, "torch": torch.__version__, "diverged": diverged,
    }
    io.write_json(run_dir / RunFiles.RESULT, result)
    return result
