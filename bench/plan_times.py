"""Planning time of every params file (issue 10): `snakemake -n --quiet rules ... all`, wall and CPU seconds.

    python bench/plan_times.py [--repeats 3] [--files params/paper/mnist.yaml ...] [--profile workflow/profiles/slurm]

Each plan runs in a fresh scratch folder (`--directory`), so nothing has been built and every job is planned.
Prints one row per params file: runs, run jobs, all jobs, and the best of --repeats for wall and user+system
CPU time (CPU is the steadier figure on a shared machine). Not a test.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from limitlab.experiment import params_file as P  # noqa: E402
from limitlab.experiment.grid import runs_of


def plan(params_file: Path, profile: str | None) -> tuple[float, float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as scratch:
        cmd = ["snakemake", "-n", "--quiet", "rules", "--directory", scratch, "--snakefile", str(REPO / "Snakefile"),
               *(["--profile", profile] if profile else []), "--config", f"params={params_file}", "--", "all"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        tic = time.perf_counter()
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout
        wall = time.perf_counter() - tic
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    table = out.split("Job stats:")[1].split("\n\n")[0]
    return wall, cpu, {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--files", nargs="*", type=Path, default=None)
    ap.add_argument("--profile", default=None, help="e.g. workflow/profiles/slurm (its runs_per_job default)")
    args = ap.parse_args()
    files = args.files or sorted([*REPO.glob("params/*.yaml"), *REPO.glob("params/paper/*.yaml"),
                                  *REPO.glob("params/beyond/*.yaml")])
    print("| params file | runs | run jobs | jobs | wall s (best) | CPU s (best) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for f in files:
        f = f.resolve()
        runs = len(runs_of(P.load(f)))
        best = [plan(f, args.profile) for _ in range(args.repeats)]
        wall, cpu = min(b[0] for b in best), min(b[1] for b in best)
        counts = best[0][2]
        print(f"| {f.relative_to(REPO)} | {runs:,} | {counts.get('run', 0):,} | {counts['total']:,} | {wall:.1f} | "
              f"{cpu:.1f} |", flush=True)


if __name__ == "__main__":
    main()
