"""Methods from other installed packages (entry-point group ``limitlab.methods``): listed, usable by name in a
params file, part of a run's identity with their version; a broken plugin or a name clash is one clear error.

The plugin is "installed" as pip would leave it, a module and a ``*.dist-info`` folder (METADATA,
entry_points.txt) on the path of a fresh process, so importlib.metadata finds it as it finds any package."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from pipeline_support import env
from plugin_support import install

def limitlab(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "limitlab.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env(PYTHONPATH=str(site)))


def python(site: Path, code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env(PYTHONPATH=str(site)))
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def params(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({
        "name": "p", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
        "studies": {"s": {"dataset": {"name": "mnist5k"}, "noise": {"model": "uniform", "p": [0.5]}, "n": [300],
                          "seeds": [42], "methods": {"ce": {"label": "CE"},
                                                     "boot": {"method": "boot", "beta": [0.8, 0.95]}}}}}))
    return path


IDENTITIES = """
    import json, sys
    from limitlab.experiment import params_file
    from limitlab.experiment.grid import GridIndex
    grid = GridIndex.of(params_file.load(sys.argv[1] if len(sys.argv) > 1 else {path!r}))
    print(json.dumps({{s.key: [grid.identity(s), s.plugins] for s in grid.specs}}))
"""


def test_a_plugin_method_is_listed_usable_and_versioned(tmp_path):
    site = install(tmp_path / "site")
    listed = limitlab(site, "plugins")
    assert listed.returncode == 0, listed.stderr
    assert "boot" in listed.stdout and "limitlab-test-plugin" in listed.stdout and "0.1" in listed.stdout
    assert "ce" in listed.stdout and "built in" in listed.stdout

    path = params(tmp_path)
    check = limitlab(site, "params", "check", str(path))
    assert check.returncode == 0, check.stderr
    assert "3 training runs in total" in check.stdout

    first = json.loads(python(site, IDENTITIES.format(path=str(path))))
    boot = {k: v for k, v in first.items() if "/boot/" in k}
    assert len(boot) == 2 and all(v[1] == {"method": "limitlab-test-plugin==0.1"} for v in boot.values())
    (ce_key,) = [k for k in first if "/ce/" in k]
    assert first[ce_key][1] is None  # limitlab's own method: nothing recorded, its identity as before plugins

    install(site, version="0.2")  # the plugin upgraded: its runs get new identities, the CE run keeps its own
    second = json.loads(python(site, IDENTITIES.format(path=str(path))))
    assert second[ce_key] == first[ce_key]
    assert all(second[k][0] != first[k][0] for k in boot)


def test_a_params_file_naming_an_uninstalled_plugin_method_is_refused(tmp_path):
    path = params(tmp_path)
    out = limitlab(tmp_path / "empty", "params", "check", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "boot" in out.stderr and "ce" in out.stderr  # what was asked and what is accepted


def test_a_broken_plugin_or_a_name_clash_is_one_clear_error(tmp_path):
    broken = install(tmp_path / "broken", body="raise ImportError('needs a package that is not installed')\n")
    out = limitlab(broken, "plugins")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "limitlab-test-plugin 0.1" in out.stderr and "failed to load" in out.stderr
    assert "needs a package that is not installed" in out.stderr and "pip uninstall limitlab-test-plugin" in out.stderr

    clash = install(tmp_path / "clash", name="ce")
    out = limitlab(clash, "plugins")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "registers the method 'ce', which limitlab" in out.stderr and "limitlab-test-plugin" in out.stderr
