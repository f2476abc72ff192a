"""The paper's claims, checked one by one on a grid's cells with paired comparisons over splits.

A claims file (the paper's: ``paper_claims.yaml`` beside this module; a params file's ``comparisons.claims``
names another) lists claims, each a set of comparisons between methods over the settings it speaks of. For every
setting of the grid that matches (dataset, noise model, p, n) and every comparison whose two sides the setting
has, the paired difference method − reference over the splits both finished (:func:`limitlab.report.paired.
paired_stats`, with the experiment's bootstrap settings) is checked against what the claim expects of it:

* ``above``: the interval's lower end > 0; ``below``: its upper end < 0;
* ``no_difference``: the interval holds 0; ``not_below``: its upper end ≥ 0.

Verdict: ``supported`` when every comparison the grid makes meets its expectation, ``not supported`` when one
does not, ``not testable with this grid`` when it makes none (with why, and the params file that would test it).
A claim is never "not supported" for lack of cells; a verdict that rests on part of its comparisons says how many
were made (``coverage``). A side compared at the point the paper's rule selected carries whether that selection is
a coin toss (:func:`limitlab.report.paired.coin_toss`; a side at a fixed point or a number carries none): the mark
in table.md and the results page, ``method_coin_toss`` / ``reference_coin_toss`` / ``coin_toss`` in claims.csv.
A side selected in a cell that still has unfinished points (a sub-grid) carries ``method_partial`` /
``reference_partial``: its verdict may change when the grid is finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError

from limitlab.errors import LimitlabError
from limitlab.experiment.strict import Strict
from limitlab.report.paired import COIN_COLUMNS, PairedStats, coin_toss, paired_stats, seed_correct, seed_values

PAPER_CLAIMS = Path(__file__).with_name("paper_claims.yaml")
Metric = Literal["test_acc", "train_acc_noisy_last", "detection_auc"]
Expect = Literal["above", "below", "no_difference", "not_below"]
SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE = "supported", "not supported", "not testable with this grid"
PARTIAL_COLUMNS = ("method_partial", "reference_partial")  # in claims.csv


class Settings(Strict):
    """Which settings a claim speaks of; a field left out matches every setting."""

    datasets: list[str] = Field(min_length=1)
    noise: list[str] | None = None      # noise models (uniform, pair, ...)
    p: list[float] | None = None
    p_above: float | None = None        # p > this
    n: list[int | Literal["all"]] | None = None


class ClaimComparison(Strict):
    method: str
    reference: str | float              # a method id, or a number to compare the method's value with
    expect: Expect
    method_point: dict[str, float] | None = None      # this point instead of the selected one
    reference_point: dict[str, float] | None = None
    metric: Metric | None = None        # overrides the claim's


class Claim(Strict):
    id: str
    claim: str
    where: str
    settings: Settings
    metric: Metric = "test_acc"
    comparisons: list[ClaimComparison] = Field(min_length=1)
    tested_by: str | None = None


class ClaimsFile(Strict):
    claims: list[Claim] = Field(min_length=1)


def load_claims(path: Path | None = None) -> list[Claim]:
    """The claims of ``path`` (default: the paper's); a bad file is refused with the field that is wrong."""
    path = Path(path or PAPER_CLAIMS)
    accepted = f"accepted: a YAML file of claims like {PAPER_CLAIMS.name} beside limitlab.report.claims"
    if path.is_dir():
        raise LimitlabError(f"claims file {path} is a folder, not a file ({accepted})")
    if not path.exists():
        raise LimitlabError(f"claims file {path} does not exist ({accepted})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LimitlabError(f"claims file {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise LimitlabError(f"claims file {path} is not text: not valid UTF-8 at byte {exc.start} ({accepted})") from None
    except yaml.YAMLError as exc:
        raise LimitlabError(f"claims file {path} is not valid YAML: {exc}") from None
    try:
        claims = ClaimsFile.model_validate(data).claims
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise LimitlabError(f"claims file {path}: {where}: {err['msg']} (each claim needs id, claim, where, "
                            "settings.datasets and comparisons of method, reference and expect: above, below, "
                            "no_difference or not_below)") from None
    ids = [c.id for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise LimitlabError(f"claims file {path}: duplicate claim id(s) {', '.join(dupes)}")
    return claims


def _matches(cell, s: Settings) -> bool:
    return (cell.dataset in s.datasets and (s.noise is None or cell.noise_model in s.noise)
            and (s.p is None or any(abs(cell.p - p) < 1e-9 for p in s.p))
            and (s.p_above is None or cell.p > s.p_above + 1e-12) and (s.n is None or cell.n in s.n))


def meets(stats: PairedStats, expect: str) -> bool:
    return {"above": stats.low > 0, "below": stats.high < 0, "no_difference": stats.low <= 0 <= stats.high,
            "not_below": stats.high >= 0}[expect]


@dataclass
class Check:
    """One comparison of a claim in one setting."""

    setting: str
    comparison: ClaimComparison
    metric: str
    method_label: str
    reference_label: str
    stats: PairedStats
    method_coin_toss: bool | None = None      # the side's selection is a coin toss (None: not known, or not selected)
    reference_coin_toss: bool | None = None
    method_partial: bool = False              # the side's cell has unfinished points: selected on a sub-grid
    reference_partial: bool = False

    @property
    def ok(self) -> bool:
        return meets(self.stats, self.comparison.expect)

    @property
    def coin_toss(self) -> bool | None:
        sides = (self.method_coin_toss, self.reference_coin_toss)
        return True if True in sides else (None if None in sides else False)


@dataclass
class ClaimResult:
    claim: Claim
    verdict: str
    checks: list[Check] = field(default_factory=list)
    why: str = ""                       # for a claim this grid cannot test
    possible: int = 0                   # comparisons × matching settings; len(checks) of them were made

    @property
    def coverage(self) -> str:
        """'' when every comparison was made in every matching setting, else 'k of m comparisons made'."""
        return "" if len(self.checks) == self.possible else f"{len(self.checks)} of {self.possible} comparisons made"


def _point(cell, point: dict[str, float] | None):
    if point is None:
        return cell.selected
    return next((p for p in cell.points if p.complete and all(abs(p.point.get(k, float("nan")) - v) < 1e-12
                                                             for k, v in point.items())), None)


def _side(group: dict, method_id: str, point: dict[str, float] | None, metric: str):
    """(seed → value, seed → per-example correctness or None, label, coin toss, partial) of one side of a
    comparison; None when the setting has no finished point for it. The coin toss is the rule's: None for a fixed
    point. Partial: the rule selected among the finished points of a cell that has unfinished ones (a sub-grid)."""
    cell = group.get(method_id)
    pt = None if cell is None else _point(cell, point)
    if pt is None:
        return None
    label = cell.label + (f" at {_point_text(point)}" if point else "")
    return (seed_values(pt, metric), (seed_correct(pt) if metric == "test_acc" else None), label,
            None if point else coin_toss(cell), point is None and cell.status == "partial")


def check_claims(claims: list[Claim], cells: list, boot) -> list[ClaimResult]:
    """Each claim's verdict on these cells (:mod:`limitlab.report.cells`), with every comparison it made."""
    by_setting: dict[str, dict[str, object]] = {}
    for c in cells:
        by_setting.setdefault(c.key, {})[c.method_id] = c
    results = []
    for claim in claims:
        settings = {k: g for k, g in by_setting.items() if _matches(next(iter(g.values())), claim.settings)}
        checks, lacking = [], set()
        for key, group in settings.items():
            for comp in claim.comparisons:
                metric = comp.metric or claim.metric
                side = _side(group, comp.method, comp.method_point, metric)
                if side is None:
                    lacking.add(_wanted(comp.method, comp.method_point))
                    continue
                values, correct, label, coin, partial = side
                if isinstance(comp.reference, str):
                    ref_side = _side(group, comp.reference, comp.reference_point, metric)
                    if ref_side is None:
                        lacking.add(_wanted(comp.reference, comp.reference_point))
                        continue
                    ref_values, ref_correct, ref_label, ref_coin, ref_partial = ref_side
                else:  # a number: no selection
                    ref_values, ref_correct, ref_coin, ref_partial = float(comp.reference), None, False, False
                    ref_label = f"{comp.reference:g}"
                stats = paired_stats(values, ref_values, boot.samples, boot.seed, boot.ci, correct, ref_correct)
                if stats is None:
                    continue
                checks.append(Check(key, comp, metric, label, ref_label, stats, coin, ref_coin, partial,
                                    ref_partial))
        if not checks:
            if not settings:
                why = f"no setting of {'/'.join(claim.settings.datasets)} that the claim speaks of"
            else:
                why = f"no finished {', '.join(sorted(map(str, lacking)))} in the matching settings"
            results.append(ClaimResult(claim, NOT_TESTABLE, [], why))
        else:
            verdict = SUPPORTED if all(c.ok for c in checks) else NOT_SUPPORTED
            results.append(ClaimResult(claim, verdict, checks, possible=len(settings) * len(claim.comparisons)))
    return results


def _wanted(method_id: str, point: dict[str, float] | None) -> str:
    """What a comparison lacked: 'limit_l' (no finished point), or 'limit_l at beta = 0' (not that point)."""
    return method_id + (f" at {_point_text(point)}" if point else "")


def _point_text(point: dict[str, float]) -> str:
    return ", ".join(f"{k} = {v:g}" for k, v in point.items())


def claims_frame(results: list[ClaimResult]):
    """claims.csv: one row per check (setting × comparison) and one per untestable claim."""
    import pandas as pd

    rows = []
    for r in results:
        base = {"claim_id": r.claim.id, "claim": r.claim.claim, "where": r.claim.where, "verdict": r.verdict,
                "coverage": r.coverage}
        if not r.checks:
            rows.append({**base, "why_not_testable": r.why, "tested_by": r.claim.tested_by})
        for c in r.checks:
            rows.append({**base, "setting": c.setting, "method": c.comparison.method, "reference": c.comparison.reference,
                         "method_label": c.method_label, "reference_label": c.reference_label,
                         "metric": c.metric, "expect": c.comparison.expect, "meets": c.ok, "n_pairs": c.stats.n,
                         "diff_pct": 100 * c.stats.mean, "ci_low_pct": 100 * c.stats.low,
                         "ci_high_pct": 100 * c.stats.high, "wins": c.stats.wins, "wilcoxon_p": c.stats.p_value,
                         "interval": c.stats.interval, "method_coin_toss": c.method_coin_toss,
                         "reference_coin_toss": c.reference_coin_toss, "coin_toss": c.coin_toss,
                         "method_partial": c.method_partial, "reference_partial": c.reference_partial})
    cols = ["claim_id", "claim", "where", "verdict", "coverage", "setting", "method", "reference", "method_label",
            "reference_label", "metric", "expect", "meets",
            "n_pairs", "diff_pct", "ci_low_pct", "ci_high_pct", "wins", "wilcoxon_p", "interval", "why_not_testable",
            "tested_by", *COIN_COLUMNS, *PARTIAL_COLUMNS]
    flags = {c: "boolean" for c in (*COIN_COLUMNS, *PARTIAL_COLUMNS)}  # unknown (an untestable claim): empty
    return pd.DataFrame(rows, columns=cols).astype(flags)


