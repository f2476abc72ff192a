"""The standard Snakemake layout (issue 35): workflow/Snakefile used as a Snakemake module by another repository,
the catalog's .test/ case, the profiles where snakedeploy copies them, the software environment's install and the
one place of the default params file (config/config.yaml). Real snakemake processes, no mocks; the module test
runs a one-run grid end to end (seconds per job)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file as P
from pipeline_support import REPO, check, job_counts, run

# Rules that run where snakemake runs (`localrule: True`); the run jobs and cleanlab's folds go to the cluster.
LOCAL_RULES = {"all", "data", "train_all", "evaluate_all", "report", "download", "corrupt", "aggregate", "plot",
               "timing", "report_assets"}

# An analysis repository in snakedeploy's layout (workflow/Snakefile, config/config.yaml) that uses limitlab's
# workflow as a module, with the three handlers the workflow's documentation asks for (docs/pipeline.md, "Layout,
# and limitlab as a Snakemake module"). The prints let the test see what the import did.
IMPORTING_SNAKEFILE = '''\
import os


configfile: "config/config.yaml"


module limitlab:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from limitlab


print("module-test: local rules:", " ".join(sorted(workflow._localrules)))
print("module-test: pip source:", os.environ["LIMITLAB_PIP_SOURCE"])


onstart:
    limitlab.on_start()


onsuccess:
    limitlab.end_of_run(finished=True)
    print("module-test: end_of_run done")


onerror:
    limitlab.end_of_run(finished=False)
'''


def one_run_params(path: Path, name: str) -> Path:
    """params/smoke.yaml cut to one CE run (p = 0.5, n = 300, one seed, 2 epochs, no cleanlab), named `name`."""
    data = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    data.update(name=name, results_dir=f"results/{name}")
    study = data["studies"]["uniform"]
    study["methods"] = {"ce": study["methods"]["ce"]}
    study["noise"]["p"] = [0.5]
    study.pop("cleanlab", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert len(P.load(path).studies[0].methods) == 1
    return path


def analysis_repository(root: Path) -> Path:
    one_run_params(root / "params/module.yaml", "module")
    (root / "config").mkdir(parents=True)
    (root / "config/config.yaml").write_text("params: params/module.yaml\n")
    (root / "workflow").mkdir()
    (root / "workflow/Snakefile").write_text(IMPORTING_SNAKEFILE.format(snakefile=REPO / "workflow/Snakefile"))
    # a DVC project that is not a git repository: the DVC record, called from the importing Snakefile's
    # onsuccess, says so (about this folder), which shows that it ran here and with this repository's files
    (root / ".dvc").mkdir()
    (root / "dvc.yaml").write_text(yaml.safe_dump({"vars": [{"PARAMS": "params/module.yaml"}], "stages": {}}))
    return root


@pytest.mark.slow
def test_another_repository_runs_the_workflow_as_a_module(tmp_path):
    """`module limitlab: snakefile: .../workflow/Snakefile; config: config; use rule * from limitlab` builds the
    table, figures and results page of a one-run grid in the importing repository; the local rules stay local, the
    software environment would install limitlab's own repository, the end-of-run handlers work when the importing
    Snakefile calls them, and a second run has nothing to do."""
    repo = analysis_repository(tmp_path / "analysis")
    tic = time.perf_counter()
    out = check(run(["snakemake", "--cores", "2"], repo, timeout=600, LIMITLAB_PIP_SOURCE=""))
    print(f"module use, one-run grid end to end: {time.perf_counter() - tic:.0f} s")

    results = repo / "results/module"
    table = (results / "table.md").read_text()
    assert re.search(r"^\| CE \| \d+\.\d ± \d+\.\d \|", table, re.M), table  # the one cell, with a number
    assert (results / "figures/index.json").is_file() and (results / "report/results.html").is_file()
    assert (results / "timing.md").is_file() and (repo / "data/datasets/mnist5k.npz").is_file()
    assert not (REPO / "results/module").exists() and not (REPO / "data/jobs/module").exists()  # all paths: here

    local = set(out.split("module-test: local rules: ")[1].split("\n")[0].split())
    assert local == LOCAL_RULES, local
    assert f"module-test: pip source: {REPO}\n" in out  # limitlab's checkout, not the analysis repository
    assert "module-test: end_of_run done" in out
    assert f"limitlab: dvc.lock was not updated: {repo.resolve()} is not a git repository" in out

    again = check(run(["snakemake", "--cores", "2"], repo, timeout=120, LIMITLAB_PIP_SOURCE=""))
    assert "Nothing to be done" in again
    # Snakemake's report (the catalog's `report: true`), with the module's captions and results page
    check(run(["snakemake", "--report", "report.zip"], repo, timeout=300, LIMITLAB_PIP_SOURCE=""))
    with zipfile.ZipFile(repo / "report.zip") as report:
        names = report.namelist()
    assert {"results.html", "table.csv", "claims.csv"} <= {n.rsplit("/", 1)[-1] for n in names}, names[:20]


@pytest.mark.slow
def test_catalog_test_case_plans_and_runs(tmp_path):
    """.test/ (the catalog's CI: snakemake --directory .test) is a working directory of its own: its config names
    its params file, and the default target plans every stage, through the root Snakefile and workflow/Snakefile
    alike, then builds its table with a number in both cells, as the catalog's CI would (a copy, so that nothing
    is written into the repository)."""
    test_dir = shutil.copytree(REPO / ".test", tmp_path / ".test")
    for snakefile in ("Snakefile", "workflow/Snakefile"):
        out = check(run(["snakemake", "-n", "--snakefile", str(REPO / snakefile), "--directory", str(test_dir)],
                        REPO, timeout=120))
        counts = job_counts(out)
        assert counts["run"] == 2 and counts["all"] == 1, (snakefile, counts)
        assert counts["download"] == counts["corrupt"] == counts["aggregate"] == counts["report_assets"] == 1
    tic = time.perf_counter()
    check(run(["snakemake", "--cores", "2", "--snakefile", str(REPO / "workflow/Snakefile"), "--directory",
               str(test_dir)], REPO, timeout=600))
    print(f".test/ end to end: {time.perf_counter() - tic:.0f} s")
    table = (test_dir / "results/test/table.md").read_text()
    for label in ("CE", "LIMIT_L − S"):
        assert re.search(rf"^\| {re.escape(label)} \| \d+\.\d", table, re.M), (label, table)
    assert (test_dir / "results/test/report/results.html").is_file()


def test_without_a_params_file_the_message_says_where_to_name_one(tmp_path):
    """config/config.yaml is the one place of the default params file: a working directory without it and without
    --config params= gets told both ways."""
    bad = run(["snakemake", "-n", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)], REPO,
              timeout=120)
    assert bad.returncode != 0
    assert "no params file is named" in bad.stdout and "--config params=FILE" in bad.stdout
    assert "config/config.yaml" in bad.stdout
    assert yaml.safe_load((REPO / "config/config.yaml").read_text()) == {"params": "params/default.yaml"}


def test_profiles_are_where_snakedeploy_copies_them(tmp_path):
    """profiles/local and profiles/slurm are workflow/profiles/local and .../slurm (the docs' and tests' paths), and
    snakedeploy's copy (shutil.copytree of profiles/) holds the same files."""
    for name in ("local", "slurm"):
        assert (REPO / "profiles" / name).resolve() == (REPO / "workflow/profiles" / name).resolve()
    copied = shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    for name in ("local", "slurm"):
        files = sorted(p.relative_to(REPO / "workflow/profiles" / name)
                       for p in (REPO / "workflow/profiles" / name).rglob("*") if p.is_file())
        assert files, name
        for rel in files:
            target = copied / name / rel
            assert target.is_file() and not target.is_symlink()
            assert target.read_bytes() == (REPO / "workflow/profiles" / name / rel).read_bytes()


