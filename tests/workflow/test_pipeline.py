"""The Snakemake pipeline: lint, the plan of every params file, and real local runs (no mocks)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from pipeline_support import REPO, check, copy_repo, job_counts, missing_outputs, run, smoke_subset

PARAMS_FILES = sorted(str(p.relative_to(REPO)) for p in [*REPO.glob("params/*.yaml"), *REPO.glob("params/paper/*.yaml"),
                                                          *REPO.glob("params/beyond/*.yaml")])
BIG = 1000  # runs; planning such a grid takes tens of seconds (Snakemake costs ~2 ms per job): slow tests


def test_lint_is_clean():
    out = check(run(["snakemake", "--lint"], REPO, timeout=120))
    assert "Congratulations, your workflow is in a good condition!" in out


def dry_run(params_file: str, directory: Path) -> tuple[subprocess.CompletedProcess, float]:
    tic = time.perf_counter()
    done = run(["snakemake", "-n", "--quiet", "rules", "--directory", str(directory), "--snakefile",
                str(REPO / "Snakefile"), "--config", f"params={REPO / params_file}", "--", "all"], REPO, timeout=300)
    return done, time.perf_counter() - tic


@pytest.fixture(scope="module")
def dry_runs(request, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, float]]:
    """The dry run of every params file whose test below is selected, two at a time: each is one snakemake
    process on one core, and the suite runs on two."""
    selected = [item.callspec.params["params_file"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_dry_run_plans_every_run_of_the_params_file"]
    root = tmp_path_factory.mktemp("dry_runs")
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {f: pool.submit(dry_run, f, root / f.replace("/", "_")) for f in dict.fromkeys(selected)}
        return {f: future.result() for f, future in futures.items()}


@pytest.mark.parametrize("params_file", [
    pytest.param(f, marks=pytest.mark.slow) if len(runs_of(P.load(REPO / f))) > BIG else f for f in PARAMS_FILES])
def test_dry_run_plans_every_run_of_the_params_file(params_file, dry_runs):
    """-n plans one `run` job per runs_per_job runs of the grid (each trains, evaluates and bootstraps its runs),
    one corrupt job per labels file and the report once."""
    exp = P.load(REPO / params_file)
    done, seconds = dry_runs[params_file]
    out = check(done)
    counts = job_counts(out)
    n = len(runs_of(exp))
    assert counts["run"] == math.ceil(n / (exp.resources.runs_per_job or 1))
    assert not {"train", "evaluate", "evaluate_q", "bootstrap"} & set(counts)
    assert counts["aggregate"] == counts["plot"] == counts["timing"] == 1
    assert counts["corrupt"] == len({r.spec.labels_path for r in runs_of(exp)})
    print(f"{params_file}: {n} runs, {counts['total']} jobs planned in {seconds:.1f} s")


def test_run_jobs_cover_every_run_once_and_sources_come_first():
    """grouping.split: N consecutive runs per job, each run in exactly one job, and a run initialised from another
    run never in an earlier job than its source (nor before it within a job)."""
    from limitlab.jobs import grouping

    exp = P.load(REPO / "params/paper/mnist.yaml")
    specs = [r.spec for r in runs_of(exp)]
    for n in (1, 5, 8, 7):
        jobs = grouping.split(specs, n)
        order = [s.key for runs in jobs.values() for s in runs]
        assert sorted(order) == sorted(s.key for s in specs) and len(set(order)) == len(order)
        assert all(len(runs) == n for runs in list(jobs.values())[:-1]) and 1 <= len(list(jobs.values())[-1]) <= n
        assert list(jobs) == [grouping.job_id(n, i) for i in range(len(jobs))]
        position = {key: i for i, key in enumerate(order)}
        by_dir = {str(s.run_dir): s for s in specs}
        for s in specs:
            if s.init_dir is not None:
                assert position[by_dir[str(s.init_dir)].key] < position[s.key]
    assert grouping.parse_id("n8-00012") == (8, 12)
    with pytest.raises(Exception, match="not a run-job id"):
        grouping.parse_id("n0-00001")


def test_runs_per_job_sizes_the_run_jobs(tmp_path):
    """N runs per job: the slurm profile's default (5), else resources.runs_per_job of the params file, else
    --config runs_per_job; without any of them (a local plan) 1. smoke has 20 runs."""
    data = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    data["resources"]["runs_per_job"] = 10
    with_n = tmp_path / "smoke_n10.yaml"
    with_n.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    def run_jobs(params: Path, *config: str, profile: bool = True) -> int:
        out = check(run(["snakemake", "-n", *(["--profile", str(REPO / "workflow/profiles/slurm")] if profile else []),
                         "--directory", str(tmp_path), "--snakefile", str(REPO / "Snakefile"), "--config",
                         f"params={params}", *config, "--", "all"], REPO, timeout=300))
        return job_counts(out)["run"]

    smoke = REPO / "params/smoke.yaml"
    assert run_jobs(smoke) == 4  # ceil(20 / 5)
    assert run_jobs(smoke, profile=False) == 20
    assert run_jobs(with_n) == 2  # ceil(20 / 10)
    assert run_jobs(with_n, "runs_per_job=1") == 20
    assert run_jobs(smoke, "runs_per_job=20") == 1
    bad = run(["snakemake", "-n", "--profile", str(REPO / "workflow/profiles/slurm"), "--directory", str(tmp_path),
               "--snakefile", str(REPO / "Snakefile"), "--config", f"params={smoke}", "runs_per_job=0", "--", "all"],
              REPO, timeout=120)
    assert bad.returncode != 0 and "runs_per_job=0" in bad.stdout and "positive integer" in bad.stdout


def test_init_runs_wait_for_the_ce_model_of_their_setting(tmp_path):
    """With one run per job, the job of a LIMIT + init run has the job of the CE run of its setting as an input,
    and asking for it plans that CE job first, and only that; the job asks for one run's resources."""
    from limitlab.jobs import grouping

    exp = P.load(REPO / "params/smoke.yaml")
    jobs = grouping.split([r.spec for r in runs_of(exp)], 1)
    job_of = {runs[0].key: job for job, runs in jobs.items()}
    init = next(r.spec for r in runs_of(exp) if r.spec.init_dir is not None)
    source = next(r.spec for r in runs_of(exp) if r.spec.run_dir == init.init_dir)
    target = f"data/jobs/{exp.name}/{job_of[init.key]}.json"
    out = check(run(["snakemake", "-n", "--directory", str(tmp_path), "--snakefile", str(REPO / "Snakefile"),
                     "--config", f"params={REPO / 'params/smoke.yaml'}", "--", target], REPO, timeout=120))
    assert job_counts(out)["run"] == 2
    assert f"data/jobs/{exp.name}/{job_of[source.key]}.json" in out  # an input of the init run's job
    resources = re.search(rf"output: {re.escape(target)}.*?resources: ([^\n]*)", out, re.S)[1]
    assert "gpu=1" in resources and "runtime=20" in resources and "mem_mb=2000" in resources


