"""`limitlab run`: one pipeline job trains, evaluates and bootstraps several runs (limitlab.jobs), on real tiny runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import failure_markers as markers
from limitlab.experiment.identity import untagged
from limitlab.experiment.grid import GridIndex
from limitlab.jobs import done_record, grouping
from limitlab.jobs.run_state import job_state
from limitlab.jobs.execute import STAGE_TIMES
from limitlab.experiment import params_file as P
from limitlab.cli import main
from limitlab.experiment.grid import runs_of

import tiny_data

METHODS = [{"id": "ce", "method": "ce"},
           {"id": "bad", "method": "ce", "training": {"lr": 1.0e30}},  # diverges: a failure that would repeat
           {"id": "init_bad", "method": "limit", "q_dist": "gaussian", "beta": 1.0,
            "init": {"source": "bad", "target": "q"}},
           {"id": "limit", "method": "limit", "q_dist": "gaussian", "beta": 1.0}]


def write_params(root: Path, methods=METHODS, bootstrap_samples: int = 50, epochs: int = 2) -> Path:
    study = {"id": "u", "dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [200],
             "seeds": [1], "training": {**tiny_data.TRAINING, "epochs": epochs}, "methods": methods}
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "data_dir": str(root / "data"),
                                    "bootstrap": {"samples": bootstrap_samples, "seed": 0},
                                    "studies": [study]}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    path = write_params(root)
    tiny_data.prepare(root / "data", P.load(path))
    return root, path


def job(path: Path, root: Path, job_id: str, *extra: str) -> int:
    return main(["run", "--params", str(path), "--job", job_id, "--logs", str(root / "logs"),
                 "--out", str(root / "jobs" / f"{job_id}.json"), *extra])


def mtimes(specs) -> dict[str, int]:
    return {str(f): f.stat().st_mtime_ns for s in specs for f in done_record.run_files(s, s.method.method == "limit")}


def test_one_job_runs_every_run_and_isolates_failures(prepared):
    root, path = prepared
    specs = [r.spec for r in runs_of(P.load(path))]
    by_id = {s.method_id: s for s in specs}
    (job_id,) = grouping.split(specs, 4)
    assert [s.method_id for s in grouping.split(specs, 4)[job_id]] == ["ce", "bad", "init_bad", "limit"]

    assert job(path, root, job_id) == 0
    summary = json.loads((root / "jobs" / f"{job_id}.json").read_text())
    assert [r["status"] for r in summary["runs"]] == ["ok", "failed", "skipped", "ok"]
    bad = markers.read_marker(by_id["bad"].run_dir)
    assert bad.kind == "failed" and bad.exit_status == 2 and bad.spec["key"] == by_id["bad"].key
    assert markers.read_marker(by_id["init_bad"].run_dir) is None  # its source failed, not the run
    assert "diverged" in (root / "logs" / f"{by_id['bad'].key}.log").read_text()
    for ok in (by_id["ce"], by_id["limit"]):
        assert all(f.is_file() for f in done_record.run_files(ok, ok.method.method == "limit"))
        assert markers.read_marker(ok.run_dir) is None  # the "in progress" marker is gone
        assert job_state(ok, ok.method.method == "limit", {"samples": 50, "seed": 0, "ci": 0.95}).finished
        assert set(json.loads((Path(ok.eval_dir) / STAGE_TIMES).read_text())) == {"train", "evaluate",
                                                                                          "bootstrap"}
    done = [by_id["ce"], by_id["limit"]]
    before = mtimes(done)

    # the job again: nothing is trained, evaluated or bootstrapped a second time; the summary is the same bytes
    first = (root / "jobs" / f"{job_id}.json").read_bytes()
    assert job(path, root, job_id) == 0
    assert mtimes(done) == before and (root / "jobs" / f"{job_id}.json").read_bytes() == first

    # a missing bootstrap.json is redone alone; so is every bootstrap when the bootstrap settings change
    (Path(by_id["ce"].eval_dir) / "bootstrap.json").unlink()
    assert job(path, root, job_id) == 0
    after = mtimes(done)
    changed = {f for f in before if after[f] != before[f]}
    assert changed == {str(Path(by_id["ce"].eval_dir) / "bootstrap.json")}
    path2 = write_params(root, bootstrap_samples=60)
    assert job(path2, root, job_id) == 0
    again = mtimes(done)
    assert {Path(f).name for f in again if again[f] != after[f]} == {"bootstrap.json"}
    assert json.loads((Path(by_id["limit"].eval_dir) / "bootstrap.json").read_text())["samples"] == 60

    # --retry-failed tries the failed run (it fails again) and its dependent stays left out
    assert job(path2, root, job_id, "--retry-failed") == 0
    summary = json.loads((root / "jobs" / f"{job_id}.json").read_text())
    assert [r["status"] for r in summary["runs"]] == ["ok", "failed", "skipped", "ok"]


def test_a_changed_source_retrains_its_dependents(tmp_path):
    """A run initialised from another is identified with its source's spec: retraining the source retrains it."""
    methods = [{"id": "ce", "method": "ce"},
               {"id": "init", "method": "limit", "q_dist": "gaussian", "beta": 1.0,
                "init": {"source": "ce", "target": "q"}}]
    path = write_params(tmp_path, methods)
    tiny_data.prepare(tmp_path / "data", P.load(path))
    specs = [r.spec for r in runs_of(P.load(path))]
    assert job(path, tmp_path, "n2-00000") == 0
    init = next(s for s in specs if s.method_id == "init")
    trained = (Path(init.run_dir) / "model.pt").stat().st_mtime_ns
    methods[0]["training"] = {"lr": 0.002}
    path = write_params(tmp_path, methods)
    new = {s.method_id: s for s in (r.spec for r in runs_of(P.load(path)))}
    assert untagged(new["init"].run_dir) == untagged(init.run_dir)  # its own cell did not change ...
    assert done_record.spec_sha256(init, GridIndex(specs)) != done_record.spec_sha256(
        new["init"], GridIndex(new.values()))  # ... its identity did, and with it its folder
    assert new["init"].run_dir != init.run_dir
    assert job(path, tmp_path, "n2-00000") == 0
    assert (Path(new["init"].run_dir) / "model.pt").is_file()
    assert (Path(init.run_dir) / "model.pt").stat().st_mtime_ns == trained  # the first one kept (a cache)


