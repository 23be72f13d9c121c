"""The credit-rating scoring engine: a methodology and an entity's evidence in, a
score, a grade and its explanation out.

This module is pure: no Django, no database and no clock. The moment of a rating
is passed in as ``as_of``, so the same methodology, evidence and ``as_of`` give
the same result on any machine, today or in five years.

Numbers are ``Decimal``, computed in a private context (28 digits, half-even),
never floats. Scores and contributions are stored and published as decimals with
two places; with floats, contributions printed to two places would not add up to
the printed score, and ``0.1 + 0.2`` would leak into the public profile.

How a score is made:

1. Each indicator reads one item of the evidence (its ``source``) and turns it
   into a normalised value from 0 to 100, rounded to two places (see
   ``Indicator``). An item that is absent or ``None`` is "no data".
2. The indicators with data share the score in proportion to their weights:
   indicator *i* contributes ``weight_i × normalised_i / Σ weight (with data)``.
   Each contribution is that share rounded to cents, down or up, so that the
   cents add up exactly to the correctly rounded weighted mean (largest
   remainders get the spare cents, ties by indicator code). The score is, by
   definition, the sum of the contributions.
3. Coverage is the share of the methodology's weight that had data. Below the
   methodology's threshold (60% by default) the grade is provisional ("NR-P").
4. Otherwise the grade is the first band, from the top, whose ``min_score`` the
   score reaches.
5. Override rules are applied after banding: a cap lowers a letter grade to at
   most its grade; a force sets its grade (by default the methodology's forced
   grade, "D") whatever the score or coverage. Every rule that applied is
   recorded.
6. The adverse factors are the four indicators with data that cost the most
   points, ``weight × (100 − normalised)``, largest first, ties by code.

``evidence_snapshot`` and ``evidence_hash`` give a canonical copy of the evidence
and its SHA-256, so that a rating can keep both and be recomputed; scoring the
snapshot gives the same result as scoring the evidence it was taken from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import (
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, TypeAlias, TypedDict, get_args

from marketplace.credit import GRADES, grade_rank

Normalisation: TypeAlias = Literal[
    "linear", "rate_shrunk", "wilson_lower", "penalty_decay", "boolean"
]
Direction: TypeAlias = Literal["higher_is_better", "lower_is_better"]
Severity: TypeAlias = Literal["minor", "general", "serious"]
OverrideAction: TypeAlias = Literal["force", "cap"]

NORMALISATIONS: Final[tuple[str, ...]] = get_args(Normalisation)
DIRECTIONS: Final[tuple[str, ...]] = get_args(Direction)
SEVERITIES: Final[tuple[str, ...]] = get_args(Severity)

PROVISIONAL_GRADE: Final = "NR-P"
FORCED_GRADE: Final = "D"
COVERAGE_THRESHOLD: Final = Decimal("0.6")
ADVERSE_FACTOR_COUNT: Final = 4

# Publicity periods of misconduct findings in Chinese credit practice: a minor
# finding counts fully and is gone after three months; a general one fades
# linearly to nothing over a year, a serious one over three years.
PUBLICITY_PERIODS: Final[Mapping[str, timedelta]] = MappingProxyType(
    {
        "minor": timedelta(days=90),
        "general": timedelta(days=365),
        "serious": timedelta(days=3 * 365),
    }
)

# The public classes of the nine letter grades (and D), from the "three grades,
# nine levels" scale: A trustworthy, B adequate, C warning, D dishonest.
GRADE_CLASSES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "AAA": "A",
        "AA": "A",
        "A": "A",
        "BBB": "B",
        "BB": "B",
        "B": "C",
        "CCC": "C",
        "CC": "D",
        "C": "D",
        "D": "D",
    }
)

_CENT: Final = Decimal("0.01")
_COVERAGE_PLACES: Final = Decimal("0.0001")
_HUNDRED: Final = Decimal(100)
_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_MICROSECOND: Final = timedelta(microseconds=1)
_CONTEXT: Final = Context(
    prec=28,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

# Parameters of each normalisation: the required ones, and the optional ones
# with their defaults (m = 50 events for shrinkage, z = 1.96 for 95%).
_REQUIRED_PARAMS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "linear": frozenset({"lower", "upper"}),
        "rate_shrunk": frozenset({"lower", "upper", "prior_mean"}),
        "wilson_lower": frozenset(),
        "penalty_decay": frozenset(SEVERITIES),
        "boolean": frozenset(),
    }
)
_DEFAULT_PARAMS: Final[Mapping[str, Mapping[str, Decimal]]] = MappingProxyType(
    {
        "linear": {},
        "rate_shrunk": {"prior_weight": Decimal(50)},
        "wilson_lower": {"z": Decimal("1.96")},
        "penalty_decay": {},
        "boolean": {},
    }
)


class ScoringError(ValueError):
    """A methodology that cannot be used, or evidence that does not fit it. The
    message is for developers and analysts' logs, not for the public."""


