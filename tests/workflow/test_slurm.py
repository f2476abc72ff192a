"""`snakemake --profile slurm all` on a real one-node SLURM cluster (munged + slurmctld + slurmd, fake GPUs).

The cluster is started by tests/cluster/start_slurm.sh in a temporary folder and stopped by its finalizer
(by pid) even when a test fails. Debian's slurm-wlm and munge are installed with apt when missing; the tests
are skipped, with the reason, only when that is impossible.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from pipeline_support import REPO, check, copy_repo, missing_outputs, run, smoke_subset

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
CLUSTER = REPO / "tests" / "cluster"
DAEMONS = ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "scontrol")
# What a one-node cluster without an accounting database needs on top of the profile: job states from
# squeue (finished jobs stay visible: MinJobAge=3600 in slurm.conf), and a short first status poll.
CLUSTER_OVERRIDES = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"]


def _install_slurm() -> str | None:
    """None when the SLURM and munge binaries are there (installing them if needed), else why not."""
    if all(shutil.which(b) for b in DAEMONS):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "slurm-wlm/munge are missing and apt-get cannot install them here (needs root on Debian/Ubuntu)"
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "slurm-wlm", "munge"]):
        res = subprocess.run(cmd, env=apt_env, capture_output=True, text=True, timeout=900)
        if res.returncode != 0:
            return f"`{' '.join(cmd)}` failed: {res.stderr.strip()[-500:]}"
    return None if all(shutil.which(b) for b in DAEMONS) else "apt-get ran but the SLURM binaries are still missing"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running test cluster; yields the environment its clients need (SLURM_CONF, PATH)."""
    why = _install_slurm()
    if why:
        pytest.skip(why)
    state = tmp_path_factory.mktemp("slurm")
    # 2 fake GPUs: the 2-core test machine runs two one-GPU jobs at a time (one would serialise every job)
    start = subprocess.run([str(CLUSTER / "start_slurm.sh"), str(state)], capture_output=True, text=True,
                           timeout=180, env={**os.environ, "GPUS": "2", "MEM_MB": "20000"})
    try:
        assert start.returncode == 0, f"SLURM did not start:\n{start.stdout}\n{start.stderr}"
        yield {"SLURM_CONF": str(state / "slurm.conf"), "PATH": f"{state / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    finally:
        subprocess.run([str(CLUSTER / "stop_slurm.sh"), str(state)], timeout=60)
        pids = (state / "pids").read_text().split() if (state / "pids").exists() else []
        assert pids == [], f"daemons not stopped: {pids}"


def slurm_jobs(cluster_env) -> list[dict[str, str]]:
    """Every job the controller remembers, as dicts of `scontrol show job -o` fields."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], env={**os.environ, **cluster_env}, capture_output=True,
                         text=True, check=True).stdout
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in out.splitlines() if line.startswith("JobId=")]


def jobs_of(jobs, rule: str) -> dict[str, dict[str, str]]:
    """Jobs of one rule by wildcard string (the plugin's --comment: rule_<rule>_wildcards_<key with _>)."""
    prefix = f"rule_{rule}_wildcards_"
    return {j["Comment"][len(prefix):]: j for j in jobs if j.get("Comment", "").startswith(prefix)}


SMOKE_METHODS = ["ce", "mae", "gce", "ce_gn", "ce_ln", "limit_g", "limit_l", "limit_g_s", "limit_g_init"]


def minutes(limit: str) -> int:
    """A SLURM TimeLimit (D-HH:MM:SS or HH:MM:SS) in minutes."""
    days, _, clock = limit.rpartition("-")
    h, m, _ = (int(x) for x in clock.split(":"))
    return (int(days) if days else 0) * 1440 + h * 60 + m


def test_profile_slurm_groups_runs_into_few_one_gpu_jobs(cluster, tmp_path):
    """A user without a profile: the documented one-line install, then `snakemake --profile slurm all` from
    the repository root. The profile's default of 5 runs per job sends the smoke grid (at p = 0.5: 10 runs) out
    as ceil(10 / 5) sbatch jobs, each running train -> evaluate -> bootstrap of its runs with ONE GPU and the
    CPUs and memory of one run; the cheap stages stay local; metrics.json equals the local run's."""
    repo = copy_repo(tmp_path / "repo")
    path = smoke_subset(repo, methods=SMOKE_METHODS, p=[0.5], name="smoke_group")
    # This test counts the run jobs; cleanlab's fold models are sbatch jobs of their own (one per fold).
    data = yaml.safe_load(path.read_text())
    for study in (data["studies"].values() if isinstance(data["studies"], dict) else data["studies"]):
        study.pop("cleanlab", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    exp = P.load(repo / "params/smoke.yaml")
    res = exp.resources
    home = tmp_path / "home"
    home.mkdir()
    user = {**cluster, "HOME": str(home), "XDG_CONFIG_HOME": ""}  # a user with no profile of their own
    install = ("mkdir -p ~/.config/snakemake && [ -e ~/.config/snakemake/slurm ] || "
               "cp -r workflow/profiles/slurm ~/.config/snakemake/")
    assert install in (REPO / "docs/pipeline.md").read_text()
    check(run(["bash", "-c", install], repo, timeout=30, **user))
    assert (home / ".config/snakemake/slurm/config.yaml").is_file()

    before = {j["JobId"] for j in slurm_jobs(cluster)}
    tic = time.perf_counter()
    out = check(run(["snakemake", "--profile", "slurm", *CLUSTER_OVERRIDES, "--config", "params=params/smoke.yaml",
                     "--", "all"], repo, timeout=1800, **user))
    print(f"SLURM smoke ({len(runs_of(exp))} runs, 5 per job): {time.perf_counter() - tic:.0f} s")
    assert "Using profile slurm" in out or "Using profiles" in out
    assert missing_outputs(repo, "params/smoke.yaml") == []

    jobs = [j for j in slurm_jobs(cluster) if j["JobId"] not in before]
    run_jobs = jobs_of(jobs, "run")
    assert run_jobs and len(run_jobs) == len(jobs), f"every sbatch job is a run job: {[j['Comment'] for j in jobs]}"
    assert len(run_jobs) == math.ceil(len(runs_of(exp)) / 5), sorted(run_jobs)
    for job in run_jobs.values():
        assert job["JobState"] == "COMPLETED", job
        assert job["TresPerJob"] == "gres:gpu:1", job  # one GPU for the whole job, not one per run
        assert job["NumCPUs"] == str(res.train.cpus) and job["MinMemoryNode"] == f"{res.train.mem_mb}M", job
        # the runs of a job follow each other: its time limit is the sum of theirs
        assert minutes(job["TimeLimit"]) == 5 * (res.train.runtime + res.evaluate.runtime), job
    summaries = [json.loads((repo / "data/jobs/smoke_group" / f"{j}.json").read_text()) for j in sorted(run_jobs)]
    assert sorted(r["key"] for s in summaries for r in s["runs"]) == sorted(r.key for r in runs_of(exp))
    assert {r["status"] for s in summaries for r in s["runs"]} == {"ok"}

    local = copy_repo(tmp_path / "local")
    shutil.copy2(path, local / "params" / "smoke.yaml")  # the same grid (without the cleanlab block)
    metrics = Path(exp.results_path) / "metrics.json"
    check(run(["snakemake", "--profile", "workflow/profiles/local", "--cores", "2", "--config",
               "params=params/smoke.yaml", "--", str(metrics)], local, timeout=1800))  # the runs and the table only
    assert json.loads((repo / metrics).read_text()) == json.loads((local / metrics).read_text())


def test_killed_run_job_is_resubmitted_and_resumes(cluster, tmp_path):
    """`scancel` a run job while its second run trains: the profile's retries resubmit the job, which skips the
    finished first run (its files untouched) and resumes the second from its last completed epoch."""
    repo = copy_repo(tmp_path / "repo")
    path = smoke_subset(repo, methods=[], p=[0.5], name="smoke_kill", extra_methods=[
        {"id": "ce", "method": "ce", "label": "CE", "training": {"epochs": 2}},
        {"id": "mae", "method": "mae", "label": "MAE", "training": {"epochs": 12}}])
    data = yaml.safe_load(path.read_text())
    data["studies"]["uniform"]["n"] = ["all"]  # 3,200 training examples: a few seconds per epoch here
    data["resources"]["runs_per_job"] = 2
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    exp = P.load(path)
    first, second = (r.spec for r in runs_of(exp))
    env = {**cluster, "HOME": str(tmp_path)}
    cmd = ["snakemake", "--profile", str(REPO / "workflow/profiles/slurm"), *CLUSTER_OVERRIDES, "--config",
           "params=params/smoke.yaml", "--", "train_all"]
    proc = subprocess.Popen(cmd, cwd=repo, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.time() + 900
        state = repo / second.run_dir / "state" / "last.pt"
        while not state.is_file():  # the second run has finished an epoch: the first run is done
            assert proc.poll() is None and time.time() < deadline, "the job ended before it could be killed"
            time.sleep(0.2)
        done_first = (repo / first.run_dir / "result.json").stat().st_mtime_ns
        (job,) = [j for j in jobs_of(slurm_jobs(cluster), "run").values() if j["JobState"] == "RUNNING"]
        subprocess.run(["scancel", job["JobId"]], env={**os.environ, **cluster}, check=True)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
    assert proc.returncode == 0, out[-4000:]
    attempts = [j["JobState"] for j in slurm_jobs(cluster) if j.get("Comment") == "rule_run_wildcards_n2-00000"
                and int(j["JobId"]) >= int(job["JobId"])]
    assert attempts[0] == "CANCELLED" and attempts[-1] == "COMPLETED", attempts  # resubmitted by the profile
    log = (repo / "logs/smoke_kill/runs" / f"{second.key}.log").read_text()
    assert "resuming from" in log, log[-2000:]
    assert (repo / first.run_dir / "result.json").stat().st_mtime_ns == done_first  # not trained again
    history = (repo / second.run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 12  # every epoch once, the resumed ones included
    summary = json.loads((repo / "data/jobs/smoke_kill/n2-00000.json").read_text())
    assert [r["status"] for r in summary["runs"]] == ["ok", "ok"]
    assert not (repo / second.run_dir / "interrupted.json").exists()


def test_own_slurm_profile_still_gets_gpu_requests(cluster, tmp_path):
    """A user whose own `slurm` profile only names executor and partition: the GPU, memory, CPUs and
    runtime still come from the rules (params), not from a profile."""
    repo = copy_repo(tmp_path / "repo")
    smoke_subset(repo, methods=["ce"], p=[0.5], name="smoke_own")
    exp = P.load(repo / "params/smoke.yaml")
    home = tmp_path / "home"
    (home / ".config/snakemake/slurm").mkdir(parents=True)
    (home / ".config/snakemake/slurm/config.yaml").write_text(
        "executor: slurm\njobs: 4\ndefault-resources:\n  slurm_partition: debug\n")
    user = {**cluster, "HOME": str(home), "XDG_CONFIG_HOME": ""}
    (run_spec,) = [r.spec for r in runs_of(exp)]
    before = {j["JobId"] for j in slurm_jobs(cluster)}
    check(run(["snakemake", "--profile", "slurm", *CLUSTER_OVERRIDES, "--config", "params=params/smoke.yaml",
               "--", "train_all"], repo, timeout=300, **user))
    (job,) = [j for j in slurm_jobs(cluster) if j["JobId"] not in before]
    assert job["Comment"] == "rule_run_wildcards_n1-00000", job  # the run job of the one run (1 run per job)
    assert job["Partition"] == "debug" and job["TresPerJob"] == "gres:gpu:1"
    assert job["MinMemoryNode"] == f"{exp.resources.train.mem_mb}M"
    assert (repo / run_spec.run_dir / "result.json").is_file()