@pytest.mark.slow
def test_readme_run_command_on_default_params(tmp_path):
    """The README's run command (`make run` = the local profile on params/default.yaml) end to end: every
    output of the grid, the table with a row per method, every figure; a second run does nothing."""
    repo = copy_repo(tmp_path / "repo")
    cmd = ["snakemake", "--profile", "workflow/profiles/local", "--config", "params=params/default.yaml", "--", "all"]
    tic = time.perf_counter()
    check(run(cmd, repo, timeout=1500))
    print(f"default pipeline end to end: {time.perf_counter() - tic:.0f} s")
    exp = P.load(repo / "params/default.yaml")
    assert missing_outputs(repo, "params/default.yaml") == []
    table = (repo / exp.results_path / "table.md").read_text()
    for method in exp.studies[0].methods:
        assert method.label in table
    metrics = json.loads((repo / exp.results_path / "metrics.json").read_text())
    assert {"p0", "p50", "p80"} <= set(metrics["mnist5k"]["uniform"])
    figures = repo / exp.results_path / "figures"
    drawn = json.loads((figures / "index.json").read_text())["figures"]
    assert {f["kind"] for f in drawn} >= {"fano", "curves", "gradient_histograms", "accuracy_vs_noise"}
    for f in drawn:
        assert (figures / f["png"]).stat().st_size > 0 and (figures / f["pdf"]).stat().st_size > 0
    again = check(run(cmd, repo, timeout=300))
    assert "Nothing to be done" in again


