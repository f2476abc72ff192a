"""Start-up of a torch process as a run job pays it: which step imports the compiler (torch._dynamo,
torch._inductor) and what each step costs, in fresh processes.

    python bench/startup.py [--repeats 3]

Prints one row per step (median wall seconds over the repeats of a fresh interpreter doing the steps up to it) and
whether torch._dynamo / torch._inductor are imported after it, for the steps as a run does them and without the
deterministic switch (which shows that torch.optim imports the compiler on its own). The steps are those of a CPU run before its first
epoch: import torch, deterministic algorithms (limitlab.training.device), build the optimizer (torch.optim.Adam:
``add_param_group`` is wrapped by torch's lazy dynamo-disable), one optimizer step (``step`` imports torch._dynamo
for its graph breaks). docs/performance.md, "Start-up", has the measured table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

DETERMINISTIC = "torch.use_deterministic_algorithms(True)"
ADAM = "m = torch.nn.Linear(4, 2); opt = torch.optim.Adam(m.parameters(), lr=1e-3)"
STEP = "m(torch.ones(1, 4)).sum().backward(); opt.step()"
SEQUENCES = {  # each a list of (row name, the step's code); a row runs its sequence's steps up to it
    "as a run does": [("import torch", "import torch"), ("+ use_deterministic_algorithms(True)", DETERMINISTIC),
                      ("+ torch.optim.Adam(params)", ADAM), ("+ one Adam step", STEP)],
    "without the deterministic switch": [("import torch", "import torch"), ("+ torch.optim.Adam(params)", ADAM),
                                         ("+ one Adam step", STEP)],
}
PROBE = ("import json, sys, time; t = time.perf_counter()\n{code}\n"
         "print(json.dumps([time.perf_counter() - t, 'torch._dynamo' in sys.modules, 'torch._inductor' in sys.modules]))")


def measure(code: str) -> tuple[float, bool, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)], capture_output=True, text=True, check=True)
    seconds, dynamo, inductor = json.loads(out.stdout.strip().splitlines()[-1])
    return seconds, dynamo, inductor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| sequence | step (cumulative, fresh process) | wall s (median) | torch._dynamo | torch._inductor |")
    print("| --- | --- | ---: | :---: | :---: |")
    for sequence, steps in SEQUENCES.items():
        code = []
        for name, step in steps:
            code.append(step)
            runs = [measure("\n".join(code)) for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            print(f"| {sequence} | {name} | {wall:.2f} | {'yes' if runs[-1][1] else 'no'} | "
                  f"{'yes' if runs[-1][2] else 'no'} |")


if __name__ == "__main__":
    main()
