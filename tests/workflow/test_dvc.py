"""DVC over the Snakemake pipeline, in a temporary git repository (no mocks): repro, push, no-op repro, a
changed hyperparameter retrains only its cells, metrics diff, pull into a fresh clone; the README's DVC
experiment after a grid built by Snakemake alone; and the runs of another params file kept when dvc.lock
disagrees with the workspace.

dvc.yaml names its params file in `vars`; like a user switching experiments, the first test points that copy at
params/smoke.yaml (a smaller grid of it: CE, MAE, LIMIT + init; 6 runs, to stay within a few minutes). The
experiment test keeps dvc.yaml as shipped and writes a small grid (2 runs) into params/default.yaml. The last test
builds two params files of one run each into the shared data/."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from pipeline_support import REPO, check, copy_repo, missing_outputs, mtimes, run, run_outputs, smoke_subset

pytestmark = [pytest.mark.dvc, pytest.mark.slow]
LOCAL = {"SNAKEMAKE_PROFILE": "workflow/profiles/local"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_dvc_repro_push_change_diff_pull(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    smoke_subset(repo, methods=["ce", "mae", "limit_g_init"], name="smoke_dvc")
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("params/default.yaml", "params/smoke.yaml"))
    exp = P.load(repo / "params/smoke.yaml")
    results = Path(exp.results_path)
    remote = tmp_path / "remote"
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "limitlab test")
    git(repo, "config", "user.email", "test@limitlab.invalid")
    if not (repo / ".dvc").is_dir():  # the repository ships .dvc/; initialise if a copy lacks it
        check(run(["dvc", "init", "-q"], repo, timeout=60))
    check(run(["dvc", "remote", "add", "-d", "local", str(remote)], repo, timeout=60))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pipeline")

    # without a Snakemake profile nothing runs (no silent local training on a login node), and it says why
    refused = check(run(["dvc", "repro"], repo, timeout=120), expect_ok=False)
    assert "export SNAKEMAKE_PROFILE=workflow/profiles/local" in refused
    assert not (repo / "data/runs").exists()

    check(run(["dvc", "repro"], repo, timeout=600, **LOCAL))
    assert missing_outputs(repo, "params/smoke.yaml") == []
    assert (repo / "dvc.lock").is_file()
    check(run(["dvc", "push"], repo, timeout=120))
    trained = mtimes(repo, exp, "result.json")

    again = check(run(["dvc", "repro"], repo, timeout=120, **LOCAL))
    assert "Data and pipelines are up to date" in again or all(
        f"Stage '{s}' didn't change, skipping" in again for s in ("data", "train", "report"))
    assert mtimes(repo, exp, "result.json") == trained

    git(repo, "add", "-A")
    git(repo, "add", "-f", str(results))  # cache: false outputs (metrics, tables, figures) live in git
    git(repo, "commit", "-q", "-m", "results")

    # identical params built again (the results deleted: aggregate, plot and both report pages are redone, no
    # training): every tracked output is the same bytes (no runtimes, no dates), so dvc.lock does not change and
    # `dvc status` stays clean; only Snakemake's report.html (runtimes, a date: not a DVC output) differs
    shutil.rmtree(repo / results)
    check(run(["dvc", "repro"], repo, timeout=300, **LOCAL))
    assert git(repo, "status", "--porcelain", "dvc.lock") == ""
    assert "up to date" in check(run(["dvc", "status"], repo, timeout=120))
    changed = [line.split()[-1] for line in git(repo, "status", "--porcelain", str(results)).splitlines()]
    assert changed == [str(results / "report.html")], changed

    # one hyperparameter of one method: only its cells (one per noise rate) are trained and evaluated again
    params = yaml.safe_load((repo / "params/smoke.yaml").read_text())
    mae = params["studies"]["uniform"]["methods"]["mae"]
    mae["training"] = {"lr": 0.003}
    (repo / "params/smoke.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    evaluated = mtimes(repo, exp, "eval.json", where="eval_dir")
    check(run(["dvc", "repro"], repo, timeout=600, **LOCAL))
    new_exp = P.load(repo / "params/smoke.yaml")
    mae_keys = {r.key for r in runs_of(exp) if r.spec.method_id == "mae"}
    # the changed runs train in new folders (their identity changed); the others keep theirs
    retrained = {k for k, t in mtimes(repo, new_exp, "result.json").items() if t != trained[k]}
    reevaluated = {k for k, t in mtimes(repo, new_exp, "eval.json", where="eval_dir").items() if t != evaluated[k]}
    assert retrained == mae_keys and len(mae_keys) == 2
    assert reevaluated == mae_keys
    assert mtimes(repo, exp, "result.json") == trained  # the old lr's runs stay on disk, untouched (a cache)
    for r in runs_of(new_exp):
        if r.key in mae_keys:
            saved = torch.load(repo / r.spec.run_dir / "model.pt", map_location="cpu", weights_only=False)
            assert saved["spec"]["training"]["lr"] == 0.003

    git(repo, "add", "-A")
    git(repo, "add", "-f", str(results))
    git(repo, "commit", "-q", "-m", "mae lr 0.003")
    diff = json.loads(check(run(["dvc", "metrics", "diff", "HEAD~1", "--json"], repo, timeout=120)))
    changed = [k for f in diff.values() for k, v in f.items() if v.get("diff") not in (0, None)]
    assert changed, diff
    assert all(".mae." in k for k in changed), changed
    check(run(["dvc", "push"], repo, timeout=120))

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    check(run(["dvc", "pull"], clone, timeout=300))
    assert missing_outputs(clone, "params/smoke.yaml") == []
    for r in runs_of(new_exp):
        for f in (Path(r.spec.run_dir) / "model.pt", Path(r.spec.eval_dir) / "predictions.npz"):
            assert md5(clone / f) == md5(repo / f)
        assert not (clone / r.spec.run_dir / "state").exists()  # resume state is not versioned (.dvcignore)
    assert "up to date" in check(run(["dvc", "status"], clone, timeout=120))


def readme_experiment() -> str:
    """The README's "Sweep one value as a DVC experiment" commands, as one bash script."""
    text = (REPO / "README.md").read_text()
    block = text[text.index("Sweep one value as a DVC experiment"):].split("```bash\n", 1)[1].split("```", 1)[0]
    assert "dvc exp run -S 'params/default.yaml:" in block, block  # the file dvc.yaml runs
    return block


