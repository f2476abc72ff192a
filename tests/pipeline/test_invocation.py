"""What workflow/rules/common.smk used to decide on Snakemake's state, as functions (limitlab.pipeline.invocation,
dvc_record.completed_targets, snakemake_lock.notes_wait_for_onstart), and the one module that reads Snakemake's
internals (limitlab.pipeline.snakemake_internals): against a stand-in workflow, and against the installed
Snakemake's own classes. The end-to-end behaviour is tests/workflow (test_locks, test_reliability, test_dvc)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from limitlab.errors import LimitlabError
from limitlab.pipeline import dvc_record, snakemake_internals
from limitlab.pipeline.invocation import Invocation
from limitlab.pipeline.plan import RunJobPlan
from limitlab.pipeline.snakemake_internals import Request

REPO = Path(__file__).resolve().parents[2]
OPTIONS = ("until", "omit_from", "allowed_rules", "target_jobs", "batch")


def workflow(targets=(), remote=False, group_components=None, touch=False, **options) -> SimpleNamespace:
    """What common.smk's ``workflow`` holds of Snakemake's state, as Snakemake 8.10-9.x names it."""
    dag_settings = SimpleNamespace(targets=frozenset(targets), **{o: options.get(o, frozenset()) for o in OPTIONS})
    if "batch" not in options:
        dag_settings.batch = None
    return SimpleNamespace(dag_settings=dag_settings, default_target="all", touch=touch, remote_exec=remote,
                           group_settings=SimpleNamespace(group_components=group_components or {}),
                           dag=SimpleNamespace(forcefiles=set()))


@pytest.fixture
def params(tmp_path, monkeypatch) -> str:
    """params/smoke.yaml with its data in tmp_path, which is the working directory (Snakemake's locks: none)."""
    data = yaml.safe_load((REPO / "params" / "smoke.yaml").read_text())
    data.update(data_dir=str(tmp_path / "data"), results_dir=str(tmp_path / "results"))
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    monkeypatch.chdir(tmp_path)
    return str(path)


class Said(list):
    def __call__(self, lines) -> None:
        self.extend(lines)


# --- the Snakemake versions and internals -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["8.10.0", "8.30.1", "9.0.0", "9.27.1", "9.27.1.post1+g1234"])
def test_supported_snakemake_versions(version):
    snakemake_internals.check_version(version)


@pytest.mark.parametrize("version", ["8.9.3", "7.32.4", "10.0.0", "11.2", "unknown"])
def test_another_snakemake_is_refused_with_what_to_install(version):
    with pytest.raises(LimitlabError) as caught:
        snakemake_internals.check_version(version)
    assert f"this is Snakemake {version}" in str(caught.value)
    assert "pip install 'snakemake>=8.10,<10.0'" in str(caught.value)


def test_installed_snakemake_is_supported_and_has_every_internal_read():
    """The installed Snakemake's own classes have every name snakemake_internals reads."""
    import snakemake.api  # noqa: F401 - Snakemake's entry point, which imports snakemake.workflow in its order
    from snakemake.settings.types import DAGSettings, GroupSettings
    from snakemake.workflow import Workflow

    snakemake_internals.check_version()
    real = SimpleNamespace(dag_settings=DAGSettings(targets={"report"}, until={"plot"}), touch=False,
                           default_target="all", group_settings=GroupSettings(group_components={"run": 5}))
    assert snakemake_internals.request(real) == Request(targets=("report",), until=True)
    assert snakemake_internals.profile_group_size(real, "run") == 5
    for name in ("touch", "remote_exec", "dag"):
        assert isinstance(getattr(Workflow, name), property), name


def test_snakefile_and_pyproject_name_the_lowest_supported_snakemake():
    lowest = ".".join(map(str, snakemake_internals.SUPPORTED[0]))
    assert f'min_version("{lowest}")' in (REPO / "workflow/Snakefile").read_text()
    assert f'"snakemake>={lowest}' in (REPO / "pyproject.toml").read_text()


def test_a_missing_internal_is_named():
    with pytest.raises(LimitlabError, match=r"no workflow\.dag\.forcefiles.*Snakemake >=8\.10,<10\.0"):
        snakemake_internals.force_outputs(SimpleNamespace(dag=SimpleNamespace()), ["x"])
    old = workflow()
    del old.dag_settings.omit_from
    with pytest.raises(LimitlabError, match=r"no workflow\.dag_settings\.omit_from"):
        snakemake_internals.request(old)


def test_request_is_the_targets_or_the_default_target():
    assert snakemake_internals.request(workflow()) == Request(targets=("all",))
    assert snakemake_internals.request(workflow(targets=["train_all"])).targets == ("train_all",)
    assert snakemake_internals.request(workflow(touch=True)).touch


# --- which dvc.yaml stages an invocation completes -----------------------------------------------------------


@pytest.mark.parametrize("option", [*OPTIONS, "touch"])
def test_an_invocation_that_stops_short_completes_no_target(option):
    request = snakemake_internals.request(workflow(
        targets=["all"], **({"touch": True} if option == "touch" else {option: object() if option == "batch"
                                                                       else frozenset({"plot"})})))
    assert dvc_record.completed_targets(request) == []


def test_a_whole_invocation_completes_its_targets():
    assert dvc_record.completed_targets(Request(targets=("all",))) == ["all"]
    assert dvc_record.completed_targets(Request(targets=("data", "train_all"))) == ["data", "train_all"]
    assert dvc_record.completed_stages(dvc_record.completed_targets(Request(targets=("train_all",)))) == {
        "data", "train"}


# --- one invocation: errors, notes, stale jobs, the end of a run ---------------------------------------------


def test_config_and_params_problems_are_limitlab_errors(params, tmp_path):
    with pytest.raises(LimitlabError, match=r"^--config: unknown key 'retry_faild'") as caught:
        Invocation({"params": params, "retry_faild": "true"}, workflow())
    assert "choose the params file" not in str(caught.value)
    with pytest.raises(LimitlabError, match=r"does not exist\n\(choose the params file with: --config params="):
        Invocation({"params": str(tmp_path / "missing.yaml")}, workflow())


def test_an_unsupported_snakemake_stops_before_anything_is_read(monkeypatch, params):
    import snakemake

    monkeypatch.setattr(snakemake, "__version__", "10.1.0")
    with pytest.raises(LimitlabError, match="this is Snakemake 10.1.0"):
        Invocation({"params": params, "retry_faild": "true"}, workflow())


def test_notes_print_while_read_or_at_onstart_when_a_lock_is_there(params, tmp_path, monkeypatch):
    monkeypatch.setattr(RunJobPlan, "messages", lambda self: ["limitlab: a note"])
    said = Said()
    invocation = Invocation({"params": params}, workflow(), say=said)
    assert said == ["limitlab: a note"]
    invocation.on_start()
    assert said == ["limitlab: a note"]  # once

    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text("")
    said = Said()
    invocation = Invocation({"params": params}, workflow(), say=said)
    assert said == []  # another snakemake's, or a killed one's: this run may not happen
    invocation.on_start()
    assert said == ["limitlab: a note"]


def test_stale_jobs_are_forced_once_per_runs_per_job_and_never_in_a_cluster_job(params, monkeypatch):
    asked = []

    def rerun_stale(self, n):
        asked.append(n)
        return [f"data/jobs/smoke/n{n}-00000.json"], [f"limitlab: {n} per job"]

    monkeypatch.setattr(RunJobPlan, "rerun_stale", rerun_stale)
    said, local = Said(), workflow(group_components={"run": 5})
    invocation = Invocation({"params": params}, local, say=said)
    files = invocation.job_files()
    assert invocation.job_files() == files and len(files) == 4  # smoke: 20 runs, 5 per job
    assert asked == [5] and local.dag.forcefiles == {"data/jobs/smoke/n5-00000.json"}
    assert said[-1] == "limitlab: 5 per job" and said.count("limitlab: 5 per job") == 1

    cluster = workflow(remote=True)
    Invocation({"params": params}, cluster, say=Said()).job_files()
    assert asked == [5] and cluster.dag.forcefiles == set()


def test_end_of_run_records_in_dvc_only_the_targets_it_completed(params, monkeypatch):
    recorded = []
    monkeypatch.setattr(dvc_record, "after_snakemake", lambda p, targets, finished: recorded.append(
        (p, targets, finished)) or ["limitlab: recorded"])
    said = Said()
    Invocation({"params": params}, workflow(targets=["all"]), say=said).end_of_run(finished=True)
    Invocation({"params": params}, workflow(targets=["all"], until=frozenset({"plot"})), say=said).end_of_run(False)
    assert recorded == [(params, ["all"], True), (params, [], False)]
    assert said.count("limitlab: recorded") == 2


def test_common_smk_is_config_to_paths():
    """workflow/rules/common.smk stays short: config -> paths; decisions live in limitlab.pipeline."""
    text = (REPO / "workflow/rules/common.smk").read_text()
    assert len(text.splitlines()) <= 120
    assert not re.search(r"workflow\.(dag|dag_settings|group_settings|remote_exec|touch)\b", text)
