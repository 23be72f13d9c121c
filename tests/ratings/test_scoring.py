"""The scoring engine: known answers for each normalisation, decay at the edges of
the publicity periods, coverage, bands, overrides, the explanation, and
reproducibility of scores and evidence hashes."""

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ratings.scoring import (
    DEFAULT_BANDS,
    AppliedOverride,
    Direction,
    FindingCondition,
    FlagCondition,
    GateCondition,
    GradeBand,
    Indicator,
    Methodology,
    OverrideRule,
    Result,
    ScoringError,
    bayesian_average,
    canonical_json,
    decay_factor,
    evidence_hash,
    evidence_snapshot,
    notch,
    score,
    wilson_lower_bound,
)

D = Decimal
AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
PENALTIES = {"minor": D(10), "general": D(30), "serious": D(60)}


def linear(code: str, weight: int | str = 10, **kwargs: Any) -> Indicator:
    """An indicator that reads a number from 0 to 100 as it is."""
    return Indicator(
        code=code,
        category=kwargs.pop("category", "quality"),
        weight=D(weight),
        source=kwargs.pop("source", code),
        normalisation="linear",
        params={"lower": D(0), "upper": D(100)},
        **kwargs,
    )


def misconduct(weight: int = 30) -> Indicator:
    return Indicator(
        code="misconduct",
        category="conduct",
        weight=D(weight),
        source="findings",
        normalisation="penalty_decay",
        direction="lower_is_better",
        params=PENALTIES,
    )


def finding(
    severity: str, days_ago: float, *, category: str = "", repaired: bool = False
) -> dict[str, Any]:
    return {
        "severity": severity,
        "occurred_at": AS_OF - timedelta(days=days_ago),
        "category": category,
        "repaired": repaired,
    }


def one(indicator: Indicator, value: Any) -> Decimal | None:
    """The normalised value of one indicator for one evidence item."""
    methodology = Methodology(indicators=(indicator,))
    result = score(
        methodology=methodology, evidence={indicator.source: value}, as_of=AS_OF
    )
    return result.contributions[0].normalised


# --------------------------------------------------------------------------
# Normalisations


@pytest.mark.parametrize(
    ("value", "direction", "expected"),
    [
        (D("2.5"), "lower_is_better", D("87.50")),  # 100 − 2.5/20·100
        (D("2.5"), "higher_is_better", D("12.50")),
        (25, "lower_is_better", D("0.00")),  # above the upper bound: clamped
        (-3, "higher_is_better", D("0.00")),  # below the lower bound: clamped
        (2.5, "lower_is_better", D("87.50")),  # a float is read as 2.5
        ("2.5", "lower_is_better", D("87.50")),  # so is its text in a snapshot
        (D(1) / D(3), "higher_is_better", D("1.67")),  # rounded half-even
    ],
)
def test_linear_maps_bounds_to_0_and_100(
    value: Any, direction: Direction, expected: Decimal
) -> None:
    # given complaints per 1,000 orders, 0 best and 20 worst
    indicator = Indicator(
        code="complaints",
        category="consumer",
        weight=D(6),
        source="complaints",
        normalisation="linear",
        direction=direction,
        params={"lower": D(0), "upper": D(20)},
    )
    # when / then
    assert one(indicator, value) == expected


def test_rate_shrunk_is_the_bayesian_average_mapped_linearly() -> None:
    # given star ratings from 1 to 5, a prior of 3.5 and m = 50
    indicator = Indicator(
        code="stars",
        category="consumer",
        weight=D(8),
        source="reviews",
        normalisation="rate_shrunk",
        params={"lower": D(1), "upper": D(5), "prior_mean": D("3.5")},
    )
    # when 50 reviews average 4.5: WR = 50/100·4.5 + 50/100·3.5 = 4.0
    # then (4.0 − 1) / (5 − 1) = 75%
    assert one(indicator, {"mean": D("4.5"), "count": 50}) == D("75.00")
    # and the cycle's population mean, when given, is the prior instead:
    # WR = 50/100·4.5 + 50/100·2.5 = 3.5 → 62.5%
    evidence = {"mean": "4.5", "count": 50, "population_mean": "2.5"}
    assert one(indicator, evidence) == D("62.50")
    # and a handful of reviews barely moves the prior: 2 five-star reviews give
    # WR = (2·5 + 50·3.5) / 52 = 3.5577 → 63.94%
    assert one(indicator, {"mean": 5, "count": 2}) == D("63.94")
    # and no reviews at all is no data
    assert one(indicator, {"mean": 0, "count": 0}) is None