class FindingEvidence(TypedDict, total=False):
    """One substantiated misconduct finding, as a ``penalty_decay`` indicator
    reads it. ``severity`` and ``occurred_at`` (an aware datetime or its ISO 8601
    text) are required."""

    severity: str
    occurred_at: datetime | str
    repaired: bool
    category: str


# --------------------------------------------------------------------------
# Methodology


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator of a methodology.

    ``source`` names the evidence item it reads; ``params`` depend on the
    normalisation (all ``Decimal``):

    - ``linear``: evidence is a number; ``lower`` maps to 0 and ``upper`` to 100
      (clamped in between).
    - ``rate_shrunk``: evidence is ``{"mean": R, "count": v}`` and may carry the
      cycle's ``"population_mean"`` C (otherwise the ``prior_mean`` parameter
      is used); the Bayesian average ``v/(v+m)·R + m/(v+m)·C`` with
      ``prior_weight`` m (default 50) is then mapped like ``linear`` with
      ``lower``/``upper``. ``count`` 0 is no data.
    - ``wilson_lower``: evidence is ``{"successes": k, "trials": n}``; the value
      is 100 × the Wilson lower bound of k/n at ``z`` (default 1.96). For
      ``lower_is_better``, k counts the bad events and the value is 100 × the
      lower bound of the good share (n − k)/n, so small samples are judged
      conservatively both ways. ``trials`` 0 is no data.
    - ``penalty_decay``: evidence is a list of findings (``FindingEvidence``);
      each unrepaired finding costs the points of its severity (``minor``,
      ``general``, ``serious``) times its decay factor; the value is
      ``max(0, 100 − penalty)``. An empty list is a clean record, which is data.
      Its direction is ``lower_is_better`` (the penalty).
    - ``boolean``: evidence is ``True`` or ``False``; ``True`` is 100 when
      higher is better, 0 when lower is better.
    """

    code: str
    category: str
    weight: Decimal
    source: str
    normalisation: Normalisation
    direction: Direction = "higher_is_better"
    params: Mapping[str, Decimal] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        for name in ("code", "category", "source"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ScoringError(f"Indicator {name} must be a non-empty string.")
        if (
            not isinstance(self.weight, Decimal)
            or not self.weight.is_finite()
            or self.weight <= 0
        ):
            raise ScoringError(f"Indicator {self.code}: weight must be a Decimal > 0.")
        if self.normalisation not in NORMALISATIONS:
            raise ScoringError(
                f"Indicator {self.code}: unknown normalisation {self.normalisation!r}."
            )
        if self.direction not in DIRECTIONS:
            raise ScoringError(
                f"Indicator {self.code}: unknown direction {self.direction!r}."
            )
        if (
            self.normalisation == "penalty_decay"
            and self.direction != "lower_is_better"
        ):
            raise ScoringError(
                f"Indicator {self.code}: a penalty is lower_is_better by nature."
            )
        params = {**_DEFAULT_PARAMS[self.normalisation], **self.params}
        allowed = _REQUIRED_PARAMS[self.normalisation] | set(
            _DEFAULT_PARAMS[self.normalisation]
        )
        if missing := _REQUIRED_PARAMS[self.normalisation] - params.keys():
            raise ScoringError(
                f"Indicator {self.code}: missing params {sorted(missing)}."
            )
        if unknown := params.keys() - allowed:
            raise ScoringError(
                f"Indicator {self.code}: unknown params {sorted(unknown)}."
            )
        for name, value in params.items():
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ScoringError(
                    f"Indicator {self.code}: param {name} must be a finite Decimal."
                )
        if "lower" in params and params["lower"] >= params["upper"]:
            raise ScoringError(f"Indicator {self.code}: lower must be below upper.")
        if params.get("prior_weight", _ZERO) < 0 or params.get("z", _ONE) <= 0:
            raise ScoringError(
                f"Indicator {self.code}: prior_weight must be >= 0 and z > 0."
            )
        if any(params[s] < 0 for s in SEVERITIES if s in params):
            raise ScoringError(f"Indicator {self.code}: penalty points must be >= 0.")
        object.__setattr__(self, "params", MappingProxyType(params))


@dataclass(frozen=True, slots=True)
class GradeBand:
    """Scores from ``min_score`` (inclusive) up to the next band get ``grade``."""

    grade: str
    min_score: Decimal


DEFAULT_BANDS: Final[tuple[GradeBand, ...]] = (
    GradeBand("AAA", Decimal(90)),
    GradeBand("AA", Decimal(85)),
    GradeBand("A", Decimal(80)),
    GradeBand("BBB", Decimal(70)),
    GradeBand("BB", Decimal(60)),
    GradeBand("B", Decimal(50)),
    GradeBand("CCC", Decimal(40)),
    GradeBand("CC", Decimal(30)),
    GradeBand("C", Decimal(0)),
)


@dataclass(frozen=True, slots=True)
class FlagCondition:
    """Holds when the evidence item ``key`` is ``True`` (for example the entity is
    on a legal dishonesty list, or fraud was established)."""

    key: str


@dataclass(frozen=True, slots=True)
class FindingCondition:
    """Holds when the findings under ``source`` include one that is unrepaired,
    still within its publicity period, of one of ``severities`` and (when
    ``categories`` is not empty) of one of ``categories``."""

    source: str
    severities: frozenset[str]
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class GateCondition:
    """Holds when the evidence item ``tier_key`` is one of ``tiers`` and one of
    the ``gates`` items is not ``True`` (missing counts as not passed): for
    example a high-risk entity without a filing, a third-party test or recall
    readiness."""

    tier_key: str
    tiers: frozenset[str]
    gates: tuple[str, ...]


Condition: TypeAlias = FlagCondition | FindingCondition | GateCondition


@dataclass(frozen=True, slots=True)
class OverrideRule:
    """``force`` sets ``grade``, or the methodology's forced grade when it is
    ``None``, whatever the score and coverage; ``cap`` lowers a letter grade to
    ``grade`` at most. When several forces apply, the lowest grade wins."""

    code: str
    action: OverrideAction
    condition: Condition
    grade: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code:
            raise ScoringError("Override code must be a non-empty string.")
        if self.action == "cap":
            if self.grade not in GRADES:
                raise ScoringError(f"Override {self.code}: cap needs a letter grade.")
        elif self.action == "force":
            if self.grade is not None and self.grade not in GRADES:
                raise ScoringError(f"Override {self.code}: unknown grade.")
        else:
            raise ScoringError(f"Override {self.code}: unknown action {self.action!r}.")
        condition = self.condition
        if isinstance(condition, FindingCondition):
            if not condition.severities or not condition.severities <= set(SEVERITIES):
                raise ScoringError(f"Override {self.code}: unknown severities.")
        elif isinstance(condition, GateCondition):
            if not condition.tiers or not condition.gates:
                raise ScoringError(f"Override {self.code}: tiers and gates needed.")
        elif not isinstance(condition, FlagCondition):
            raise ScoringError(f"Override {self.code}: unknown condition.")


@dataclass(frozen=True, slots=True)
class Methodology:
    """What ``score`` needs of a published methodology."""

    indicators: tuple[Indicator, ...]
    bands: tuple[GradeBand, ...] = DEFAULT_BANDS
    overrides: tuple[OverrideRule, ...] = ()
    coverage_threshold: Decimal = COVERAGE_THRESHOLD
    provisional_grade: str = PROVISIONAL_GRADE
    forced_grade: str = FORCED_GRADE
    total_weight: Decimal = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "indicators", tuple(self.indicators))
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if not self.indicators:
            raise ScoringError("A methodology needs at least one indicator.")
        _unique("indicator", [i.code for i in self.indicators])
        _unique("override", [o.code for o in self.overrides])
        _check_bands(self.bands)
        if not (
            isinstance(self.coverage_threshold, Decimal)
            and _ZERO <= self.coverage_threshold <= _ONE
        ):
            raise ScoringError("coverage_threshold must be a Decimal from 0 to 1.")
        if self.forced_grade not in GRADES:
            raise ScoringError(f"Unknown forced grade {self.forced_grade!r}.")
        if not self.provisional_grade or self.provisional_grade in GRADES:
            raise ScoringError("The provisional grade must not be a letter grade.")
        with localcontext(_CONTEXT):
            total_weight = sum((i.weight for i in self.indicators), _ZERO)
        object.__setattr__(self, "total_weight", total_weight)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Methodology:
        """Read the JSON form written by ``as_dict`` (numbers as strings or
        numbers, absent keys take their defaults)."""
        try:
            indicators = tuple(
                Indicator(
                    code=item["code"],
                    category=item["category"],
                    weight=_number(item["weight"], "weight"),
                    source=item["source"],
                    normalisation=item["normalisation"],
                    direction=item.get("direction", "higher_is_better"),
                    params={
                        name: _number(value, name)
                        for name, value in item.get("params", {}).items()
                    },
                )
                for item in data["indicators"]
            )
            bands = tuple(
                GradeBand(b["grade"], _number(b["min_score"], "min_score"))
                for b in data.get("bands", ())
            )
            overrides = tuple(
                OverrideRule(
                    code=o["code"],
                    action=o["action"],
                    condition=_condition_from_dict(o["condition"]),
                    grade=o.get("grade"),
                )
                for o in data.get("overrides", ())
            )
            return cls(
                indicators=indicators,
                bands=bands or DEFAULT_BANDS,
                overrides=overrides,
                coverage_threshold=_number(
                    data.get("coverage_threshold", COVERAGE_THRESHOLD),
                    "coverage_threshold",
                ),
                provisional_grade=data.get("provisional_grade", PROVISIONAL_GRADE),
                forced_grade=data.get("forced_grade", FORCED_GRADE),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ScoringError(f"Malformed methodology: {exc!r}.") from exc

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form, numbers as strings, that ``from_dict`` reads back."""
        return {
            "indicators": [
                {
                    "code": i.code,
                    "category": i.category,
                    "weight": str(i.weight),
                    "source": i.source,
                    "normalisation": i.normalisation,
                    "direction": i.direction,
                    "params": {k: str(v) for k, v in sorted(i.params.items())},
                }
                for i in self.indicators
            ],
            "bands": [
                {"grade": b.grade, "min_score": str(b.min_score)} for b in self.bands
            ],
            "overrides": [
                {
                    "code": o.code,
                    "action": o.action,
                    "condition": _condition_as_dict(o.condition),
                    **({"grade": o.grade} if o.grade is not None else {}),
                }
                for o in self.overrides
            ],
            "coverage_threshold": str(self.coverage_threshold),
            "provisional_grade": self.provisional_grade,
            "forced_grade": self.forced_grade,
        }


