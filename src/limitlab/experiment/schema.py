"""The experiment params schema (pydantic 2): the one source of truth for every grid.

An experiment file (``params/*.yaml``) has a few global sections and a list of *studies*. A study is one
dataset with one noise model: its rates, training-set sizes ``n`` and seeds span the data settings, and its
methods (each with its own hyperparameter grid) are trained on every setting. Tables put the studies of one
file side by side (e.g. CIFAR-10 uniform and pair noise = the paper's Table 2).

Every model forbids unknown keys; :func:`load` turns validation errors into one message that names the file,
the dotted field path, the bad value and what is accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from limitlab.experiment.dataset_config import (DATASET_NAMES, DatasetConfig, arch_problem,  # noqa: F401
                                                one_source_per_name)
from limitlab.experiment.strict import Strict
from limitlab.experiment.training_config import (ARCHS, DEVICE_PATTERN, DEVICES_ACCEPTED,  # noqa: F401
                                                 ModelConfig, TrainingConfig, TrainingOverride)
from limitlab.methods import REGISTRY, MethodConfig


def _noise_models():
    from limitlab.data.noise.transition import NOISE_MODELS as DEFINITIONS

    return DEFINITIONS

# the class-conditional models of the noise registry (plugins included), then those drawn their own way
NOISE_MODELS = tuple(_noise_models())
NOISE_FILE_FORMATS = (".csv", ".npy", ".pt")  # model 'file' (limitlab.data.noise.from_file.FORMATS)


class NoiseConfig(Strict):
    model: Literal[NOISE_MODELS] = Field(description="how the noisy labels are made (docs/methods.md)")  # type: ignore[valid-type]
    p: list[float] = Field(min_length=1, description="noise rates; each in [0, 1)")
    matrix: Path | None = Field(None, description="model 'matrix': a KxK row-stochastic matrix file (.npy/.csv/.txt)")
    flip_std: float = Field(0.1, ge=0, le=1, description="model 'instance': std of the per-example flip rate "
                                                         "(normal around p truncated to [0, 1]; Xia et al.: 0.1)")
    file: Path | None = Field(None, description="model 'human': local CIFAR-N label file (CIFAR-10_human.pt or "
                                                "CIFAR-100_human.pt; never downloaded); model 'file': noisy labels by "
                                                "original training index (.csv, .npy or CIFAR-N-style .pt)")
    label_set: str | None = Field(None, description="model 'human': cifar10: aggregate, random1, random2, random3, "
                                                    "worst; cifar100: noisy")

    @model_validator(mode="before")
    @classmethod
    def _human_p(cls, v: Any) -> Any:
        # human labels and a noise file carry their own rate: p may be left out (recorded as 0)
        if isinstance(v, dict) and v.get("model") in ("human", "file") and "p" not in v:
            return {**v, "p": [0.0]}
        return v

    @field_validator("p", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, (int, float)) else v

    @field_validator("p")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        for p in v:
            if not (0.0 <= p < 1.0):
                raise ValueError(f"noise rate {p} is outside [0, 1)")
        if len(set(v)) != len(v):
            raise ValueError(f"noise rates {v} contain duplicates")
        return v

    @model_validator(mode="after")
    def _matrix_given(self) -> "NoiseConfig":
        if (self.model == "matrix") != (self.matrix is not None):
            raise ValueError("'matrix' (a file) is required with model 'matrix' and not allowed with other models")
        if self.model == "none" and any(p != 0 for p in self.p):
            raise ValueError("model 'none' only accepts p: [0.0]")
        # a value other than the default is refused; the default itself passes (a dumped experiment, which
        # writes every field, must validate again)
        if self.model != "instance" and self.flip_std != NoiseConfig.model_fields["flip_std"].default:
            raise ValueError(f"'flip_std' ({self.flip_std}) is only used with model 'instance'")
        from limitlab.data.noise.rules import flip_std_problem

        if self.model == "instance" and (problem := flip_std_problem(self.flip_std, "flip_std")):
            raise ValueError(problem)  # the corrupt stage's own rule: refused here, not when its job runs
        if self.model == "human" and (self.file is None or self.label_set is None):
            raise ValueError("model 'human' needs 'file' (the local CIFAR-N label file) and 'label_set'")
        if ((self.model not in ("human", "file") and self.file is not None)
                or (self.model != "human" and self.label_set is not None)):
            raise ValueError("'file' and 'label_set' are only used with model 'human' ('file' also with model 'file')")
        if self.model == "file" and (self.file is None or self.file.suffix not in NOISE_FILE_FORMATS):
            raise ValueError(f"model 'file' needs 'file', the noisy labels by original training index; got "
                             f"{self.file}, accepted: a {', '.join(NOISE_FILE_FORMATS)} file (limitlab labels export)")
        if self.model in ("human", "file") and self.p != [0.0]:
            raise ValueError(f"model {self.model!r} takes its rate from the file: leave 'p' out (or p: [0.0])")
        return self


class StageResources(Strict):
    """Cluster resources of one stage's jobs (Snakemake resources; the SLURM executor maps them)."""

    gpus: int = Field(0, ge=0, description="GPUs per job (SLURM --gpus)")
    cpus: int = Field(1, gt=0, description="CPU cores per job (Snakemake threads, SLURM --cpus-per-task)")
    mem_mb: int = Field(2000, gt=0, description="memory per job in MB (SLURM --mem)")
    runtime: int = Field(30, gt=0, description="time limit in minutes (per run for train and evaluate)")
    gpu_model: str | None = Field(None, description="e.g. 'a100' (needs the cluster's GRES type name)")


