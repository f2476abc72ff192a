"""The run-job plan (limitlab.pipeline.plan) as plain Python: what the Snakefile's rules get for each job."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from limitlab.errors import LimitlabError
from limitlab.experiment import failure_markers, params_file
from limitlab.experiment.grid import GridIndex
from limitlab.jobs.grouping import split
from limitlab.jobs.done_record import specs_sha256
from limitlab.jobs.left_out import left_out_reason
from limitlab.pipeline.plan import RunJobPlan, corrupt_args, stage_resources

REPO = Path(__file__).resolve().parents[2]


def experiment(tmp_path: Path, **changes):
    data = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    data.update(data_dir=str(tmp_path / "data"), results_dir=str(tmp_path / "results"), **changes)
    return params_file.validate(data, "smoke (test)")


def spec_of(plan: RunJobPlan, method_id: str, p: float = 0.5):
    return next(s for s in plan.grid.specs if s.method_id == method_id and s.p == p)


def fail(spec) -> None:
    Path(spec.run_dir).mkdir(parents=True, exist_ok=True)
    failure_markers.write_marker(spec.run_dir, "failed", 2, spec.model_dump(mode="json"))


def test_runs_per_job_comes_from_config_then_params_then_profile(tmp_path):
    exp = experiment(tmp_path)
    assert RunJobPlan(exp).runs_per_job() == 1
    assert RunJobPlan(exp).runs_per_job(profile_value=5) == 5
    assert RunJobPlan(exp, {"runs_per_job": "7"}).runs_per_job(profile_value=5) == 7
    with_n = experiment(tmp_path, resources={"runs_per_job": 4})
    assert RunJobPlan(with_n).runs_per_job(profile_value=5) == 4
    assert RunJobPlan(with_n, {"runs_per_job": 2}).runs_per_job(profile_value=5) == 2
    for bad in (0, "x", True, -1):
        with pytest.raises(LimitlabError, match="must be a positive integer"):
            RunJobPlan(exp, {"runs_per_job": bad}).runs_per_job()


def test_jobs_cover_the_grid_and_name_their_size(tmp_path):
    plan = RunJobPlan(experiment(tmp_path))
    jobs = plan.jobs(3)
    assert list(jobs) == [f"n3-{i:05d}" for i in range(len(jobs))]
    assert sorted(s.key for runs in jobs.values() for s in runs) == sorted(s.key for s in plan.grid.specs)
    assert plan.job_files(3) == [f"{tmp_path}/data/jobs/smoke/{j}.json" for j in jobs]
    assert plan.job_runtime("n3-00000") == 3 * (10 + 10)
    assert split([], 3) == {}
    named = RunJobPlan(experiment(tmp_path), source="params/smoke.yaml")
    with pytest.raises(LimitlabError, match="'n3-09999' is not a run job of params/smoke.yaml"):
        named.job_runs("n3-09999")
    with pytest.raises(LimitlabError, match="not a run-job id"):
        plan.job_runs("x3")


def test_a_job_hash_changes_with_its_own_runs_only(tmp_path):
    exp = experiment(tmp_path)
    plan = RunJobPlan(exp)
    before = {job: plan.job_hash(job) for job in plan.jobs(1)}
    assert before["n1-00000"] == specs_sha256(plan.jobs(1)["n1-00000"], GridIndex.of(exp))
    data = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    data["studies"]["uniform"]["methods"]["mae"]["training"] = {"lr": 0.002}
    changed = RunJobPlan(experiment(tmp_path, studies=data["studies"]))
    after = {job: changed.job_hash(job) for job in changed.jobs(1)}
    differ = {job for job in before if before[job] != after[job]}
    assert {s.method_id for job in differ for s in changed.jobs(1)[job]} == {"mae"}
    assert len(differ) == 2  # p = 0.5 and p = 0.8


def test_a_job_waits_for_the_jobs_that_train_its_init_sources(tmp_path):
    plan = RunJobPlan(experiment(tmp_path))
    dependent = spec_of(plan, "limit_g_init")
    source = plan.grid.init_source(dependent)
    assert source is not None and source.method_id == "ce"
    jobs_of = plan.job_of_run(1)
    inputs = plan.job_inputs(jobs_of[dependent.key])
    assert inputs["init_jobs"] == [f"{plan.jobs_dir}/{jobs_of[source.key]}.json"]
    assert inputs["labels"] == [str(dependent.labels_path)] and inputs["data"] == [str(dependent.data_path)]
    # the same runs in one job: no job waits for itself
    one = plan.job_of_run(100)
    assert "init_jobs" not in plan.job_inputs(one[dependent.key])


def test_a_failed_source_leaves_out_its_dependents_in_the_plan_and_the_job(tmp_path):
    exp = experiment(tmp_path)
    grid = GridIndex.of(exp)
    ce = next(s for s in grid.specs if s.method_id == "ce" and s.p == 0.5)
    dependent = next(s for s in grid.specs if s.method_id == "limit_g_init" and s.p == 0.5)
    fail(ce)
    plan = RunJobPlan(exp)
    assert {k for k, failed in plan.failed.items() if failed} == {ce.key, dependent.key}
    assert plan.messages()[0].startswith("limitlab: skipping 2 failed cell(s)")
    for sources_must_have_trained in (False, True):
        assert left_out_reason(ce, grid, retry_failed=False, sources_must_have_trained=sources_must_have_trained) == "failed"
        assert left_out_reason(dependent, grid, retry_failed=False,
                               sources_must_have_trained=sources_must_have_trained) == "skipped"
    assert left_out_reason(ce, grid, retry_failed=True, sources_must_have_trained=False) is None
    # when the job runs, an untrained source leaves its dependent out (at planning time it is about to train)
    assert left_out_reason(dependent, grid, retry_failed=True, sources_must_have_trained=True) == "skipped"
    assert left_out_reason(dependent, grid, retry_failed=True, sources_must_have_trained=False) is None


def test_retry_failed_reruns_only_the_jobs_that_hold_a_failed_run(tmp_path):
    exp = experiment(tmp_path)
    grid = GridIndex.of(exp)
    mae = next(s for s in grid.specs if s.method_id == "mae" and s.p == 0.8)
    fail(mae)
    plain, retry = RunJobPlan(exp), RunJobPlan(exp, {"retry_failed": "true"})
    flagged = {job for job in retry.jobs(1) if retry.job_retry(job)}
    assert [s.key for job in flagged for s in retry.jobs(1)[job]] == [mae.key]
    assert not any(plain.job_retry(job) for job in plain.jobs(1))
    assert retry.messages() == []  # nothing is left out when failures are retried
    assert RunJobPlan(exp, {"retry_failed": "YES"}).retry_failed and not RunJobPlan(exp, {"retry_failed": 0}).retry_failed
    with pytest.raises(LimitlabError, match="retry_failed='maybe' is not a boolean"):
        RunJobPlan(exp, {"retry_failed": "maybe"})  # run_config's rule, also for callers other than the Snakefile


def test_a_marker_for_another_spec_is_not_a_failure_of_this_one(tmp_path):
    exp = experiment(tmp_path)
    ce = next(s for s in GridIndex.of(exp).specs if s.method_id == "ce" and s.p == 0.5)
    Path(ce.run_dir).mkdir(parents=True)
    failure_markers.write_marker(ce.run_dir, "failed", 2, {**ce.model_dump(mode="json"), "seed": 7})
    assert not any(RunJobPlan(exp).failed.values())


def test_interrupted_runs_are_announced_as_resuming(tmp_path):
    exp = experiment(tmp_path)
    ce = next(s for s in GridIndex.of(exp).specs if s.method_id == "ce" and s.p == 0.5)
    Path(ce.run_dir).mkdir(parents=True)
    failure_markers.write_marker(ce.run_dir, "interrupted", 143, ce.model_dump(mode="json"))
    (message,) = RunJobPlan(exp).messages()
    assert "1 cell(s) were interrupted last time" in message and ce.key in message


def test_job_resources_and_stage_resources(tmp_path):
    exp = experiment(tmp_path, resources={"train": {"gpus": 1, "cpus": 4, "mem_mb": 8000, "runtime": 60,
                                                    "gpu_model": "a100"},
                                          "evaluate": {"gpus": 1, "cpus": 2, "mem_mb": 16000, "runtime": 5}})
    plan = RunJobPlan(exp)
    assert plan.job_resources() == {"mem_mb": 16000, "cpus_per_task": 4, "gpu": 1, "gpu_model": "a100"}
    assert plan.minutes_per_run == 65
    assert stage_resources(exp.resources.default) == {"runtime": 30, "mem_mb": 2000, "cpus_per_task": 1}


def test_corrupt_args_name_every_option_of_the_setting(tmp_path):
    from limitlab.experiment.grid import all_settings

    (_, setting), *_ = all_settings(experiment(tmp_path)).values()
    assert corrupt_args(setting) == ("--dataset mnist5k --noise uniform --p 0.5 --n 300 --seed 42 --val-ratio 0.2")


def test_a_run_another_job_is_training_is_not_announced_as_interrupted(tmp_path):
    """A second Snakemake sharing a run sees the first one's 'in progress' marker: it says the run is being
    trained by another job (it holds the run's lock), not that it was interrupted."""
    import fcntl

    from limitlab.experiment import failure_markers
    from limitlab.jobs.execute import lock_path

    plan = RunJobPlan(experiment(tmp_path))
    busy, idle = plan.grid.specs[:2]
    for spec in (busy, idle):
        Path(spec.run_dir).mkdir(parents=True)
        failure_markers.write_marker(spec.run_dir, "interrupted", 137, spec.model_dump(mode="json"))
    lock = lock_path(busy)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        notes = "\n".join(plan.messages())
    assert "1 cell(s) were interrupted last time" in notes and idle.key in notes.split("interrupted")[1]
    assert "1 cell(s) are being trained by another job now" in notes and busy.key in notes.split("another job")[1]
