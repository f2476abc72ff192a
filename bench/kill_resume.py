"""Kill/resume scenarios of the whole pipeline (issue 12): stop a running `snakemake` the ways a user, the kernel
or a cluster does, then run the same plain command again and report what happened.

    python bench/kill_resume.py --repo DIR [--epochs 6] [--only ctrl-c,oom-kill,preempt]

DIR is a folder with the code to test (e.g. `git archive HEAD | tar -x -C DIR`); it is copied to a scratch
folder and run with DIR/src first on PYTHONPATH, so an older commit can be measured the same way. Grid: mnist5k,
uniform p = 0.5, n = 300, one seed, CE and MAE, `--epochs` epochs, one core (one job at a time).

Scenarios, each started from trained-nothing (datasets and labels kept):

* ctrl-c   — SIGINT to snakemake's process group while the first `limitlab train` runs (a terminal's Ctrl-C);
* oom-kill — SIGKILL to that `limitlab train` process only (what the kernel's OOM killer does);
* preempt  — SIGTERM to that `limitlab train` process only (what SLURM sends on preemption or a time limit).

Per scenario it prints the markers left behind, the exit status of the plain rerun, how many of the 2 cells
have a result.json afterwards, whether the interrupted cell resumed (its rerun log starts after epoch 0) and
how many cells table.md shows as missing. Prints a table; not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

PARAMS = """name: kr
data_dir: data
results_dir: results/kr
bootstrap: {{samples: 50, seed: 0}}
studies:
  - id: u
    dataset: {{name: mnist5k}}
    noise: {{model: uniform, p: [0.5]}}
    n: [300]
    seeds: [42]
    training: {{epochs: {epochs}, patience: null, batch_size: 64, threads: 1}}
    methods:
      - {{method: ce}}
      - {{method: mae}}
"""
SNAKEMAKE = ["snakemake", "--cores", "1", "--config", "params=params/kr.yaml", "--"]


def env(repo: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "SNAKEMAKE_PROFILE"}
    e.update(PYTHONPATH=str(repo / "src"), PYTHONUNBUFFERED="1",
             PATH=f"{Path(sys.executable).parent}{os.pathsep}{e.get('PATH', '')}")
    return e


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), so the script signals only processes it started."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parent_of[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent_of.items() if pp == p]
        out += kids
        frontier += kids
    return out


def train_process(snakemake_pid: int) -> int | None:
    for pid in children(snakemake_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(c.endswith(b"limitlab") for c in cmd) and (b"run" in cmd or b"train" in cmd):
            return pid
    return None


def scenario(name: str, work: Path, repo: Path, timeout: float = 600) -> dict:
    for folder in ("data/runs", "data/eval", "data/jobs", "results", "logs", ".snakemake"):
        shutil.rmtree(work / folder, ignore_errors=True)
    proc = subprocess.Popen([*SNAKEMAKE, "all"], cwd=work, env=env(repo), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if list((work / "data/runs").glob("**/state/last.pt")):
            break
        time.sleep(0.1)
    victim = train_process(proc.pid)
    if name == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    elif victim is not None:
        os.kill(victim, signal.SIGKILL if name == "oom-kill" else signal.SIGTERM)
    first_out = proc.communicate(timeout=timeout)[0]
    failed = sorted(str(p.parent.relative_to(work)) for p in work.glob("data/**/failed.json"))
    interrupted = sorted(str(p.parent.relative_to(work)) for p in work.glob("data/**/interrupted.json"))

    rerun = subprocess.run([*SNAKEMAKE, "all"], cwd=work, env=env(repo), capture_output=True, text=True,
                           timeout=timeout)
    results = list(work.glob("data/runs/**/result.json"))
    resumed = []
    for log in [*(work / "logs/kr/runs").glob("**/*.log"), *(work / "logs/kr/train").glob("**/*.log")]:
        text = log.read_text()  # a run's log (limitlab run appends) or an older per-job train log
        epochs = [int(m) for m in re.findall(r"\] epoch +(\d+)", text)]
        resumed.append("resuming from" in text or (bool(epochs) and epochs[0] > 0))
    table = work / "results/kr/table.md"
    missing = len(re.findall(r"\| missing", table.read_text())) if table.is_file() else None
    said = [line.strip() for line in (rerun.stderr + rerun.stdout).splitlines() if line.startswith("limitlab:")]
    return {"scenario": name, "victim": victim, "first_traceback": "Traceback" in first_out,
            "failed": failed, "interrupted": interrupted, "rerun_rc": rerun.returncode,
            "cells_done": len(results), "resumed": any(resumed), "missing": missing, "said": said}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, required=True, help="folder with the code to test (Snakefile, src/, ...)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--only", default="ctrl-c,oom-kill,preempt")
    args = ap.parse_args()
    repo = args.repo.resolve()
    console = Console(width=200)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "repo"
        shutil.copytree(repo, work, ignore=shutil.ignore_patterns("data", "results", "logs", ".snakemake", ".git"))
        (work / "params/kr.yaml").write_text(PARAMS.format(epochs=args.epochs))
        subprocess.run([*SNAKEMAKE, "data"], cwd=work, env=env(repo), check=True, capture_output=True)
        rows = [scenario(name, work, repo) for name in args.only.split(",")]
    table = Table(title=f"kill/resume scenarios, code from {repo}", title_justify="left")
    for col in ("scenario", "failed.json", "interrupted.json", "plain rerun exit", "cells done (of 2)",
                "resumed", "missing in table", "what the rerun said"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["scenario"], str(len(r["failed"])), str(len(r["interrupted"])), str(r["rerun_rc"]),
                      str(r["cells_done"]), "yes" if r["resumed"] else "no", str(r["missing"]),
                      "\n".join(r["said"]) or "-")
    console.print(table)


if __name__ == "__main__":
    main()
