"""What a params file names must be usable before anything trains (the reliability probe's params cases):
``comparisons.reference`` a method id of a study, ``comparisons.claims`` a valid claims file (read as ``limitlab
aggregate`` reads it), ``model.pretrained`` a file, ``data_dir`` a folder. Each is one clear error from
``limitlab params check``; the last two also from the pipeline's planning, which reads the params file with
:func:`limitlab.experiment.params_file.load`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from smoke_params import REPO, SMOKE, problem_of, smoke_with, uniform_study


def write_params(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check_error(tmp_path: Path, capsys, data: dict) -> str:
    """The error `limitlab params check` prints for ``data`` (exit 2, no traceback), on one line."""
    path = write_params(tmp_path, data)
    assert main(["params", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "— valid" not in err
    return err.replace("\n", "")


# --- comparisons.reference ---------------------------------------------------------------------------------


def test_an_unknown_comparison_reference_is_refused_with_the_method_ids():
    message = problem_of(smoke_with(comparisons={"reference": "nosuch"}))
    ids = ", ".join(SMOKE["studies"]["uniform"]["methods"])
    assert message == f"probe.yaml: comparisons.reference 'nosuch' is not a method id of any study (accepted: {ids})"


def test_a_known_reference_and_the_default_without_ce_are_accepted():
    assert params_file.validate(smoke_with(comparisons={"reference": "gce"}), "x").comparisons.reference == "gce"
    methods = {k: m for k, m in SMOKE["studies"]["uniform"]["methods"].items() if k == "gce"}
    study = {k: v for k, v in uniform_study(methods=methods).items() if k != "cleanlab"}
    exp = params_file.validate(smoke_with(studies={"uniform": study}), "x")
    assert exp.comparisons.reference == "ce"  # the default: no CE in the grid, no reference rows


# --- comparisons.claims ------------------------------------------------------------------------------------


CLAIM = {"id": "c1", "claim": "LIMIT beats CE", "where": "Table 1", "settings": {"datasets": ["mnist5k"]},
         "comparisons": [{"method": "limit_g", "reference": "ce", "expect": "above"}]}


@pytest.mark.parametrize("claims, expected", [
    (None, "does not exist (accepted: a YAML file of claims"),
    ("claims: [{id: c1, claim: {x\n", "is not valid YAML"),
    (yaml.safe_dump({"claims": [{**CLAIM, "metric": "nosuch_metric"}]}), "claims.0.metric: Input should be"),
    (b"\xff\xfe claims", "is not text: not valid UTF-8 at byte 0"),
    ("folder", "is a folder, not a file"),
])
def test_a_missing_or_invalid_claims_file_is_refused_before_training(tmp_path, capsys, claims, expected):
    path = tmp_path / "claims.yaml"
    if claims == "folder":
        path.mkdir()
    elif isinstance(claims, bytes):
        path.write_bytes(claims)
    elif claims is not None:
        path.write_text(claims)
    data = smoke_with(comparisons={"claims": str(path)})
    err = check_error(tmp_path, capsys, data)
    assert f"probe.yaml: comparisons.claims: claims file {path}" in err and expected in err
    with pytest.raises(LimitlabError, match="comparisons.claims"):  # the pipeline's planning reads it the same way
        params_file.load(write_params(tmp_path, data))


def test_a_valid_claims_file_passes(tmp_path, capsys):
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [CLAIM]}))
    assert main(["params", "check", str(write_params(tmp_path, smoke_with(comparisons={"claims": str(path)})))]) == 0


# --- model.pretrained --------------------------------------------------------------------------------------


def test_missing_pretrained_weights_are_refused_by_params_check(tmp_path, capsys):
    weights = tmp_path / "nonexistent" / "w.pt"
    data = smoke_with(studies={"uniform": uniform_study(model={"pretrained": str(weights)})})
    err = check_error(tmp_path, capsys, data)
    assert (f"probe.yaml: studies[uniform].model.pretrained: {weights} does not exist (accepted: a local file of "
            "torchvision's resnet50 ImageNet weights") in err
    # only params check: the report stages read the same file where the weights may not be
    assert params_file.load(write_params(tmp_path, data)).studies[0].model.pretrained == weights
    weights.parent.mkdir()
    weights.write_bytes(b"weights")
    assert main(["params", "check", str(write_params(tmp_path, data))]) == 0


# --- data_dir ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("inside", [False, True])
def test_a_data_dir_that_is_a_file_is_refused(tmp_path, capsys, inside):
    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0\n")
    data_dir = a_file / "data" if inside else a_file
    data = {**copy.deepcopy(SMOKE), "data_dir": str(data_dir)}
    err = check_error(tmp_path, capsys, data)
    where = f"data_dir {data_dir}" + (f": {a_file}" if inside else "")
    assert f"probe.yaml: {where} is a file, not a folder (accepted: a folder for the datasets" in err
    with pytest.raises(LimitlabError, match="is a file, not a folder"):
        params_file.load(write_params(tmp_path, data))


def test_snakemake_planning_with_a_data_dir_that_is_a_file_says_so(tmp_path):
    """The probe's P-datadir-file-snakemake: Snakemake's DAG build died with NotADirectoryError."""
    from pipeline_support import check, run

    a_file = tmp_path / "passwd"
    a_file.write_text("root:x:0:0\n")
    path = write_params(tmp_path, {**copy.deepcopy(SMOKE), "data_dir": str(a_file)})
    out = check(run(["snakemake", "-n", "--directory", str(tmp_path), "--snakefile", str(REPO / "Snakefile"),
                     "--config", f"params={path}", "--", "all"], REPO, timeout=300), expect_ok=False)
    assert f"data_dir {a_file} is a file, not a folder" in out and "NotADirectoryError" not in out


def test_params_check_refuses_a_missing_noise_file(tmp_path, capsys):
    """The probe's N-params-missingfile: `params check` said `valid` and only the corrupt job found out."""
    from limitlab.cli import main

    path = tmp_path / "t2.yaml"
    path.write_text(yaml.safe_dump({
        "name": "t2", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
        "studies": {"shared": {"dataset": {"name": "mnist5k"}, "n": [300], "seeds": [42],
                               "noise": {"model": "file", "file": str(tmp_path / "nope.csv")},
                               "methods": {"ce": {"label": "CE"}}}}}))
    assert main(["params", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "studies[shared].noise.file" in err and "nope.csv does not exist" in err and "Traceback" not in err
    (tmp_path / "nope.csv").write_text("index,noisy_label\n0,1\n")
    assert main(["params", "check", str(path)]) == 0
