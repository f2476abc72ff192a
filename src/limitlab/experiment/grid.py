"""Expand a validated experiment into its training runs (the grid), with stable paths and keys.

A *setting* is one labelled dataset: (dataset, noise model, p, n, seed) (:mod:`limitlab.experiment.paths`). A
*run* is one method at one hyperparameter point on one setting; :class:`RunSpec` is everything that trains it,
and its JSON is the run's identity (:mod:`limitlab.jobs.done_record`). :func:`runs_of` expands a params file once;
:class:`GridIndex` answers the questions every stage asks about the grid (a run by key or folder, its init
source). Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_serializer

from limitlab.errors import LimitlabError

from limitlab.experiment.identity import run_identity, tagged
from limitlab.experiment.paths import Setting, dataset_path, point_tag
from limitlab.experiment.schema import DatasetConfig, Experiment, MethodEntry, ModelConfig, Study, TrainingConfig


class RunSpec(BaseModel):
    """Everything ``limitlab train`` needs for one run; passed to it as JSON by the pipeline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    study: str
    setting_path: str
    dataset: DatasetConfig
    noise: str
    p: float
    n: int | Literal["all"]
    seed: int
    model: ModelConfig
    training: TrainingConfig
    method_id: str
    method: MethodEntry  # type: ignore[valid-type]  # scalars only (one grid point)
    point: dict[str, float]
    data_path: Path
    labels_path: Path
    run_dir: Path
    eval_dir: Path
    init_dir: Path | None = None
    # 'distribution==version' of the installed packages whose entries this run uses (a plugin method), by role;
    # None for limitlab's own entries only, and then not part of the identity (limitlab.experiment.identity)
    plugins: dict[str, str] | None = None
    # the seed of initialisation, batch order and sampling when the study sets train_seeds and it is not the split's
    # own seed; None: the split's seed (every run before train_seeds, unchanged identity)
    train_seed: int | None = None

    @model_serializer(mode="wrap")
    def _defaults_left_out(self, handler):
        # a spec of limitlab's own entries on the split's own seed dumps as in releases before plugins and training
        # seeds: its identity, the params of the jobs that carry it (cleanlab) and the spec its failure markers
        # record all stay the same
        data = handler(self)
        for name in ("plugins", "train_seed"):
            if data.get(name) is None:
                data.pop(name, None)
        return data

    @property
    def training_seed(self) -> int:
        """The seed of the run's torch RNGs (initialisation, batch order, sampling, dropout)."""
        return self.seed if self.train_seed is None else self.train_seed

    @property
    def split_and_training_seed(self) -> tuple[int, int]:
        """(split seed, training seed): the run's place among a point's runs (one per pair)."""
        return self.seed, self.training_seed


def plugins_of(method_name: str, noise_model: str, dataset: DatasetConfig) -> dict[str, str] | None:
    """The plugin packages (with versions) a run of this method under this noise model on this dataset uses, by
    role ('method', 'noise_model', 'dataset'); None when all are limitlab's own (or the dataset is your own)."""
    from limitlab.methods import REGISTRY

    found = {"method": REGISTRY.plugin_version(method_name), "noise_model": noise_plugin(noise_model),
             "dataset": dataset_plugin(dataset)}
    return {role: version for role, version in found.items() if version is not None} or None


def noise_plugin(noise_model: str) -> str | None:
    """'distribution==version' of a noise model from another package (None for limitlab's own)."""
    from limitlab.data.noise.transition import NOISE_REGISTRY

    return NOISE_REGISTRY.plugin_version(noise_model) if noise_model in NOISE_REGISTRY else None


