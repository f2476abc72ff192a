"""Bad inputs and faults against the `limitlab` command (issue 12): each case runs one real command in a
subprocess and is classified from its exit status and output.

    python bench/reliability_cases.py --src DIR/src [--markdown]

DIR/src is put first on PYTHONPATH, so the same cases can be run against an older commit
(`git archive COMMIT | tar -x -C DIR`). Data: mnist5k, uniform p = 0.5, n = 200, one CE run of 2 epochs (made
with the code under test). Disk-full and read-only cases need permission to mount a small tmpfs (skipped
otherwise).

Outcomes: ``clear error`` (exit status 2, no traceback), ``traceback``, ``accepted`` (exit 0 although the input
is wrong: a silent failure), ``recovered`` (exit 0 where the right answer is to repair or start over and say
so, e.g. a damaged resume state), ``warned`` / ``silent`` (aggregate with a broken file: named or not).
Prints a table; not a test. Results are recorded in docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from limitlab.experiment.grid import runs_of

STUDY = {"id": "u", "dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [200],
         "seeds": [1], "training": {"epochs": 2, "batch_size": 64, "threads": 1, "device": "cpu", "patience": None},
         "methods": [{"method": "ce"}, {"method": "fw", "init": {"source": "ce"}}]}


class Bench:
    def __init__(self, src: Path, work: Path):
        self.src, self.work = src, work
        self.env = {**os.environ, "PYTHONPATH": str(src), "PYTHONUNBUFFERED": "1"}
        self.rows: list[tuple[str, str, str, str]] = []

    def limitlab(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "limitlab.cli", *map(str, args)], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=600)

    def record(self, group: str, case: str, done: subprocess.CompletedProcess, expect: str) -> None:
        out = done.stdout + done.stderr
        if "Traceback" in out:
            outcome = "traceback"
        elif expect == "error":
            outcome = "clear error" if done.returncode == 2 else ("accepted" if done.returncode == 0
                                                                   else f"exit {done.returncode}")
        elif expect == "recover":
            outcome = "recovered" if done.returncode == 0 else ("clear error" if done.returncode == 2
                                                                  else f"exit {done.returncode}")
        else:  # expect = a text the output must contain (aggregate warnings)
            outcome = "warned" if expect in out else "silent"
        lines = [line for line in out.strip().splitlines() if line.strip()]
        said = next((line for line in lines if "error:" in line or "warning:" in line), lines[-1] if lines else "")
        self.rows.append((group, case, outcome, said.strip()[:160]))

    # --- setup with the code under test -------------------------------------------------------------------

    def params(self, name: str, study: dict) -> Path:
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": "rc", "data_dir": str(self.work / "data"),
                                        "results_dir": str(self.work / "results"), "studies": [study]}))
        return path

    def spec_file(self, method_id: str, name: str, **update) -> Path:
        code = ("import sys, json; from limitlab.experiment import params_file as P; from limitlab.experiment.grid import runs_of; "
                f"exp = P.load({str(self.work / 'base.yaml')!r}); "
                f"s = next(r.spec for r in runs_of(exp) if r.spec.method_id == {method_id!r}); "
                f"print(s.model_copy(update=json.loads({json.dumps(json.dumps(update))})).model_dump_json())")
        out = subprocess.run([sys.executable, "-c", code], cwd=self.work, env=self.env, capture_output=True,
                             text=True, check=True).stdout
        path = self.work / f"{name}.json"
        path.write_text(out)
        return path

    def prepare(self) -> None:
        self.params("base", STUDY)
        code = ("import sys; sys.path.insert(0, 'tests_helpers'); import tiny_data; from pathlib import Path; "
                "from limitlab.experiment import params_file as P; tiny_data.prepare(Path.cwd() / 'data', P.load('base.yaml'))")
        helpers = self.work / "tests_helpers"
        helpers.mkdir()
        shutil.copy(Path(__file__).resolve().parents[1] / "tests" / "helpers" / "tiny_data.py", helpers)
        subprocess.run([sys.executable, "-c", code], cwd=self.work, env=self.env, check=True, capture_output=True)
        self.ce = json.loads(self.spec_file("ce", "ce").read_text())
        done = self.limitlab("train", "--spec", f"@{self.work / 'ce.json'}")
        assert done.returncode == 0, done.stderr
        self.limitlab("evaluate", "--spec", f"@{self.work / 'ce.json'}")
        self.trained = self.work / "trained"
        shutil.copytree(self.ce["run_dir"], self.trained)

    # --- cases ------------------------------------------------------------------------------------------

    def params_cases(self) -> None:
        bad = {
            "epochs: true": {"training": {**STUDY["training"], "epochs": True}},
            "batch_size: false": {"training": {**STUDY["training"], "batch_size": False}},
            "device: gpu": {"training": {**STUDY["training"], "device": "gpu"}},
            "method override device: gpu": {"methods": [{"method": "ce", "training": {"device": "gpu"}}]},
            "method override batch_size: 0": {"methods": [{"method": "ce", "training": {"batch_size": 0}}]},
            "seeds: []": {"seeds": []},
            "seeds: [-1]": {"seeds": [-1]},
            "seeds: [2**32]": {"seeds": [2**32]},
            "method seeds: []": {"methods": [{"method": "ce", "seeds": []}]},
            "n: [5000] (split has 3200)": {"n": [5000]},
            "n: []": {"n": []},
            "p: []": {"noise": {"model": "uniform", "p": []}},
            "beta grid [1.0, true]": {"methods": [{"method": "limit", "beta": [1.0, True]}]},
        }
        for case, change in bad.items():
            path = self.params("bad", {**STUDY, **change})
            self.record("params", case, self.limitlab("params", "check", path), "error")
        folder = self.work / "a_folder"
        folder.mkdir(exist_ok=True)
        self.record("params", "a folder as the params file", self.limitlab("params", "check", folder), "error")
        b1 = self.params("bad1", {**STUDY, "seeds": [-1]})
        b2 = self.params("bad2", {**STUDY, "n": [5000]})
        done = self.limitlab("params", "check", b1, b2)
        both = str(b1) in done.stderr + done.stdout and str(b2) in done.stderr + done.stdout
        self.rows.append(("params", "check A B (both invalid)", "both reported" if both else "first only",
                          f"exit {done.returncode}"))

    def labels_cases(self) -> None:
        labels = dict(np.load(self.ce["labels_path"]))
        cases = {
            "train_noisy of 50 against 200 indices": lambda a: a.update(train_noisy=a["train_noisy"][:50]),
            "float labels": lambda a: a.update(train_noisy=a["train_noisy"] + 0.4),
            "label 10 with 10 classes": lambda a: a["train_noisy"].__setitem__(0, 10),
            "index beyond the dataset": lambda a: a["val_index"].__setitem__(0, 10**6),
            "val_clean missing": lambda a: a.pop("val_clean"),
            "150 examples for an n = 200 run": lambda a: a.update(
                **{k: a[k][:150] for k in ("train_index", "train_noisy", "train_clean")}),
        }
        for i, (case, damage) in enumerate(cases.items()):
            arrays = {k: v.copy() for k, v in labels.items()}
            damage(arrays)
            path = self.work / f"labels_{i}.npz"
            np.savez(path, **arrays)
            spec = self.spec_file("ce", f"labels_{i}", labels_path=str(path), run_dir=str(self.work / f"lr{i}"))
            self.record("labels.npz", case, self.limitlab("train", "--spec", f"@{spec}"), "error")

    def state_cases(self) -> None:
        def truncate(p: Path) -> None:
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

        def no_optimizer(p: Path) -> None:
            subprocess.run([sys.executable, "-c", "import torch, sys; s = torch.load(sys.argv[1], weights_only=False);"
                            " del s['optimizer']; torch.save(s, sys.argv[1])", str(p)], env=self.env, check=True)

        cases = {
            "last.pt empty": lambda s: (s / "last.pt").write_bytes(b""),
            "last.pt truncated": lambda s: truncate(s / "last.pt"),
            "last.pt not a torch file": lambda s: (s / "last.pt").write_text("text"),
            "best.pt empty": lambda s: (s / "best.pt").write_bytes(b""),
            "best.pt truncated": lambda s: truncate(s / "best.pt"),
            "best.pt missing": lambda s: (s / "best.pt").unlink(),
            "state/ is a file": lambda s: (shutil.rmtree(s), s.write_text("x")),
            "state without optimizer": lambda s: no_optimizer(s / "last.pt"),
            "stale .tmp files (kill between writes)": lambda s: (s / ".last.pt.x1y2.tmp").write_bytes(b"half"),
        }
        run_dir = Path(self.ce["run_dir"])
        for case, damage in cases.items():
            shutil.rmtree(run_dir, ignore_errors=True)
            shutil.copytree(self.trained, run_dir)
            for name in ("model.pt", "result.json", "history.csv"):
                (run_dir / name).unlink()
            damage(run_dir / "state")
            done = self.limitlab("train", "--spec", f"@{self.work / 'ce.json'}")
            if case.startswith("stale") and list((run_dir / "state").glob("*.tmp")):
                done = subprocess.CompletedProcess(done.args, 1, done.stdout, done.stderr + "\n.tmp files left")
            self.record("resume state", case, done, "recover")
        shutil.rmtree(run_dir)
        shutil.copytree(self.trained, run_dir)

    def checkpoint_cases(self) -> None:
        model = Path(self.ce["run_dir"]) / "model.pt"
        good = model.read_bytes()
        for case, data in (("model.pt empty", b""), ("model.pt truncated", good[:2000]),
                           ("model.pt not a torch file", b"text\n")):
            model.write_bytes(data)
            self.record("checkpoints", case, self.limitlab("evaluate", "--spec", f"@{self.work / 'ce.json'}"),
                        "error")
        model.write_bytes(good[:2000])
        fw = self.spec_file("fw", "fw")
        self.record("checkpoints", "init source (CE model.pt) truncated", self.limitlab("train", "--spec", f"@{fw}"),
                    "error")
        model.write_bytes(good)

    def write_cases(self) -> None:
        pred = Path(self.ce["eval_dir"]) / "predictions.npz"
        self.record("writes", "--out is a folder", self.limitlab("bootstrap", "--predictions", pred, "--out",
                                                                  self.work), "error")
        mounts = {"full": "size=16k", "ro": "ro,size=16k"}
        made = []
        try:
            for name, opts in mounts.items():
                point = self.work / f"mnt_{name}"
                point.mkdir()
                if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)],
                                  capture_output=True).returncode != 0:
                    self.rows.append(("writes", f"{name} file system", "skipped", "cannot mount a tmpfs here"))
                    continue
                made.append(point)
            if self.work / "mnt_full" in made:
                try:  # fill the file system to the last byte
                    with open(self.work / "mnt_full" / "filler", "wb") as f:
                        f.write(b"x" * 64_000)
                except OSError:
                    pass
                done = self.limitlab("bootstrap", "--predictions", pred, "--out", self.work / "mnt_full/b.json",
                                     "--samples", "20000")
                leftover = [p.name for p in (self.work / "mnt_full").iterdir() if p.name != "filler"]
                if leftover:
                    done.stderr += f"\nleft behind: {leftover}"
                self.record("writes", "disk full (16 kB tmpfs)", done, "error")
                self.rows[-1] = (*self.rows[-1][:2], self.rows[-1][2] + (" (temp files left)" if leftover else ""),
                                 self.rows[-1][3])
            if self.work / "mnt_ro" in made:
                self.record("writes", "read-only folder", self.limitlab(
                    "bootstrap", "--predictions", pred, "--out", self.work / "mnt_ro/b.json"), "error")
        finally:
            for point in made:
                subprocess.run(["umount", str(point)], check=False)

    def aggregate_cases(self) -> None:
        eval_dir = Path(self.ce["eval_dir"])
        exp = self.params("agg", {**STUDY, "methods": [{"method": "ce"}]})
        boot = self.limitlab("bootstrap", "--predictions", eval_dir / "predictions.npz", "--out",
                             eval_dir / "bootstrap.json", "--samples", "50")
        assert boot.returncode == 0, boot.stderr
        good_eval, good_boot = (eval_dir / "eval.json").read_text(), (eval_dir / "bootstrap.json").read_text()
        (eval_dir / "eval.json").write_text(good_eval[: len(good_eval) // 2])
        self.record("aggregate", "eval.json truncated", self.limitlab("aggregate", "--params", exp), "eval.json")
        (eval_dir / "eval.json").write_text(good_eval)
        (eval_dir / "bootstrap.json").write_text(json.dumps({"std": [0.1, 0.2], "samples": "many"}))
        self.record("aggregate", "bootstrap.json of the wrong shape", self.limitlab("aggregate", "--params", exp),
                    "bootstrap.json")
        (eval_dir / "bootstrap.json").write_text(good_boot)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", type=Path, required=True, help="the src/ folder of the code to test")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table instead of a rich one")
    ap.add_argument("--only", default="params,labels,state,checkpoint,write,aggregate", help="groups to run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args.src.resolve(), Path(tmp))
        bench.prepare()
        for group in args.only.split(","):
            getattr(bench, f"{group}_cases")()
    counts: dict[str, int] = {}
    for row in bench.rows:
        counts[row[2]] = counts.get(row[2], 0) + 1
    if args.markdown:
        print("| group | case | outcome | first line said |\n| --- | --- | --- | --- |")
        for row in bench.rows:
            print("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"reliability cases, code from {args.src}", title_justify="left")
        for col in ("group", "case", "outcome", "first line said"):
            table.add_column(col)
        for row in bench.rows:
            table.add_row(*row)
        Console(width=220).print(table)
    print("outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f" (of {len(bench.rows)} cases)")


if __name__ == "__main__":
    main()
