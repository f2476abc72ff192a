"""Reading one run's outputs: result.json, eval.json, bootstrap.json and history.csv (names from
:class:`limitlab.experiment.paths.RunFiles`), each checked before use.

A run counts as finished when its result.json holds finite accuracies; otherwise :attr:`RunRecord.problem` says
why (not trained, diverged, or the reason of the pipeline's failure marker). An eval.json or bootstrap.json that
exists but cannot be used (unreadable, or numbers of the wrong kind) is listed in :attr:`RunRecord.broken`, never
guessed around.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from limitlab.experiment.grid import Run
from limitlab.experiment.paths import RunFiles
from limitlab.jobs import failure_markers as markers  # the only jobs import of the report (see report/__init__.py)


@dataclass
class RunRecord:
    """One run's outputs as found on disk; ``problem`` says why the run counts as missing (None = finished)."""

    run: Run
    result: dict | None = None
    eval: dict | None = None
    bootstrap: dict | None = None
    problem: str | None = None
    broken: list[str] = field(default_factory=list)  # files that exist but cannot be used, each with why

    @property
    def done(self) -> bool:
        return self.problem is None


def read_json(path: Path) -> tuple[dict | None, str | None]:
    """A JSON object file, or (None, why) when it is missing, not JSON or not an object."""
    if not path.is_file():
        return None, f"no {path.name}"
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return None, f"{path.name} is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"{path.name} does not hold a JSON object"
    return data, None


def read_run(run: Run) -> RunRecord:
    spec = run.spec
    result, problem = read_json(Path(spec.run_dir) / RunFiles.RESULT)
    if result is not None:
        val, test = result.get("best_val_acc"), result.get("test_acc")
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (val, test)):
            result, problem = None, f"{RunFiles.RESULT} has non-finite accuracies (val {val}, test {test}): diverged"
    if problem == f"no {RunFiles.RESULT}":
        marker = markers.read_marker(spec.run_dir)  # the pipeline's note of a failed or interrupted train job
        problem = f"training {marker.reason}" if marker else f"not trained or diverged (no {RunFiles.RESULT})"
    rec = RunRecord(run, result, problem=problem)
    for attr, name, check in (("eval", RunFiles.EVAL, _eval_problem),
                              ("bootstrap", RunFiles.BOOTSTRAP, _bootstrap_problem)):
        path = Path(spec.eval_dir) / name
        data, why = read_json(path)
        why = why if data is None else check(data)
        if why is None:
            setattr(rec, attr, data)
        elif path.is_file() and rec.done:  # missing = an unfinished stage; broken must not pass silently
            rec.broken.append(f"{path}: {why}")
    return rec


def _number(v, low: float = -math.inf, high: float = math.inf) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and low <= v <= high


def _eval_problem(d: dict) -> str | None:
    if not _number(d.get("test_acc"), 0, 1):
        return f"test_acc is {d.get('test_acc')!r}, not a number in [0, 1]"
    for k in ("detection_auc", "detection_ap"):
        if d.get(k) is not None and not _number(d[k], 0, 1):
            return f"{k} is {d[k]!r}, not a number in [0, 1] or null"
    return None


def _bootstrap_problem(d: dict) -> str | None:
    if not _number(d.get("std"), 0, 1):
        return f"std is {d.get('std')!r}, not a number in [0, 1]"
    if d.get("samples") is not None and not _number(d["samples"], 1):
        return f"samples is {d['samples']!r}, not a positive number"
    return None


def read_history(run: Run) -> tuple[pd.DataFrame | None, str | None]:
    """The run's per-epoch history, or (None, why) when it is missing, unreadable or empty."""
    path = Path(run.spec.run_dir) / RunFiles.HISTORY
    if not path.is_file():
        return None, f"{run.key}: no {RunFiles.HISTORY}"
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        return None, f"{run.key}: {RunFiles.HISTORY} is empty or unreadable ({exc})"
    if df.empty or "epoch" not in df:
        return None, f"{run.key}: {RunFiles.HISTORY} has no epochs"
    return df, None