def test_readme_experiment_after_a_snakemake_grid_keeps_its_runs(tmp_path):
    """A new user's order: the grid finished by Snakemake alone (`make run`'s command), then the README's DVC
    experiment commands, literally, on the params file dvc.yaml runs (params/default.yaml, a small grid of it).
    Snakemake records its outputs in dvc.lock when it ends, so DVC's experiment deletes nothing: the other cells'
    models stay the same files (same bytes, never rewritten), only LIMIT_L's cell trains, at beta 2.0, and
    `dvc exp show` lists both experiments by their values and metrics."""
    repo = copy_repo(tmp_path / "repo")
    small = smoke_subset(repo, methods=["ce", "limit_l"], p=[0.8], name="smoke_exp")
    params = yaml.safe_load(small.read_text())
    del params["studies"]["uniform"]["cleanlab"]  # two runs only: this test is about DVC, not cleanlab
    path = repo / "params/default.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    exp = P.load(path)
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "limitlab test")
    git(repo, "config", "user.email", "test@limitlab.invalid")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a fresh clone")

    built = check(run(["snakemake", "--profile", "workflow/profiles/local", "--config", "params=params/default.yaml",
                       "--", "all"], repo, timeout=600))
    assert "dvc.lock records the outputs of data, train, report" in built, built[-3000:]
    files = {f: md5(f) for f in (repo / "data").rglob("*") if f.is_file()}
    trained = mtimes(repo, exp, "model.pt")

    out = check(run(["bash", "-euo", "pipefail", "-c", readme_experiment()], repo, timeout=900))
    assert "No file hash info found" not in out and "It won't be created" not in out, out[-3000:]
    assert [str(f) for f in files if not f.is_file()] == []  # DVC deleted nothing
    new_exp = P.load(path)  # the file DVC rewrote still validates
    limit_l = next(r for r in runs_of(new_exp) if r.spec.method_id == "limit_l")
    assert limit_l.spec.method.beta == 2.0
    retrained = {k for k, t in mtimes(repo, new_exp, "model.pt").items() if t != trained.get(k)}
    assert retrained == {limit_l.key}, out[-3000:]
    for r in runs_of(new_exp):
        if r.key != limit_l.key:  # the other cells: the same model files, byte for byte
            model = repo / r.spec.run_dir / "model.pt"
            assert md5(model) == files[model], r.key

    shown = json.loads(check(run(["dvc", "exp", "show", "--json"], repo, timeout=300)))
    exps = [e["data"] for base in shown for ex in base.get("experiments") or [] for e in ex["revs"]]
    betas = {}
    for data in exps:
        values = data["params"]["params/default.yaml"]["data"]["studies"]["uniform"]["methods"]
        cells = data["metrics"]["results/smoke_exp/metrics.json"]["data"]["mnist5k"]["uniform"]["p80"]["n300"]
        assert {"ce", "limit_l"} <= set(cells) and "test_acc" in cells["limit_l"]
        betas[values["limit_l"]["beta"]] = cells
    assert sorted(betas) == [1.0, 2.0], exps  # both experiments: what Snakemake built, and beta 2.0
    assert betas[1.0]["ce"] == betas[2.0]["ce"]
    table = check(run(["dvc", "exp", "show", "--csv"], repo, timeout=300))
    header = table.splitlines()[0].split(",")
    assert "studies.uniform.methods.limit_l.beta" in header  # one column per value, named by id
    assert any(h.endswith("limit_l.test_acc") for h in header)


