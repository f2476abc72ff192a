"""dvc.lock after a snakemake run (limitlab.pipeline.dvc_record), without running DVC: which stages a run completes,
dvc.yaml's paths, which lock entries stay up to date and which stay due, what is said when nothing can be
recorded, and what is put back after DVC's checkout removed it. The whole flow with DVC: tests/workflow/test_dvc.py."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from limitlab.pipeline import dvc_record as R

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
            stages = cmd[cmd.index("--force") + 1:]
            (repo / "dvc.lock").write_text(yaml.safe_dump(lock(*((s, s + "-new") for s in stages))))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    lines = R.after_snakemake(params, targets, finished, repo, environ={}, run=fake_run)
    assert calls[-1][-3:] == ["--force", "data", "train"], calls  # report's outputs are missing
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


def test_a_failed_record_says_what_dvc_said(tmp_path):
    """DVC itself, on a data folder that is a link out of the repository (a study kept on another disk): DVC
    refuses to track it, and the line says why, not just that the commit failed."""
    repo = dvc_project(tmp_path / "repo", git=True)
    (repo / ".dvc").rmdir()
    subprocess.run([*R.dvc_command(), "init", "-q"], cwd=repo, check=True)
    for name in ("Snakefile", "workflow/Snakefile"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "i"], cwd=repo,
                   check=True)
    outside = tmp_path / "elsewhere"
    for folder in ("datasets", "labels"):
        (outside / folder).mkdir(parents=True)
        (outside / folder / "x").write_text("x")
    (repo / "data").symlink_to(outside)
    [line] = [s for s in R.after_snakemake("params/default.yaml", ["data"], True, repo, environ={})
              if s.startswith(R.NOT_UPDATED)]
    assert "dvc commit --force data failed (" in line and "outside of" in line, line


# What DVC's checkout removed is put back (restore_removed): a DVC cache written by hand, as DVC 3 lays it out
# (.dvc/cache/files/md5/ab/cdef..., a folder as a .dir JSON listing); the whole flow: tests/workflow/test_dvc.py.

RUN_T1 = "uniform/mnist5k/uniform/p80/n300/s42/ce/default-aaa"
RUN_T2 = "uniform/mnist5k/uniform/p80/n300/s42/mae/default-bbb"


def cache_object(repo: Path, data: bytes) -> str:
    md5 = hashlib.md5(data).hexdigest()
    path = repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o444)  # DVC's cache is read-only
    return md5


def cache_tree(repo: Path, files: dict[str, bytes]) -> str:
    listing = [{"md5": cache_object(repo, data), "relpath": rel} for rel, data in sorted(files.items())]
    md5 = hashlib.md5(json.dumps(listing).encode()).hexdigest() + ".dir"
    path = repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(listing))
    return md5


def runs_lock(md5: str) -> dict:
    return {"schema": "2.0", "stages": {"train": {"cmd": "x", "outs": [{"path": "data/runs", "hash": "md5",
                                                                          "md5": md5}]}}}


BOTH = {f"{RUN_T1}/model.pt": b"t1 model", f"{RUN_T1}/result.json": b"{}", f"{RUN_T2}/model.pt": b"t2 model"}


def recorded_repo(root: Path) -> Path:
    """dvc.yaml as shipped; data/runs with the runs of two params files, recorded by limitlab (_remember)."""
    repo = dvc_project(root / "repo", git=False)
    for rel, data in BOTH.items():
        (repo / "data/runs" / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / "data/runs" / rel).write_bytes(data)
    R._remember(repo, runs_lock(cache_tree(repo, BOTH)), ["data/runs"])
    return repo


def workspace(repo: Path) -> dict[str, bytes]:
    return {str(f.relative_to(repo / "data/runs")): f.read_bytes() for f in (repo / "data/runs").rglob("*")
            if f.is_file()}


def test_the_repository_dvc_yaml_caches_the_data_folders_not_the_results():
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    outs = R.cached_outs(spec, R.dvc_vars(spec, REPO))
    assert set(outs) == {"data/datasets", "data/labels", "data/runs", "data/eval", "data/jobs", "data/cv"}
    assert R.dvc_vars(spec, REPO)["RESTORE"] == R.RESTORE
    # every stage puts back first, right after the profile check
    assert all(stage["cmd"].startswith("${NEEDS_PROFILE} && ${RESTORE} && ") for stage in spec["stages"].values())


def test_a_dvc_lock_record_missing_from_the_cache_gets_the_whole_folder_back(tmp_path):
    """The probe: dvc.lock's record of data/runs is a hash the cache lacks, so DVC's checkout removed the folder."""
    repo = recorded_repo(tmp_path)
    (repo / "dvc.lock").write_text(yaml.safe_dump(runs_lock("0" * 32 + ".dir")))
    shutil.rmtree(repo / "data/runs")
    [line] = R.restore_removed(repo)
    assert line.startswith("limitlab: put back 3 file(s) under data/runs that DVC's checkout removed (its record "
                           "in dvc.lock is not in DVC's cache")
    assert workspace(repo) == BOTH
    assert os.access(repo / "data/runs" / RUN_T2 / "model.pt", os.W_OK)  # an ordinary file, not the cache's
    assert R.restore_removed(repo) == []  # nothing missing any more


def test_an_older_dvc_lock_gets_back_only_the_runs_it_does_not_record(tmp_path):
    """A dvc.lock recording data/runs before the other params file's run (git checkout of an older commit): DVC's
    checkout removed that run; the run dvc.lock records, deleted by hand, stays deleted (Snakemake redoes it)."""
    repo = recorded_repo(tmp_path)
    t1_only = {k: v for k, v in BOTH.items() if k.startswith(RUN_T1)}
    (repo / "dvc.lock").write_text(yaml.safe_dump(runs_lock(cache_tree(repo, t1_only))))
    shutil.rmtree(repo / "data/runs" / RUN_T2)  # what DVC's checkout did
    (repo / "data/runs" / RUN_T1 / "model.pt").unlink()  # what the user did
    [line] = R.restore_removed(repo)
    assert "put back 1 file(s) under data/runs" in line and "dvc.lock does not record them" in line
    assert workspace(repo) == {f"{RUN_T1}/result.json": b"{}", f"{RUN_T2}/model.pt": b"t2 model"}


def test_nothing_is_put_back_without_a_record_or_when_the_lock_keeps_the_workspace(tmp_path):
    repo = dvc_project(tmp_path / "repo", git=False)
    assert R.restore_lines(repo) == []  # nothing recorded here yet (a fresh clone)
    repo = recorded_repo(tmp_path / "two")
    (repo / "dvc.lock").write_text(yaml.safe_dump(runs_lock(cache_tree(repo, BOTH))))
    assert R.restore_removed(repo) == [] and workspace(repo) == BOTH
    (repo / R.RECORDED).write_text("{not json")
    [line] = R.restore_lines(repo)  # never raises: says what failed
    assert line.startswith("limitlab: could not put back what DVC's checkout removed (JSONDecodeError")


def test_the_restore_command_reads_the_cache_folder_dvc_is_configured_with(tmp_path, monkeypatch, capsys):
    repo = recorded_repo(tmp_path)
    shutil.move(repo / ".dvc/cache", tmp_path / "shared-cache")
    (repo / ".dvc/config").write_text("[core]\n    analytics = false\n[cache]\n    dir = ../../shared-cache\n")
    assert R.cache_dir(repo) == (tmp_path / "shared-cache").resolve()
    shutil.rmtree(repo / "data/runs")
    monkeypatch.chdir(repo)
    assert R.main(["restore"]) == 0
    assert "put back 3 file(s) under data/runs" in capsys.readouterr().err
    assert workspace(repo) == BOTH
    assert R.main([]) == 2


def test_the_command_dvc_yaml_runs_keeps_its_old_module_path(tmp_path):
    """dvc.yaml (and every user's dvc.lock, which records each stage's command) runs `python -m
    limitlab.jobs.dvc_record restore`: that old path still runs the restore of limitlab.pipeline.dvc_record."""
    import sys

    from limitlab.jobs import dvc_record as old

    assert old.restore_removed is R.restore_removed and old.main is R.main
    assert R.RESTORE in (REPO / "dvc.yaml").read_text()
    repo = recorded_repo(tmp_path)
    shutil.rmtree(repo / "data/runs")
    done = subprocess.run([sys.executable, "-m", "limitlab.jobs.dvc_record", "restore"], cwd=repo,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "put back 3 file(s) under data/runs" in done.stderr, done.stderr
    assert workspace(repo) == BOTH


def test_the_hook_puts_back_before_it_records_and_remembers_what_it_recorded(tmp_path):
    repo = recorded_repo(tmp_path)
    for folder in ("data/datasets", "data/labels", "data/eval", "data/jobs", "Snakefile", "workflow/rules"):
        (repo / folder).mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "dvc.lock").write_text(yaml.safe_dump(runs_lock("0" * 32 + ".dir")))
    shutil.rmtree(repo / "data/runs" / RUN_T2)
    seen = {}

    def fake_run(cmd, **kwargs):
        if "commit" in cmd:  # dvc commit: records the workspace as it is then
            seen["at commit"] = workspace(repo)
            (repo / "dvc.lock").write_text(yaml.safe_dump(runs_lock(cache_tree(repo, workspace(repo)))))
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return subprocess.run(cmd, **kwargs)

    lines = R.after_snakemake("params/default.yaml", ["train_all"], True, repo, environ={}, run=fake_run)
    assert seen["at commit"] == BOTH  # t2's run was back before dvc commit recorded data/runs
    assert "put back 1 file(s) under data/runs" in lines[0]
    recorded = json.loads((repo / R.RECORDED).read_text())
    assert recorded["data/runs"]["md5"] == yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["train"][
        "outs"][0]["md5"]
