"""Which noise models a dataset accepts: the corrupt-time rules, in one place (docs/methods.md, "Noise models").

Three rules, all read from the dataset registry (:mod:`limitlab.data.registry`):

* pair noise needs the dataset's (source, destination) class pairs (``DatasetInfo.pairs``; only cifar10 has
  them: the pairs of Harutyunyan et al., ICML 2020, Table 2);
* a dataset with real label noise and a fixed clean validation list (``kind == 'files'``: Clothing1M, Xiao et
  al., CVPR 2015) takes no synthetic noise: noise model 'none';
* human labels exist only for the datasets and label sets of ``HUMAN_LABEL_SETS`` (CIFAR-10N / CIFAR-100N, Wei
  et al., ICLR 2022).

:func:`setting_problem` is used by both the params schema (:class:`limitlab.experiment.schema.Study`, while a
params file is validated) and the corrupt stage (:mod:`limitlab.stages.corrupt`, before a dataset is loaded).
Only the spelling of the options differs between the two (``--label-set`` on the command line,
``noise.label_set`` in a params file). :func:`flip_std_problem` is the range of the instance-dependent model's
spread of flip rates (``--flip-std``, ``noise.flip_std``), for both surfaces too. Pure Python, no NumPy: the
schema imports it while validating.
"""

from __future__ import annotations

import math
import numbers

from limitlab.data.registry import DATASETS, HUMAN_LABEL_SETS

# How each surface names the options the messages point at, and how it lists accepted values.
_SPELLINGS: dict[str, dict[str, str]] = {
    "cli": {"none": "--noise none", "got": "--noise {model}", "label_set": "--label-set",
            "accepted": "; accepted: {values}"},
    "params": {"none": "noise model 'none' with p: [0.0]", "got": "noise model {model!r}",
               "label_set": "noise.label_set", "accepted": " (accepted: {values})"},
}


def setting_problem(dataset: str, noise_model: str, label_set: str | None = None, *,
                    spelling: str = "params", own: bool = False) -> str | None:
    """The error text when ``dataset`` does not accept ``noise_model`` (with ``label_set`` for 'human'), else None.

    ``label_set`` None is not checked here: whether it was given is the caller's question (a missing option).
    ``spelling`` is 'params' (params-file keys) or 'cli' (command-line options). ``own``: ``dataset`` is a user's
    dataset given by path, which the registry knows only once it is imported; every own dataset is a tensor
    dataset without class pairs or human labels (:mod:`limitlab.data.own`).
    """
    words = _SPELLINGS[spelling]
    info = DATASETS.get(dataset)
    if info is None and not own:
        return f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}"
    pairs, kind = (info.pairs, info.kind) if info is not None else (None, "tensor")
    if noise_model == "pair" and not pairs:
        with_pairs = [d.name for d in DATASETS.values() if d.pairs]
        return (f"noise model 'pair' is not defined for dataset {dataset!r} (it has no class pairs); "
                f"pair noise is defined for: {', '.join(with_pairs)}")
    if kind == "files" and noise_model != "none":
        return (f"{dataset} has real label noise and a fixed clean validation list: use {words['none']} "
                f"(got {words['got'].format(model=noise_model)})")
    if noise_model == "human":
        sets = HUMAN_LABEL_SETS.get(dataset)
        if sets is None:
            return (f"noise model 'human': human labels (CIFAR-N) exist for {', '.join(HUMAN_LABEL_SETS)} only, "
                    f"not {dataset!r}")
        if label_set is not None and label_set not in sets:
            return (f"{words['label_set']} {label_set!r} is not one of {dataset}'s human label sets"
                    + words["accepted"].format(values=", ".join(sets)))
    return None


# The instance-dependent model's spread of per-example flip rates, q_i ~ N(p, flip_std^2) truncated to [0, 1]
# (Xia et al. use 0.1). Above 1 the truncated normal is nearly flat on [0, 1]: the rates no longer follow p (at
# 1e9 they are uniform whatever p, and scipy warns and misreports their mean). Below 1e-6 the rates are p to
# within 5e-6, no spread at all, yet they use up draws of the stream; below about 1e-154 the truncation bounds
# (0 - p) / flip_std overflow. Between the two, scipy draws and averages them without a warning for every p in
# [0, 1) (tests/data/test_instance_noise.py).
FLIP_STD_MIN, FLIP_STD_MAX = 1e-6, 1.0


def flip_std_problem(flip_std, name: str = "flip_std") -> str | None:
    """The error text when ``flip_std`` is not a spread the instance-dependent model accepts, else None.

    Accepted: 0 (every example flips with rate p exactly) or a number in [FLIP_STD_MIN, FLIP_STD_MAX]. ``name``
    is how the caller's surface spells the option ('--flip-std', 'noise.flip_std').
    """
    accepted = (f"accepted: 0 (no spread: every example flips with rate p) or a spread in "
                f"[{FLIP_STD_MIN:g}, {FLIP_STD_MAX:g}] (Xia et al. use 0.1)")
    if isinstance(flip_std, bool) or not isinstance(flip_std, numbers.Real):
        return f"{name} must be a number, got {flip_std!r}; {accepted}"
    value = float(flip_std)
    if value == 0.0 or FLIP_STD_MIN <= value <= FLIP_STD_MAX:
        return None
    if not (math.isfinite(value) and value > 0.0):
        why = "a standard deviation is a finite number >= 0"  # negative, nan or inf
    elif value > FLIP_STD_MAX:
        why = "the truncated normal on [0, 1] is then nearly flat: the flip rates would no longer follow p"
    else:
        why = f"that is no spread: every rate would be p to within {5 * value:g} (use 0 for that)"
    return f"{name} = {value:g} is outside the instance-dependent noise model: {why}; {accepted}"
