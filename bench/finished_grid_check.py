"""What checking a finished grid costs while planning: RunJobPlan.stale_jobs over every run job (issue 18).

    python bench/finished_grid_check.py [--params params/paper/mnist.yaml] [--runs-per-job 5] [--repeats 3]

Writes a fake finished grid (every run's outputs as small files, its done.json with their sizes and checksums,
every job summary) into a temporary data folder, then times building the plan and checking it (what the Snakefile
does once per invocation: stat every output, hash the small ones, read every done.json). Prints a table. Not a
test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from limitlab.experiment import params_file  # noqa: E402
from limitlab.experiment.paths import RunFiles  # noqa: E402
from limitlab.jobs.identity import write_done  # noqa: E402
from limitlab.pipeline.plan import RunJobPlan  # noqa: E402


def fake_finished_grid(plan: RunJobPlan, n: int) -> None:
    for job, specs in plan.jobs(n).items():
        for s in specs:
            files = ([Path(s.run_dir) / name for name in RunFiles.TRAINED]
                     + [Path(s.eval_dir) / name for name in (*RunFiles.EVALUATED, RunFiles.BOOTSTRAP)])
            for f in files:
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(json.dumps({"file": f.name}))
            write_done(s, plan.grid.identity(s), files, {"dataset": "d", "noise": "n"}, train=True, evaluate=True,
                       bootstrap={})
        summary = plan.jobs_dir / f"{job}.json"
        summary.parent.mkdir(parents=True, exist_ok=True)
        summary.write_text(json.dumps({"job": job, "runs": [{"key": s.key, "status": "ok"} for s in specs]}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", default="params/paper/mnist.yaml")
    ap.add_argument("--runs-per-job", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = yaml.safe_load((REPO / args.params).read_text())
        data["data_dir"] = f"{scratch}/data"
        exp = params_file.validate(data, args.params)
        fake_finished_grid(RunJobPlan(exp), args.runs_per_job)
        plans, checks = [], []
        for _ in range(args.repeats):
            tic = time.perf_counter()
            plan = RunJobPlan(exp)
            plan.jobs(args.runs_per_job)
            plans.append(time.perf_counter() - tic)
            tic = time.perf_counter()
            stale = plan.stale_jobs(args.runs_per_job)
            checks.append(time.perf_counter() - tic)
            assert stale == {}, stale
    print(f"| params file | runs | run jobs | plan built, s (best) | finished jobs checked, s (best) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| {args.params} | {len(plan.grid.specs):,} | {len(plan.jobs(args.runs_per_job)):,} | {min(plans):.2f} | "
          f"{min(checks):.2f} |")


if __name__ == "__main__":
    main()