def dataset_plugin(dataset: DatasetConfig) -> str | None:
    """'distribution==version' of a study's dataset when another package registers it (None for limitlab's own and
    for your own, given by path: its content tags its settings instead, ``Setting.source_files``).

    It enters a run's identity where a plugin noise model's does, for the same reason: the setting's labels are drawn
    from what that version builds, so it tags the setting's labels folder (:func:`_sources_tag`, role
    'dataset_plugin'; two versions never share a draw, and a labels file is never refused or overwritten because
    the other version's dataset file replaced it), and through the labels path every run of the setting; and
    ``RunSpec.plugins`` records it (role 'dataset') beside the method's and the noise model's. The pipeline's
    download stage is given it too (``--plugin-version``), so an upgrade builds the file again."""
    from limitlab.data.registry import DATASET_REGISTRY

    if dataset.own or dataset.name not in DATASET_REGISTRY:
        return None
    return DATASET_REGISTRY.plugin_version(dataset.name)


@dataclass(frozen=True)
class Run:
    spec: RunSpec
    identity: str | None = None  # computed while the grid is expanded (GridIndex.of keeps it)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def setting(self) -> str:
        return self.spec.setting_path


def noise_options(study: Study) -> dict:
    """The Setting fields a study's noise block sets besides model and p (matrix file, flip_std, human file, noise
    file)."""
    noise = study.noise
    file = str(noise.file) if noise.file else None
    return {"matrix": str(noise.matrix) if noise.matrix else None, "flip_std": noise.flip_std,
            "human_file": file if noise.model == "human" else None, "label_set": noise.label_set,
            "noise_file": file if noise.model == "file" else None}


def train_seeds_of(study: Study, split_seed: int) -> list[int | None]:
    """The training seeds run on one split (RunSpec.train_seed): [None] without ``train_seeds``; a train seed equal
    to the split's seed is None, the split's default run (its identity and folder)."""
    if study.train_seeds is None:
        return [None]
    return [None if t == split_seed else t for t in study.train_seeds]


def settings_of(study: Study) -> list[Setting]:
    seeds = sorted({s for m in study.methods for s in (m.seeds or study.seeds)})
    options = noise_options(study)
    if study.dataset.own:  # its image folder or .npz is a source of every setting (its content tags the folders)
        options["dataset_source"] = str(study.dataset.path)
    plugins = {"noise_model": noise_plugin(study.noise.model), "dataset_plugin": dataset_plugin(study.dataset)}
    tag = _sources_tag(Setting(study.dataset.name, study.noise.model, 0.0, "all", 0, **options).source_files(),
                       {role: version for role, version in plugins.items() if version is not None})
    return [
        Setting(study.dataset.name, study.noise.model, p, n, seed, study.dataset.val_ratio,
                study.dataset.clean_validation, **options, sources_tag=tag, n_val=n_val)
        for p in study.noise.p for n in study.n for n_val in n_vals_of(study, n) for seed in seeds
    ]


def n_vals_of(study: Study, n) -> list[int | None]:
    """The validation sizes of a study's settings at training-set size ``n``: [None] (the held-out part) without
    ``n_val``; a size equal to the held-out part's is None too, so that it shares the default's labels and runs
    (known for built-in and plugin datasets; an own dataset's size is known only once imported)."""
    if study.n_val is None:
        return [None]
    from limitlab.data.registry import DATASETS
    from limitlab.data.split import held_out_size

    n_raw = None if study.dataset.own else DATASETS[study.dataset.name].n_train_raw
    held_out = None if n_raw is None else held_out_size(n_raw, study.dataset.val_ratio)
    return [None if v == held_out else v for v in study.n_val]


def _sources_tag(files: dict[str, str], plugin_versions: dict[str, str] | None = None) -> str | None:
    """The content tag of a setting's source files that exist (a missing one is the corrupt stage's error, and
    nothing can be drawn or trained from it before it exists) and of the packages of the plugin entries its labels
    are drawn with, by role ('noise_model', 'dataset_plugin': that version's matrix or data); None when it has
    neither. An own dataset's source may be a folder (:func:`~limitlab.data.content_identity.source_id`)."""
    from limitlab.data.content_identity import source_id, sources_tag

    ids = {role: sha for role, path in files.items() if (sha := source_id(path)) is not None}
    ids.update(plugin_versions or {})
    return sources_tag(ids) if ids else None