def test_catalog_settings_use_the_documented_keys():
    settings = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = settings["usage"]
    assert usage["report"] is True  # the catalog reads usage.report
    assert usage["software-stack-deployment"]["conda"] is True
    assert set(usage["software-stack-deployment"]) <= {"conda", "apptainer", "apptainer+conda"}
    assert {"desc", "flags"} <= set(usage["mandatory-flags"])


GIT_URL = "git+https://github.com/owner/limitlab@v1.0"


@pytest.mark.parametrize(("source", "pip_args"), [
    ("DIR", ["install", "--no-deps", "--editable", "DIR"]),  # a checkout: editable
    (GIT_URL, ["install", "--no-deps", GIT_URL]),  # a module read from GitHub: that tag, not editable
])
def test_post_deploy_script_installs_the_workflows_limitlab(tmp_path, source, pip_args):
    """workflow/envs/limitlab.post-deploy.sh (run in the new conda environment, from the user's folder) installs
    what LIMITLAB_PIP_SOURCE names, never the working directory; `python` here is a stand-in that records its
    arguments."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args\n')
    (fake / "python").chmod(0o755)
    checkout = tmp_path / "limitlab checkout"  # a space in the path: one argument
    checkout.mkdir()
    source = source.replace("DIR", str(checkout))
    user_folder = tmp_path / "user"
    user_folder.mkdir()
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "LIMITLAB_PIP_SOURCE": source}
    subprocess.run(["bash", str(REPO / "workflow/envs/limitlab.post-deploy.sh")], cwd=user_folder, env=env,
                   check=True)
    assert (tmp_path / "args").read_text().split("\n")[:-1] == ["-m", "pip",
                                                               *[a.replace("DIR", str(checkout)) for a in pip_args]]


def test_post_deploy_script_without_a_source_says_what_to_set(tmp_path):
    env = {**os.environ, "LIMITLAB_PIP_SOURCE": ""}
    done = subprocess.run(["bash", str(REPO / "workflow/envs/limitlab.post-deploy.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1 and "set LIMITLAB_PIP_SOURCE" in done.stderr
