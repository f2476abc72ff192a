"""A snakemake killed outright (SIGKILL of its process group) leaves Snakemake's lock in .snakemake/locks: the
rerun is refused and names the exact `snakemake --unlock` to run, and limitlab's notes on the plan ("N cell(s)
were interrupted last time ...") wait until Snakemake holds the lock. Real snakemake processes on a copy of the
repository, killed as soon as they hold their lock (pipeline_support.kill_once_locked): nothing trains. The same under
`dvc repro`: test_dvc_stages."""

from __future__ import annotations

import shlex
from pathlib import Path

from limitlab.experiment import failure_markers as markers
from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from pipeline_support import LOCKS, PROFILE, check, kill_once_locked, one_run_repo, run

INTERRUPTED_NOTE = "were interrupted last time"


def mark_interrupted(repo: Path) -> str:
    """What a run killed mid-training leaves (interrupted.json); returns its key."""
    (spec,) = [r.spec for r in runs_of(P.load(repo / "params/smoke.yaml"))]
    (repo / spec.run_dir).mkdir(parents=True)
    markers.write_marker(repo / spec.run_dir, "interrupted", 137, spec.model_dump(mode="json"))
    return spec.key


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