class Resources(Strict):
    train: StageResources = Field(StageResources(gpus=1, cpus=4, mem_mb=16000, runtime=720), description="one run's training")
    evaluate: StageResources = Field(StageResources(gpus=1, cpus=2, mem_mb=8000, runtime=30), description="one run's evaluation")
    default: StageResources = Field(StageResources(), description="every other job (download, corrupt, report)")
    runs_per_job: int | None = Field(
        None, ge=1,
        description="how many runs (train -> evaluate -> bootstrap each) one pipeline job runs, one after another on "
        "one GPU; on a cluster, size it so that a job lasts about 30 min to a few hours. None: the profile's "
        "group-components run=N (workflow/profiles/slurm: 5), else 1. `--config runs_per_job=N` overrides both.")


class BootstrapConfig(Strict):
    samples: int = Field(1000, gt=0, description="test-set resamples per run")
    seed: int = Field(0, description="seed of the resampling")
    ci: float = Field(0.95, gt=0, lt=1, description="coverage of the reported interval")


class ComparisonConfig(Strict):
    """The report's paired comparisons (:mod:`limitlab.report.paired`) and claim check (:mod:`limitlab.report.claims`)."""

    reference: str = Field("ce", description="method id every method is compared with on the same splits")
    best_baseline: bool = Field(True, description="also compare with the best non-LIMIT method of each setting")
    claims: Path | None = Field(None, description="claims file to check (default: the paper's, shipped with limitlab)")


def _method_union():
    configs = tuple(cls.Config for cls in REGISTRY.values())
    return Annotated[Union[configs], Field(discriminator="method")]  # type: ignore[valid-type]


MethodEntry = _method_union()


def entries_by_id(value: Any, what: str) -> Any:
    """The list form of ``studies:`` / ``methods:`` written as a mapping keyed by id (``methods: {ce: {...}}``).

    A mapping makes every entry addressable by name, e.g. ``dvc exp run -S
    params/smoke.yaml:studies.uniform.methods.limit_g.beta=2`` and one ``dvc exp show`` column per value (DVC
    can only index lists by position and shows a list as one blob). The key is the entry's id (``ce: {...}`` is
    ``- {id: ce, ...}``, so converting a file whose entries have ids retrains nothing); a method entry without
    ``method:`` is the method named by its key.
    """
    if not isinstance(value, dict):
        return value
    out = []
    for key, entry in value.items():
        entry = {} if entry is None else entry
        if not isinstance(entry, dict):
            raise ValueError(f"{what} entry {key!r} must be a mapping of its fields, got {entry!r}")
        entry = dict(entry)
        if what == "method":
            entry.setdefault("method", key)
        if entry.setdefault("id", key) != key:
            raise ValueError(f"{what} entry {key!r} has id {entry['id']!r}; leave the id out (the key is the id)")
        out.append(entry)
    return out


