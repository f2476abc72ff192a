"""Reading one run's outputs: result.json, eval.json, bootstrap.json and history.csv (names from
:class:`limitlab.experiment.paths.RunFiles`), each checked before use.

A run counts as finished when its result.json holds finite accuracies; otherwise :attr:`RunRecord.problem` says
why (not trained, diverged, or the reason of the pipeline's failure marker). An eval.json or bootstrap.json that
exists but cannot be used (unreadable, or numbers of the wrong kind) is listed in :attr:`RunRecord.broken`, never
guessed around.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from limitlab.errors import LimitlabError
from limitlab.experiment import failure_markers as markers
from limitlab.experiment.grid import Run
from limitlab.experiment.paths import RunFiles

# Accuracies reach result.json / eval.json as float32 fractions (about 7 significant digits), so a mean that is
# exactly 0.953 in decimal (948 + 960 + 951 correct of 3 × 1,000) reads as 0.95299999. Two accuracies closer than
# this count as equal wherever a verdict rests on a bound (within the paper's ±, within 1 test point): it is above
# float32's rounding of a value in [0, 1] (3e-8) and far below the step of any accuracy (1 image of 10,000 = 1e-4).
ACCURACY_SLACK = 1e-6


def first_best(values, axis: int = -1):
    """The index of the largest of ``values`` along ``axis``, the first of those within :data:`ACCURACY_SLACK` of it
    on ties: every selection's tie-break (the first in params order). A plain argmax would break ties by rounding:
    means over seeds of float32 accuracies whose correct counts sum to the same total (130 + 113 and 121 + 122 of
    800) differ in their last bits, the later point is larger in about 7 % of such ties, and argmax picks it."""
    v = np.asarray(values, dtype=float)
    near = v >= np.max(v, axis=axis, keepdims=True) - ACCURACY_SLACK
    return np.argmax(near, axis=axis)


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

    def is_broken(self, name: str) -> bool:
        """Whether the run's file ``name`` (eval.json, bootstrap.json) exists but is listed in :attr:`broken`."""
        return any(b.startswith(f"{Path(self.run.spec.eval_dir) / name}: ") for b in self.broken)


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
    for k in ("mean", "accuracy", "ci_low", "ci_high"):  # accuracies: a NaN or 1.7 means the file is damaged
        if k in d and not _number(d[k], 0, 1):
            return f"{k} is {d[k]!r}, not a number in [0, 1]"
    if d.get("samples") is not None and not _number(d["samples"], 1):
        return f"samples is {d['samples']!r}, not a positive number"
    return None


# Columns training fills in every epoch of every run (limitlab.training.loop): an empty cell in one of them means
# a damaged file. Other columns (a method's logs, the susceptibility probe) may hold NaN, which is written empty.
ALWAYS_FILLED = ("epoch", "train_loss", "train_acc_noisy", "train_acc_clean", "val_acc", "val_acc_clean", "test_acc")


def read_history(run: Run, result: dict | None = None) -> tuple[pd.DataFrame | None, str | None]:
    """The run's per-epoch history, or (None, why) when it is missing or empty: the report goes on without the
    run's curves, as it does without any output of an unfinished stage.

    A history that is there but damaged raises a :class:`LimitlabError` naming the file and how to rebuild it: a
    cut last line, a row with missing or extra fields, a number that does not parse, an empty cell in a column
    training always fills, epochs that are not 0, 1, 2, ..., or fewer rows than ``result`` (the run's
    result.json; read here when not given) says the run had. Drawn anyway, its curves, final-epoch numbers and
    susceptibility selection would come from NaN or from the wrong epoch, without a word. Columns are not
    required: a history written before a column existed is read as it is.
    """
    path = Path(run.spec.run_dir) / RunFiles.HISTORY
    if not path.is_file():
        return None, f"{run.key}: no {path}; no curves for this run ({_rebuild(run)})"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise _damaged(run, path, f"it is not text ({exc})") from None
    if not text.strip():
        return None, f"{run.key}: {path} is empty; no curves for this run ({_rebuild(run)})"
    if result is None:
        result, _ = read_json(Path(run.spec.run_dir) / RunFiles.RESULT)
    df, problem = _parse_history(text, result or {})
    if problem is not None:
        raise _damaged(run, path, problem)
    return df, None


def _rebuild(run: Run) -> str:
    return (f"rebuild it: delete it and rerun the pipeline (the run's job trains again, resuming from its saved "
            f"state when there is one), or run `limitlab train --params FILE --run {run.key}` with the "
            "experiment's params FILE")


def _damaged(run: Run, path: Path, problem: str) -> LimitlabError:
    return LimitlabError(f"{path} (the history of run {run.key}) is damaged: {problem}; {_rebuild(run)}")


def _parse_history(text: str, result: dict) -> tuple[pd.DataFrame | None, str | None]:
    """(history, None), or (None, what is damaged) for :func:`read_history`."""
    if not text.endswith("\n"):
        return None, "its last line is cut (the file does not end with a line break)"
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    if "epoch" not in header:
        return None, f"its header has no 'epoch' column (header: {','.join(header)[:120]})"
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):  # pandas would fill a short row with NaN, silently
            return None, f"line {line} has {len(row)} of the header's {len(header)} fields"
    if len(rows) == 1:
        return None, "it has a header but no epochs"
    try:
        df = pd.read_csv(io.StringIO(text))
    except (pd.errors.ParserError, ValueError) as exc:
        return None, f"it is not a readable CSV ({str(exc).splitlines()[0]})"
    for column in df:
        if not pd.api.types.is_numeric_dtype(df[column]):
            bad = pd.to_numeric(df[column], errors="coerce").isna() & df[column].notna()
            row = int(bad.to_numpy().argmax())
            return None, f"line {row + 2}: {column} = {df[column].iloc[row]!r} is not a number"
    for column in (c for c in ALWAYS_FILLED if c in df):
        if df[column].isna().any():
            return None, f"line {int(df[column].isna().to_numpy().argmax()) + 2} has no value for {column}"
    epochs = df["epoch"].to_numpy()
    if not (epochs == range(len(df))).all():
        line = int((epochs != range(len(df))).argmax()) + 2
        return None, f"its epochs are not 0, 1, 2, ... (line {line} has epoch {epochs[line - 2]:g})"
    ran, best = result.get("epochs_run"), result.get("best_epoch")
    if _is_int(ran) and ran != len(df):
        return None, f"it has {len(df)} epoch row(s) but result.json says the run had {ran} epochs"
    if _is_int(best) and best >= len(df):
        return None, f"it ends at epoch {len(df) - 1} but result.json's best epoch is {best}"
    return df, None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
