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
``noise.label_set`` in a params file). Pure Python, no NumPy: the schema imports it while validating.
"""

from __future__ import annotations

from limitlab.data.registry import DATASETS, HUMAN_LABEL_SETS

# How each surface names the options the messages point at, and how it lists accepted values.
_SPELLINGS: dict[str, dict[str, str]] = {
    "cli": {"none": "--noise none", "got": "--noise {model}", "label_set": "--label-set",
            "accepted": "; accepted: {values}"},
    "params": {"none": "noise model 'none' with p: [0.0]", "got": "noise model {model!r}",
               "label_set": "noise.label_set", "accepted": " (accepted: {values})"},
}


def setting_problem(dataset: str, noise_model: str, label_set: str | None = None, *,
                    spelling: str = "params") -> str | None:
    """The error text when ``dataset`` does not accept ``noise_model`` (with ``label_set`` for 'human'), else None.

    ``label_set`` None is not checked here: whether it was given is the caller's question (a missing option).
    ``spelling`` is 'params' (params-file keys) or 'cli' (command-line options).
    """
    words = _SPELLINGS[spelling]
    info = DATASETS.get(dataset)
    if info is None:
        return f"unknown dataset {dataset!r}; accepted: {', '.join(DATASETS)}"
    if noise_model == "pair" and not info.pairs:
        with_pairs = [d.name for d in DATASETS.values() if d.pairs]
        return (f"noise model 'pair' is not defined for dataset {dataset!r} (it has no class pairs); "
                f"pair noise is defined for: {', '.join(with_pairs)}")
    if info.kind == "files" and noise_model != "none":
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