def test_bayesian_average_with_no_observations_is_the_prior() -> None:
    # when / then
    prior = D("3.87")
    assert (
        bayesian_average(mean=D(5), count=D(0), prior_mean=prior, prior_weight=D(50))
        == prior
    )
    assert (
        bayesian_average(mean=D(5), count=D(10), prior_mean=prior, prior_weight=D(0))
        == 5
    )
    with pytest.raises(ScoringError):
        bayesian_average(mean=D(5), count=D(0), prior_mean=prior, prior_weight=D(0))


def test_wilson_lower_bound_known_values() -> None:
    # 5/10 at 95%: the Wilson interval is 0.2366 to 0.7634
    assert wilson_lower_bound(successes=5, trials=10).quantize(D("0.0001")) == D(
        "0.2366"
    )
    # 8/10: 0.4902 to 0.9433
    assert wilson_lower_bound(successes=8, trials=10).quantize(D("0.0001")) == D(
        "0.4902"
    )
    # all successes: n / (n + z²) = 10 / 13.8416
    assert wilson_lower_bound(successes=10, trials=10).quantize(D("0.000001")) == (
        D(10) / D("13.8416")
    ).quantize(D("0.000001"))
    assert wilson_lower_bound(successes=0, trials=10) == 0
    with pytest.raises(ScoringError):
        wilson_lower_bound(successes=3, trials=2)
    with pytest.raises(ScoringError):
        wilson_lower_bound(successes=0, trials=0)


def test_wilson_lower_normalisation_is_conservative_both_ways() -> None:
    # given the share of complaints resolved (good) and of reviews flagged as
    # manipulated (bad)
    resolved = Indicator(
        code="resolved",
        category="consumer",
        weight=D(6),
        source="resolved",
        normalisation="wilson_lower",
    )
    manipulated = Indicator(
        code="manipulated",
        category="transparency",
        weight=D(3),
        source="manipulated",
        normalisation="wilson_lower",
        direction="lower_is_better",
    )
    # when / then: 8 of 10 resolved → 100 × 0.4902
    assert one(resolved, {"successes": 8, "trials": 10}) == D("49.02")
    # and 2 bad of 10 reads as 8 good of 10, not as 100 − 100 × lower(2/10)
    assert one(manipulated, {"successes": 2, "trials": 10}) == D("49.02")
    # and no trials is no data
    assert one(resolved, {"successes": 0, "trials": 0}) is None


def test_penalty_decay_adds_decayed_points_of_unrepaired_findings() -> None:
    # given a general finding half a year old (30 × 0.5), a recent minor one
    # (10 × 1) and a serious one that was repaired (no longer counts)
    findings = [
        finding("general", 182.5),
        finding("minor", 10),
        finding("serious", 1, repaired=True),
    ]
    # when / then: 100 − 15 − 10
    assert one(misconduct(), findings) == D("75.00")
    # and a clean record is data, worth 100
    assert one(misconduct(), []) == D("100.00")
    # and penalties floor at 0
    assert one(misconduct(), [finding("serious", 0)] * 3) == D("0.00")


def test_penalty_decay_reads_findings_with_text_datetimes() -> None:
    # given the same finding as a datetime in Beijing time and as UTC text
    occurred = datetime(2025, 1, 1, 8, 0, tzinfo=BEIJING)
    as_datetime = [{"severity": "general", "occurred_at": occurred}]
    as_text = [{"severity": "general", "occurred_at": "2025-01-01T00:00:00+00:00"}]
    # when / then
    assert one(misconduct(), as_datetime) == one(misconduct(), as_text)


def test_boolean_normalisation() -> None:
    verified = Indicator(
        code="verified",
        category="governance",
        weight=D(4),
        source="verified",
        normalisation="boolean",
    )
    listed = Indicator(
        code="warned",
        category="governance",
        weight=D(4),
        source="warned",
        normalisation="boolean",
        direction="lower_is_better",
    )
    assert one(verified, True) == D(100)
    assert one(verified, False) == D(0)
    assert one(listed, True) == D(0)
    assert one(listed, False) == D(100)
    with pytest.raises(ScoringError, match="verified"):
        one(verified, 1)


# --------------------------------------------------------------------------
# Decay over the publicity periods


@pytest.mark.parametrize(
    ("severity", "age", "expected"),
    [
        ("minor", timedelta(0), D(1)),
        ("minor", timedelta(days=89), D(1)),
        ("minor", timedelta(days=90) - timedelta(microseconds=1), D(1)),
        ("minor", timedelta(days=90), D(0)),
        ("minor", timedelta(days=91), D(0)),
        ("general", timedelta(0), D(1)),
        ("general", timedelta(days=182, hours=12), D("0.5")),
        ("general", timedelta(days=73), D("0.8")),
        ("general", timedelta(days=365), D(0)),
        ("general", timedelta(days=400), D(0)),
        ("serious", timedelta(0), D(1)),
        ("serious", timedelta(days=365), D(2) / D(3)),
        ("serious", timedelta(days=547, hours=12), D("0.5")),
        ("serious", timedelta(days=3 * 365), D(0)),
        ("serious", timedelta(days=-1), D(0)),  # after as_of: not yet
    ],
)
def test_decay_factor(severity: str, age: timedelta, expected: Decimal) -> None:
    assert decay_factor(severity=severity, age=age) == expected


