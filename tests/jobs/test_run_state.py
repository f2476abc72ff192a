"""The one decision on a run: finished, or which of its stages run again and why (limitlab.jobs.run_state), on
hand-made done records and output files; no training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file
from limitlab.experiment.grid import GridIndex
from limitlab.experiment.paths import RunFiles
from limitlab.jobs.done_record import run_files, spec_sha256, write_done
from limitlab.jobs.run_state import job_state, plan_problems

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = {"samples": 50, "seed": 0, "ci": 0.95}
INPUTS = {"dataset": "d" * 16, "noise": "n" * 16}


@pytest.fixture
def finished(tmp_path):
    """A CE run of the smoke grid whose every stage finished on INPUTS, its outputs written as small files, and its
    data and labels files present (the plan looks for them)."""
    data = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    data.update(data_dir=str(tmp_path / "data"), results_dir=str(tmp_path / "results"))
    grid = GridIndex.of(params_file.validate(data, "smoke (test)"))
    spec = next(s for s in grid.specs if s.method_id == "ce")
    files = run_files(spec, uses_q=False)
    for i, path in enumerate(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"output %d" % i)
    for path in (spec.data_path, spec.labels_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"input")
    write_done(spec, spec_sha256(spec, grid), files, INPUTS, train=True, evaluate=True, bootstrap=BOOTSTRAP)
    return spec, grid, files


def state(spec, grid, bootstrap=BOOTSTRAP, inputs=INPUTS):
    return job_state(spec, False, bootstrap, grid, inputs)


def test_a_finished_run_runs_nothing_and_the_plan_agrees(finished):
    spec, grid, _ = finished
    assert state(spec, grid).finished and state(spec, grid).reasons == ()
    assert state(spec, grid).identity == spec_sha256(spec, grid)
    assert plan_problems(spec, grid) == []


def test_each_damaged_output_reruns_its_stage_and_every_later_one(finished):
    spec, grid, files = finished
    by_name = {p.name: p for p in files}
    cases = [(RunFiles.MODEL, ("train", "evaluate", "bootstrap")),
             (RunFiles.PREDICTIONS, ("evaluate", "bootstrap")),
             (RunFiles.BOOTSTRAP, ("bootstrap",))]
    for name, stages in cases:
        path = by_name[name]
        original = path.read_bytes()
        path.write_bytes(original[:-1] + b"X")  # same size, other bytes: only the checksum tells
        got = state(spec, grid)
        assert got.to_run == stages, name
        assert any(str(path) in r and "damaged" in r and r.endswith("rebuilt") for r in got.reasons), got.reasons
        path.unlink()
        assert state(spec, grid).to_run == stages  # missing: the record says it was written
        assert any("(missing)" in p for p in plan_problems(spec, grid))
        path.write_bytes(original)
    assert state(spec, grid).finished


def test_changed_bootstrap_settings_only_bootstrap_again(finished):
    spec, grid, _ = finished
    assert state(spec, grid, bootstrap={**BOOTSTRAP, "samples": 100}).to_run == ("bootstrap",)


def test_changed_inputs_retrain_and_say_which_changed(finished):
    spec, grid, _ = finished
    got = state(spec, grid, inputs={**INPUTS, "noise": "m" * 16})
    assert got.to_run == ("train", "evaluate", "bootstrap")
    assert len(got.reasons) == 1 and "its inputs changed since it trained" in got.reasons[0]
    assert "noise" in got.reasons[0]


def test_a_record_of_another_spec_is_no_record(finished):
    spec, grid, files = finished
    write_done(spec, "0" * 64, files, INPUTS, train=True, evaluate=True, bootstrap=BOOTSTRAP)
    got = state(spec, grid)
    assert got.to_run == ("train", "evaluate", "bootstrap") and got.reasons == ()  # not run yet: nothing to say
    assert plan_problems(spec, grid) == [f"{Path(spec.run_dir) / RunFiles.DONE} (missing: the run has not finished "
                                         "for its spec)"]


def test_the_plan_sends_back_a_run_whose_input_was_deleted_to_be_drawn_again(finished):
    spec, grid, _ = finished
    Path(spec.labels_path).unlink()
    assert plan_problems(spec, grid) == [f"{spec.labels_path} (missing: the pipeline writes it again)"]
