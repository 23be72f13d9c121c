"""Rating methodologies (draft, publish, immutable, versions) and enrolment."""

from typing import Any

import pytest

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Membership, Organization, User
from ratings.models import CreditEvent, Enrolment, Methodology
from ratings.services.methodologies import (
    enrolment_sign,
    enrolment_withdraw,
    methodology_create,
    methodology_in_force,
    methodology_new_version,
    methodology_publish,
    methodology_set_content,
)
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

INDICATORS: list[dict[str, Any]] = [
    {
        "code": "findings",
        "category": "misconduct",
        "name_en": "Misconduct findings",
        "weight": "40",
        "source": "findings",
        "normalisation": "penalty_decay",
        "direction": "lower_is_better",
        "params": {"minor": 5, "general": 20, "serious": 60},
    },
    {
        "code": "reviews",
        "category": "consumer",
        "name_en": "Review score",
        "weight": "35",
        "source": "review_score",
        "normalisation": "rate_shrunk",
        "direction": "higher_is_better",
        "params": {"lower": 1, "upper": 5, "prior_weight": 50, "prior_mean": 3.5},
    },
    {
        "code": "disclosure",
        "category": "disclosure",
        "name_en": "Disclosure completeness",
        "weight": "25",
        "source": "disclosure",
        "normalisation": "linear",
        "direction": "higher_is_better",
        "params": {"lower": 0, "upper": 1},
    },
]
BANDS: list[dict[str, Any]] = [
    {"grade": grade, "min_score": score, "definition_en": f"{grade} means..."}
    for grade, score in (("AAA", 90), ("A", 80), ("BBB", 70), ("B", 50), ("C", 30))
] + [{"grade": "D", "min_score": 0, "definition_en": "Dishonest."}]


def _body() -> tuple[Organization, User]:
    body = OrganizationFactory.create(kind=Organization.Kind.INDUSTRY_BODY)
    analyst = UserFactory.create()
    MembershipFactory.create(
        user=analyst, organization=body, role=Membership.Role.ANALYST
    )
    return body, analyst


def _draft(body: Organization, analyst: User, **fields: Any) -> Methodology:
    return methodology_create(
        actor=analyst,
        body=body,
        code=fields.pop("code", "developer-credit"),
        name_en="Agent developer credit",
        text_en="How we rate agent developers.",
        commitment_en="We commit to honest dealing.",
        commitment_zh="我们承诺诚信经营。",
        **fields,
    )


def _published(body: Organization, analyst: User) -> Methodology:
    methodology = _draft(body, analyst)
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=INDICATORS,
        bands=BANDS,
        overrides=[{"kind": "force", "condition": "dishonesty_listed", "grade": "D"}],
    )
    return methodology_publish(actor=analyst, methodology=methodology)


def test_a_methodology_is_published_whole_and_never_changes_after() -> None:
    body, analyst = _body()
    methodology = _published(body, analyst)
    assert methodology.state == Methodology.State.PUBLISHED
    assert methodology.published_at is not None
    assert [b.grade for b in methodology.bands.all()] == [
        "AAA",
        "A",
        "BBB",
        "B",
        "C",
        "D",
    ]
    with pytest.raises(Conflict) as refused:
        methodology_set_content(
            actor=analyst, methodology=methodology, indicators=INDICATORS, bands=BANDS
        )
    assert refused.value.code == "methodology_immutable"
    with pytest.raises(Conflict):
        methodology_publish(actor=analyst, methodology=methodology)
    actions = set(
        CreditEvent.objects.filter(methodology=methodology).values_list(
            "action", flat=True
        )
    )
    assert actions == {
        "methodology_created",
        "methodology_content_set",
        "methodology_published",
    }


def test_a_new_version_is_a_draft_copy_and_retires_the_old_one_on_publishing() -> None:
    body, analyst = _body()
    first = _published(body, analyst)
    second = methodology_new_version(actor=analyst, methodology=first)
    assert (second.version, second.state) == (2, Methodology.State.DRAFT)
    assert list(second.indicators.values_list("code", "weight")) == list(
        first.indicators.values_list("code", "weight")
    )
    assert second.overrides.count() == 1
    methodology_publish(actor=analyst, methodology=second)
    first.refresh_from_db()
    assert first.state == Methodology.State.RETIRED
    assert methodology_in_force(body=body) == second