def _unique(what: str, codes: Sequence[str]) -> None:
    if len(set(codes)) != len(codes):
        raise ScoringError(f"Duplicate {what} codes.")


def _check_bands(bands: tuple[GradeBand, ...]) -> None:
    if not bands:
        raise ScoringError("A methodology needs grade bands.")
    for band in bands:
        if band.grade not in GRADES:
            raise ScoringError(f"Unknown grade {band.grade!r}.")
        if not isinstance(band.min_score, Decimal) or not band.min_score.is_finite():
            raise ScoringError(f"Band {band.grade}: min_score must be a Decimal.")
    _unique("band", [b.grade for b in bands])
    for upper, lower in pairwise(bands):
        if not (
            upper.min_score > lower.min_score
            and grade_rank(upper.grade) > grade_rank(lower.grade)
        ):
            raise ScoringError("Bands must go from the best grade down, scores too.")
    if bands[-1].min_score != 0 or bands[0].min_score > _HUNDRED:
        raise ScoringError("Bands must cover scores from 0 to 100.")


def _condition_from_dict(data: Mapping[str, Any]) -> Condition:
    kind = data["kind"]
    if kind == "flag":
        return FlagCondition(key=data["key"])
    if kind == "finding":
        return FindingCondition(
            source=data["source"],
            severities=frozenset(data["severities"]),
            categories=frozenset(data.get("categories", ())),
        )
    if kind == "gate":
        return GateCondition(
            tier_key=data["tier_key"],
            tiers=frozenset(data["tiers"]),
            gates=tuple(data["gates"]),
        )
    raise ScoringError(f"Unknown condition kind {kind!r}.")


