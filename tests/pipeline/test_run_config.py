"""Snakemake's --config, checked by limitlab.pipeline.run_config: values as Snakemake parses them from the command line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from snakemake.cli import parse_config

from limitlab.errors import LimitlabError
from limitlab.pipeline.run_config import ACCEPTED_KEYS, CONFIG_FILE, check_config


def checked(*entries: str) -> dict:
    """check_config of ``--config ENTRY ...`` parsed the way Snakemake parses it."""
    return check_config(parse_config(list(entries)))


def problem(*entries: str) -> str:
    with pytest.raises(LimitlabError) as caught:
        checked(*entries)
    return str(caught.value)


def test_no_config_means_the_defaults():
    assert check_config({"params": "params/default.yaml"}) == {  # params: from config/config.yaml, the one default
        "params": "params/default.yaml", "retry_failed": False, "runs_per_job": None}
    with pytest.raises(LimitlabError, match="no params file is named") as caught:  # no config file, no params=
        check_config({})
    assert "--config params=FILE" in str(caught.value) and CONFIG_FILE in str(caught.value)


def test_accepted_values_come_back_normalised():
    assert checked("params=params/smoke.yaml", "retry_failed=true", "runs_per_job=5") == {
        "params": "params/smoke.yaml", "retry_failed": True, "runs_per_job": 5}
    for word, meaning in [("true", True), ("True", True), ("YES", True), ("1", True), ("yes", True),
                          ("false", False), ("False", False), ("no", False), ("0", False), ("No", False)]:
        assert checked("params=p.yaml", f"retry_failed={word}")["retry_failed"] is meaning, word


def test_a_misspelt_key_is_refused_with_the_closest_accepted_one():
    message = problem("params=params/smoke.yaml", "retry_faild=true")
    assert "unknown key 'retry_faild'" in message and "did you mean retry_failed?" in message
    assert all(key in message for key in ACCEPTED_KEYS)
    assert "did you mean runs_per_job?" in problem("runs-per-job=3")
    assert "did you mean" not in problem("colour=blue")


@pytest.mark.parametrize("value", ["maybe", "2", "", "on_failure"])
def test_retry_failed_that_is_not_a_boolean_is_refused(value):
    message = problem(f"retry_failed={value}")
    assert f"retry_failed={value}:" in message and "not a boolean" in message and "true or false" in message


def test_an_empty_params_value_is_refused():
    message = problem("params=")
    assert "params=:" in message and "empty" in message and "None" not in message
    assert f"leave params= out to use the one {CONFIG_FILE} names" in message
    with pytest.raises(LimitlabError, match="empty"):  # blanks only (Snakemake's own parser stops at 'params= ')
        check_config({"params": "  "})


@pytest.mark.parametrize("value", ["0", "-1", "x", "True", "2.5"])
def test_runs_per_job_must_be_a_positive_integer(value):
    assert f"runs_per_job={value}: not a positive integer" in problem(f"runs_per_job={value}")


def test_every_problem_is_named_at_once():
    message = problem("retry_faild=true", "retry_failed=maybe", "params=")
    assert len(message.splitlines()) == 3 and all(line.startswith("--config: ") for line in message.splitlines())


def test_run_config_imports_without_torch():
    code = ("import sys, limitlab.pipeline.run_config; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
