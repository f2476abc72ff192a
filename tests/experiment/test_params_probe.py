"""Bad params files get one clear LimitlabError (file, field or value, what is accepted), never a traceback:
bytes that are not UTF-8, Adam betas outside [0, 1), non-finite numbers, duplicate YAML keys, duplicate study
ids and experiment names that are not a safe folder name."""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.experiment import params_file
from smoke_params import REPO, SMOKE, SMOKE_TEXT, problem_of, smoke_with, uniform_study


# --- 1. bytes that are not UTF-8 ------------------------------------------------------------------------------


def non_utf8_file(tmp_path: Path) -> tuple[Path, int]:
    raw = SMOKE_TEXT.encode()
    offset = raw.index(b"Smoke test")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(raw[:offset] + b"\xe9" + raw[offset:])  # 'é' in Latin-1: not a UTF-8 sequence
    return path, offset


def test_params_file_that_is_not_utf8_names_the_file_and_the_byte_offset(tmp_path):
    path, offset = non_utf8_file(tmp_path)
    with pytest.raises(LimitlabError) as caught:
        params_file.load(path)
    message = str(caught.value)
    assert str(path) in message and "not valid UTF-8" in message and f"byte {offset}" in message
    line = SMOKE_TEXT[:SMOKE_TEXT.index("Smoke test")].count("\n") + 1  # the description line of smoke.yaml
    assert f"(line {line})" in message