def test_decay_factor_refuses_unknown_severity() -> None:
    with pytest.raises(ScoringError):
        decay_factor(severity="grave", age=timedelta(0))


# --------------------------------------------------------------------------
# Coverage, bands and the sum of contributions


def test_coverage_below_threshold_gives_provisional_grade() -> None:
    # given data for 50 of 100 points of weight
    methodology = Methodology(
        indicators=(linear("a", 30), linear("b", 20), linear("c", 50))
    )
    # when
    result = score(methodology=methodology, evidence={"a": 95, "b": 95}, as_of=AS_OF)
    # then
    assert result.coverage == D("0.5000")
    assert result.provisional
    assert result.grade == "NR-P"
    assert result.grade_class is None
    assert result.band_grade == "AAA"
    assert result.score == D("95.00")


def test_coverage_at_threshold_gives_letter_grade() -> None:
    # given data for exactly 60% of the weight
    methodology = Methodology(indicators=(linear("a", 60), linear("b", 40)))
    # when
    result = score(methodology=methodology, evidence={"a": 95}, as_of=AS_OF)
    # then
    assert result.coverage == D("0.6000")
    assert not result.provisional
    assert (result.grade, result.grade_class) == ("AAA", "A")
    assert result.contributions[1].normalised is None
    assert result.contributions[1].contribution == D("0.00")


def test_coverage_is_rounded_down_so_provisional_never_shows_60_percent() -> None:
    methodology = Methodology(indicators=(linear("a", "59.999"), linear("b", "40.001")))
    result = score(methodology=methodology, evidence={"a": 95}, as_of=AS_OF)
    assert result.provisional
    assert result.coverage == D("0.5999")


def test_no_data_at_all_is_provisional_with_score_zero() -> None:
    methodology = Methodology(indicators=(linear("a"), linear("b")))
    result = score(methodology=methodology, evidence={}, as_of=AS_OF)
    assert (result.score, result.grade, result.coverage) == (D("0.00"), "NR-P", D(0))
    assert result.adverse_factors == ()


def _band_edges() -> list[tuple[str, str]]:
    edges = []
    for band in DEFAULT_BANDS:
        edges.append((str(band.min_score), band.grade))
        if band.min_score > 0:
            below = DEFAULT_BANDS[DEFAULT_BANDS.index(band) + 1].grade
            edges.append((str(band.min_score - D("0.01")), below))
    edges.append(("100", "AAA"))
    return edges


@pytest.mark.parametrize(("value", "grade"), _band_edges())
def test_grades_follow_the_bands_at_their_edges(value: str, grade: str) -> None:
    # given one indicator whose normalised value is the score
    methodology = Methodology(indicators=(linear("a"),))
    # when
    result = score(methodology=methodology, evidence={"a": D(value)}, as_of=AS_OF)
    # then
    assert result.score == D(value)
    assert result.grade == result.band_grade == grade


def test_contributions_round_to_the_correctly_rounded_score() -> None:
    # given three equal weights at 85: each share is 28.333…, and three shares
    # rounded alone would add up to 84.99, one cent below AA
    methodology = Methodology(indicators=(linear("b"), linear("a"), linear("c")))
    # when
    result = score(
        methodology=methodology, evidence={"a": 85, "b": 85, "c": 85}, as_of=AS_OF
    )
    # then the spare cent goes to the first code on a tie of remainders
    assert [c.contribution for c in result.contributions] == [
        D("28.33"),
        D("28.34"),
        D("28.33"),
    ]
    assert result.score == D("85.00")
    assert result.grade == "AA"


def test_contributions_are_shares_of_the_weight_with_data() -> None:
    # given weights 30 / 20 / 50 with no data for the last
    methodology = Methodology(
        indicators=(linear("a", 30), linear("b", 20), linear("c", 50))
    )
    # when
    result = score(
        methodology=methodology, evidence={"a": 80, "b": 50, "c": None}, as_of=AS_OF
    )
    # then 30·80/50 = 48 and 20·50/50 = 20
    assert [c.contribution for c in result.contributions] == [D(48), D(20), D(0)]
    assert result.score == D("68.00")
    assert result.coverage == D("0.5000")


