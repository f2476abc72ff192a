"""dvc.lock after a snakemake run (limitlab.jobs.dvc_record), without running DVC: which stages a run completes,
dvc.yaml's paths, which lock entries stay up to date and which stay due, and what is said when nothing can be
recorded. The whole flow with DVC: tests/workflow/test_dvc.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from limitlab.jobs import dvc_record as R

REPO = Path(__file__).resolve().parents[2]


def test_the_targets_a_run_completes_name_the_stages_it_completes():
    assert R.completed_stages(["all"]) == {"data", "train", "report"}
    assert R.completed_stages(["train_all"]) == {"data", "train"}
    assert R.completed_stages(["data", "evaluate_all"]) == {"data", "train"}
    assert R.completed_stages(["data/runs/x/model.pt"]) == set()  # a file, or a partial run: none
    assert R.completed_stages([]) == set()


def test_the_repository_dvc_yaml_resolves_to_the_default_grids_folders():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    values = R.dvc_vars(spec, REPO)
    assert values["PARAMS"] == "params/default.yaml"  # the two vars lines name the same file
    paths = R.stage_paths(spec, values)
    assert list(paths) == ["data", "train", "report"]
    assert paths["data"].outs == ["data/datasets", "data/labels"]
    assert {"data/runs", "data/eval", "data/jobs"} == set(paths["train"].outs)
    assert "data/cv" in paths["report"].outs and "results/metrics.json" in paths["report"].outs
    assert paths["report"].made == ["data/cv"]  # its command makes the folder: empty without cleanlab


def lock(*stages: tuple[str, str], params: bool = True) -> dict:
    entry = lambda md5: {"cmd": "x", "params": {"p.yaml": {"a": 1}} if params else None,  # noqa: E731
                         "outs": [{"path": "data/runs", "hash": "md5", "md5": md5}]}
    return {"schema": "2.0", "stages": {name: entry(md5) for name, md5 in stages}}


def test_stages_the_run_did_not_complete_keep_their_entry_or_stay_due():
    before = lock(("data", "d1"), ("train", "t1"))
    after = lock(("data", "d1"), ("train", "t2"), ("report", "r1"))
    merged = R.merge_lock(before, after, recorded=["data", "train", "report"], up_to_date=[])
    assert merged["stages"]["data"] == before["stages"]["data"]  # unchanged outputs: the previous entry
    assert "params" not in merged["stages"]["train"]  # new outputs recorded, the stage stays due
    assert merged["stages"]["train"]["outs"][0]["md5"] == "t2"
    assert "params" not in merged["stages"]["report"]  # no entry before: recorded, due


def test_stages_the_run_completed_keep_what_dvc_commit_recorded():
    after = lock(("data", "d2"), ("train", "t2"))
    merged = R.merge_lock(lock(("data", "d1")), after, recorded=["data", "train"], up_to_date=["data", "train"])
    assert merged == lock(("data", "d2"), ("train", "t2"))


def dvc_project(root: Path, git: bool) -> Path:
    for name in ("dvc.yaml", "params/default.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, root / name)
    (root / ".dvc").mkdir()
    if git:
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_inside_a_dvc_stage_or_outside_a_dvc_project_nothing_is_done(tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError(f"ran {args}")

    assert R.after_snakemake("params/default.yaml", ["all"], True, tmp_path, environ={}, run=refuse) == []
    dvc_project(tmp_path, git=False)
    stage = {"DVC_STAGE": "train", "DVC_ROOT": str(tmp_path)}
    assert R.after_snakemake("params/default.yaml", ["all"], True, tmp_path, environ=stage, run=refuse) == []


def test_outside_git_it_says_that_dvc_needs_a_commit_and_how_to_record_later(tmp_path):
    repo = dvc_project(tmp_path / "repo", git=False)
    [line] = R.after_snakemake("params/default.yaml", ["all"], True, repo, environ={})
    assert "is not a git repository" in line
    assert "git init && git add -A && git commit" in line and "run this snakemake command again" in line


@pytest.mark.parametrize(("params", "finished", "targets", "due"), [
    ("params/default.yaml", True, ["all"], []),
    ("params/default.yaml", False, ["all"], ["data", "train"]),  # stopped: recorded, but due
    ("params/smoke.yaml", True, ["all"], ["data", "train"]),  # not the file dvc.yaml runs
    ("params/default.yaml", True, ["data"], ["train"]),
])
def test_what_dvc_commit_recorded_is_up_to_date_only_for_the_stages_this_run_completed(
        tmp_path, params, finished, targets, due):
    repo = dvc_project(tmp_path / "repo", git=True)
    for folder in ("data/datasets", "data/labels", "data/runs", "data/eval", "data/jobs", "Snakefile",
                   "workflow/rules"):  # no results: the report stage has nothing to record
        (repo / folder).mkdir(parents=True, exist_ok=True)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        if "commit" in cmd:  # dvc commit --force ... STAGES: a new md5 for each stage it records
            stages = cmd[cmd.index("--quiet") + 1:]
            (repo / "dvc.lock").write_text(yaml.safe_dump(lock(*((s, s + "-new") for s in stages))))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    lines = R.after_snakemake(params, targets, finished, repo, environ={}, run=fake_run)
    assert calls[-1][-4:] == ["--force", "--quiet", "data", "train"], calls  # report's outputs are missing
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert sorted(s for s in stages if "params" not in stages[s]) == due
    said = "\n".join(lines)
    assert ("stay due" not in said and "still counts them as due" not in said) if not due else \
        f"dvc.lock records the outputs of {', '.join(due)}, so dvc exp run and dvc checkout keep them" in said
    assert not (repo / "data/cv").exists()  # made only when the report stage can be recorded


def test_without_a_first_git_commit_it_records_and_says_that_dvc_exp_run_needs_one(tmp_path):
    repo = dvc_project(tmp_path / "repo", git=True)
    for folder in ("data/datasets", "data/labels", "Snakefile", "workflow/rules"):
        (repo / folder).mkdir(parents=True, exist_ok=True)

    def fake_run(cmd, **kwargs):
        if "commit" in cmd:
            (repo / "dvc.lock").write_text(yaml.safe_dump(lock(("data", "d1"))))
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return subprocess.run(cmd, **kwargs)  # git itself: a repository without a commit

    lines = R.after_snakemake("params/default.yaml", ["all"], True, repo, environ={}, run=fake_run)
    assert "dvc.lock records the outputs of data, built from params/default.yaml" in lines[0]
    assert lines[-1] == ("limitlab: dvc exp run needs a first git commit here: git add -A && "
                         "git commit -m 'limitlab'")