def expand(exp: Experiment) -> list[Run]:
    """Every run of the params file, in grid order, each in folders tagged with its identity
    (:mod:`limitlab.experiment.identity`)."""
    specs: list[RunSpec] = []
    data_dir = Path(exp.data_dir)
    for study in exp.studies:
        by_id = {m.row_id: m for m in study.methods}
        pairs = [(setting, t) for setting in settings_of(study) for t in train_seeds_of(study, setting.seed)]
        for setting, train_seed in pairs:
            for m in study.methods:
                if setting.seed not in (m.seeds or study.seeds):
                    continue
                for point in m.points():
                    rel = f"{study.id}/{setting.path}/{m.row_id}/{point_tag(point, train_seed)}"
                    init_dir = None
                    if m.init is not None:  # the source run of the same split and training seed
                        src = by_id[m.init.source]
                        src_tag = point_tag(src.points()[0], train_seed)
                        init_dir = data_dir / "runs" / f"{study.id}/{setting.path}/{src.row_id}/{src_tag}"
                    specs.append(RunSpec(
                        key=rel, study=study.id, setting_path=setting.path, dataset=study.dataset,
                        noise=setting.noise, p=setting.p, n=setting.n, seed=setting.seed, model=study.model,
                        training=study.training_for(m, point), method_id=m.row_id,
                        # label and seeds only name and group runs: cleared so relabelling retrains nothing
                        method=m.at({**point, "label": None, "seeds": None}),
                        point=point, data_path=dataset_path(data_dir, setting.dataset),
                        labels_path=setting.labels_path(data_dir), run_dir=data_dir / "runs" / rel,
                        eval_dir=data_dir / "eval" / rel, init_dir=init_dir,
                        plugins=plugins_of(m.method, setting.noise, study.dataset), train_seed=train_seed,
                    ))
    return [Run(spec, identity) for spec, identity in _tag_folders(specs)]


def _tag_folders(specs: list[RunSpec]) -> list[tuple[RunSpec, str]]:
    """(the spec with its folders tagged, its identity) per spec. The identity hashes the untagged spec
    (:func:`~limitlab.experiment.identity.identity_json`), so the untagged grid's identities are the runs' own."""
    untagged_grid = GridIndex(specs)
    out = []
    for s in specs:
        own = untagged_grid.identity(s)
        src = untagged_grid.init_source(s)
        out.append((s.model_copy(update={
            "run_dir": tagged(s.run_dir, own), "eval_dir": tagged(s.eval_dir, own),
            "init_dir": tagged(s.init_dir, untagged_grid.identity(src)) if src is not None else s.init_dir}), own))
    return out


def runs_of(exp: Experiment) -> list[Run]:
    """The experiment's runs in grid order (expanded on first use, then kept with ``exp``)."""
    if exp._runs is None:
        exp._runs = expand(exp)
    return exp._runs


class GridIndex:
    """Lookups over a grid's runs, built once per command: a run by key or by run folder, and its init source.

    ``init_source(spec)`` is the run of the grid whose selected model ``spec`` starts from (None: trained from
    scratch, or a source outside this grid)."""

    def __init__(self, specs):
        self.specs = list(specs)
        self.by_key = {s.key: s for s in self.specs}
        self.by_dir = {Path(s.run_dir): s for s in self.specs}
        self.identities: dict[str, str] = {}  # run key -> identity (limitlab.jobs.done_record.spec_sha256)

    @classmethod
    def of(cls, exp: Experiment) -> "GridIndex":
        runs = runs_of(exp)
        index = cls(r.spec for r in runs)
        index.identities.update((r.key, r.identity) for r in runs if r.identity is not None)
        return index

    def init_source(self, spec) -> "RunSpec | None":
        return self.by_dir.get(Path(spec.init_dir)) if spec.init_dir is not None else None

    def identity(self, spec) -> str:
        """The run's identity (:func:`~limitlab.experiment.identity.run_identity`, its init source's folded in);
        kept for the grid's own runs."""
        own = self.by_key.get(spec.key) is spec
        if own and spec.key in self.identities:
            return self.identities[spec.key]
        src = self.init_source(spec)
        identity = run_identity(spec, self.identity(src) if src is not None else None)
        if own:
            self.identities[spec.key] = identity
        return identity