# --------------------------------------------------------------------------
# Overrides


OVERRIDES = (
    OverrideRule(
        code="dishonesty_list",
        action="force",
        condition=FlagCondition(key="on_dishonesty_list"),
    ),
    OverrideRule(
        code="serious_fraud",
        action="force",
        condition=FindingCondition(
            source="findings",
            severities=frozenset({"serious"}),
            categories=frozenset({"fraud", "concealing_defects"}),
        ),
    ),
    OverrideRule(
        code="high_risk_gates",
        action="cap",
        grade="BBB",
        condition=GateCondition(
            tier_key="risk_tier",
            tiers=frozenset({"high"}),
            gates=("filing", "third_party_test", "recall_ready"),
        ),
    ),
)
GATES_PASSED = {"filing": True, "third_party_test": True, "recall_ready": True}


def with_overrides(*indicators: Indicator) -> Methodology:
    return Methodology(
        indicators=indicators or (linear("quality", 70), misconduct()),
        overrides=OVERRIDES,
    )


def test_flag_forces_lowest_grade_whatever_the_score() -> None:
    # given a perfect score on the legal dishonesty list
    evidence = {"quality": 100, "findings": [], "on_dishonesty_list": True}
    # when
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    # then
    assert result.score == D(100)
    assert result.band_grade == "AAA"
    assert (result.grade, result.grade_class) == ("D", "D")
    assert result.overrides == (AppliedOverride("dishonesty_list", "force", "D"),)


def test_flag_must_be_true_not_just_present() -> None:
    evidence = {"quality": 100, "findings": [], "on_dishonesty_list": False}
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    assert result.grade == "AAA"
    assert result.overrides == ()


@pytest.mark.parametrize(
    ("found", "forced"),
    [
        (finding("serious", 100, category="fraud"), True),
        (finding("serious", 3 * 365 - 1, category="concealing_defects"), True),
        (finding("serious", 3 * 365, category="fraud"), False),  # dropped off
        (finding("serious", 100, category="fraud", repaired=True), False),
        (finding("serious", 100, category="false_advertising"), False),
        (finding("general", 100, category="fraud"), False),
        (finding("serious", -1, category="fraud"), False),  # after as_of
    ],
)
def test_unresolved_severe_finding_forces_lowest_grade(
    found: dict[str, Any], forced: bool
) -> None:
    # given
    evidence = {"quality": 100, "findings": [found]}
    # when
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    # then
    assert (result.grade == "D") is forced
    assert [o.code for o in result.overrides] == (["serious_fraud"] if forced else [])


def test_force_applies_even_without_enough_coverage() -> None:
    # given no data for the 70-point indicator, and a forcing flag
    evidence = {"findings": [], "on_dishonesty_list": True}
    # when
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    # then
    assert result.coverage == D("0.3000")
    assert (result.grade, result.provisional) == ("D", False)


def test_missing_high_risk_gate_caps_grade() -> None:
    # given a high-risk entity without a third-party test
    evidence = {
        "quality": 100,
        "findings": [],
        "risk_tier": "high",
        "filing": True,
        "recall_ready": True,
    }
    # when
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    # then
    assert (result.band_grade, result.grade, result.grade_class) == (
        "AAA",
        "BBB",
        "B",
    )
    assert result.overrides == (AppliedOverride("high_risk_gates", "cap", "BBB"),)


@pytest.mark.parametrize(
    "evidence",
    [
        {"risk_tier": "high", **GATES_PASSED},
        {"risk_tier": "low"},
    ],
)
def test_gates_passed_or_low_risk_are_not_capped(evidence: dict[str, Any]) -> None:
    evidence = {"quality": 100, "findings": [], **evidence}
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    assert result.grade == "AAA"
    assert result.overrides == ()


def test_gate_must_be_true_to_count_as_passed() -> None:
    evidence = {"quality": 100, "risk_tier": "high", **GATES_PASSED, "filing": "yes"}
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    assert result.grade == "BBB"


def test_cap_never_raises_a_grade() -> None:
    # given a score in B and a missing gate capping at BBB
    evidence = {"quality": 50, "findings": [], "risk_tier": "high"}
    # when
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    # then the cap is recorded, the grade stays B
    assert result.score == D(65)  # (70·50 + 30·100) / 100
    assert result.grade == "BB"
    evidence["quality"] = D("28.58")  # (70·28.58 + 3000) / 100 = 50.006
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    assert (result.score, result.grade) == (D("50.01"), "B")
    assert [o.code for o in result.overrides] == ["high_risk_gates"]


def test_cap_does_not_apply_to_provisional_grade() -> None:
    evidence = {"findings": [], "risk_tier": "high"}
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    assert result.grade == "NR-P"
    assert result.overrides == ()


