"""dvc.yaml's stages when something is wrong before any job runs, in a temporary git + DVC repository of one CE
run (nothing trains): `dvc repro` without SNAKEMAKE_PROFILE says what to set, and after a `dvc repro` killed
outright the rerun names an unlock command that works from the user's shell."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from pipeline_support import LOCKS, PROFILE, check, kill_once_locked, one_run_repo, run

pytestmark = pytest.mark.dvc


def dvc_repo(root: Path) -> Path:
    """One CE run's repository under git and DVC, dvc.yaml pointed at params/smoke.yaml."""
    repo = one_run_repo(root, "smoke_dvc_stages")
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("params/default.yaml", "params/smoke.yaml"))
    for args in (["init", "-q"], ["add", "-A"],
                 ["-c", "user.name=limitlab test", "-c", "user.email=test@limitlab.invalid", "commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    if not (repo / ".dvc").is_dir():
        check(run(["dvc", "init", "-q"], repo, timeout=60))
    return repo


def test_dvc_repro_without_a_profile_says_what_to_set(tmp_path):
    repo = dvc_repo(tmp_path)
    refused = check(run(["dvc", "repro"], repo, timeout=120), expect_ok=False)
    assert "export SNAKEMAKE_PROFILE=workflow/profiles/local" in refused, refused[-3000:]
    assert "export SNAKEMAKE_PROFILE=slurm" in refused
    assert "Snakemake version" not in refused  # refused before snakemake starts
    assert not (repo / "data").exists()


def test_rerun_of_a_killed_dvc_repro_names_an_unlock_command_for_the_shell(tmp_path):
    repo = dvc_repo(tmp_path)
    kill_once_locked(["dvc", "repro"], repo, SNAKEMAKE_PROFILE=PROFILE)
    refused = check(run(["dvc", "repro"], repo, timeout=180, SNAKEMAKE_PROFILE=PROFILE), expect_ok=False)
    unlock = f"cd {shlex.quote(str(repo))} && snakemake --unlock --profile {PROFILE} --config params=params/smoke.yaml"
    assert "Directory cannot be locked" in refused
    assert f"\n    {unlock}\nand run dvc repro again" in refused, refused[-3000:]
    # the user's shell: another folder, no SNAKEMAKE_PROFILE (pipeline_support.env drops it)
    check(run(["bash", "-c", unlock], tmp_path, timeout=120))
    assert not any((repo / LOCKS).glob("*.lock"))
