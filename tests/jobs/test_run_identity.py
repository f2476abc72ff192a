"""Run identity: different specs never share a run folder, identical ones do (a cache), finished runs of the layout
before tags are adopted, and a finished job whose run outputs went missing or were damaged runs again."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file
from limitlab.experiment.grid import GridIndex, runs_of
from limitlab.experiment.identity import untagged
from limitlab.jobs.adopt import adopt, adoptable
from limitlab.jobs.done_record import damaged, read_done, spec_sha256, write_done
from limitlab.pipeline.plan import RunJobPlan
from limitlab.experiment.paths import RunFiles

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (REPO / "params").rglob("*.yaml"))


def smoke(tmp_path: Path, edit=None):
    data = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    data.update(data_dir=str(tmp_path / "data"), results_dir=str(tmp_path / "results"))
    if edit:
        edit(data)
    return params_file.validate(data, "smoke (test)")


def test_shipped_params_files_never_share_a_run_folder_between_different_specs():
    owner: dict[str, tuple[str, str]] = {}
    for path in SHIPPED:
        grid = GridIndex.of(params_file.load(path))
        for spec in grid.specs:
            identity = grid.identity(spec)
            seen = owner.setdefault(str(spec.run_dir), (identity, path.name))
            assert seen[0] == identity, f"{spec.run_dir}: {seen[1]} and {path.name} train different specs in it"


def test_a_changed_value_moves_only_its_own_runs_and_identical_specs_share_folders(tmp_path):
    before = {s.key: s for s in GridIndex.of(smoke(tmp_path)).specs}

    def longer_ce(data):
        data["studies"]["uniform"]["methods"]["ce"]["training"] = {"epochs": 3}

    after = {s.key: s for s in GridIndex.of(smoke(tmp_path, longer_ce)).specs}
    moved = {k for k in before if before[k].run_dir != after[k].run_dir}
    # CE itself, and the runs initialised from the CE model (their identity folds in their source's)
    assert moved == {k for k, s in after.items() if s.method_id == "ce" or s.init_dir is not None
                     and "/ce/" in str(s.init_dir)}
    assert all(after[k].init_dir is None or Path(after[k].init_dir) in {Path(s.run_dir) for s in after.values()}
               for k in after)
    assert all(before[k].run_dir == after[k].run_dir for k in before if k not in moved)


def test_identity_is_the_hash_of_the_spec_with_untagged_folders(tmp_path):
    """The contract with results finished before run tags: the same bytes are hashed as then."""
    grid = GridIndex.of(smoke(tmp_path))
    spec = next(s for s in grid.specs if s.init_dir is None)
    legacy = spec.model_copy(update={"run_dir": untagged(spec.run_dir), "eval_dir": untagged(spec.eval_dir)})
    legacy_json = legacy.model_dump_json(exclude={"plugins"})  # a field of later releases, left out when None
    assert spec_sha256(spec, grid) == hashlib.sha256(legacy_json.encode()).hexdigest()
    assert Path(spec.run_dir).name == f"{Path(legacy.run_dir).name}-{spec_sha256(spec, grid)[:12]}"
    assert str(untagged(spec.run_dir)) == str(Path(tmp_path / "data" / "runs" / spec.key))


# identities computed by release 2f7e8d4 (before input content tags, own datasets and plugins): finished grids of
# the shipped params files keep their folders only while these stay the same
PINNED = {"params/default.yaml": {
              "uniform/mnist5k/uniform/p0/nall/s42/ce/default":
                  "195c5120ade13a068dd49356d56c107d5728a3a30c1cfc787a2acca01112dbe1",
              "uniform/mnist5k/uniform/p0/nall/s42/fw/default":
                  "8140639e6a322d6ffa8f3256a6d7121ac7773558328025a835629640cc0f9531"},
          "params/table1_n1000_mnist5k.yaml": {
              "n1000/mnist5k/uniform/p50/n1000/s42/ce/default":
                  "231426943eb7df47c353e27ff4b269f76f5951ea9bd931e45907aa49d23c5931",
              "n1000/mnist5k/uniform/p50/n1000/s42/fw/default":
                  "bde4c9a4e76ff8fa86f3494727346edad83db8b7f6c3448188e4218b9786cd17"}}


@pytest.mark.parametrize("params", list(PINNED))
def test_identities_of_shipped_grids_are_those_of_the_earlier_release(params, monkeypatch):
    monkeypatch.chdir(REPO)  # data_dir: data, relative to the repository as the pipeline runs
    grid = GridIndex.of(params_file.load(params))
    assert {key: grid.identity(grid.by_key[key]) for key in PINNED[params]} == PINNED[params]
    # the dump of a spec of limitlab's own entries is that release's too: it is the params of cleanlab's jobs (a
    # changed dump reruns them) and what failure markers record
    assert all('"plugins"' not in s.model_dump_json() and "plugins" not in s.model_dump(mode="json")
               for s in grid.specs)


def fake_finished(spec, grid, outputs=True) -> list[Path]:
    for given in (spec.data_path, spec.labels_path):  # its inputs are there (a missing one is drawn again)
        Path(given).parent.mkdir(parents=True, exist_ok=True)
        Path(given).touch()
    files = [Path(spec.run_dir) / n for n in RunFiles.TRAINED]
    files += [Path(spec.eval_dir) / n for n in (*RunFiles.EVALUATED, RunFiles.BOOTSTRAP)]
    for i, f in enumerate(files):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"file": f.name, "i": i}))
    write_done(spec, spec_sha256(spec, grid), files if outputs else (), train=True, evaluate=True,
               bootstrap={"samples": 200, "seed": 0})
    return files


def test_runs_finished_before_tags_are_adopted_and_other_specs_left_alone(tmp_path):
    grid = GridIndex.of(smoke(tmp_path))
    mine, other = grid.specs[0], grid.specs[1]
    files = fake_finished(mine, grid, outputs=False)
    old_run, old_eval = untagged(mine.run_dir), untagged(mine.eval_dir)
    shutil.move(mine.run_dir, old_run)
    shutil.move(mine.eval_dir, old_eval)
    # a folder of the old layout that holds another spec's run (another params file trained it)
    stranger = untagged(other.run_dir)
    stranger.mkdir(parents=True)
    (stranger / "done.json").write_text(json.dumps({"spec_sha256": "0" * 64, "train": True}))
    assert adoptable(mine, grid) and not adoptable(other, grid)
    assert adopt(mine, grid) and not adopt(other, grid)
    assert all(f.is_file() for f in files) and not old_run.exists() and not old_eval.exists()
    assert read_done(mine, grid)["train"] is True
    assert stranger.is_dir() and not Path(other.run_dir).exists()
    assert not adopt(mine, grid)  # once


def finished_grid(tmp_path) -> tuple[RunJobPlan, dict]:
    """The smoke grid with every run and job summary faked finished (one run per job)."""
    plan = RunJobPlan(smoke(tmp_path))
    jobs = plan.jobs(1)
    for job, specs in jobs.items():
        for spec in specs:
            fake_finished(spec, plan.grid)
        summary = plan.jobs_dir / f"{job}.json"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"job": job, "runs": [{"key": s.key, "status": "ok"} for s in specs]}))
    return plan, jobs


def test_missing_or_damaged_outputs_and_summaries_make_only_their_job_run_again(tmp_path):
    plan, jobs = finished_grid(tmp_path)
    assert plan.stale_jobs(1) == {}
    (a, [sa]), (b, [sb]), (c, _), (d, [sd]) = list(jobs.items())[:4]
    (Path(sa.eval_dir) / RunFiles.EVAL).unlink()                     # deleted
    with open(Path(sb.eval_dir) / RunFiles.BOOTSTRAP, "r+") as f:    # truncated
        f.truncate(5)
    (plan.jobs_dir / f"{c}.json").write_text('{"job": ')             # a damaged job summary
    result = Path(sd.run_dir) / RunFiles.RESULT                      # same size, other bytes
    result.write_text(result.read_text().replace('"i": ', '"i":_'))
    stale = plan.stale_jobs(1)
    assert set(stale) == {a, b, c, d}
    assert "eval.json (missing)" in stale[a][0] and "bootstrap.json (damaged: 5 bytes" in stale[b][0]
    assert "damaged" in stale[c][0] and "checksum" in stale[d][0]
    forced, messages = plan.rerun_stale(1)
    assert "4 finished job(s) run again" in messages[0]
    assert sorted(forced) == sorted(f"{plan.jobs_dir}/{j}.json" for j in (a, b, c, d))
    assert {p.stem for p in plan.jobs_dir.glob("*.json")} == set(jobs)  # nothing deleted (a dry run changes nothing)
    assert damaged(sa, read_done(sa, plan.grid), [Path(sa.eval_dir) / RunFiles.EVAL])


def test_a_deleted_input_or_a_lost_summary_beside_a_garbage_record_forces_the_job(tmp_path):
    plan, jobs = finished_grid(tmp_path)
    (a, [sa]), (b, [sb]) = list(jobs.items())[:2]
    Path(sa.labels_path).unlink()  # deleted so that the corrupt stage draws it again
    (plan.jobs_dir / f"{b}.json").unlink()  # the job summary deleted and the run's record garbage
    (Path(sb.run_dir) / "done.json").write_bytes(b"\x98\x00garbage")
    stale = plan.stale_jobs(1)
    assert "labels.npz (missing: the pipeline writes it again)" in stale[a][0]
    assert f"{b}.json (missing)" in stale[b][0]
    on_a_setting = {j for j, [s] in jobs.items() if s.labels_path == sa.labels_path}
    assert set(stale) == on_a_setting | {b}


def test_upgrade_command_moves_runs_of_the_old_layout(tmp_path, capsys):
    from limitlab.cli import main

    exp = smoke(tmp_path)
    params = tmp_path / "p.yaml"
    data = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    data.update(data_dir=str(tmp_path / "data"), results_dir=str(tmp_path / "results"))
    params.write_text(yaml.safe_dump(data, allow_unicode=True))
    grid = GridIndex.of(params_file.load(params))
    spec = grid.specs[0]
    fake_finished(spec, grid)
    shutil.move(spec.run_dir, untagged(spec.run_dir))
    assert main(["upgrade", "--params", str(params), "--dry-run"]) == 0
    assert "would move 1 of" in capsys.readouterr().out and not Path(spec.run_dir).exists()
    assert main(["upgrade", "--params", str(params)]) == 0
    assert "moved 1 of" in capsys.readouterr().out and Path(spec.run_dir).is_dir()
    assert len(runs_of(exp)) == len(grid.specs)


def test_runs_of_a_noise_file_finished_before_source_tags_are_adopted_only_for_the_same_content(tmp_path):
    """A setting drawn from a noise file had its labels folder named after the file alone; now the folder ends in
    the tag of the file's content and the runs' identities follow. A run of the earlier layout is moved, not
    retrained, when the earlier labels summary records the file's present content and the run that noise draw;
    after an edit of the file it stays where it is (it was trained on other labels)."""
    from limitlab.data.content_identity import source_file_id
    from limitlab.jobs.adopt import before_source_tags

    noise = tmp_path / "t2.csv"
    noise.write_text("index,noisy_label\n0,1\n")
    data = {"name": "f", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
            "studies": {"s": {"dataset": {"name": "mnist5k"}, "noise": {"model": "file", "file": str(noise)},
                              "n": [300], "seeds": [42], "training": {"epochs": 2},
                              "methods": {"ce": {"label": "CE"}, "fw": {"label": "FW", "init": {"source": "ce"}}}}}}
    grid = GridIndex.of(params_file.validate(data, "test"))
    assert all(Path(s.labels_path).parent.name.startswith("s42-") for s in grid.specs)
    for spec in grid.specs:  # finished in the earlier layout
        old, identity = before_source_tags(spec, grid)
        assert identity != spec_sha256(spec, grid) and "s42-" not in str(old.labels_path)
        summary = Path(old.labels_path).with_suffix(".json")
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"noise_id": "n" * 64, "noise_file_sha256": source_file_id(noise)}))
        fake_finished(old, None)
        done = read_done(old, None) or json.loads((Path(old.run_dir) / "done.json").read_text())
        done.update(spec_sha256=identity, inputs={"dataset": "d" * 64, "noise": "n" * 64})
        (Path(old.run_dir) / "done.json").write_text(json.dumps(done))
    ce, fw = grid.specs
    assert before_source_tags(fw, grid)[0].init_dir == before_source_tags(ce, grid)[0].run_dir
    noise.write_text("index,noisy_label\n0,2\n")  # edited: the earlier runs are another file's
    edited = GridIndex.of(params_file.validate(data, "test"))
    assert not any(adoptable(s, edited) for s in edited.specs)
    noise.write_text("index,noisy_label\n0,1\n")
    assert all(adoptable(s, grid) for s in grid.specs)
    assert all(adopt(s, grid) for s in grid.specs)
    assert all(read_done(s, grid)["train"] is True and Path(s.eval_dir, "eval.json").is_file() for s in grid.specs)
    assert not any(adoptable(s, grid) for s in grid.specs)