def test_force_and_cap_are_both_recorded_and_force_wins() -> None:
    evidence = {
        "quality": 100,
        "findings": [finding("serious", 1, category="fraud")],
        "risk_tier": "high",
        "on_dishonesty_list": True,
    }
    result = score(methodology=with_overrides(), evidence=evidence, as_of=AS_OF)
    assert result.grade == "D"
    assert [o.code for o in result.overrides] == [
        "dishonesty_list",
        "serious_fraud",
        "high_risk_gates",
    ]


def test_force_with_its_own_grade_and_the_lowest_force_wins() -> None:
    # given two forcing rules, one to C and one to the methodology's D
    methodology = Methodology(
        indicators=(linear("quality"),),
        overrides=(
            OverrideRule(
                code="listed", action="force", condition=FlagCondition(key="listed")
            ),
            OverrideRule(
                code="warned",
                action="force",
                grade="C",
                condition=FlagCondition(key="warned"),
            ),
        ),
    )
    # when only the rule to C holds
    result = score(
        methodology=methodology, evidence={"quality": 99, "warned": True}, as_of=AS_OF
    )
    # then
    assert result.grade == "C"
    assert result.overrides == (AppliedOverride("warned", "force", "C"),)
    # when both hold, D wins, and both are recorded
    result = score(
        methodology=methodology,
        evidence={"quality": 99, "warned": True, "listed": True},
        as_of=AS_OF,
    )
    assert result.grade == "D"
    assert [o.grade for o in result.overrides] == ["D", "C"]


def test_forced_grade_can_be_the_lowest_band() -> None:
    methodology = Methodology(
        indicators=(linear("quality"),), overrides=OVERRIDES[:1], forced_grade="C"
    )
    result = score(
        methodology=methodology,
        evidence={"quality": 99, "on_dishonesty_list": True},
        as_of=AS_OF,
    )
    assert (result.grade, result.grade_class) == ("C", "D")


# --------------------------------------------------------------------------
# Adverse factors


def test_adverse_factors_are_the_four_largest_losses_ties_by_code() -> None:
    # given losses weight × (100 − normalised): c 800, b 500 and a 500 (tie),
    # e 2 × 250 = 500 (tie, bigger weight), f 100; d is perfect; g has no data
    methodology = Methodology(
        indicators=(
            linear("b"),
            linear("c"),
            linear("a"),
            linear("d"),
            linear("e", 20),
            linear("f"),
            linear("g"),
        )
    )
    evidence = {"a": 50, "b": 50, "c": 20, "d": 100, "e": 75, "f": 90}
    # when
    result = score(methodology=methodology, evidence=evidence, as_of=AS_OF)
    # then
    assert [a.code for a in result.adverse_factors] == ["c", "a", "b", "e"]
    # and the impact is the points lost on the score: 800 / 70 = 11.43
    assert [a.impact for a in result.adverse_factors] == [
        D("11.43"),
        D("7.14"),
        D("7.14"),
        D("7.14"),
    ]
    assert result.adverse_factors[0].normalised == D(20)


def test_perfect_indicators_are_no_adverse_factors() -> None:
    methodology = Methodology(indicators=(linear("a"), linear("b"), linear("c")))
    result = score(
        methodology=methodology, evidence={"a": 100, "b": 99, "c": 100}, as_of=AS_OF
    )
    assert [a.code for a in result.adverse_factors] == ["b"]


# --------------------------------------------------------------------------
# Notches


def test_notch_moves_one_band_at_most() -> None:
    assert notch(grade="AA", by=1, bands=DEFAULT_BANDS) == "AAA"
    assert notch(grade="AA", by=-1, bands=DEFAULT_BANDS) == "A"
    assert notch(grade="BBB", by=0, bands=DEFAULT_BANDS) == "BBB"
    assert notch(grade="CC", by=-1, bands=DEFAULT_BANDS) == "C"


@pytest.mark.parametrize(
    ("grade", "by"),
    [
        ("AA", 2),
        ("AA", -2),
        ("AAA", 1),  # nothing above the top
        ("C", -1),  # nothing below the lowest band
        ("NR-P", 1),  # a provisional grade has no letter to move
        ("D", 1),  # a forced grade is not on the band scale
        ("A", True),
    ],
)
def test_notch_refusals(grade: str, by: Any) -> None:
    with pytest.raises(ScoringError):
        notch(grade=grade, by=by, bands=DEFAULT_BANDS)


# --------------------------------------------------------------------------
# Methodology rules