@pytest.mark.slow
def test_failed_cell_fails_only_its_downstream(tmp_path):
    """A diverging run (NaN loss) is marked failed inside its job; the other runs train, and the run initialised
    from the failed one is left out (no marker of its own); the report is written with both marked missing. The
    next invocation skips them and has nothing to do; retry_failed plans exactly their jobs again."""
    repo = copy_repo(tmp_path / "repo")
    smoke_subset(repo, methods=["mae"], p=[0.8], name="smoke_fail", extra_methods=[
        {"id": "ce_bad", "method": "ce", "label": "CE (diverges)", "training": {"lr": 1.0e30}},
        {"id": "limit_init", "method": "limit", "label": "LIMIT + init", "q_dist": "gaussian", "beta": 1.0,
         "init": {"source": "ce_bad", "target": "q"}}])
    exp = P.load(repo / "params/smoke.yaml")
    runs = {r.spec.method_id: r.spec for r in runs_of(exp)}
    cmd = ["snakemake", "--cores", "2", "--config", "params=params/smoke.yaml", "--", "all"]

    first = check(run(cmd, repo, timeout=600))
    bad, init, ok = runs["ce_bad"], runs["limit_init"], runs["mae"]
    assert f"limitlab: {bad.key}: failed (limitlab refused it" in first  # said on Snakemake's output
    marker = repo / bad.run_dir / "failed.json"
    assert json.loads(marker.read_text())["spec"]["key"] == bad.key  # the spec it failed with
    assert json.loads(marker.read_text())["exit_status"] == 2  # a LimitlabError: would repeat
    assert "diverged" in (repo / "logs/smoke_fail/runs" / f"{bad.key}.log").read_text()
    assert not (repo / bad.run_dir / "model.pt").exists() and not (repo / init.run_dir / "model.pt").exists()
    assert not (repo / init.run_dir / "failed.json").exists()  # its source failed, not the run itself
    assert not (repo / bad.run_dir / "interrupted.json").exists()
    assert (repo / ok.eval_dir / "bootstrap.json").is_file()  # the healthy cell went all the way
    metrics = json.loads((repo / "results/smoke_fail/metrics.json").read_text())
    flat = json.dumps(metrics)
    assert "mae" in flat and "ce_bad" not in flat and "limit_init" not in flat
    table = (repo / "results/smoke_fail/table.md").read_text()
    assert re.search(r"CE \(diverges\) \|[^\n]*missing", table)
    assert bad.key in table and init.key in table  # listed under missing runs
    ok_mtime = (repo / ok.run_dir / "model.pt").stat().st_mtime_ns

    second = check(run(cmd, repo, timeout=600))
    assert "skipping 2 failed cell(s)" in second and "Nothing to be done" in second
    assert (repo / ok.run_dir / "model.pt").stat().st_mtime_ns == ok_mtime  # nothing retrained

    retry = check(run(["snakemake", "-n", "--config", "params=params/smoke.yaml", "retry_failed=true", "--", "all"],
                      repo, timeout=120))
    assert job_counts(retry)["run"] == 2  # the jobs of ce_bad and of the run initialised from it

    # a new display name or an extra seed list retrains nothing (fields the runs do not compute with)
    params = yaml.safe_load((repo / "params/smoke.yaml").read_text())
    params["studies"]["uniform"]["methods"]["mae"].update(label="Mean absolute error", seeds=[42])
    (repo / "params/smoke.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    relabelled = check(run(["snakemake", "-n", "--config", "params=params/smoke.yaml", "--", "all"], repo,
                           timeout=120))
    assert "run" not in job_counts(relabelled) and "aggregate" in job_counts(relabelled)

    # a changed spec makes the marker stale: the cell is planned again without retry_failed, and the run
    # initialised from it with it (its input, the source's job, is redone); then both train
    params["studies"]["uniform"]["methods"]["ce_bad"]["training"] = {"lr": 1.0e-3}
    (repo / "params/smoke.yaml").write_text(yaml.safe_dump(params, sort_keys=False, allow_unicode=True))
    fixed = check(run(["snakemake", "-n", "--config", "params=params/smoke.yaml", "--", "all"], repo, timeout=120))
    assert job_counts(fixed)["run"] == 2
    check(run([*cmd[:-1], "train_all"], repo, timeout=600))  # the runs: what is checked next (the report was above)
    fixed_runs = {r.spec.method_id: r.spec for r in runs_of(P.load(repo / "params/smoke.yaml"))}
    fixed_bad, fixed_init = fixed_runs["ce_bad"], fixed_runs["limit_init"]
    assert fixed_bad.run_dir != bad.run_dir and fixed_init.run_dir != init.run_dir  # new specs, new folders
    assert (repo / fixed_bad.run_dir / "model.pt").is_file() and (repo / fixed_init.run_dir / "model.pt").is_file()
    assert not (repo / fixed_bad.run_dir / "failed.json").exists()
    assert marker.exists()  # the failed spec's own folder keeps its record
    assert (repo / ok.run_dir / "model.pt").stat().st_mtime_ns == ok_mtime

    # a run's evaluation deleted by hand: as with any Snakemake intermediate, nothing reruns by itself; the
    # documented recipe, --forcerun run, runs every job, and each redoes only what is missing (here: no training)
    shutil.rmtree(repo / ok.eval_dir)
    check(run([*cmd[:-2], "--forcerun", "run", "--", "all"], repo, timeout=600))
    assert (repo / ok.eval_dir / "bootstrap.json").is_file()
    assert (repo / ok.run_dir / "model.pt").stat().st_mtime_ns == ok_mtime
