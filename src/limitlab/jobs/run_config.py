"""Snakemake's ``--config KEY=VALUE`` for this pipeline, checked before anything is planned.

Snakemake takes any key and parses each value itself (``1`` becomes an int, ``True`` a bool, ``true`` and ``yes``
stay text, an empty value becomes None); the workflow then reads only the keys it knows. Without this check a
misspelt key (``retry_faild=true``) or a value nobody reads as a boolean (``retry_failed=maybe``) silently meant
the default, and ``params=`` asked for a params file named "None". :func:`check_config` refuses all three with
one message, and returns the values the plan (:mod:`limitlab.jobs.plan`) reads. Torch-free: the Snakefile calls it
while it is being read.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from limitlab.errors import LimitlabError

DEFAULT_PARAMS = "params/default.yaml"

# Every key the workflow reads (workflow/rules/common.smk, limitlab.jobs.plan), with what it accepts.
ACCEPTED_KEYS = {
    "params": f"the experiment's params file, e.g. params=params/smoke.yaml (default {DEFAULT_PARAMS})",
    "retry_failed": "true or false (also yes/no, 1/0): run again the cells that failed with an error that "
                    "would repeat (default false)",
    "runs_per_job": "a positive integer, the number of runs per pipeline job (over resources.runs_per_job of the "
                    "params file and the profile's group-components run=N)",
}
_DEFAULTS: dict[str, Any] = {"params": DEFAULT_PARAMS, "retry_failed": False, "runs_per_job": None}
TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The checked ``--config``: ``params`` (a path, :data:`DEFAULT_PARAMS` when not given), ``retry_failed``
    (a bool) and ``runs_per_job`` (a positive int, or None when not given).

    Raises :class:`~limitlab.errors.LimitlabError` naming every key or value it cannot use and what is accepted.
    """
    problems = [_unknown_key(key) for key in config if key not in ACCEPTED_KEYS]
    checked: dict[str, Any] = {}
    for key, read in (("params", _params), ("retry_failed", read_boolean), ("runs_per_job", _positive)):
        try:
            checked[key] = read(config[key]) if key in config else _DEFAULTS[key]
        except ValueError as exc:
            problems.append(f"{key}={_shown(config[key])}: {exc}; accepted: {ACCEPTED_KEYS[key]}")
    if problems:
        raise LimitlabError("\n".join(f"--config: {p}" for p in problems))
    return checked


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(str(key).lower(), list(ACCEPTED_KEYS), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown key {key!r}{hint}; accepted keys: {', '.join(ACCEPTED_KEYS)}"


def _shown(value: Any) -> str:
    """The value as it was typed after ``KEY=`` (Snakemake turned an empty one into None)."""
    return "" if value is None else str(value)


def _params(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"the params file is empty (leave params= out to use {DEFAULT_PARAMS})")
    if isinstance(value, bool) or not isinstance(value, (str, int)):  # Snakemake reads 12 as an int: a file '12'
        raise ValueError("not a file path")
    return str(value)


def read_boolean(value: Any) -> bool:
    """true/yes/1 or false/no/0 in any case (or a bool); ValueError for anything else."""
    if isinstance(value, bool):  # Snakemake reads True/False (capitalised) as booleans
        return value
    word = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean" if value is not None else "empty, not a boolean")


def read_positive(value: Any) -> int:
    """A positive integer (an int, or its digits as text); ValueError for anything else (also what
    :func:`limitlab.jobs.plan.positive` reads for runs_per_job from params and profile)."""
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise ValueError("not a positive integer")
    return int(value)


def _positive(value: Any) -> int:
    return read_positive(value.strip() if isinstance(value, str) else value)