def test_methodology_round_trips_through_its_json_form() -> None:
    # given
    methodology = with_overrides(
        linear("quality", 70),
        misconduct(),
        Indicator(
            code="stars",
            category="consumer",
            weight=D("7.5"),
            source="reviews",
            normalisation="rate_shrunk",
            params={"lower": D(1), "upper": D(5), "prior_mean": D("3.9")},
        ),
    )
    # when
    data = json.loads(json.dumps(methodology.as_dict()))
    # then
    assert Methodology.from_dict(data) == methodology
    assert data["indicators"][2]["params"]["prior_weight"] == "50"
    assert methodology.total_weight == D("107.5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"indicators": ()}, "at least one"),
        ({"indicators": (linear("a"), linear("a"))}, "Duplicate indicator"),
        ({"bands": ()}, "bands"),
        ({"bands": (GradeBand("AAA", D(90)), GradeBand("A", D(95)))}, "best grade"),
        ({"bands": (GradeBand("A", D(90)), GradeBand("AA", D(0)))}, "best grade"),
        ({"bands": (GradeBand("AAA", D(90)), GradeBand("AA", D(10)))}, "from 0"),
        ({"bands": (GradeBand("A+", D(0)),)}, "Unknown grade"),
        ({"coverage_threshold": D("1.5")}, "coverage_threshold"),
        ({"forced_grade": "E"}, "forced grade"),
        ({"provisional_grade": "BB"}, "provisional"),
        ({"overrides": OVERRIDES[:1] * 2}, "Duplicate override"),
    ],
)
def test_methodology_refuses_inconsistent_definitions(
    change: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {"indicators": (linear("a"),), **change}
    with pytest.raises(ScoringError, match=message):
        Methodology(**fields)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"weight": D(0)}, "weight"),
        ({"weight": 10}, "weight"),
        ({"normalisation": "log"}, "normalisation"),
        ({"direction": "up"}, "direction"),
        ({"params": {"lower": D(0)}}, "missing params"),
        ({"params": {"lower": D(0), "upper": D(1), "mid": D(0)}}, "unknown params"),
        ({"params": {"lower": D(5), "upper": D(1)}}, "below upper"),
        ({"params": {"lower": 0, "upper": D(1)}}, "finite Decimal"),
        ({"params": {"lower": D("NaN"), "upper": D(1)}}, "finite Decimal"),
        ({"normalisation": "penalty_decay", "params": PENALTIES}, "lower_is_better"),
        ({"code": ""}, "code"),
    ],
)
def test_indicator_refuses_inconsistent_definitions(
    fields: dict[str, Any], message: str
) -> None:
    base: dict[str, Any] = {
        "code": "a",
        "category": "quality",
        "weight": D(1),
        "source": "a",
        "normalisation": "linear",
        "params": {"lower": D(0), "upper": D(100)},
    }
    with pytest.raises(ScoringError, match=message):
        Indicator(**(base | fields))


def test_override_rules_are_checked() -> None:
    with pytest.raises(ScoringError, match="cap needs"):
        OverrideRule(code="x", action="cap", condition=FlagCondition(key="k"))
    with pytest.raises(ScoringError, match="unknown grade"):
        OverrideRule(
            code="x", action="force", grade="E", condition=FlagCondition(key="k")
        )
    with pytest.raises(ScoringError, match="unknown action"):
        OverrideRule(code="x", action="drop", condition=FlagCondition(key="k"))  # type: ignore[arg-type]  # refused at run time
    with pytest.raises(ScoringError, match="severities"):
        OverrideRule(
            code="x",
            action="force",
            condition=FindingCondition(source="f", severities=frozenset({"grave"})),
        )
    with pytest.raises(ScoringError, match="Malformed"):
        Methodology.from_dict({"indicators": [{"code": "a"}]})


# --------------------------------------------------------------------------
# Bad evidence is refused with the indicator named


@pytest.mark.parametrize(
    ("indicator", "value"),
    [
        (linear("a"), "much"),
        (linear("a"), float("nan")),
        (linear("a"), True),
        (linear("a"), [1]),
        (misconduct(), [{"severity": "grave", "occurred_at": AS_OF}]),
        (misconduct(), [{"severity": "minor", "occurred_at": "2025-01-01T00:00"}]),
        (misconduct(), [{"severity": "minor", "occurred_at": "yesterday"}]),
        (misconduct(), [{"severity": "minor"}]),
        (misconduct(), {"severity": "minor", "occurred_at": AS_OF}),
        (
            Indicator(
                code="w",
                category="q",
                weight=D(1),
                source="w",
                normalisation="wilson_lower",
            ),
            {"successes": 5, "trials": 4},
        ),
        (
            Indicator(
                code="w",
                category="q",
                weight=D(1),
                source="w",
                normalisation="wilson_lower",
            ),
            {"successes": "1.5", "trials": 4},
        ),
    ],
)
def test_malformed_evidence_is_refused(indicator: Indicator, value: Any) -> None:
    with pytest.raises(ScoringError, match=f"Indicator {indicator.code}"):
        one(indicator, value)