def test_params_edited_after_planning_are_refused(prepared, capsys):
    root, path = prepared
    specs = [r.spec for r in runs_of(P.load(path))]
    assert job(path, root, "n4-00000", "--expect", "0" * 16) == 2
    assert "changed after Snakemake planned it" in capsys.readouterr().err
    assert job(path, root, "n4-00007") == 2
    assert "no job n4-00007" in capsys.readouterr().err
    assert job(path, root, "x4") == 2
    assert done_record.specs_sha256(grouping.split(specs, 4)["n4-00000"], GridIndex(specs))


@pytest.mark.parametrize("sig, returncode, marked", [(signal.SIGKILL, -9, 137), (signal.SIGTERM, 143, 143),
                                                     (signal.SIGINT, 130, 130)])
def test_a_killed_job_leaves_the_run_marked_interrupted_and_the_next_job_resumes(sig, returncode, marked, tmp_path):
    """SIGKILL (the OOM killer, a hard limit) gives Python no chance to write anything: the marker written
    when the run started says what happened. SIGTERM (preemption, scancel) and Ctrl-C mark the run with their
    status and end the job. Either way the next job resumes the run from its last epoch."""
    methods = [{"id": "ce", "method": "ce"}]
    path = write_params(tmp_path, methods, epochs=40)
    tiny_data.prepare(tmp_path / "data", P.load(path))
    (spec,) = [r.spec for r in runs_of(P.load(path))]
    cmd = [sys.executable, "-m", "limitlab.cli", "run", "--params", str(path), "--job", "n1-00000",
           "--logs", str(tmp_path / "logs"), "--out", str(tmp_path / "jobs/n1-00000.json")]
    # SIG_DFL for SIGINT in the child: a test run started in the background (nohup ... &) ignores SIGINT, and a
    # child inherits that, so Python would never raise KeyboardInterrupt
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")})
    last = Path(spec.run_dir) / "state" / "last.pt"
    deadline = time.time() + 300
    while not last.is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(sig)
    assert proc.wait(120) == returncode
    assert last.is_file() and not (Path(spec.run_dir) / "result.json").exists(), "killed too late"
    marker = markers.read_marker(spec.run_dir)
    assert marker.kind == "interrupted" and marker.exit_status == marked
    assert "the next run resumes it" in marker.reason
    assert not (tmp_path / "jobs/n1-00000.json").exists()
    assert main(cmd[3:]) == 0
    assert "resuming from" in (tmp_path / "logs" / f"{spec.key}.log").read_text()
    assert markers.read_marker(spec.run_dir) is None
    assert len((Path(spec.run_dir) / "history.csv").read_text().splitlines()) == 1 + 40


def test_a_full_disk_interrupts_a_run_and_a_restored_input_leaves_no_failure(tmp_path, monkeypatch, capsys):
    """Disk full while training: the run is interrupted (it resumes once there is room), not failed. A stale
    failed.json beside a finished run (an earlier release marked refusals as failures) neither leaves the run out
    nor survives its next job."""
    import errno

    from limitlab.jobs import left_out
    from limitlab.training import checkpoints

    path = write_params(tmp_path, [{"id": "ce", "method": "ce"}])
    tiny_data.prepare(tmp_path / "data", P.load(path))
    (spec,) = [r.spec for r in runs_of(P.load(path))]
    real = checkpoints.io.save_torch

    def full(target, obj, **kwargs):
        if Path(target).name == "last.pt":
            raise checkpoints.io.write_error(Path(target), OSError(errno.ENOSPC, "No space left on device"))
        return real(target, obj, **kwargs)

    monkeypatch.setattr(checkpoints.io, "save_torch", full)
    assert job(path, tmp_path, "n1-00000") == markers.EXIT_OUT_OF_MEMORY  # no summary: Snakemake retries the job
    marker = markers.read_marker(spec.run_dir)
    assert marker.kind == "interrupted" and "disk space" in marker.reason
    assert not (tmp_path / "jobs" / "n1-00000.json").exists()
    monkeypatch.setattr(checkpoints.io, "save_torch", real)
    assert job(path, tmp_path, "n1-00000") == 0 and markers.read_marker(spec.run_dir) is None

    grid = GridIndex([spec])
    markers.write_marker(spec.run_dir, "failed", 2, spec.model_dump(mode="json"))  # stale: the run is finished
    assert left_out.left_out_reason(spec, grid, retry_failed=False, sources_must_have_trained=True) is None
    capsys.readouterr()
    assert job(path, tmp_path, "n1-00000") == 0
    assert markers.read_marker(spec.run_dir) is None and "failed" not in capsys.readouterr().err
