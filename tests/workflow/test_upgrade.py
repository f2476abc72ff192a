"""A user's finished results stay theirs: after an upgrade of limitlab, when two params files differ in one
value, when an output is deleted or damaged, and when a labels file is edited by hand.

One smoke grid (CE, LIMIT_L − S, LIMIT_G + init from CE; p = 0.8) is finished with an earlier release of the code
(from this repository's own history, ``git archive``: the test needs a clone with history), then, in the same
folder, with this checkout:

* upgrade: ``limitlab upgrade`` moves the finished runs into their tagged folders; nothing is retrained and every
  metric of the earlier report keeps its value;
* healing: a deleted eval.json and a truncated bootstrap.json are rebuilt by a plain rerun, byte for byte, and
  nothing else is;
* run identity: a copy of the params file with another epoch count for CE (same ids, same name) trains CE and the
  run initialised from it in their own folders; rerunning the first file trains nothing and reports its own numbers;
* input identity: a labels file whose noisy labels were replaced by the clean ones is refused with a message that
  names it, and the report does not use the runs trained on the old labels.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from pipeline_support import REPO, check, copy_repo, job_counts, run, smoke_subset

# The last commit before the family packages (limitlab 0.1.0 with flat modules, no run tags): results written by
# it must stay valid.
BEFORE_LAYOUT = "d8ae70d8b22723e060d63549d343e191c75e36b2"
METHODS = ["ce", "limit_l", "limit_g_init"]


def old_checkout(dst: Path) -> Path | None:
    has = subprocess.run(["git", "cat-file", "-e", f"{BEFORE_LAYOUT}^{{commit}}"], cwd=REPO, capture_output=True)
    if has.returncode != 0:
        return None
    tar = subprocess.run(["git", "archive", BEFORE_LAYOUT], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dst, filter="data")
    return dst


def snakemake(work: Path, *args: str, params: str = "params/smoke.yaml", target: str = "all", **env):
    return run(["snakemake", "--cores", "2", *args, "--config", f"params={params}", "--", target], work,
               timeout=900, **env)


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def trained(work: Path, exp) -> dict[str, int]:
    """Run key -> model.pt mtime (a retrained run gets a new one)."""
    return {r.key: (work / r.spec.run_dir / "model.pt").stat().st_mtime_ns for r in runs_of(exp)}


@pytest.mark.slow
def test_finished_results_survive_upgrade_other_params_damage_and_edited_labels(tmp_path):
    old = old_checkout(tmp_path / "old")
    if old is None:
        pytest.skip(f"this clone lacks commit {BEFORE_LAYOUT[:7]} (a shallow clone): clone with history to run it")
    work = copy_repo(tmp_path / "work")  # the user's folder
    smoke_subset(work, METHODS, p=[0.8])
    old_env = {"PYTHONPATH": str(old / "src")}  # `limitlab` in the rules' shell then runs the old code
    metrics_path = work / "results/smoke/metrics.json"
    # the earlier release's runs and tables (everything below reads metrics.json and the runs, not its figures)
    check(snakemake(work, "--snakefile", str(old / "Snakefile"), target=str(metrics_path.relative_to(work)),
                    **old_env))
    metrics_before = metrics_path.read_bytes()
    exp = P.load(work / "params/smoke.yaml")

    # --- upgrade: one command moves the finished runs; nothing is planned for them, nothing retrained --------
    plan = check(snakemake(work, "-n"))
    assert "limitlab upgrade --params params/smoke.yaml" in plan  # said before any job would move them
    moved = check(run(["limitlab", "upgrade", "--params", "params/smoke.yaml"], work, timeout=120))
    assert f"moved {len(runs_of(exp))} of {len(runs_of(exp))} run(s)" in moved
    counts = job_counts(check(snakemake(work, "-n")))
    assert counts.get("run", 0) == 0 and counts.get("download", 0) == 0 and counts.get("corrupt", 0) == 0, counts
    models = trained(work, exp)
    check(snakemake(work, "--forcerun", "aggregate", target="results/smoke/metrics.json"))
    # every key of the earlier release keeps its value (new keys may be added beside them)
    old_values, new_values = flat(json.loads(metrics_before)), flat(json.loads(metrics_path.read_text()))
    assert {k: new_values.get(k) for k in old_values} == old_values
    metrics_before = metrics_path.read_bytes()  # this release's report of the same runs

    # --- healing: a plain rerun rebuilds a deleted eval.json and a truncated bootstrap.json, byte for byte ----
    by_method = {r.spec.method_id: r.spec for r in runs_of(exp)}
    eval_json = work / by_method["ce"].eval_dir / "eval.json"
    bootstrap = work / by_method["limit_l"].eval_dir / "bootstrap.json"
    kept = {p: p.read_bytes() for p in (eval_json, bootstrap)}
    eval_json.unlink()
    bootstrap.write_bytes(kept[bootstrap][:20])
    healed = check(snakemake(work, target="results/smoke/metrics.json"))
    assert "finished job(s) run again to rebuild what is missing or damaged" in healed
    assert eval_json.read_bytes() == kept[eval_json]
    # the same numbers; the file names the predictions it was computed from, now in the run's tagged folder
    rebuilt, before = json.loads(bootstrap.read_text()), json.loads(kept[bootstrap])
    assert rebuilt.pop("predictions") == str(by_method["limit_l"].eval_dir / "predictions.npz")
    assert rebuilt == {k: v for k, v in before.items() if k != "predictions"}
    assert trained(work, exp) == models
    assert (work / "results/smoke/metrics.json").read_bytes() == metrics_before
    assert job_counts(check(snakemake(work, "-n", target="results/smoke/metrics.json"))) == {}

    # --- run identity: another file with another CE keeps to its own folders; the first file's numbers stay --
    other = yaml.safe_load((work / "params/smoke.yaml").read_text())
    other["studies"]["uniform"]["methods"]["ce"]["training"] = {"epochs": 1}
    (work / "params/other.yaml").write_text(yaml.safe_dump(other, sort_keys=False, allow_unicode=True))
    check(snakemake(work, params="params/other.yaml", target="results/smoke/metrics.json"))
    other_runs = {r.spec.method_id: r.spec for r in runs_of(P.load(work / "params/other.yaml"))}
    assert other_runs["ce"].run_dir != by_method["ce"].run_dir
    assert other_runs["limit_g_init"].run_dir != by_method["limit_g_init"].run_dir  # its source differs
    assert other_runs["limit_l"].run_dir == by_method["limit_l"].run_dir  # the same spec: shared
    assert (work / "results/smoke/metrics.json").read_bytes() != metrics_before  # the other file's CE
    check(snakemake(work, target="results/smoke/metrics.json"))
    assert trained(work, exp) == models  # nothing of the first file retrained
    assert (work / "results/smoke/metrics.json").read_bytes() == metrics_before

    # --- input identity: edited labels are refused by name; the report does not use the old runs ----------
    labels = work / by_method["ce"].labels_path
    with np.load(labels) as npz:
        arrays = dict(npz)
    arrays["train_noisy"] = arrays["train_clean"]
    with open(labels, "wb") as fh:
        np.savez(fh, **arrays)
    refused = check(snakemake(work, "--keep-going", target="results/smoke/metrics.json"), expect_ok=False)
    assert f"{by_method['ce'].key}: refused: " in refused  # each run of the setting, and cleanlab's folds, refuse
    assert "run(s) refused (labels file changed): not failures" in refused  # grouped at the end, with the fix
    for log in (work / "logs/smoke/runs" / f"{by_method['ce'].key}.log",
                *(work / "logs/smoke/cleanlab").rglob("*.log")):
        text = log.read_text()
        assert str(by_method["ce"].labels_path) in text and "changed after `limitlab corrupt` wrote it" in text, log
    assert trained(work, exp) == models  # refused, not retrained on the edited labels
    check(run(["limitlab", "aggregate", "--params", "params/smoke.yaml"], work, timeout=300))
    metrics = json.loads((work / "results/smoke/metrics.json").read_text())
    assert "p80" not in json.dumps(metrics), metrics  # every run of the setting trained on the old labels
    table = (work / "results/smoke/table.md").read_text()
    assert f"{by_method['ce'].key}`: " in table and "changed after `limitlab corrupt` wrote it" in table
