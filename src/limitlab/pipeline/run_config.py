"""Snakemake's ``--config KEY=VALUE`` for this pipeline, checked before anything is planned.

Snakemake takes any key and parses each value itself (``1`` becomes an int, ``True`` a bool, ``true`` and ``yes``
stay text, an empty value becomes None); the workflow then reads only the keys it knows. Without this check a
misspelt key (``retry_faild=true``) or a value nobody reads as a boolean (``retry_failed=maybe``) silently meant
the default, and ``params=`` asked for a params file named "None". :func:`check_config` refuses all three with
one message, and returns the values the plan (:mod:`limitlab.pipeline.plan`) reads. Torch-free: the Snakefile calls it
while it is being read.

Which params file when ``--config params=`` is not given: the one :data:`CONFIG_FILE` names (``params:``), the
workflow's config file in the working directory, which workflow/Snakefile reads as Snakemake's ``configfile`` (and
which a Snakefile using the workflow as a module passes as its ``config``). That file is the only place of that
default; without it and without ``params=``, :func:`check_config` says how to name one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from limitlab.errors import LimitlabError

CONFIG_FILE = "config/config.yaml"  # relative to the working directory; this repository's names params/default.yaml

# Every key the workflow reads (workflow/rules/common.smk, limitlab.pipeline.plan), with what it accepts.
ACCEPTED_KEYS = {
    "params": f"the experiment's params file, e.g. params=params/smoke.yaml (default: `params:` of {CONFIG_FILE})",
    "retry_failed": "true or false (also yes/no, 1/0): run again the cells that failed with an error that "
                    "would repeat (default false)",
    "runs_per_job": "a positive integer, the number of runs per pipeline job (over resources.runs_per_job of the "
                    "params file and the profile's group-components run=N)",
}
_DEFAULTS: dict[str, Any] = {"retry_failed": False, "runs_per_job": None}  # params: CONFIG_FILE's, no default here
TRUE_WORDS = ("true", "yes", "1")
FALSE_WORDS = ("false", "no", "0")


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The checked ``--config``: ``params`` (a path: from ``--config params=`` or :data:`CONFIG_FILE`, which
    Snakemake has merged into ``config`` already), ``retry_failed`` (a bool) and ``runs_per_job`` (a positive int,
    or None when not given).

    Raises :class:`~limitlab.errors.LimitlabError` naming every key or value it cannot use and what is accepted.
    """
    problems = [_unknown_key(key) for key in config if key not in ACCEPTED_KEYS]
    if "params" not in config:
        problems.append(f"no params file is named: name one with --config params=FILE (e.g. params=params/smoke.yaml), "
                        f"or as `params: FILE` in {CONFIG_FILE} of the working directory ({Path.cwd()}) or in the "
                        f"config a Snakefile passes to this workflow as a module")
    checked: dict[str, Any] = {}
    for key, read in (("params", _params), ("retry_failed", read_boolean), ("runs_per_job", _positive)):
        if key not in config:
            checked[key] = _DEFAULTS.get(key)
            continue
        try:
            checked[key] = read(config[key])
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
        raise ValueError(f"the params file is empty (leave params= out to use the one {CONFIG_FILE} names)")
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
    :func:`limitlab.pipeline.plan.positive` reads for runs_per_job from params and profile)."""
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise ValueError("not a positive integer")
    return int(value)


def _positive(value: Any) -> int:
    return read_positive(value.strip() if isinstance(value, str) else value)
