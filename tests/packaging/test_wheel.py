"""A whole wheel: `pip wheel . --no-deps` of the source tree holds every file the package reads besides its modules
(paper_claims.yaml, py.typed, ...) and the licence in its metadata; installed into a fresh virtual environment it
prints its version and checks a shipped params file. Offline and quick: no build isolation (the test venv's
setuptools builds it), no index, and the fresh venv borrows the test venv's installed dependencies (torch, pydantic,
...) through a .pth line instead of installing them, so what it imports of limitlab is the wheel's alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import limitlab

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "src")


# the installed wheel must be what runs: a PYTHONPATH naming a source tree (a checkout run without installing)
# would shadow it
WITHOUT_SOURCE_TREE = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(cmd: list[str], cwd: Path, timeout: int = 120, **env: str) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                         env={**WITHOUT_SOURCE_TREE, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env})
    assert out.returncode == 0, f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def source_files() -> list[str]:
    """What a fresh clone holds of the build's inputs: files git tracks or would track (not ignored ones, such as
    __pycache__ or an egg-info), as they are in the working tree now; outside a git checkout, the tree without
    bytecode and build output."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *SOURCES],
                            cwd=REPO, capture_output=True, text=True)
    if listed.returncode == 0:
        return sorted(f for f in listed.stdout.split("\0") if f and (REPO / f).is_file())
    found = [p for name in SOURCES for p in ([REPO / name] if (REPO / name).is_file() else (REPO / name).rglob("*"))]
    return sorted(str(p.relative_to(REPO)) for p in found if p.is_file() and "__pycache__" not in p.parts
                  and not any(part.endswith(".egg-info") for part in p.parts))


def package_data() -> list[str]:
    """Every file of the limitlab package that is not a Python module: what the code reads beside itself."""
    return [f.removeprefix("src/") for f in source_files() if f.startswith("src/limitlab/") and not f.endswith(".py")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`pip wheel . --no-deps` of a copy of the source tree (the build writes build/ and an egg-info into it)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in source_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tree / name)
    out = tmp_path_factory.mktemp("wheels")
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out)],
        tree, timeout=300)
    [built] = out.glob("limitlab-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; the test venv's dependencies reachable through a .pth line (a path
    on sys.path, whose own .pth files, the editable install's among them, are not processed)."""
    env = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(env)], env)
    python = env / "bin" / "python"
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env)
                   .stdout.strip())
    (purelib / "test_venv_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], env)
    return env


def test_the_wheel_holds_every_package_data_file_and_the_licence(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = package_data()
    assert "limitlab/report/paper_claims.yaml" in data and "limitlab/py.typed" in data
    missing = [f for f in data if f not in names]
    assert not missing, (f"{wheel.name} lacks {missing}: add them to [tool.setuptools.package-data] in pyproject.toml")
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{info}/licenses/LICENSE" in names
    assert zipfile.ZipFile(wheel).read(f"{info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
    metadata = Parser().parsestr(zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode())
    assert metadata["License-Expression"] == "MIT" and metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Version"] == limitlab.__version__ and metadata["Name"] == "limitlab"


def broken_plugin(site: Path) -> Path:
    """An installed method plugin whose module fails to import."""
    (site / "limitlab_broken-0.1.dist-info").mkdir(parents=True)
    (site / "limitlab_broken.py").write_text("raise ImportError('this plugin is broken')\n")
    (site / "limitlab_broken-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: limitlab-broken\nVersion: 0.1\n")
    (site / "limitlab_broken-0.1.dist-info" / "entry_points.txt").write_text("[limitlab.methods]\nbad = limitlab_broken\n")
    return site


def test_the_installed_wheel_prints_its_version_and_checks_a_shipped_params_file(venv, tmp_path):
    limitlab_cli = str(venv / "bin" / "limitlab")
    version = run([limitlab_cli, "--version"], tmp_path).stdout.strip()
    assert version == f"limitlab {limitlab.__version__}"
    # the version even where a broken plugin stops every command (`limitlab plugins` names it)
    broken = {"PYTHONPATH": str(broken_plugin(tmp_path / "site"))}
    assert run([limitlab_cli, "--version"], tmp_path, **broken).stdout.strip() == version
    refused = subprocess.run([limitlab_cli, "plugins"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                             env={**os.environ, **broken})
    assert refused.returncode == 2 and "limitlab-broken" in refused.stderr
    # the wheel's own files, not the source tree's: the module, its package data and the version it reports
    where = run([str(venv / "bin" / "python"), "-c",
                 "import importlib.metadata as m, limitlab; from limitlab.report.claims import PAPER_CLAIMS, "
                 "load_claims; load_claims(PAPER_CLAIMS); print(limitlab.__file__); print(PAPER_CLAIMS); "
                 "print(m.version('limitlab'))"], tmp_path).stdout.split()
    assert all(Path(p).resolve().is_relative_to(venv.resolve()) for p in where[:2]), where
    assert where[2] == limitlab.__version__
    for params in ("params/smoke.yaml", "params/paper/cifar10.yaml"):  # run outside the repository: its data/
        checked = run([limitlab_cli, "params", "check", str(REPO / params)], tmp_path, COLUMNS="200")
        assert "— valid" in checked.stdout and "training runs in total" in checked.stdout, checked.stdout
    schema = run([limitlab_cli, "params", "schema"], tmp_path).stdout
    assert schema == (REPO / "params" / "schema.json").read_text(encoding="utf-8")