@pytest.mark.parametrize(
    ("indicators", "bands", "field"),
    [
        ([], BANDS, "indicators"),
        ([{**INDICATORS[0], "weight": "0"}], BANDS, "indicators"),
        ([{**INDICATORS[0], "weight": "NaN"}], BANDS, "indicators"),
        # Weights and scores are kept to the hundredth: no silent rounding.
        ([{**INDICATORS[0], "weight": "0.001"}], BANDS, "indicators"),
        (
            [
                {**INDICATORS[0], "weight": "39.995"},
                {**INDICATORS[1], "weight": "35.005"},
                INDICATORS[2],
            ],
            BANDS,
            "indicators",
        ),
        (INDICATORS, [{**BANDS[0], "min_score": "90.001"}, BANDS[-1]], "bands"),
        ([{**INDICATORS[0], "source": "gossip"}], BANDS, "indicators"),
        # Parameters the normalisation does not take, or lacks.
        ([{**INDICATORS[2], "params": {"min": 0, "max": 1}}], BANDS, "indicators"),
        ([{**INDICATORS[2], "params": {"lower": 1, "upper": 0}}], BANDS, "indicators"),
        ([{**INDICATORS[0], "direction": "higher_is_better"}], BANDS, "indicators"),
        ([INDICATORS[0], INDICATORS[0]], BANDS, "indicators"),
        (["not an object"], BANDS, "indicators"),
        (INDICATORS, [BANDS[0]], "bands"),
        (INDICATORS, [{**BANDS[0], "grade": "A+"}, BANDS[-1]], "bands"),
        (INDICATORS, [BANDS[-1], {**BANDS[0], "min_score": -1}], "bands"),
        # A better grade with a lower score than a worse one.
        (INDICATORS, [{**BANDS[0], "min_score": 10}, BANDS[1], BANDS[-1]], "bands"),
        # No grade starts at 0.
        (INDICATORS, BANDS[:-1], "bands"),
    ],
)
def test_malformed_content_is_refused_naming_the_field(
    indicators: Any, bands: Any, field: str
) -> None:
    body, analyst = _body()
    methodology = _draft(body, analyst)
    with pytest.raises(ApplicationError) as refused:
        methodology_set_content(
            actor=analyst, methodology=methodology, indicators=indicators, bands=bands
        )
    assert field in refused.value.details
    assert methodology.indicators.count() == 0


def test_weights_must_add_up_to_100_before_publishing() -> None:
    body, analyst = _body()
    methodology = _draft(body, analyst)
    methodology_set_content(
        actor=analyst, methodology=methodology, indicators=INDICATORS[:2], bands=BANDS
    )
    with pytest.raises(ApplicationError) as refused:
        methodology_publish(actor=analyst, methodology=methodology)
    assert "75" in refused.value.message
    methodology.refresh_from_db()
    assert methodology.state == Methodology.State.DRAFT


def test_only_the_bodys_authors_write_methodologies() -> None:
    body, analyst = _body()
    committee = UserFactory.create()
    MembershipFactory.create(
        user=committee, organization=body, role=Membership.Role.COMMITTEE_MEMBER
    )
    for user in (committee, UserFactory.create()):
        with pytest.raises(PermissionDenied):
            _draft(body, user)
    publisher = OrganizationFactory.create(kind=Organization.Kind.PUBLISHER)
    MembershipFactory.create(
        user=analyst, organization=publisher, role=Membership.Role.OWNER
    )
    with pytest.raises(ApplicationError) as refused:
        _draft(publisher, analyst)
    assert refused.value.code == "not_a_body"
    methodology = _draft(body, analyst)
    with pytest.raises(PermissionDenied):
        methodology_set_content(
            actor=committee, methodology=methodology, indicators=INDICATORS, bands=BANDS
        )


def test_an_entity_enrols_by_signing_the_commitment_and_may_withdraw() -> None:
    body, analyst = _body()
    publisher = OrganizationFactory.create(kind=Organization.Kind.PUBLISHER)
    owner, member = UserFactory.create_batch(2)
    MembershipFactory.create(
        user=owner, organization=publisher, role=Membership.Role.OWNER
    )
    MembershipFactory.create(
        user=member, organization=publisher, role=Membership.Role.MEMBER
    )
    with pytest.raises(ApplicationError) as refused:
        enrolment_sign(actor=owner, entity=publisher, body=body)
    assert refused.value.code == "no_methodology"
    methodology = _published(body, analyst)
    with pytest.raises(PermissionDenied):
        enrolment_sign(actor=member, entity=publisher, body=body)
    enrolment = enrolment_sign(
        actor=owner, entity=publisher, body=body, language="zh-hans"
    )
    assert enrolment.commitment_text == "我们承诺诚信经营。"
    assert enrolment.methodology == methodology
    with pytest.raises(Conflict):
        enrolment_sign(actor=owner, entity=publisher, body=body)
    with pytest.raises(PermissionDenied):
        enrolment_withdraw(actor=member, enrolment=enrolment)
    enrolment_withdraw(actor=owner, enrolment=enrolment)
    enrolment.refresh_from_db()
    assert enrolment.withdrawn_at is not None
    # The history stays; the entity may enrol again later.
    again = enrolment_sign(actor=owner, entity=publisher, body=body)
    assert Enrolment.objects.filter(entity=publisher).count() == 2
    assert again.withdrawn_at is None


