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


# --- a dataset from another package (entry-point group limitlab.datasets) ----------------------------------------

DATASET_PLUGIN = "limitlab-test-dataset"


def dataset_params(tmp_path: Path) -> Path:
    """The plugin's dataset beside mnist5k, each in its own study (uniform noise, CE)."""
    path = tmp_path / "d.yaml"
    study = {"noise": {"model": "uniform", "p": [0.5]}, "seeds": [42], "methods": {"ce": {"label": "CE"}}}
    path.write_text(yaml.safe_dump({
        "name": "d", "data_dir": str(tmp_path / "data"), "results_dir": str(tmp_path / "results"),
        "studies": {"plug": {**study, "dataset": {"name": "tinyset"}}, "m5k": {**study, "dataset": {"name": "mnist5k"}}}}))
    return path


DATASET_GRID = """
    import json, sys
    from limitlab.experiment import params_file
    from limitlab.experiment.grid import GridIndex, all_settings
    from limitlab.pipeline.plan import download_args
    exp = params_file.load({path!r})
    grid = GridIndex.of(exp)
    print(json.dumps({{"runs": {{s.key: [grid.identity(s), s.plugins, str(s.labels_path)] for s in grid.specs}},
                      "download": {{st.dataset.name: download_args(st.dataset) for st in exp.studies}}}}))
"""


def test_a_plugin_dataset_is_listed_versioned_and_built_with_its_identity(tmp_path):
    site = install(tmp_path / "site", package=DATASET_PLUGIN, name="tinyset", kind="dataset")
    listed = limitlab(site, "plugins")
    assert listed.returncode == 0, listed.stderr
    assert any(line.split("│")[1:4] == [" dataset     ", " tinyset      ", f" {DATASET_PLUGIN} "]
               for line in listed.stdout.splitlines() if line.count("│") > 4), listed.stdout

    path = dataset_params(tmp_path)
    check = limitlab(site, "params", "check", str(path))
    assert check.returncode == 0, check.stderr
    first = json.loads(python(site, DATASET_GRID.format(path=str(path))))
    plug = {k: v for k, v in first["runs"].items() if k.startswith("plug/")}
    (m5k_key,) = [k for k in first["runs"] if k.startswith("m5k/")]
    assert len(plug) == 1 and all(v[1] == {"dataset": f"{DATASET_PLUGIN}==0.1"} for v in plug.values())
    assert all("/tinyset/uniform/p50/nall/s42-" in v[2] for v in plug.values())  # the labels folder is tagged
    assert first["runs"][m5k_key][1] is None and "/s42/labels.npz" in first["runs"][m5k_key][2]
    assert first["download"] == {"tinyset": f"--plugin-version {DATASET_PLUGIN}==0.1", "mnist5k": ""}

    # the pipeline's data stages: the plugin's builder writes the canonical file, corrupt draws from it and records
    # its content identity like mnist5k's
    data = tmp_path / "data" / "datasets"
    data.mkdir(parents=True)
    built = limitlab(site, "download", "--dataset", "tinyset", "--out", str(data / "tinyset.npz"),
                     "--plugin-version", f"{DATASET_PLUGIN}==0.1")
    assert built.returncode == 0, built.stderr
    meta = json.loads((data / "tinyset.json").read_text())
    assert meta["source"] == {"loader": "seeded random pixels", "seed": 1, "plugin": {
        "package": DATASET_PLUGIN, "version": "0.1", "entry_point": f"tinyset = {DATASET_PLUGIN.replace('-', '_')}"}}
    (plug_key,) = plug
    setting = Path(plug[plug_key][2]).parent.relative_to(tmp_path / "data" / "labels")  # its folder, tag included
    drawn = limitlab(site, "corrupt", "--params", str(path), "--setting", str(setting))
    assert drawn.returncode == 0, drawn.stderr
    labels = Path(plug[plug_key][2]).with_suffix(".json")
    assert json.loads(labels.read_text())["dataset_id"] == json.loads(python(site, f"""
        from limitlab.data.content_identity import dataset_id
        print(__import__("json").dumps(dataset_id({str(data / 'tinyset.npz')!r})))"""))

    install(site, package=DATASET_PLUGIN, name="tinyset", kind="dataset", version="0.2")  # the plugin upgraded
    second = json.loads(python(site, DATASET_GRID.format(path=str(path))))
    assert second["runs"][m5k_key] == first["runs"][m5k_key]  # mnist5k's runs keep their identity and folders
    for key in plug:  # the plugin's runs and labels folder are new
        assert second["runs"][key][0] != first["runs"][key][0] and second["runs"][key][2] != first["runs"][key][2]
        assert second["runs"][key][1] == {"dataset": f"{DATASET_PLUGIN}==0.2"}
    assert second["download"]["tinyset"] == f"--plugin-version {DATASET_PLUGIN}==0.2"  # Snakemake builds it again
    stale = limitlab(site, "download", "--dataset", "tinyset", "--out", str(data / "again.npz"),
                     "--plugin-version", f"{DATASET_PLUGIN}==0.1")
    assert stale.returncode == 2 and "Traceback" not in stale.stderr
    assert f"planned with {DATASET_PLUGIN}==0.1, but {DATASET_PLUGIN}==0.2 provides it now" in stale.stderr


def test_a_plugin_dataset_that_is_uninstalled_broken_or_clashing_is_one_clear_error(tmp_path):
    path = dataset_params(tmp_path)
    missing = limitlab(tmp_path / "empty", "params", "check", str(path))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "unknown dataset 'tinyset'; accepted: mnist, cifar10" in missing.stderr
    assert "entry-point group limitlab.datasets" in missing.stderr and "studies[plug].dataset" in missing.stderr

    broken = install(tmp_path / "broken", package=DATASET_PLUGIN, kind="dataset", name="tinyset",
                     body="raise ImportError('needs a package that is not installed')\n")
    for args in (("plugins",), ("params", "check", str(path))):
        out = limitlab(broken, *args)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert f"the dataset plugin of {DATASET_PLUGIN} 0.1 (entry point tinyset = " in out.stderr
        assert "needs a package that is not installed" in out.stderr

    clash = install(tmp_path / "clash", package=DATASET_PLUGIN, kind="dataset", name="mnist5k")
    out = limitlab(clash, "plugins")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "registers the dataset 'mnist5k', which limitlab" in out.stderr and DATASET_PLUGIN in out.stderr

    failing = install(tmp_path / "failing", package=DATASET_PLUGIN, kind="dataset", name="tinyset", body=(
        "from limitlab.data.registry import DatasetInfo, register_dataset\n"
        "@register_dataset(DatasetInfo('tinyset', 3, 1, 6, 12, (0.5,), (0.29,), ('a', 'b', 'c'), None, 'tensor'))\n"
        "def build(context):\n"
        "    raise RuntimeError('the source server is down')\n"))
    out = limitlab(failing, "download", "--dataset", "tinyset", "--out", str(tmp_path / "tinyset.npz"))
    assert out.returncode == 2 and "Traceback" not in out.stderr and not (tmp_path / "tinyset.npz").exists()
    assert (f"the builder of dataset 'tinyset' ({DATASET_PLUGIN} 0.1 (entry point tinyset = "
            in out.stderr and "failed: RuntimeError: the source server is down" in out.stderr)

    unsafe = install(tmp_path / "unsafe", package=DATASET_PLUGIN, kind="dataset", name="my/set")
    out = limitlab(unsafe, "plugins")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{DATASET_PLUGIN} 0.1" in out.stderr and "'my/set' is not a safe folder name" in out.stderr