def _condition_as_dict(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, FlagCondition):
        return {"kind": "flag", "key": condition.key}
    if isinstance(condition, FindingCondition):
        return {
            "kind": "finding",
            "source": condition.source,
            "severities": sorted(condition.severities),
            "categories": sorted(condition.categories),
        }
    return {
        "kind": "gate",
        "tier_key": condition.tier_key,
        "tiers": sorted(condition.tiers),
        "gates": list(condition.gates),
    }


# --------------------------------------------------------------------------
# Result


@dataclass(frozen=True, slots=True)
class Contribution:
    """``normalised`` is ``None`` (and ``contribution`` 0) when there was no
    data for the indicator."""

    code: str
    category: str
    weight: Decimal
    normalised: Decimal | None
    contribution: Decimal


@dataclass(frozen=True, slots=True)
class AdverseFactor:
    """``impact`` is the points of score the indicator fell short by:
    ``weight × (100 − normalised) / Σ weight (with data)``, to two places."""

    code: str
    category: str
    normalised: Decimal
    impact: Decimal


@dataclass(frozen=True, slots=True)
class AppliedOverride:
    code: str
    action: OverrideAction
    grade: str


@dataclass(frozen=True, slots=True)
class Result:
    """``band_grade`` is the grade the score alone earns; ``grade`` is what the
    rating gets after coverage and overrides (a letter or the provisional code);
    ``grade_class`` is its public class (A to D), ``None`` when provisional."""

    score: Decimal
    grade: str
    grade_class: str | None
    band_grade: str
    provisional: bool
    coverage: Decimal
    contributions: tuple[Contribution, ...]
    overrides: tuple[AppliedOverride, ...]
    adverse_factors: tuple[AdverseFactor, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form with decimals as strings at fixed places, so that
        equal results serialise to identical bytes."""
        return {
            "score": str(self.score),
            "grade": self.grade,
            "grade_class": self.grade_class,
            "band_grade": self.band_grade,
            "provisional": self.provisional,
            "coverage": str(self.coverage),
            "contributions": [
                {
                    "code": c.code,
                    "category": c.category,
                    "weight": str(c.weight),
                    "normalised": None if c.normalised is None else str(c.normalised),
                    "contribution": str(c.contribution),
                }
                for c in self.contributions
            ],
            "overrides": [
                {"code": o.code, "action": o.action, "grade": o.grade}
                for o in self.overrides
            ],
            "adverse_factors": [
                {
                    "code": a.code,
                    "category": a.category,
                    "normalised": str(a.normalised),
                    "impact": str(a.impact),
                }
                for a in self.adverse_factors
            ],
        }


# --------------------------------------------------------------------------
# Scoring


def score(
    *, methodology: Methodology, evidence: Mapping[str, Any], as_of: datetime
) -> Result:
    """Score one entity's evidence under a methodology as of ``as_of`` (aware;
    findings are aged against it, never against the clock). Evidence that does
    not fit an indicator raises ``ScoringError`` naming the indicator."""
    _check_aware(as_of, "as_of")
    with localcontext(_CONTEXT):
        return _score(methodology, evidence, as_of)


def _score(
    methodology: Methodology, evidence: Mapping[str, Any], as_of: datetime
) -> Result:
    indicators = methodology.indicators
    findings: dict[str, tuple[_Finding, ...]] = {}
    normalised: list[Decimal | None] = []
    covered_weight = _ZERO
    for indicator in indicators:
        value = evidence.get(indicator.source)
        result = None
        if value is not None:
            try:
                result = _normalise(indicator, value, evidence, as_of, findings)
            except (
                KeyError,
                TypeError,
                AttributeError,
                ValueError,
                ArithmeticError,
            ) as exc:
                reason = str(exc) if isinstance(exc, ScoringError) else repr(exc)
                raise ScoringError(
                    f"Indicator {indicator.code}: malformed evidence: {reason}"
                ) from exc
            if result is not None:
                covered_weight += indicator.weight
        normalised.append(result)

    # Exact shares; each rounded down to cents, then the spare cents of the
    # correctly rounded total go to the largest remainders (ties by code).
    zero_cents = _ZERO.quantize(_CENT)
    cents = [zero_cents] * len(indicators)
    shares: list[tuple[Decimal, str, int]] = []  # (−remainder, code, index)
    exact_total = _ZERO
    for index, (indicator, value) in enumerate(
        zip(indicators, normalised, strict=True)
    ):
        if value is not None:
            share = indicator.weight * value / covered_weight
            exact_total += share
            cents[index] = floor = share.quantize(_CENT, rounding=ROUND_DOWN)
            shares.append((floor - share, indicator.code, index))
    target = exact_total.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    spare = int((target - sum(cents, zero_cents)) / _CENT)
    if spare:
        for _remainder, _code, index in sorted(shares)[:spare]:
            cents[index] += _CENT
    total = sum(cents, zero_cents)

    band_grade = next(b.grade for b in methodology.bands if total >= b.min_score)
    total_weight = methodology.total_weight
    provisional = covered_weight < methodology.coverage_threshold * total_weight

    applied: list[AppliedOverride] = []
    grade = methodology.provisional_grade if provisional else band_grade
    forced: str | None = None
    for rule in methodology.overrides:
        if not _holds(rule.condition, evidence, as_of, findings):
            continue
        if rule.action == "force":
            to = rule.grade or methodology.forced_grade
            applied.append(AppliedOverride(rule.code, "force", to))
            if forced is None or grade_rank(to) < grade_rank(forced):
                forced = to
        elif not provisional and rule.grade is not None:
            applied.append(AppliedOverride(rule.code, "cap", rule.grade))
            if grade_rank(grade) > grade_rank(rule.grade):
                grade = rule.grade
    if forced is not None:
        grade = forced
        provisional = False

    losses = sorted(
        (indicator.weight * (value - _HUNDRED), indicator.code, indicator, value)
        for indicator, value in zip(indicators, normalised, strict=True)
        if value is not None and value < _HUNDRED
    )[:ADVERSE_FACTOR_COUNT]

    return Result(
        score=total,
        grade=grade,
        grade_class=None if provisional else GRADE_CLASSES[grade],
        band_grade=band_grade,
        provisional=provisional,
        coverage=(covered_weight / total_weight).quantize(
            _COVERAGE_PLACES, rounding=ROUND_DOWN
        ),
        contributions=tuple(
            Contribution(i.code, i.category, i.weight, value, contribution)
            for i, value, contribution in zip(
                indicators, normalised, cents, strict=True
            )
        ),
        overrides=tuple(applied),
        adverse_factors=tuple(
            AdverseFactor(
                indicator.code,
                indicator.category,
                value,
                (-loss / covered_weight).quantize(_CENT, rounding=ROUND_HALF_EVEN),
            )
            for loss, _code, indicator, value in losses
        ),
    )


def _normalise(
    indicator: Indicator,
    value: Any,
    evidence: Mapping[str, Any],
    as_of: datetime,
    findings: dict[str, tuple[_Finding, ...]],
) -> Decimal | None:
    params = indicator.params
    kind = indicator.normalisation
    lower_is_better = indicator.direction == "lower_is_better"
    if kind == "linear":
        result = _linear(_number(value, "value"), params)
    elif kind == "rate_shrunk":
        count = _number(value["count"], "count")
        if count == 0:
            return None
        population_mean = value.get("population_mean")
        shrunk = _bayesian_average(
            mean=_number(value["mean"], "mean"),
            count=count,
            prior_mean=(
                params["prior_mean"]
                if population_mean is None
                else _number(population_mean, "population_mean")
            ),
            prior_weight=params["prior_weight"],
        )
        result = _linear(shrunk, params)
    elif kind == "wilson_lower":
        successes = _integer(value["successes"], "successes")
        trials = _integer(value["trials"], "trials")
        if trials == 0:
            return None
        if lower_is_better:  # the lower bound of the good share, (n − k) / n
            successes = trials - successes
        bound = _wilson_lower_bound(successes, trials, params["z"])
        return (_HUNDRED * bound).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    elif kind == "penalty_decay":
        penalty = _ZERO
        for finding in _findings(indicator.source, evidence, findings):
            if not finding.repaired:
                factor = _decay_factor(finding.severity, as_of - finding.occurred_at)
                penalty += params[finding.severity] * factor
        return max(_ZERO, _HUNDRED - penalty).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    else:
        if not isinstance(value, bool):
            raise ScoringError(f"expected true or false, got {value!r}")
        result = _HUNDRED if value else _ZERO
    if lower_is_better:
        result = _HUNDRED - result
    return result.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _linear(value: Decimal, params: Mapping[str, Decimal]) -> Decimal:
    lower, upper = params["lower"], params["upper"]
    scaled = (value - lower) * _HUNDRED / (upper - lower)
    return min(_HUNDRED, max(_ZERO, scaled))


class _Finding(NamedTuple):
    severity: str
    occurred_at: datetime
    repaired: bool
    category: str


def _findings(
    source: str,
    evidence: Mapping[str, Any],
    cache: dict[str, tuple[_Finding, ...]],
) -> tuple[_Finding, ...]:
    if source in cache:
        return cache[source]
    items = evidence.get(source) or ()
    if isinstance(items, (str, Mapping)) or not isinstance(items, Sequence):
        raise ScoringError("findings must be a list.")
    parsed = []
    for item in items:
        severity = item["severity"]
        if severity not in SEVERITIES:
            raise ScoringError(f"unknown severity {severity!r}.")
        repaired = item.get("repaired", False)
        if not isinstance(repaired, bool):
            raise ScoringError("repaired must be true or false.")
        parsed.append(
            _Finding(
                severity=severity,
                occurred_at=_instant(item["occurred_at"], "occurred_at"),
                repaired=repaired,
                category=str(item.get("category", "")),
            )
        )
    cache[source] = result = tuple(parsed)
    return result


def _holds(
    condition: Condition,
    evidence: Mapping[str, Any],
    as_of: datetime,
    findings: dict[str, tuple[_Finding, ...]],
) -> bool:
    if isinstance(condition, FlagCondition):
        return evidence.get(condition.key) is True
    if isinstance(condition, GateCondition):
        return evidence.get(condition.tier_key) in condition.tiers and any(
            evidence.get(gate) is not True for gate in condition.gates
        )
    try:
        items = _findings(condition.source, evidence, findings)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, ScoringError) else repr(exc)
        raise ScoringError(
            f"Findings {condition.source}: malformed evidence: {reason}"
        ) from exc
    for finding in items:
        if (
            not finding.repaired
            and finding.severity in condition.severities
            and (not condition.categories or finding.category in condition.categories)
            and timedelta(0)
            <= as_of - finding.occurred_at
            < PUBLICITY_PERIODS[finding.severity]
        ):
            return True
    return False


# --------------------------------------------------------------------------
# The formulas, public for the methodology's documentation and for tests


def decay_factor(*, severity: str, age: timedelta) -> Decimal:
    """How much of a finding's penalty still counts ``age`` after it occurred:
    minor findings count fully (1) until 90 days, then 0; general ones fade
    linearly from 1 to 0 over 365 days, serious ones over 3 × 365 days. A
    finding from the future (negative age) does not count yet."""
    if severity not in SEVERITIES:
        raise ScoringError(f"Unknown severity {severity!r}.")
    with localcontext(_CONTEXT):
        return _decay_factor(severity, age)


def _decay_factor(severity: str, age: timedelta) -> Decimal:
    period = PUBLICITY_PERIODS[severity]
    if age < timedelta(0) or age >= period:
        return _ZERO
    if severity == "minor":
        return _ONE
    return _ONE - Decimal(age // _MICROSECOND) / Decimal(period // _MICROSECOND)


def bayesian_average(
    *, mean: Decimal, count: Decimal, prior_mean: Decimal, prior_weight: Decimal
) -> Decimal:
    """``v/(v+m)·R + m/(v+m)·C`` with R = ``mean``, v = ``count``,
    C = ``prior_mean`` and m = ``prior_weight``; v = 0 gives C exactly."""
    with localcontext(_CONTEXT):
        return _bayesian_average(
            mean=mean, count=count, prior_mean=prior_mean, prior_weight=prior_weight
        )


def _bayesian_average(
    *, mean: Decimal, count: Decimal, prior_mean: Decimal, prior_weight: Decimal
) -> Decimal:
    if count < 0 or prior_weight < 0 or count + prior_weight == 0:
        raise ScoringError("count and prior_weight must be >= 0, not both 0.")
    return prior_mean + (mean - prior_mean) * count / (count + prior_weight)


def wilson_lower_bound(
    *, successes: int, trials: int, z: Decimal = Decimal("1.96")
) -> Decimal:
    """The lower bound of the Wilson score interval of ``successes / trials``
    (z = 1.96 for 95%), from 0 to 1."""
    with localcontext(_CONTEXT):
        return _wilson_lower_bound(successes, trials, z)


def _wilson_lower_bound(successes: int, trials: int, z: Decimal) -> Decimal:
    if not 0 <= successes <= trials or trials == 0:
        raise ScoringError("need 0 <= successes <= trials and trials > 0.")
    n = Decimal(trials)
    p = Decimal(successes) / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * (p * (_ONE - p) / n + z2 / (4 * n * n)).sqrt()
    return min(_ONE, max(_ZERO, (centre - margin) / (_ONE + z2 / n)))


def notch(*, grade: str, by: Literal[-1, 0, 1], bands: Sequence[GradeBand]) -> str:
    """The grade one band better (``by=1``) or worse (``by=-1``) on the
    methodology's scale, for an analyst's adjustment. More than one notch, a
    grade not on the scale (such as the provisional code) or a move past either
    end is refused with ``ScoringError``."""
    if by not in (-1, 0, 1) or isinstance(by, bool):
        raise ScoringError("An analyst may move a grade by one notch at most.")
    scale = [band.grade for band in bands]  # best first
    if grade not in scale:
        raise ScoringError(f"Grade {grade!r} is not on the methodology's scale.")
    index = scale.index(grade) - by
    if not 0 <= index < len(scale):
        raise ScoringError(f"Grade {grade} cannot move {by:+d} notch.")
    return scale[index]


# --------------------------------------------------------------------------
# Evidence snapshot and hash


def evidence_snapshot(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """A canonical, JSON-ready copy of the evidence, to keep with a rating.

    - Mappings must have string keys; lists and tuples become lists.
    - ``None``, booleans, strings and ints stay as they are.
    - Other numbers (``float``, ``Decimal``) are read as decimals (a float by its
      shortest repr, so ``0.1`` is 0.1). An integral value becomes an int
      (``5.0`` → 5); any other becomes its plain decimal text without exponent
      or trailing zeros (``Decimal("0.50")`` → ``"0.5"``), which JSON keeps
      exactly where a float would not. NaN and infinities are refused.
    - Aware datetimes become ISO 8601 text in UTC (``2025-01-31T16:00:00+00:00``,
      microseconds only when not zero); dates ``YYYY-MM-DD``; naive datetimes
      are refused.

    Scoring the snapshot (even after a JSON round trip) gives the same result as
    scoring the evidence, and ``evidence_hash`` is the same for both.
    """
    snapshot = _canonical(evidence)
    if not isinstance(snapshot, dict):
        raise ScoringError("Evidence must be a mapping.")
    return snapshot


def canonical_json(evidence: Mapping[str, Any]) -> str:
    """The snapshot as JSON text: keys sorted, no spaces, UTF-8 characters kept.
    For these values (strings, booleans, null and integers within ±2⁵³) it is
    also the RFC 8785 canonical form."""
    return json.dumps(
        evidence_snapshot(evidence),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def evidence_hash(evidence: Mapping[str, Any]) -> str:
    """SHA-256, in hex, of the UTF-8 bytes of ``canonical_json(evidence)``."""
    return hashlib.sha256(canonical_json(evidence).encode("utf-8")).hexdigest()


def _canonical(value: object) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, also for enum members
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (float, Decimal)):
        number = _number(value, "number")
        if number == number.to_integral_value():
            return int(number)
        text = format(number, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(value, datetime):
        _check_aware(value, "datetime")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ScoringError(f"Evidence keys must be strings, not {key!r}.")
            result[key] = _canonical(item)
        return result
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    raise ScoringError(f"Evidence cannot hold {type(value).__name__} values.")


# --------------------------------------------------------------------------
# Reading values


def _number(value: object, what: str) -> Decimal:
    if isinstance(value, bool):
        raise ScoringError(f"{what} must be a number, not {value!r}.")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            number = Decimal(value)
        except ArithmeticError as exc:
            raise ScoringError(f"{what} must be a number, not {value!r}.") from exc
    else:
        raise ScoringError(f"{what} must be a number, not {value!r}.")
    if not number.is_finite():
        raise ScoringError(f"{what} must be finite, not {value!r}.")
    return number


def _integer(value: object, what: str) -> int:
    number = _number(value, what)
    if number != number.to_integral_value():
        raise ScoringError(f"{what} must be a whole number, not {value!r}.")
    return int(number)


def _instant(value: object, what: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ScoringError(f"{what} is not an ISO 8601 datetime.") from exc
    if not isinstance(value, datetime):
        raise ScoringError(f"{what} must be a datetime, not {value!r}.")
    _check_aware(value, what)
    return value


def _check_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScoringError(f"{what} must be timezone-aware.")