def test_as_of_must_be_aware() -> None:
    methodology = Methodology(indicators=(linear("a"),))
    with pytest.raises(ScoringError, match="as_of"):
        score(
            methodology=methodology,
            evidence={"a": 1},
            as_of=datetime(2025, 1, 1),  # noqa: DTZ001  # naive on purpose
        )


# --------------------------------------------------------------------------
# Snapshot and hash


def test_canonical_json_form_of_numbers_and_datetimes() -> None:
    # given
    evidence = {
        "b": D("0.50"),
        "a": 5.0,
        "c": [0.1, D("1E+2"), D("-0.0"), 3, "3", None, False],
        "t": datetime(2025, 1, 1, 8, 0, tzinfo=BEIJING),
        "u": datetime(2025, 1, 1, 0, 0, 0, 250, tzinfo=UTC),
        "z": {"中": "文", "y": (1, 2)},
    }
    # when
    text = canonical_json(evidence)
    # then
    assert text == (
        '{"a":5,"b":"0.5","c":["0.1",100,0,3,"3",null,false],'
        '"t":"2025-01-01T00:00:00+00:00","u":"2025-01-01T00:00:00.000250+00:00",'
        '"z":{"y":[1,2],"中":"文"}}'
    )
    assert evidence_hash(evidence) == hashlib.sha256(text.encode()).hexdigest()


def test_canonical_json_is_rfc8785_for_snapshots() -> None:
    rfc8785 = pytest.importorskip("rfc8785")
    evidence = {"é": 1, "a": [D("2.5"), "x\ny\u0001"], "B": {"c": True, "a": None}}
    assert rfc8785.dumps(evidence_snapshot(evidence)) == canonical_json(
        evidence
    ).encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [
        {"a": datetime(2025, 1, 1)},  # noqa: DTZ001  # naive on purpose
        {"a": float("inf")},
        {"a": D("NaN")},
        {"a": {1: "x"}},
        {"a": {"x", "y"}},
        {"a": b"bytes"},
    ],
)
def test_evidence_that_cannot_be_canonical_is_refused(value: dict[str, Any]) -> None:
    with pytest.raises(ScoringError):
        evidence_hash(value)


def test_hash_ignores_dict_order_and_number_types() -> None:
    first = {"a": 1, "b": {"x": 2.5, "y": [1, 2]}}
    second = {"b": {"y": [1.0, D("2.00")], "x": D("2.5")}, "a": D(1)}
    assert evidence_hash(first) == evidence_hash(second)
    assert evidence_hash(first) != evidence_hash({"a": 1, "b": {"x": 2.5, "y": [2, 1]}})


# --------------------------------------------------------------------------
# Properties over random evidence

STARS = Indicator(
    code="stars",
    category="consumer",
    weight=D(1),
    source="reviews",
    normalisation="rate_shrunk",
    params={"lower": D(1), "upper": D(5), "prior_mean": D("3.8")},
)
RESOLVED = Indicator(
    code="resolved",
    category="consumer",
    weight=D(1),
    source="resolved",
    normalisation="wilson_lower",
)
MANIPULATED = Indicator(
    code="manipulated",
    category="transparency",
    weight=D(1),
    source="manipulated",
    normalisation="wilson_lower",
    direction="lower_is_better",
)
LABEL = Indicator(
    code="label",
    category="transparency",
    weight=D(1),
    source="label",
    normalisation="boolean",
)
COMPLAINTS = Indicator(
    code="complaints",
    category="consumer",
    weight=D(1),
    source="complaints",
    normalisation="linear",
    direction="lower_is_better",
    params={"lower": D(0), "upper": D(20)},
)
PROPERTY_INDICATORS = (
    misconduct(),
    STARS,
    RESOLVED,
    MANIPULATED,
    LABEL,
    COMPLAINTS,
    linear("disclosure"),
)

numbers = st.one_of(
    st.integers(-10, 120),
    st.floats(-10, 120, allow_nan=False).map(lambda f: round(f, 4)),
    st.decimals(-10, 120, places=3, allow_nan=False, allow_infinity=False),
)


@st.composite
def proportions(draw: st.DrawFn) -> dict[str, int]:
    trials = draw(st.integers(0, 500))
    return {"successes": draw(st.integers(0, trials)), "trials": trials}


