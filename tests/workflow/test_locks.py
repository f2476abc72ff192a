"""A snakemake killed outright (SIGKILL of its process group) leaves Snakemake's lock in .snakemake/locks: the
rerun is refused and names the exact `snakemake --unlock` to run, and limitlab's notes on the plan ("N cell(s)
were interrupted last time ...") wait until Snakemake holds the lock. Real snakemake processes on a copy of the
repository, killed as soon as they hold their lock: nothing trains. The same under `dvc repro`: test_dvc_stages."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from limitlab.jobs import failure_markers as markers
from pipeline_support import check, copy_repo, env, run, smoke_subset

LOCKS = Path(".snakemake/locks")
PROFILE = "workflow/profiles/local"
INTERRUPTED_NOTE = "were interrupted last time"


def one_run_repo(root: Path, name: str) -> Path:
    """A copy of the repository whose params/smoke.yaml is one CE run (no cleanlab block)."""
    repo = copy_repo(root / "repo")
    path = smoke_subset(repo, methods=["ce"], p=[0.8], name=name)
    data = yaml.safe_load(path.read_text())
    data["studies"]["uniform"].pop("cleanlab", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return repo


def mark_interrupted(repo: Path) -> str:
    """What a run killed mid-training leaves (interrupted.json); returns its key."""
    (spec,) = [r.spec for r in runs_of(P.load(repo / "params/smoke.yaml"))]
    (repo / spec.run_dir).mkdir(parents=True)
    markers.write_marker(repo / spec.run_dir, "interrupted", 137, spec.model_dump(mode="json"))
    return spec.key


def kill_once_locked(cmd: list[str], cwd: Path, timeout: float = 180, **extra_env: str) -> None:
    """Start ``cmd`` in a process group of its own, wait until Snakemake has written its lock (input and output
    lists), then SIGKILL the whole group: what a closed terminal or `kill -9 -PGID` does."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env(**extra_env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    output_lock = cwd / LOCKS / "0.output.lock"
    deadline = time.monotonic() + timeout
    try:
        while not (output_lock.is_file() and output_lock.stat().st_size):
            if proc.poll() is not None:
                raise AssertionError(f"{shlex.join(cmd)} ended before it locked:\n{proc.stdout.read()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{shlex.join(cmd)} did not lock within {timeout} s")
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_rerun_after_a_killed_snakemake_names_the_exact_unlock_command(tmp_path):
    repo = one_run_repo(tmp_path, "smoke_lock")
    key = mark_interrupted(repo)
    cmd = ["snakemake", "--profile", PROFILE, "--config", "params=params/smoke.yaml", "--", "all"]
    kill_once_locked(cmd, repo)
    assert any((repo / LOCKS).glob("*.lock"))

    refused = check(run(cmd, repo, timeout=120), expect_ok=False)
    unlock = f"snakemake --unlock --profile {PROFILE} --config params=params/smoke.yaml"
    assert "Directory cannot be locked" in refused
    assert f"\n    {unlock}\n" in refused, refused[-3000:]
    assert INTERRUPTED_NOTE not in refused  # nothing runs: no notes on what would run
    dry = check(run(["snakemake", "-n", *cmd[1:]], repo, timeout=120))
    assert unlock in dry and INTERRUPTED_NOTE not in dry  # the lock may be a running snakemake's: its runs

    check(run(shlex.split(unlock), repo, timeout=120))
    assert not any((repo / LOCKS).glob("*.lock"))
    dry = check(run(["snakemake", "-n", *cmd[1:]], repo, timeout=120))
    assert f"1 cell(s) {INTERRUPTED_NOTE}" in dry and key in dry and "cannot be locked" not in dry


def test_notes_print_once_the_lock_is_held(tmp_path):
    """A lock of files this run does not touch (another experiment's snakemake in the same folder) refuses
    nothing: the notes wait for onstart and print once, when the jobs start."""
    repo = one_run_repo(tmp_path, "smoke_lock_other")
    mark_interrupted(repo)
    (repo / LOCKS).mkdir(parents=True)
    (repo / LOCKS / "0.output.lock").write_text("results/another_experiment/metrics.json\n")
    out = check(run(["snakemake", "--profile", PROFILE, "--config", "params=params/smoke.yaml", "--", "data"],
                    repo, timeout=300))
    assert out.count(INTERRUPTED_NOTE) == 1
    assert out.index(INTERRUPTED_NOTE) > out.index("Building DAG of jobs")  # after the lock, not while reading
