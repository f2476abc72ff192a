"""A run's identity covers its inputs, end to end through Snakemake to the table (a tiny grid: mnist5k, n = 300, 2
epochs; the target is `aggregate`, whose table.md every check reads: the figures and pages after it, which each
invocation would redraw, are the other workflow tests').

A noise file edited after training gives the number a fresh training on the edited file gives, and the original
file brings back the original run untouched; two noise files of one name never share a folder; labels edited,
truncated or deleted are refused (a reason on the console, grouped with the fix at the end), never marked as
failures, and once restored or redrawn the table is back with nothing retrained; an edited dataset is refused
before labels are drawn from it."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from limitlab.experiment import params_file as P
from limitlab.experiment.grid import runs_of
from pipeline_support import check, copy_repo, run

pytestmark = pytest.mark.slow

STUDY = {"dataset": {"name": "mnist5k"}, "n": [300], "seeds": [42],
         "training": {"epochs": 2, "patience": 100, "batch_size": 128, "threads": 1}}


def params(repo: Path, name: str, noise: dict, methods: dict, data_dir: str = "data") -> str:
    path = repo / "params" / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "data_dir": data_dir, "results_dir": f"results/{name}", "bootstrap": {"samples": 50, "seed": 0},
        "studies": {"s": {**STUDY, "noise": noise, "methods": methods}}}, sort_keys=False))
    return f"params/{name}.yaml"


def snakemake(repo: Path, params_file: str, expect_ok: bool = True) -> str:
    return check(run(["snakemake", "--profile", "workflow/profiles/local", "--cores", "1", "aggregate", "--config",
                      f"params={params_file}"], repo, timeout=600), expect_ok)


def table(repo: Path, name: str) -> dict[str, str]:
    """The accuracy grid's CE and FW cells (table.md's first table of every cell, before the first section)."""
    head = (repo / "results" / name / "table.md").read_text().split("\n## ")[0]
    rows = [line.split("|") for line in head.split("**Every cell")[1].splitlines()]
    return {r[1].strip(): r[2].strip() for r in rows if len(r) > 3 and r[1].strip() in ("CE", "FW")}


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "state" not in p.parts and p.name != "timing.json"}


def edit_labels(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
        return
    arrays = dict(np.load(path))
    arrays["train_noisy"] = arrays["train_clean"]
    np.savez(path, **arrays)


def test_edited_restored_truncated_and_deleted_labels(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    t1 = params(repo, "t1", {"model": "uniform", "p": [0.5]},
                {"ce": {"label": "CE"}, "fw": {"label": "FW", "init": {"source": "ce"}}})
    snakemake(repo, t1)
    finished = table(repo, "t1")
    assert "missing" not in finished.values()
    (rel,) = {run.spec.labels_path for run in runs_of(P.load(repo / t1))}
    labels, runs = repo / rel, repo / "data" / "runs"
    original, before = labels.read_bytes(), digests(runs)

    for how in ("edited", "truncated"):
        edit_labels(labels, how)
        out = snakemake(repo, t1)
        assert "Traceback" not in out and "failed" not in out
        reason = "holds another noise realisation" if how == "edited" else "is damaged or not an .npz file"
        assert out.count(f"refused: {rel}" if how == "edited" else "refused: labels file") >= 2, out[-3000:]
        assert reason in out and "2 run(s) refused" in out and "fix: restore the file, or delete it" in out
        assert not list(runs.rglob("failed.json")) and digests(runs) == before  # nothing of theirs changed
        assert set(table(repo, "t1").values()) == {"missing"}
        labels.write_bytes(original)
        out = snakemake(repo, t1)
        assert table(repo, "t1") == finished and digests(runs) == before  # back, nothing retrained
        assert "failed" not in out and "skipping" not in out

    out = snakemake(repo, t1)  # and no note left behind
    assert "limitlab:" not in out and "Nothing to be done" in out

    labels.unlink()  # the first fix a refusal names: the corrupt stage draws it again, bitwise
    out = snakemake(repo, t1)
    assert labels.read_bytes() == original and digests(runs) == before and table(repo, "t1") == finished

    dataset = repo / "data" / "datasets" / "mnist5k.npz"
    kept = dataset.read_bytes()
    arrays = dict(np.load(dataset))
    arrays["train_x"] = 255 - arrays["train_x"]
    np.savez(dataset, **arrays)
    out = snakemake(repo, t1, expect_ok=False)  # the corrupt job refuses the edited dataset
    assert "changed after the download stage wrote it" in out and "2 run(s) refused (dataset file changed)" in out
    assert digests(runs) == before
    dataset.write_bytes(kept)
    snakemake(repo, t1)
    assert labels.read_bytes() == original and digests(runs) == before and table(repo, "t1") == finished


def test_a_noise_file_is_part_of_the_identity_of_its_runs(tmp_path, monkeypatch):
    repo = copy_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)  # the params file's paths are relative to where the pipeline runs
    t1 = params(repo, "t1", {"model": "uniform", "p": [0.5]}, {"ce": {"label": "CE"}})
    snakemake(repo, t1)
    (spec,) = [run.spec for run in runs_of(P.load(repo / t1))]
    noise = repo / "params" / "noise" / "t2.csv"
    check(run(["limitlab", "labels", "export", "--labels", str(spec.labels_path), "--out", str(noise)], repo, 120))
    t2 = params(repo, "t2", {"model": "file", "file": "params/noise/t2.csv"}, {"ce": {"label": "CE"}})
    snakemake(repo, t2)
    original_text, original, trained = noise.read_text(), table(repo, "t2"), digests(repo / "data" / "runs")
    assert original == table(repo, "t1")  # the same realisation read back from the file: the same number

    rows = list(csv.reader(noise.open()))
    for row in rows[1:51]:
        row[2] = str((int(row[2]) + 1) % 10)
    with noise.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = snakemake(repo, t2)
    edited = table(repo, "t2")
    fresh = params(repo, "fresh", {"model": "file", "file": "params/noise/t2.csv"}, {"ce": {"label": "CE"}},
                   data_dir="data_fresh")
    snakemake(repo, fresh)
    assert edited == table(repo, "fresh") and edited != original, (edited, original, out[-2000:])

    noise.write_text(original_text)  # the original file back: its run, untouched (its job looks, trains nothing)
    snakemake(repo, t2)
    now = digests(repo / "data" / "runs")
    assert table(repo, "t2") == original and {k: now[k] for k in trained} == trained

    # another t2.csv in another folder, 100 labels different: its own labels and run folders
    other = repo / "elsewhere" / "t2.csv"
    other.parent.mkdir()
    rows = list(csv.reader(noise.open()))
    for row in rows[1:101]:
        row[2] = str((int(row[2]) + 3) % 10)
    with other.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    t3 = params(repo, "t3", {"model": "file", "file": "elsewhere/t2.csv"}, {"ce": {"label": "CE"}})
    before = {**digests(repo / "data" / "labels"), **digests(repo / "data" / "runs")}
    snakemake(repo, t3)
    after = {**digests(repo / "data" / "labels"), **digests(repo / "data" / "runs")}
    assert {k: after[k] for k in before} == before  # t2's (and t1's) files untouched
    labels = {Path(s.spec.labels_path).parent for t in (t2, t3) for s in runs_of(P.load(repo / t))}
    assert len(labels) == 2
    out = snakemake(repo, t2)
    assert table(repo, "t2") == original and "rule run" not in out  # nothing of t2's changed: nothing to do
