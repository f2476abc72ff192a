"""params/smoke.yaml as data, changed one field at a time, for the tests of what a bad params file is told."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from limitlab.experiment.grid import runs_of

REPO = Path(__file__).resolve().parents[2]  # tests/helpers/ -> the repository
SMOKE_TEXT = (REPO / "params" / "smoke.yaml").read_text()
SMOKE = yaml.safe_load(SMOKE_TEXT)


def smoke_with(**changes) -> dict:
    data = copy.deepcopy(SMOKE)
    data.update(changes)
    return data


def problem_of(data: dict) -> str:
    """The message of the LimitlabError that validating ``data`` (and expanding its grid) raises."""
    with pytest.raises(LimitlabError) as caught:
        runs_of(params_file.validate(data, "probe.yaml"))
    return str(caught.value)


def uniform_study(**changes) -> dict:
    study = copy.deepcopy(SMOKE["studies"]["uniform"])
    study.update(changes)
    return study