class CleanlabConfig(Strict):
    """cleanlab as a noisy-label detector beside LIMIT: out-of-sample predicted probabilities from K-fold
    cross-validated models of one method entry (CE) on the noisy training split, then cleanlab's
    ``find_label_issues`` and ``get_label_quality_scores`` (docs/results.md)."""

    folds: int = Field(5, ge=2, description="K of the stratified K-fold cross-validation (cleanlab's default 5)")
    source: str = Field("ce", description="id of the method entry (same study) trained on each fold: its "
                                          "training settings, architecture and single hyperparameter point")


class Study(Strict):
    id: str = Field(description="short name used in paths and captions, e.g. 'uniform'")
    dataset: DatasetConfig = Field(description="the dataset: a built-in one by name, or your own by path")
    noise: NoiseConfig = Field(description="the noise model and its rates (each rate is a setting)")
    n: list[int | Literal["all"]] = Field(["all"], min_length=1, description="training-subset sizes (or 'all')")
    n_val: list[int] | None = Field(
        None, min_length=1,
        description="validation sizes of their own, each a setting (a sweep): the held-out part's first N, then "
                    "what the subsample of n left; nested over N, the training set unchanged. Default: the held-out "
                    "part (val_ratio)")
    seeds: list[int] = Field(min_length=1,
                             description="each seed = one train/validation split, noise draw and torch init "
                                         "(the torch init: unless train_seeds is set)")
    train_seeds: list[int] | None = Field(
        None, min_length=1,
        description="training seeds (initialisation, batch order, sampling) run on every split: each seed × "
                    "train seed is a run. A train seed equal to the split's seed is that split's default run. "
                    "Default: the split's seed")
    model: ModelConfig = Field(ModelConfig(), description="the networks")
    training: TrainingConfig = Field(TrainingConfig(), description="every method's protocol (a method's 'training' overrides it)")
    methods: list[MethodEntry] = Field(min_length=1, description="keyed by id (or a list with 'id')")  # type: ignore[valid-type]
    cleanlab: CleanlabConfig | None = Field(None, description="also run cleanlab's label-issue detection")

    @field_validator("methods", mode="before")
    @classmethod
    def _methods_by_id(cls, v: Any) -> Any:
        return entries_by_id(v, "method")

    @field_validator("n", mode="before")
    @classmethod
    def _listify_n(cls, v: Any) -> Any:
        return [v] if isinstance(v, (int, str)) else v

    @field_validator("n")
    @classmethod
    def _positive_n(cls, v: list) -> list:
        for n in v:
            if n != "all" and n <= 0:
                raise ValueError(f"training-subset size {n} must be positive or 'all'")
        return v

    @field_validator("seeds")
    @classmethod
    def _seed_range(cls, v: list[int]) -> list[int]:
        return check_seeds(v)

    @field_validator("train_seeds")
    @classmethod
    def _train_seed_range(cls, v: list[int] | None) -> list[int] | None:
        return None if v is None else check_seeds(v)

    @field_validator("n_val", mode="before")
    @classmethod
    def _listify_n_val(cls, v: Any) -> Any:
        return [v] if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("n_val")
    @classmethod
    def _positive_n_val(cls, v: list[int] | None) -> list[int] | None:
        if v is not None:
            bad = [x for x in v if x <= 0]
            if bad:
                raise ValueError(f"validation sizes {bad} must be positive")
            if len(set(v)) != len(v):
                raise ValueError(f"validation sizes {v} contain duplicates")
        return v

    @model_validator(mode="after")
    def _n_fits_the_split(self) -> "Study":
        from limitlab.data.registry import DATASETS
        from limitlab.data.split import max_n_val, n_train_split

        if self.dataset.own:  # its size is known once imported: the corrupt stage checks n against it
            return self
        n_raw = DATASETS[self.dataset.name].n_train_raw
        if n_raw is None:  # clothing1m: the size is set by its noisy list
            if self.n_val is not None:
                raise ValueError(f"{self.dataset.name} has a fixed validation list: n_val cannot be set")
            return self
        n_train = n_train_split(n_raw, self.dataset.val_ratio)
        too_big = [n for n in self.n if n != "all" and n > n_train]
        if too_big:
            raise ValueError(f"n = {too_big} is larger than the training split of {self.dataset.name} ({n_train} of "
                             f"{n_raw} examples at val_ratio {self.dataset.val_ratio}); accepted: 1..{n_train} or 'all'")
        for n in self.n:
            most = max_n_val(n_raw, self.dataset.val_ratio, None if n == "all" else n)
            too_big = [v for v in self.n_val or [] if v > most]
            if too_big:
                raise ValueError(f"n_val = {too_big} is larger than what {self.dataset.name} leaves outside a training "
                                 f"set of n = {n} ({most} of {n_raw} examples at val_ratio "
                                 f"{self.dataset.val_ratio}); accepted: 1..{most}")
        return self

    @model_validator(mode="after")
    def _check_methods(self) -> "Study":
        if not self.id.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"study id {self.id!r} must contain only letters, digits, '_' and '-'")
        ids = [m.row_id for m in self.methods]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"method ids {dupes} appear twice; give each entry a distinct 'id'")
        by_id = {m.row_id: m for m in self.methods}
        for m in self.methods:
            if m.seeds is not None:
                try:
                    check_seeds(m.seeds)
                except ValueError as exc:
                    raise ValueError(f"method {m.row_id!r}: {exc}") from None
            if m.training:
                try:
                    TrainingOverride.model_validate(m.training)
                    self.training_for(m, {})  # the merged settings must be valid too (e.g. batch_size > 0)
                except ValidationError as exc:
                    raise ValueError(f"method {m.row_id!r}: bad training override: {_first_error(exc)}") from None
            for lr in m.lr if isinstance(m.lr, list) else [] if m.lr is None else [m.lr]:
                try:  # a grid value replaces training.lr, so it meets the same constraints (else: a traceback later)
                    self.training_for(m, {"lr": lr})
                except ValidationError as exc:
                    raise ValueError(f"method {m.row_id!r}: lr {lr} is not a valid learning rate "
                                     f"({_first_error(exc)})") from None
            if m.REQUIRES_INIT and m.init is None:
                raise ValueError(f"method {m.row_id!r} ({m.method}) starts from a CE model: add 'init: {{source: ce}}'")
            if m.init is None:
                continue
            src = by_id.get(m.init.source)
            if src is None:
                raise ValueError(f"method {m.row_id!r}: init.source {m.init.source!r} is not a method id of this "
                                 f"study (ids: {ids})")
            if src.init is not None:
                raise ValueError(f"method {m.row_id!r}: init.source {m.init.source!r} is itself initialised; "
                                 "chains are not supported")
            if len(src.points()) != 1:
                raise ValueError(f"method {m.row_id!r}: init.source {m.init.source!r} has a hyperparameter grid; "
                                 "the source must be a single run per setting")
            if m.init.target not in m.INIT_TARGETS:
                raise ValueError(f"method {m.row_id!r}: init.target {m.init.target!r} is not supported by "
                                 f"{m.method} (accepted: {list(m.INIT_TARGETS)})")
            missing = set(m.seeds or self.seeds) - set(src.seeds or self.seeds)
            if missing:
                raise ValueError(f"method {m.row_id!r}: seeds {sorted(missing)} have no {m.init.source!r} run to start from")
        if self.cleanlab is not None:
            src = by_id.get(self.cleanlab.source)
            if src is None:
                raise ValueError(f"cleanlab.source {self.cleanlab.source!r} is not a method id of this study "
                                 f"(ids: {ids})")
            if src.init is not None or len(src.points()) != 1 or REGISTRY[src.method].uses_q:
                raise ValueError(f"cleanlab.source {self.cleanlab.source!r} must be a plain classifier trained "
                                 "from scratch with a single hyperparameter point (e.g. the CE entry)")
        from limitlab.data.noise.rules import setting_problem  # pure Python; the corrupt stage applies the same rules

        problem = (setting_problem(self.dataset.name, self.noise.model, self.noise.label_set, own=self.dataset.own)
                   or arch_problem(self.dataset, {self.model.resolve(self.dataset.name), self.model.q_arch}))
        if problem is not None:
            raise ValueError(problem)
        return self

    def training_for(self, method: MethodConfig, point: dict[str, float]) -> TrainingConfig:
        update = dict(method.training or {})
        if "lr" in point:
            update["lr"] = point["lr"]
        # validated, not copied: an override must meet the same constraints as the study's training block
        override = TrainingOverride.model_validate(update).model_dump(exclude_none=True)
        return TrainingConfig.model_validate({**self.training.model_dump(), **override})