def one_run_file(repo: Path, smoke: str, method: str, name: str) -> str:
    """params/NAME.yaml: the smoke file cut to one run of METHOD (p = 0.8, no cleanlab), in the shared data/."""
    (repo / "params/smoke.yaml").write_text(smoke)
    params = yaml.safe_load(smoke_subset(repo, methods=[method], p=[0.8], name=name).read_text())
    params["studies"]["uniform"].pop("cleanlab", None)
    (repo / f"params/{name}.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    (repo / "params/smoke.yaml").write_text(smoke)
    return f"params/{name}.yaml"


def test_a_dvc_lock_that_disagrees_with_the_workspace_loses_no_run_of_another_params_file(tmp_path):
    """The reliability probe: dvc.yaml runs t1 (one CE run); t2 (one MAE run) is built into the same data/runs by
    Snakemake; dvc.lock is committed, then its record of data/runs is replaced by a hash DVC's cache does not hold.
    DVC's checkout then removes the whole folder (`dvc exp run` did so silently, and t2's run was gone). Now the
    train stage first copies back what limitlab recorded: both runs stay, byte for byte, nothing is trained, and
    `dvc status` is clean afterwards. A plain `dvc checkout` still removes the folder (DVC runs nothing of ours
    first); the restore command puts it back."""
    repo = copy_repo(tmp_path / "repo")
    smoke = (repo / "params/smoke.yaml").read_text()
    t1 = one_run_file(repo, smoke, "ce", "t1_probe")
    t2 = one_run_file(repo, smoke, "mae", "t2_probe")
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("params/default.yaml", t1))
    git(repo, "init", "-q")
    git(repo, "config", "user.name", "limitlab test")
    git(repo, "config", "user.email", "test@limitlab.invalid")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two params files")
    for params, target in ((t2, "train_all"), (t1, "all")):  # t2 only needs its run in data/runs
        check(run(["snakemake", "--profile", "workflow/profiles/local", "--config", f"params={params}", "--", target],
                  repo, timeout=600))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "built")
    runs = {p: [r.spec for r in runs_of(P.load(repo / p))] for p in (t1, t2)}
    files = {f: md5(f) for spec in runs[t1] + runs[t2] for f in map(repo.joinpath, run_outputs(spec))}
    assert len(files) == 12

    def corrupt_lock() -> None:  # the probe's edit: the train stage's record of data/runs, a hash nobody has
        text = (repo / "dvc.lock").read_text()
        at = text.index("md5: ", text.index("path: data/runs")) + 5
        (repo / "dvc.lock").write_text(text[:at] + "0" * 32 + text[at + 32:])

    corrupt_lock()
    assert "not in cache:       data/runs" in check(run(["dvc", "status"], repo, timeout=120))
    out = check(run(["dvc", "exp", "run"], repo, timeout=600, **LOCAL))
    assert {str(f): md5(f) if f.is_file() else None for f in files} == {str(f): h for f, h in files.items()}
    assert "limitlab: put back 8 file(s) under data/runs that DVC's checkout removed" in out, out[-3000:]
    assert "Job stats" not in out, out[-3000:]  # nothing trained, evaluated or aggregated again
    assert "up to date" in check(run(["dvc", "status"], repo, timeout=120))

    corrupt_lock()
    removed = check(run(["dvc", "checkout"], repo, timeout=120), expect_ok=False)
    assert "Checkout failed" in removed and not (repo / "data/runs").exists()  # DVC's own doing, before any of ours
    said = check(run(["python", "-m", "limitlab.jobs.dvc_record", "restore"], repo, timeout=120))
    assert "put back 8 file(s) under data/runs" in said, said
    assert {str(f): md5(f) if f.is_file() else None for f in files} == {str(f): h for f, h in files.items()}