def load_spec(text_or_path: str) -> RunSpec:
    """A RunSpec from a JSON string or from '@file.json' (``limitlab train/evaluate --spec``)."""
    if text_or_path.startswith("@"):
        path = Path(text_or_path[1:])
        if not path.is_file():
            raise LimitlabError(f"--spec file {path} does not exist")
        text_or_path = path.read_text()
    try:
        return RunSpec.model_validate(json.loads(text_or_path))
    except (json.JSONDecodeError, ValueError) as exc:
        raise LimitlabError(f"--spec is not a valid run spec: {exc}") from None


def all_settings(exp: Experiment) -> dict[str, tuple[Study, Setting]]:
    """Distinct labelled datasets of an experiment, keyed by their folder under data_dir/labels
    (:attr:`~limitlab.experiment.paths.Setting.folder`)."""
    out: dict[str, tuple[Study, Setting]] = {}
    for study in exp.studies:
        for s in settings_of(study):
            out.setdefault(s.folder, (study, s))
    return out


class CleanlabSpec(BaseModel):
    """One cleanlab detection job: K fold runs of the study's ``cleanlab.source`` method on one setting.

    Fold i trains on the other K − 1 folds of the setting's noisy training split (its own labels file,
    ``cv_dir/fold<i>/labels.npz``, written by ``limitlab cleanlab run`` or ``split``) with the source method's spec,
    selected on the setting's noisy validation split as every run; its held-out fold gets out-of-sample
    predicted probabilities. Passed as JSON to ``limitlab cleanlab detect``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str            # study/<setting>/<source>_k<K>: also the folder under data_dir/cv
    study: str
    setting_path: str
    source_id: str
    folds: int
    seed: int
    p: float
    labels_path: Path   # the setting's labels.npz (all folds)
    cv_dir: Path
    fold_specs: list[RunSpec]

    @property
    def out_dir(self) -> Path:
        return Path(self.cv_dir) / "cleanlab"


def cleanlab_specs(exp: Experiment) -> list[CleanlabSpec]:
    """The cleanlab jobs of an experiment: one per setting of every study with a ``cleanlab:`` block. Its folds are
    trained on the split's own seed, whatever the study's ``train_seeds`` (one detection per setting)."""
    out = []
    data_dir = Path(exp.data_dir)
    for study in exp.studies:
        cfg = study.cleanlab
        if cfg is None:
            continue
        seen: set[Path] = set()
        for run in runs_of(exp):
            s = run.spec
            if s.study != study.id or s.method_id != cfg.source or s.labels_path in seen:
                continue
            seen.add(s.labels_path)
            s = s.model_copy(update={"train_seed": None})
            # the setting's labels folder, not its name: folds of two noise files of one name never mix
            folder = Path(s.labels_path).parent.relative_to(data_dir / "labels").as_posix()
            key = f"{study.id}/{folder}/{cfg.source}_k{cfg.folds}"
            cv_dir = data_dir / "cv" / key
            folds = [s.model_copy(update={
                "key": f"{key}/fold{i}", "labels_path": cv_dir / f"fold{i}" / "labels.npz",
                "run_dir": cv_dir / f"fold{i}", "eval_dir": cv_dir / f"fold{i}"}) for i in range(cfg.folds)]
            out.append(CleanlabSpec(key=key, study=study.id, setting_path=s.setting_path, source_id=cfg.source,
                                    folds=cfg.folds, seed=s.seed, p=s.p, labels_path=s.labels_path, cv_dir=cv_dir,
                                    fold_specs=folds))
    return out