SEED_MAX = 2**32 - 1  # NumPy's RandomState (splits and noise) takes seeds in 0..2**32-1


def check_seeds(seeds: list[int]) -> list[int]:
    if not seeds:
        raise ValueError("the seed list is empty: a grid needs at least one seed (e.g. seeds: [1])")
    bad = [s for s in seeds if not 0 <= s <= SEED_MAX]
    if bad:
        raise ValueError(f"seeds {bad} are outside 0..2**32-1 (the range NumPy's RandomState accepts)")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds {seeds} contain duplicates")
    return seeds


EXPERIMENT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
EXPERIMENT_NAMES_ACCEPTED = ("letters, digits, '_', '-' and '.', not starting with '.' or '-', at most 100 "
                             "characters (e.g. cifar10_uniform)")


class Experiment(Strict):
    name: str = Field(description="experiment name (captions, default results folder)")
    description: str = Field("", description="free text shown in the report")
    data_dir: Path = Field(Path("data"), description="root of every per-run artifact (DVC-tracked)")
    results_dir: Path | None = Field(None, description="tables, metrics.json and figures (default results/<name>)")
    selection: Literal["noisy_val"] = Field(
        "noisy_val", description="hyperparameter/checkpoint selection: best accuracy on the (noisy) validation split")
    bootstrap: BootstrapConfig = Field(BootstrapConfig(), description="the test-accuracy bootstrap of every run")
    comparisons: ComparisonConfig = Field(ComparisonConfig(), description="paired comparisons and the claim check")
    resources: Resources = Field(Resources(), description="cluster resources of the pipeline's jobs")
    studies: list[Study] = Field(min_length=1, description="one dataset and noise model each, keyed by id (or a list)")

    @field_validator("name")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        # the name is a folder of logs/, data/jobs/ and results/: '' or '../..' would put them outside the repository
        if not EXPERIMENT_NAME.fullmatch(v):
            raise ValueError(f"name {v!r} is not a safe folder name (it names logs/<name>/, data/jobs/<name>/ and "
                             f"results/<name>/); accepted: {EXPERIMENT_NAMES_ACCEPTED}")
        return v

    @field_validator("studies", mode="before")
    @classmethod
    def _studies_by_id(cls, v: Any) -> Any:
        studies = entries_by_id(v, "study")
        # checked before each study is validated: a copy that also misses a field would otherwise only report
        # that field ("Field required"), never that two studies share an id
        if isinstance(studies, list):
            ids = [s["id"] for s in studies if isinstance(s, dict) and isinstance(s.get("id"), str)]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(", ".join(f"duplicate study id {d!r}" for d in dupes)
                                 + ": give each study its own id (it names the study's folders and table columns)")
        return studies

    @model_validator(mode="after")
    def _one_source_per_dataset(self) -> "Experiment":
        problem = one_source_per_name([s.dataset for s in self.studies])
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def results_path(self) -> Path:
        return self.results_dir if self.results_dir is not None else Path("results") / self.name

    # the grid's runs, once expanded (limitlab.experiment.grid.runs_of); not a field, never dumped
    _runs: Any = PrivateAttr(default=None)


def _first_error(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