def test_params_check_reports_a_non_utf8_file_without_a_traceback(tmp_path, capsys):
    path, offset = non_utf8_file(tmp_path)
    assert main(["params", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid UTF-8" in err and f"byte {offset}" in err and "Traceback" not in err


# --- 2. Adam betas and non-finite numbers ---------------------------------------------------------------------


@pytest.mark.parametrize("betas", [[1.0, 0.999], [0.9, 1.5], [-0.1, 0.999]])
def test_adam_betas_outside_0_1_are_refused(betas):
    training = {**SMOKE["studies"]["uniform"]["training"], "betas": betas}
    message = problem_of(smoke_with(studies={"uniform": uniform_study(training=training)}))
    assert "studies[uniform].training.betas" in message and "[0, 1)" in message
    methods = {"ce": {"label": "CE", "training": {"betas": betas}}}
    message = problem_of(smoke_with(studies={"uniform": uniform_study(methods=methods)}))
    assert "method 'ce'" in message and "[0, 1)" in message


@pytest.mark.parametrize("field, value", [("lr", float("inf")), ("lr", float("nan")), ("eps", float("inf")),
                                          ("weight_decay", float("inf")), ("lr", "inf"),
                                          ("betas", [float("nan"), 0.999])])
def test_non_finite_training_numbers_are_refused(field, value):
    training = {**SMOKE["studies"]["uniform"]["training"], field: value}
    message = problem_of(smoke_with(studies={"uniform": uniform_study(training=training)}))
    assert f"studies[uniform].training.{field}" in message and "finite" in message
    methods = {"ce": {"label": "CE", "training": {field: value}}}
    message = problem_of(smoke_with(studies={"uniform": uniform_study(methods=methods)}))
    assert "method 'ce'" in message and field in message and "finite" in message


@pytest.mark.parametrize("lr, expected", [(float("inf"), "finite"), ([1e-3, float("nan")], "finite"),
                                          (-1.0, "greater than 0"), ([1e-3, 0.0], "greater than 0")])
def test_a_method_lr_grid_value_that_training_refuses_is_a_clear_error(lr, expected):
    methods = {"ce": {"label": "CE"}, "mae": {"label": "MAE", "lr": lr}}
    message = problem_of(smoke_with(studies={"uniform": uniform_study(methods=methods)}))
    assert "methods[mae].lr" in message or "method 'mae'" in message
    assert expected in message


# --- 3. duplicate YAML keys -----------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    return path


def load_problem(path: Path) -> str:
    with pytest.raises(LimitlabError) as caught:
        params_file.load(path)
    return str(caught.value)


def test_a_method_id_written_twice_is_refused_with_its_line(tmp_path):
    text = SMOKE_TEXT.replace("      mae: {label: MAE}\n", "      mae: {label: MAE}\n      ce: {label: CE again}\n")
    line = text.splitlines().index("      ce: {label: CE again}") + 1
    message = load_problem(write(tmp_path, text))
    assert f"{tmp_path / 'dup.yaml'}:{line}:" in message
    assert "duplicate method id 'ce' in study 'uniform'" in message


def test_any_duplicate_mapping_key_is_refused_with_its_line(tmp_path):
    text = SMOKE_TEXT.replace("    n: [300]\n", "    n: [300]\n    n: [200]\n")
    line = text.splitlines().index("    n: [200]") + 1
    message = load_problem(write(tmp_path, text))
    assert f"dup.yaml:{line}:" in message and "duplicate key 'n'" in message and "studies.uniform" in message
    flow = SMOKE_TEXT.replace("bootstrap: {samples: 200, seed: 0}", "bootstrap: {samples: 200, seed: 0, seed: 1}")
    message = load_problem(write(tmp_path, flow))
    assert "duplicate key 'seed'" in message and "bootstrap" in message
    as_list = SMOKE_TEXT.replace("  uniform:\n", "  - id: uniform\n").replace("      mae: {label: MAE}\n",
                                                                            "      mae: {label: MAE}\n      mae: {}\n")
    message = load_problem(write(tmp_path, as_list))
    assert "duplicate method id 'mae' in study 'uniform'" in message


def test_yaml_anchors_and_list_layouts_still_load(tmp_path):
    text = SMOKE_TEXT.replace("bootstrap: {samples: 200, seed: 0}", "bootstrap: &boot {samples: 200, seed: 0}")
    text += "x_unused: *boot\n"  # an alias repeats a mapping: its keys are not duplicates
    message = load_problem(write(tmp_path, text))
    assert "x_unused" in message and "duplicate" not in message
    for path in sorted(glob.glob(str(REPO / "params" / "**" / "*.yaml"), recursive=True)):
        params_file.load(path)


# --- 4. duplicate study ids -----------------------------------------------------------------------------------


def test_a_duplicate_study_id_says_so(tmp_path):
    first = {"id": "uniform", **uniform_study()}
    second = {k: v for k, v in first.items() if k != "seeds"}  # a half-finished copy: 'seeds' missing
    for studies in ([first, first], [first, second]):
        message = problem_of(smoke_with(studies=studies))
        assert "duplicate study id 'uniform'" in message and "Field required" not in message
    body = SMOKE_TEXT.split("studies:\n", 1)[1]
    text = SMOKE_TEXT + body  # the study written a second time under the same key
    line = text.splitlines().index("  uniform:", text.splitlines().index("  uniform:") + 1) + 1
    message = load_problem(write(tmp_path, text))
    assert f"dup.yaml:{line}:" in message and "duplicate study id 'uniform'" in message


# --- 5. the experiment name is a folder name ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "../../etc", ".hidden", "a/b", "a b", "..", "-x"])
def test_an_experiment_name_that_is_not_a_safe_folder_name_is_refused(name):
    message = problem_of(smoke_with(name=name))
    assert "name" in message and "letters, digits" in message


@pytest.mark.parametrize("name", ["smoke", "repro_n1000_mnist5k", "cifar10.v2", "A-1"])
def test_safe_experiment_names_are_accepted(name):
    assert params_file.validate(smoke_with(name=name), "probe.yaml").name == name


@pytest.mark.parametrize("flip_std", [1e-9, 1e-300])
def test_a_degenerate_instance_noise_spread_is_refused_in_the_params_file(flip_std):
    """The corrupt stage's rule for flip_std applies when the params file is read, not when its job runs."""
    study = uniform_study(noise={"model": "instance", "p": [0.2], "flip_std": flip_std})
    message = problem_of(smoke_with(studies={"uniform": study}))
    assert "flip_std" in message and "accepted: 0" in message
