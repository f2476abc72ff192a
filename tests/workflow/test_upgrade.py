"""A user's finished results survive an upgrade of limitlab: finish the smoke grid with an earlier release of the
code, switch to this checkout in the same folder, and nothing is retrained; the report's metrics are unchanged.

The earlier code comes from this repository's own history (``git archive``), so the test needs a clone with
history; the run identity (RunSpec JSON, job hashes) and the rules' shell strings are what it guards.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from pipeline_support import REPO, check, copy_repo, job_counts, run

# The last commit before the family packages (limitlab 0.1.0 with flat modules): results written by it must stay valid.
BEFORE_LAYOUT = "d8ae70d8b22723e060d63549d343e191c75e36b2"


def old_checkout(dst: Path) -> Path | None:
    has = subprocess.run(["git", "cat-file", "-e", f"{BEFORE_LAYOUT}^{{commit}}"], cwd=REPO, capture_output=True)
    if has.returncode != 0:
        return None
    tar = subprocess.run(["git", "archive", BEFORE_LAYOUT], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dst, filter="data")
    return dst


@pytest.mark.slow
def test_results_of_the_previous_layout_are_not_retrained(tmp_path):
    old = old_checkout(tmp_path / "old")
    if old is None:
        pytest.skip(f"this clone lacks commit {BEFORE_LAYOUT[:7]} (a shallow clone): clone with history to run it")
    work = copy_repo(tmp_path / "work")  # the user's folder: params files as shipped (identical in both)
    config = ["--config", "params=params/smoke.yaml", "--", "all"]
    old_env = {"PYTHONPATH": str(old / "src")}  # `limitlab` in the rules' shell then runs the old code
    check(run(["snakemake", "--cores", "2", "--snakefile", str(old / "Snakefile"), *config], work, timeout=1200,
              **old_env))
    metrics_before = json.loads((work / "results/smoke/metrics.json").read_text())

    plan = check(run(["snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), *config], work, timeout=300))
    counts = job_counts(plan)
    assert counts.get("run", 0) == 0 and counts.get("cleanlab", 0) == 0, f"the upgrade retrains finished runs: {counts}"
    assert counts.get("download", 0) == 0 and counts.get("corrupt", 0) == 0, counts

    check(run(["snakemake", "--cores", "2", "--snakefile", str(REPO / "Snakefile"), "--forcerun", "aggregate",
               *config], work, timeout=600))
    assert json.loads((work / "results/smoke/metrics.json").read_text()) == metrics_before
    again = check(run(["snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), *config], work, timeout=300))
    assert "Nothing to be done" in again
