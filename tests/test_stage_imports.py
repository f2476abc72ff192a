"""Stages that need no torch do not import it: each runs here in a fresh interpreter through limitlab.cli.main,
on real inputs, and then checks sys.modules. (torch costs about 2 s per start; a bootstrap job takes less.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from limitlab import io
from limitlab.data.download import download
from limitlab.experiment.paths import dataset_path

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "params" / "smoke.yaml")


def run_without_torch(argv: list[str], cwd: Path) -> str:
    """Run `limitlab ARGV` in a new interpreter; fail if the command failed or loaded torch."""
    code = ("import sys\nfrom limitlab.cli import main\nrc = main(sys.argv[1:])\n"
            "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'torchvision')))\n"
            "print('TORCH_MODULES', len(loaded), loaded[:3])\nsys.exit(rc)\n")
    res = subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"limitlab {' '.join(argv)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
    assert "TORCH_MODULES 0 []" in res.stdout, f"limitlab {' '.join(argv)} imported torch:\n{res.stdout}"
    return res.stdout


@pytest.fixture(scope="module")
def mnist5k(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    out = dataset_path(root, "mnist5k")
    out.parent.mkdir(parents=True)
    download("mnist5k", root / "raw", out)
    return out


def test_params_check_runs_without_torch(tmp_path):
    assert "valid" in run_without_torch(["params", "check", SMOKE], tmp_path)


def test_bootstrap_runs_without_torch(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 50)
    pred = io.save_npz(tmp_path / "predictions.npz", logits=rng.normal(size=(50, 10)).astype(np.float32),
                       labels=labels, index=np.arange(50))
    run_without_torch(["bootstrap", "--predictions", str(pred), "--samples", "100", "--out", "b.json"], tmp_path)
    assert (tmp_path / "b.json").is_file()


def test_corrupt_runs_without_torch(tmp_path, mnist5k):
    run_without_torch(["corrupt", "--dataset", "mnist5k", "--data", str(mnist5k), "--noise", "uniform", "--p", "0.5",
                       "--n", "300", "--seed", "1", "--out", "labels.npz"], tmp_path)
    assert (tmp_path / "labels.npz").is_file()
    # the noise as a CSV file, and that file read back (noise model 'file')
    run_without_torch(["labels", "export", "--labels", "labels.npz", "--out", "noise.csv"], tmp_path)
    run_without_torch(["corrupt", "--dataset", "mnist5k", "--data", str(mnist5k), "--noise", "file", "--file",
                       "noise.csv", "--n", "300", "--seed", "1", "--out", "back.npz"], tmp_path)
    assert (tmp_path / "back.npz").is_file()


def test_aggregate_and_plot_run_without_torch(tmp_path):
    """On a params file none of whose runs exist yet (both stages report them missing and still write)."""
    run_without_torch(["aggregate", "--params", SMOKE, "--results-dir", "res"], tmp_path)
    assert (tmp_path / "res" / "metrics.json").is_file()
    run_without_torch(["plot", "--params", SMOKE, "--results-dir", "res"], tmp_path)
    assert (tmp_path / "res" / "figures" / "index.json").is_file()
