"""Faults and bad inputs (issue 12): interrupted jobs resume, damaged files get one clear error, nothing
valid-looking is wrong. Tiny real runs (mnist5k, 200 examples, CPU, one thread) where training is involved."""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from limitlab import io
from limitlab.experiment import failure_markers as markers
from limitlab.experiment import params_file as P
from limitlab.cli import main
from limitlab.errors import LimitlabError
from limitlab.evaluation.evaluate import evaluate
from limitlab.training.loop import train
from limitlab.training.run_data import load_run_data
from limitlab.experiment.grid import runs_of

import tiny_data

CE = [{"method": "ce"}]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    return tiny_data.prepare(root, tiny_data.experiment(root, CE))


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    """One finished CE run (2 epochs): its spec, result and a copy of its run folder (state included)."""
    runs = tmp_path_factory.mktemp("runs")
    spec = tiny_data.spec_of(tiny_data.experiment(data_dir, CE), "ce", runs)
    result = train(spec)
    keep = tmp_path_factory.mktemp("keep") / "run"
    shutil.copytree(spec.run_dir, keep)
    return spec, result, keep


def fresh_copy(trained):
    """The finished run's folder restored from its copy (the spec names the folder, so it must be the same one),
    with its outputs removed and its state kept: what a run killed after its last epoch leaves."""
    spec, result, keep = trained
    run_dir = Path(spec.run_dir)
    shutil.rmtree(run_dir)
    shutil.copytree(keep, run_dir)
    for name in ("model.pt", "history.csv", "result.json"):
        (run_dir / name).unlink()
    return spec, result


def same_numbers(a: dict, b: dict) -> None:
    for k in ("test_acc", "best_val_acc", "best_epoch", "epochs_run"):
        assert a[k] == b[k], k


# --- 1. an interrupted job is not a failed cell ------------------------------------------------------------


def render_guard(command: str, folder: Path, spec: dict) -> str:
    """The job shell of common.smk with Snakemake's placeholders filled in as Snakemake would."""
    text = markers.guard_shell(command)
    for placeholder, value in {"{params.spec:q}": shlex.quote(json.dumps(spec)),
                               "{params.failed:q}": shlex.quote(str(folder / markers.FAILED)),
                               "{params.interrupted:q}": shlex.quote(str(folder / markers.INTERRUPTED)),
                               "{log:q}": shlex.quote(str(folder / "job.log")), "{log}": str(folder / "job.log"),
                               "{wildcards.key}": "some/key"}.items():
        text = text.replace(placeholder, value)
    return text.replace("{{", "{").replace("}}", "}")


@pytest.mark.parametrize("command, status, kind", [
    ("sh -c 'exit 2'", 2, "failed"),                                   # limitlab refused the run (LimitlabError)
    ("python -c 'raise RuntimeError(1)'", 1, "failed"),        # a bug: traceback
    ("sh -c 'kill -KILL $$'", 137, "interrupted"),             # OOM killer, kill -9
    ("sh -c 'kill -TERM $$'", 143, "interrupted"),             # preemption, scancel
    ("sh -c 'exit 130'", 130, "interrupted"),                          # Ctrl-C caught by limitlab
    ("sh -c 'exit 75'", 75, "interrupted"),                            # limitlab out of memory
])
def test_job_shell_marks_failures_but_not_interruptions(command, status, kind, tmp_path):
    spec = {"key": "some/key", "seed": 1}
    (tmp_path / markers.FAILED).write_text("{}")  # an old marker is replaced either way
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", render_guard(command, tmp_path, spec)],
                          capture_output=True, text=True)
    assert done.returncode == status
    marker = markers.read_marker(tmp_path)
    assert marker.kind == kind and marker.exit_status == status and marker.spec == spec
    other = markers.INTERRUPTED if kind == "failed" else markers.FAILED
    assert not (tmp_path / other).exists()
    assert "some/key" in done.stderr and ("resumes" in done.stderr) == (kind == "interrupted")
    assert markers.failed_with(tmp_path, json.dumps(spec)) == (kind == "failed")


def test_job_shell_success_clears_markers(tmp_path):
    (tmp_path / markers.FAILED).write_text("{}")
    (tmp_path / markers.INTERRUPTED).write_text("{}")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", render_guard("true", tmp_path, {})])
    assert done.returncode == 0 and markers.read_marker(tmp_path) is None


