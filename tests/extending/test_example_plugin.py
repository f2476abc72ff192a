"""The worked example no one here wrote the data for: examples/limitlab-example-plugin installed as pip installs a
package, its own tests, then scikit-learn's digits (an image folder) under the plugin's noise model trained with CE,
LIMIT_L − S and the plugin's method through Snakemake to a table; without the plugin, the params file is refused.
The plugin's own dataset, sk_digits, goes the same way by name: built by the download stage, its identity and the
plugin's version recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from limitlab.data.content_identity import dataset_id
from pipeline_support import REPO, check, copy_repo, run

EXAMPLE = REPO / "examples" / "limitlab-example-plugin"
PARAMS = "examples/limitlab-example-plugin/params/own_data_digits.yaml"
SK_DIGITS = "examples/limitlab-example-plugin/params/sk_digits.yaml"


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
    assert all(name in listed for name in ("bootstrap_soft", "mnist_flips", "sk_digits", "limitlab-example-plugin"))
    check(run(["snakemake", "--profile", "workflow/profiles/local", "--cores", "2", "all", "--config",
               f"params={PARAMS}"], repo, timeout=900, PYTHONPATH=str(site)))
    rows = table_rows(repo / "results" / "own_data_digits_plugin" / "table.md",
                      {"CE", "LIMIT_L − S", "Bootstrap (soft)"})
    assert set(rows) == {"CE", "LIMIT_L − S", "Bootstrap (soft)"} and "missing" not in " ".join(rows.values()), rows
    print(f"digits under mnist_flips p = 0.4: {rows}")


def table_rows(table: Path, labels: set[str]) -> dict[str, str]:
    """The first accuracy cell of each method row of the table's accuracy section (detection tables follow)."""
    rows: dict[str, str] = {}
    for line in table.read_text().split("\n## ")[0].splitlines():
        cells = line.split("|")
        if line.startswith("| ") and cells[1].strip() in labels:
            rows.setdefault(cells[1].strip(), cells[2].strip())
    return rows


@pytest.mark.slow
def test_the_plugins_dataset_by_name_through_the_pipeline_to_a_table(site, tmp_path):
    repo = copy_repo(tmp_path / "repo")
    refused = run(["limitlab", "params", "check", SK_DIGITS], repo, timeout=120)  # the plugin not installed
    assert refused.returncode == 2 and "unknown dataset 'sk_digits'" in refused.stdout
    check(run(["snakemake", "--profile", "workflow/profiles/local", "--cores", "2", "all", "--config",
               f"params={SK_DIGITS}"], repo, timeout=900, PYTHONPATH=str(site)))
    rows = table_rows(repo / "results" / "sk_digits_plugin" / "table.md", {"CE", "Bootstrap (soft)"})
    assert set(rows) == {"CE", "Bootstrap (soft)"} and "missing" not in " ".join(rows.values()), rows
    meta = json.loads((repo / "data" / "datasets" / "sk_digits.json").read_text())
    assert meta["sizes"] == {"train": 1437, "test": 360} and meta["source"]["loader"] == "sklearn.datasets.load_digits"
    assert meta["source"]["plugin"]["package"] == "limitlab-example-plugin"
    (labels,) = (repo / "data" / "labels" / "sk_digits").rglob("labels.json")
    assert labels.parent.name.startswith("s1-")  # the plugin's version tags the labels folder (dataset, noise)
    identity = dataset_id(repo / "data" / "datasets" / "sk_digits.npz")  # recorded like mnist5k's: labels and runs
    assert json.loads(labels.read_text())["dataset_id"] == identity
    done = [json.loads(p.read_text()) for p in (repo / "data" / "runs").rglob("done.json")]
    assert len(done) == 2 and all(d["inputs"]["dataset"] == identity for d in done), done
    print(f"sk_digits under mnist_flips p = 0.4: {rows} (plugin {meta['source']['plugin']['version']})")