findings_lists = st.lists(
    st.builds(
        lambda severity, seconds, repaired, category, zone: {
            "severity": severity,
            "occurred_at": (AS_OF - timedelta(seconds=seconds)).astimezone(zone),
            "repaired": repaired,
            "category": category,
        },
        st.sampled_from(["minor", "general", "serious"]),
        st.integers(-86_400, 4 * 365 * 86_400),
        st.booleans(),
        st.sampled_from(["fraud", "false_advertising", ""]),
        st.sampled_from([UTC, BEIJING]),
    ),
    max_size=6,
)

evidences = st.fixed_dictionaries(
    {},
    optional={
        "findings": findings_lists,
        "reviews": st.fixed_dictionaries(
            {"mean": st.decimals(1, 5, places=2), "count": st.integers(0, 2_000)},
            optional={"population_mean": st.decimals(1, 5, places=2)},
        ),
        "resolved": proportions(),
        "manipulated": proportions(),
        "label": st.booleans(),
        "complaints": numbers,
        "disclosure": numbers,
        "risk_tier": st.sampled_from(["high", "low"]),
        "filing": st.booleans(),
        "on_dishonesty_list": st.booleans(),
    },
)
weights = st.lists(
    st.decimals(D("0.1"), D(40), places=1),
    min_size=len(PROPERTY_INDICATORS),
    max_size=len(PROPERTY_INDICATORS),
)


def property_methodology(drawn_weights: list[Decimal]) -> Methodology:
    return Methodology(
        indicators=tuple(
            Indicator(
                code=i.code,
                category=i.category,
                weight=w,
                source=i.source,
                normalisation=i.normalisation,
                direction=i.direction,
                params=i.params,
            )
            for i, w in zip(PROPERTY_INDICATORS, drawn_weights, strict=True)
        ),
        overrides=OVERRIDES,
    )


def reordered(value: Any) -> Any:
    """The same evidence with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def as_bytes(result: Result) -> bytes:
    return json.dumps(result.as_dict(), sort_keys=True).encode()


PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@PROPERTY_SETTINGS
@given(evidence=evidences, drawn_weights=weights)
def test_contributions_add_up_exactly_to_the_score(
    evidence: dict[str, Any], drawn_weights: list[Decimal]
) -> None:
    # given
    methodology = property_methodology(drawn_weights)
    # when
    result = score(methodology=methodology, evidence=evidence, as_of=AS_OF)
    # then the score is the sum of the contributions, in cents
    contributions = [c.contribution for c in result.contributions]
    assert sum(contributions) == result.score
    assert all(c == c.quantize(D("0.01")) for c in [*contributions, result.score])
    assert D(0) <= result.score <= D(100)
    # and it is the weighted mean of the normalised values, correctly rounded,
    # each contribution within a cent of its exact share
    rows = [(c, c.normalised) for c in result.contributions if c.normalised is not None]
    covered = sum(Fraction(c.weight) for c, _ in rows)
    if rows:
        exact = [Fraction(c.weight) * Fraction(n) / covered for c, n in rows]
        mean = sum(exact, Fraction(0))
        assert abs(Fraction(result.score) - mean) <= Fraction(1, 200)
        for (row, _), share in zip(rows, exact, strict=True):
            assert abs(Fraction(row.contribution) - share) < Fraction(1, 100)
    coverage = covered / Fraction(methodology.total_weight)
    assert result.coverage == D(int(coverage * 10_000)) / 10_000
    # and the grade follows the bands unless provisional or overridden
    if not result.overrides and not result.provisional:
        band = next(b for b in DEFAULT_BANDS if result.score >= b.min_score)
        assert result.grade == band.grade
    # and the adverse factors are the largest losses, in order
    losses = [
        (a.normalised - 100) * next(c.weight for c, _ in rows if c.code == a.code)
        for a in result.adverse_factors
    ]
    assert losses == sorted(losses)
    assert len(result.adverse_factors) <= 4


@PROPERTY_SETTINGS
@given(evidence=evidences, drawn_weights=weights)
def test_same_evidence_gives_same_score_grade_and_hash(
    evidence: dict[str, Any], drawn_weights: list[Decimal]
) -> None:
    # given the evidence, its keys in another order, and its snapshot after a
    # JSON round trip (as a rating keeps it)
    methodology = property_methodology(drawn_weights)
    snapshot = json.loads(canonical_json(evidence))
    # when
    results = [
        score(methodology=methodology, evidence=e, as_of=AS_OF)
        for e in (evidence, reordered(evidence), snapshot)
    ]
    # then
    assert len({as_bytes(r) for r in results}) == 1
    assert (
        evidence_hash(evidence)
        == evidence_hash(reordered(evidence))
        == evidence_hash(snapshot)
    )
    assert evidence_snapshot(snapshot) == snapshot