def test_marker_reasons_say_why():
    assert "OOM killer" in markers.Marker("interrupted", 137, {}).reason
    assert "resumes" in markers.Marker("interrupted", 143, {}).reason
    assert "retry_failed" in markers.Marker("failed", 2, {}).reason


def _train_process(spec, log: Path) -> subprocess.Popen:
    spec_file = log.with_suffix(".json")
    spec_file.write_text(spec.model_dump_json())
    return subprocess.Popen([sys.executable, "-m", "limitlab.cli", "train", "--spec", f"@{spec_file}"],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # see test_run_jobs


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_killed_train_resumes_to_the_same_result(sig, status, data_dir, trained, tmp_path):
    """A real `limitlab train` process killed after its first epoch: exit status of an interruption, no
    temporary files left (SIGTERM/SIGINT), and the rerun resumes and ends with the uninterrupted numbers."""
    _, full, _ = trained
    spec = tiny_data.spec_of(tiny_data.experiment(data_dir, CE), "ce", tmp_path / "runs")
    last = Path(spec.run_dir) / "state" / "last.pt"
    proc = _train_process(spec, tmp_path / "train.log")
    deadline = time.monotonic() + 240
    while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be interrupted")  # cannot happen at 2 epochs on 1 thread
    proc.send_signal(sig)
    code = proc.wait(120)
    if code == 0 and sig != signal.SIGKILL and (Path(spec.run_dir) / "result.json").is_file():
        pytest.skip("the last epoch and the final save finished before the signal was handled (a loaded machine)")
    assert code == status
    log = (tmp_path / "train.log").read_text()
    assert "Traceback" not in log
    if sig != signal.SIGKILL:
        assert "resumes" in log
        assert not list(Path(spec.run_dir).rglob("*.tmp"))
    resumed = train(spec)
    same_numbers(full, resumed)


# --- 2. corrupt or partial resume state ---------------------------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _no_optimizer(path: Path) -> None:
    st = torch.load(path, weights_only=False)
    del st["optimizer"]
    torch.save(st, path)


DAMAGE = {
    "last.pt empty": lambda s: (s / "last.pt").write_bytes(b""),
    "last.pt truncated": lambda s: _truncate(s / "last.pt"),
    "last.pt not torch": lambda s: (s / "last.pt").write_text("hello"),
    "best.pt empty": lambda s: (s / "best.pt").write_bytes(b""),
    "best.pt truncated": lambda s: _truncate(s / "best.pt"),
    "best.pt missing": lambda s: (s / "best.pt").unlink(),
    "state without optimizer": lambda s: _no_optimizer(s / "last.pt"),
    "state is a file": lambda s: (shutil.rmtree(s), s.write_text("x")),
    "stale tmp files": lambda s: ((s / ".last.pt.abc123.tmp").write_bytes(b"half"),
                                  (s / ".best.pt.tmp").write_bytes(b"")),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_state_resumes_or_restarts_with_one_message(case, trained, tmp_path, capsys):
    spec, full = fresh_copy(trained)
    state = Path(spec.run_dir) / "state"
    DAMAGE[case](state)
    result = train(spec)  # no exception, whatever the damage
    same_numbers(full, result)
    out = capsys.readouterr().out
    assert "Traceback" not in out
    if case == "stale tmp files":
        assert "removed 2 unfinished temporary file(s)" in out and "resuming from" in out
    elif case == "state is a file":
        assert f"{state} was a file" in out
    else:
        name = "best.pt" if case.startswith("best") else "last.pt"
        assert str(state / name) in out and ("starting from epoch 0" in out or "rebuilt it from" in out)
    assert not list(state.glob("*.tmp")) and (state / "last.pt").is_file() and (state / "best.pt").is_file()


# --- 3. unreadable checkpoints ------------------------------------------------------------------------------


BROKEN_FILES = {"empty": b"", "not torch": b"just text\n", "truncated": None}


@pytest.mark.parametrize("how", list(BROKEN_FILES))
def test_broken_model_is_named_with_its_stage(how, trained, tmp_path):
    spec, _, keep = trained
    run_dir = tmp_path / "run"
    shutil.copytree(keep, run_dir)
    model = run_dir / "model.pt"
    model.write_bytes(BROKEN_FILES[how] if BROKEN_FILES[how] is not None else model.read_bytes()[:1000])
    spec = spec.model_copy(update={"run_dir": run_dir, "eval_dir": tmp_path / "eval"})
    with pytest.raises(LimitlabError) as exc:
        evaluate(spec)
    msg = str(exc.value)
    assert str(model) in msg and "damaged" in msg and "train stage" in msg and "rerun" in msg


def test_broken_init_source_is_named(data_dir, trained, tmp_path):
    _, _, keep = trained
    exp = tiny_data.experiment(data_dir, [{"method": "ce"}, {"method": "fw", "init": {"source": "ce"}}])
    fw = tiny_data.spec_of(exp, "fw", tmp_path / "runs")
    ce_dir = Path(fw.init_dir)
    ce_dir.mkdir(parents=True)
    (ce_dir / "model.pt").write_bytes((keep / "model.pt").read_bytes()[:500])
    with pytest.raises(LimitlabError, match="init checkpoint") as exc:
        train(fw)
    assert str(ce_dir / "model.pt") in str(exc.value) and "train" in str(exc.value)


# --- 4. labels.npz checked before use -----------------------------------------------------------------------


LABEL_DAMAGE = {
    "missing array": (lambda a: a.pop("val_clean"), "lacks ['val_clean']"),
    "short train_noisy": (lambda a: a.update(train_noisy=a["train_noisy"][:50]), "differ in length"),
    "float labels": (lambda a: a.update(train_noisy=a["train_noisy"] + 0.5), "integer"),
    "label out of range": (lambda a: a["train_noisy"].__setitem__(0, 10), "outside 0..9"),
    "index out of range": (lambda a: a["val_index"].__setitem__(0, 10**6), "outside 0..3999"),
    "fewer examples than n": (lambda a: a.update(**{k: a[k][:150] for k in ("train_index", "train_noisy",
                                                                          "train_clean")}), "n = 200"),
}


@pytest.mark.parametrize("case", list(LABEL_DAMAGE))
def test_bad_labels_file_is_refused(case, data_dir, tmp_path):
    spec = tiny_data.spec_of(tiny_data.experiment(data_dir, CE), "ce", tmp_path / "runs")
    arrays = io.load_npz(spec.labels_path)
    damage, expected = LABEL_DAMAGE[case]
    damage(arrays)
    bad = tmp_path / "labels.npz"
    io.save_npz(bad, **arrays)
    spec = spec.model_copy(update={"labels_path": bad})
    with pytest.raises(LimitlabError, match="labels file") as exc:
        load_run_data(spec, torch.device("cpu"), False)
    assert str(bad) in str(exc.value) and expected in str(exc.value)


def test_good_labels_pass(data_dir, tmp_path):
    spec = tiny_data.spec_of(tiny_data.experiment(data_dir, CE), "ce", tmp_path / "runs")
    assert len(load_run_data(spec, torch.device("cpu"), False).train) == 200


# --- 5. params validation catches what a job would refuse later ---------------------------------------------


def params_with(**change) -> dict:
    study = {"id": "u", "dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [200],
             "seeds": [1], "training": {"epochs": 2}, "methods": [{"method": "ce"}]}
    for dotted, value in change.items():
        node = study
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    return {"name": "t", "studies": [study]}


BAD_PARAMS = {
    "epochs: true": ({"training__epochs": True}, "training", "boolean"),
    "batch_size: false": ({"training__batch_size": False}, "batch_size", "boolean"),
    "beta grid with true": ({"methods": [{"method": "limit", "beta": [1.0, True]}]}, "beta", "boolean"),
    "device: gpu": ({"training__device": "gpu"}, "device 'gpu'", "accepted: 'auto', 'cpu', 'cuda'"),
    "method device: gpu": ({"methods": [{"method": "ce", "training": {"device": "gpu"}}]}, "device 'gpu'", "cuda:N"),
    "method batch_size: 0": ({"methods": [{"method": "ce", "training": {"batch_size": 0}}]}, "batch_size", "0"),
    "empty seeds": ({"seeds": []}, "seeds", "at least 1"),
    "negative seed": ({"seeds": [-1]}, "seeds [-1]", "0..2**32-1"),
    "huge seed": ({"seeds": [2**32]}, "seeds", "0..2**32-1"),
    "method seeds empty": ({"methods": [{"method": "ce", "seeds": []}]}, "seed list is empty", "ce"),
    "n larger than the split": ({"n": [5000]}, "n = [5000]", "1..3200"),
    "empty n": ({"n": []}, "n", "at least 1"),
    "empty p": ({"noise__p": []}, "noise.p", "at least 1"),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_params_refuse_what_a_job_would_refuse(case):
    change, *expected = BAD_PARAMS[case]
    with pytest.raises(LimitlabError) as exc:
        P.validate(params_with(**change), "bad.yaml")
    for text in expected:
        assert text in str(exc.value), (case, str(exc.value))


def test_valid_params_still_pass():
    exp = P.validate(params_with(**{"training__device": "cuda:1", "training__channels_last": True,
                                    "seeds": [0, 2**32 - 1], "n": [3200, "all"]}), "ok.yaml")
    assert len(runs_of(exp)) == 4


def test_params_check_reports_every_file(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(params_with()))
    bad1 = tmp_path / "bad1.yaml"
    bad1.write_text(yaml.safe_dump(params_with(training__epochs=True)))
    bad2 = tmp_path / "bad2.yaml"
    bad2.write_text(yaml.safe_dump(params_with(training__device="gpu")))
    folder = tmp_path / "params"
    folder.mkdir()
    assert main(["params", "check", str(bad1), str(folder), str(good), str(bad2)]) == 2
    out, err = capsys.readouterr()
    assert str(bad1) in err and str(bad2) in err and f"{folder} is a folder" in err
    assert "3 of 4 params file(s) are invalid" in err and "1 training runs in total" in out
    assert "Traceback" not in err


# --- 6. write errors ----------------------------------------------------------------------------------------


def test_out_that_is_a_folder(tmp_path):
    with pytest.raises(LimitlabError, match="is a folder, not a file"):
        io.write_json(tmp_path, {"a": 1})


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "the disk is full"), (errno.EACCES, "permission denied"),
                                         (errno.EROFS, "read-only")])