def test_only_publishers_enrol() -> None:
    body, analyst = _body()
    _published(body, analyst)
    other_body, _other_analyst = _body()
    owner = UserFactory.create()
    MembershipFactory.create(
        user=owner, organization=other_body, role=Membership.Role.OWNER
    )
    with pytest.raises(ApplicationError) as refused:
        enrolment_sign(actor=owner, entity=other_body, body=body)
    assert refused.value.code == "not_an_entity"


# --- Grade measures -------------------------------------------------------------------

MEASURES: list[dict[str, Any]] = [
    {"grade": "AAA", "kind": "store_badge"},
    {"grade": "C", "kind": "downrank", "duration_days": 180, "repair_after_days": 30},
    {"grade": "D", "kind": "dishonesty_list", "duration_days": "730"},
]


def test_measures_are_set_on_a_draft_and_copied_to_a_new_version() -> None:
    # given
    body, analyst = _body()
    methodology = _draft(body, analyst)
    # when
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=INDICATORS,
        bands=BANDS,
        measures=MEASURES,
    )
    methodology = methodology_publish(actor=analyst, methodology=methodology)
    second = methodology_new_version(actor=analyst, methodology=methodology)
    # then
    expected = [
        ("AAA", "store_badge", 365, 90),
        ("C", "downrank", 180, 30),
        ("D", "dishonesty_list", 730, 90),
    ]
    fields = ("grade", "kind", "duration_days", "repair_after_days")
    assert list(methodology.measures.values_list(*fields)) == expected
    assert list(second.measures.values_list(*fields)) == expected
    event = CreditEvent.objects.get(
        methodology=methodology, action="methodology_content_set"
    )
    assert event.payload["measures"] == 3
    # A published methodology's measures never change.
    with pytest.raises(Conflict):
        methodology_set_content(
            actor=analyst,
            methodology=methodology,
            indicators=INDICATORS,
            bands=BANDS,
            measures=[],
        )
    assert methodology.measures.count() == 3
    # Setting the draft's content again replaces its measures.
    methodology_set_content(
        actor=analyst, methodology=second, indicators=INDICATORS, bands=BANDS
    )
    assert second.measures.count() == 0


@pytest.mark.parametrize(
    ("measures", "problem"),
    [
        ("downrank", "list"),
        (["downrank"], "object"),
        ([{"grade": "BB", "kind": "downrank"}], "Measure 1"),
        ([{"grade": "C", "kind": "fine"}], "known measure"),
        ([{"grade": "C", "kind": "downrank", "duration_days": 0}], "days"),
        ([{"grade": "C", "kind": "downrank", "duration_days": -5}], "days"),
        ([{"grade": "C", "kind": "downrank", "repair_after_days": 1.5}], "days"),
        ([{"grade": "C", "kind": "downrank", "repair_after_days": True}], "days"),
        ([{"grade": "C", "kind": "downrank", "duration_days": 99999}], "days"),
        # Digits to isdigit() that int() does not take, or takes too many of.
        ([{"grade": "C", "kind": "downrank", "duration_days": "²"}], "days"),
        ([{"grade": "C", "kind": "downrank", "repair_after_days": "٣٠"}], "days"),
        ([{"grade": "C", "kind": "downrank", "duration_days": "9" * 5000}], "days"),
        ([{"grade": "C", "kind": "downrank", "duration_days": "0030.5"}], "days"),
        (
            [MEASURES[0], {"grade": "C", "kind": "suspension"}, MEASURES[0]],
            "twice",
        ),
    ],
)
def test_malformed_measures_are_refused_naming_the_field(
    measures: Any, problem: str
) -> None:
    body, analyst = _body()
    methodology = _draft(body, analyst)
    with pytest.raises(ApplicationError) as refused:
        methodology_set_content(
            actor=analyst,
            methodology=methodology,
            indicators=INDICATORS,
            bands=BANDS,
            measures=measures,
        )
    assert list(refused.value.details) == ["measures"]
    assert problem in refused.value.message
    assert methodology.measures.count() == 0
    assert methodology.indicators.count() == 0


def test_weights_and_scores_with_two_decimals_are_kept_exactly() -> None:
    body, analyst = _body()
    methodology = _draft(body, analyst)
    indicators = [
        {**INDICATORS[0], "weight": "39.95"},
        {**INDICATORS[1], "weight": "35.05"},
        INDICATORS[2],
    ]
    bands = [{**BANDS[0], "min_score": "90.25"}, *BANDS[1:]]
    measures = [{"grade": "C", "kind": "downrank", "duration_days": " 30 "}]
    methodology_set_content(
        actor=analyst,
        methodology=methodology,
        indicators=indicators,
        bands=bands,
        measures=measures,
    )
    assert [str(i.weight) for i in methodology.indicators.order_by("position")] == [
        "39.95",
        "35.05",
        "25.00",
    ]
    assert str(methodology.bands.get(grade="AAA").min_score) == "90.25"
    assert methodology.measures.get().duration_days == 30
    published = methodology_publish(actor=analyst, methodology=methodology)
    assert published.state == Methodology.State.PUBLISHED
