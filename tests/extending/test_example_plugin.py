"""The worked example no one here wrote the data for: examples/limitlab-example-plugin installed as pip installs a
package, its own tests, then scikit-learn's digits (an image folder) under the plugin's noise model trained with CE,
LIMIT_L − S and the plugin's method through Snakemake to a table; without the plugin, the params file is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_support import REPO, check, copy_repo, run

EXAMPLE = REPO / "examples" / "limitlab-example-plugin"
PARAMS = "examples/limitlab-example-plugin/params/own_data_digits.yaml"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example package installed into its own folder (on PYTHONPATH below), not into the test venv."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True, capture_output=True)
    return target


def test_the_example_plugins_own_tests_pass(site):
    out = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")], REPO,
              timeout=300, PYTHONPATH=str(site))
    assert out.returncode == 0 and " passed" in out.stdout, out.stdout[-3000:]


@pytest.mark.slow
def test_own_data_under_the_plugins_noise_with_its_method_to_a_table(site, tmp_path):
    repo = copy_repo(tmp_path / "repo")
    check(run(["limitlab", "data", "digits", "--out", "data/own/digits"], repo, timeout=120))
    refused = run(["limitlab", "params", "check", PARAMS], repo, timeout=120)  # the plugin not installed
    assert refused.returncode == 2 and "mnist_flips" in refused.stdout and "bootstrap_soft" in refused.stdout
    listed = check(run(["limitlab", "plugins"], repo, timeout=120, PYTHONPATH=str(site)))
    assert "bootstrap_soft" in listed and "mnist_flips" in listed and "limitlab-example-plugin" in listed
    check(run(["snakemake", "--profile", "workflow/profiles/local", "--cores", "2", "all", "--config",
               f"params={PARAMS}"], repo, timeout=900, PYTHONPATH=str(site)))
    table = (repo / "results" / "own_data_digits_plugin" / "table.md").read_text()
    rows: dict[str, str] = {}
    for line in table.split("\n## ")[0].splitlines():  # the accuracy table (detection tables follow)
        cells = line.split("|")
        if line.startswith("| ") and cells[1].strip() in ("CE", "LIMIT_L − S", "Bootstrap (soft)"):
            rows.setdefault(cells[1].strip(), cells[2].strip())
    assert set(rows) == {"CE", "LIMIT_L − S", "Bootstrap (soft)"} and "missing" not in " ".join(rows.values()), rows
    print(f"digits under mnist_flips p = 0.4: {rows}")