def test_write_errors_are_one_line_and_leave_no_temp_file(code, words, tmp_path, monkeypatch):
    real_write = Path.write_bytes

    def fails(self, data):
        real_write(self, data[:10])  # half written, as when the disk fills up
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_bytes", fails)
    with pytest.raises(LimitlabError) as exc:
        io.write_json(tmp_path / "out.json", {"a": 1})
    msg = str(exc.value)
    assert str(tmp_path / "out.json") in msg and words in msg and "\n" not in msg
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder(tmp_path, monkeypatch):
    def no_permission(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", no_permission)
    with pytest.raises(LimitlabError, match="permission denied"):
        io.save_npz(tmp_path / "x.npz", a=np.zeros(2))


def test_cli_write_error_exits_2(tmp_path, capsys):
    pred = tmp_path / "predictions.npz"
    io.save_npz(pred, logits=np.eye(3, dtype=np.float32), labels=np.arange(3), index=np.arange(3))
    assert main(["bootstrap", "--predictions", str(pred), "--out", str(tmp_path), "--samples", "10"]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "Traceback" not in err


# --- 8. byte-identical artifacts ----------------------------------------------------------------------------


def test_torch_bytes_do_not_depend_on_the_file_name(tmp_path):
    obj = {"w": torch.arange(6.0).reshape(2, 3), "meta": {"k": 1}}
    a, b = io.save_torch(tmp_path / "a.pt", obj), io.save_torch(tmp_path / "b.pt", obj)
    assert a.read_bytes() == b.read_bytes()
    assert torch.equal(io.load_torch(a, "file", "", ("w",))["w"], obj["w"])


def test_retrain_and_reevaluate_give_identical_bytes(trained, tmp_path):
    """The same spec and seed retrained from scratch in the same folder: same model.pt, predictions.npz and
    eval.json bytes (so `dvc status` stays clean after a rerun)."""
    spec, _, keep = trained
    run_dir = tmp_path / "run"
    spec = spec.model_copy(update={"run_dir": run_dir, "eval_dir": tmp_path / "eval"})
    names = ("model.pt", "history.csv", "result.json", "predictions.npz", "eval.json")

    def build() -> dict[str, bytes]:
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(spec.eval_dir, ignore_errors=True)
        train(spec)
        evaluate(spec)
        return {n: ((run_dir if n in names[:3] else Path(spec.eval_dir)) / n).read_bytes() for n in names}

    first, second = build(), build()
    for n in names:
        assert first[n] == second[n], n


# --- 1 and 7. the table says why a cell is missing and marks broken files -------------------------------------


def _fake_experiment(tmp_path):
    exp = P.validate({"name": "fake", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
                      "studies": [{"id": "u", "dataset": {"name": "mnist"}, "noise": {"model": "uniform", "p": [0.8]},
                                   "seeds": [42], "methods": [{"method": "ce"}, {"method": "mae"},
                                                              {"method": "gce"}]}]}, "fake")
    return exp, {r.spec.method_id: r.spec for r in runs_of(exp)}


def _finished(spec, boot: dict | str | None = None, eval_text: str | None = None) -> None:
    Path(spec.run_dir).mkdir(parents=True, exist_ok=True)
    Path(spec.eval_dir).mkdir(parents=True, exist_ok=True)
    (Path(spec.run_dir) / "result.json").write_text(json.dumps({"best_val_acc": 0.5, "test_acc": 0.6, "best_epoch": 1}))
    (Path(spec.eval_dir) / "eval.json").write_text(eval_text or json.dumps({"test_acc": 0.6, "detection_auc": None}))
    if boot is not None:
        (Path(spec.eval_dir) / "bootstrap.json").write_text(boot if isinstance(boot, str) else json.dumps(boot))


def test_table_says_interrupted_or_failed(tmp_path, capsys):
    from limitlab.report.aggregate import aggregate

    exp, specs = _fake_experiment(tmp_path)
    _finished(specs["ce"], {"std": 0.01, "samples": 100})
    for method, name, status in (("mae", markers.INTERRUPTED, 137), ("gce", markers.FAILED, 2)):
        Path(specs[method].run_dir).mkdir(parents=True)
        (Path(specs[method].run_dir) / name).write_text(json.dumps({"exit_status": status, "spec": {}}))
    aggregate(exp)
    md = (tmp_path / "results" / "table.md").read_text()
    assert f"`{specs['mae'].key}`: training interrupted (killed by SIGKILL (the kernel's OOM killer" in md
    assert "the next run resumes it" in md
    assert f"`{specs['gce'].key}`: training failed (limitlab refused it" in md


def test_broken_eval_and_bootstrap_are_named_and_marked(tmp_path, capsys):
    from limitlab.report.aggregate import aggregate

    exp, specs = _fake_experiment(tmp_path)
    good = json.dumps({"test_acc": 0.6, "detection_auc": None})
    _finished(specs["ce"], {"std": 0.01, "samples": 100}, eval_text=good[: len(good) // 2])   # truncated eval.json
    _finished(specs["mae"], {"std": [0.1], "samples": "many"})                                 # wrong shape
    _finished(specs["gce"], {"std": 0.02, "samples": 100})                                     # healthy
    summary = aggregate(exp)
    err = capsys.readouterr().err
    for method, name in (("ce", "eval.json"), ("mae", "bootstrap.json")):
        path = str(Path(specs[method].eval_dir) / name)
        assert path in err.replace("\n", "")
        assert path in (tmp_path / "results" / "table.md").read_text()
    ours = (tmp_path / "results" / "table.md").read_text().split("\n## ")[0]  # not the paper's table below it
    rows = {line.split("|")[1].strip(): line for line in ours.splitlines() if line.startswith("| ") and "Method" not in line}
    assert "!" in rows["ce"] and "!" in rows["mae"] and "!" not in rows["gce"]
    assert "60.0 ± 2.0 |" in rows["gce"] and "60.0!" in rows["mae"]  # the broken bootstrap gives no error bar
    assert any("broken file" in m for m in summary.messages)


def test_any_write_error_in_a_stage_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(yaml.safe_dump({**params_with(), "data_dir": str(tmp_path / "data"),
                                      "results_dir": str(tmp_path / "results")}))

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    assert main(["aggregate", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {tmp_path / 'results'}: the file system is read-only" in err and "Traceback" not in err
