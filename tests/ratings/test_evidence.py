"""Evidence gathered per entity for a rating (ratings/evidence.py)."""

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from marketplace.disclosure import agent_disclosure
from marketplace.models import (
    Agent,
    AgentVersion,
    Certificate,
    CertificationEvent,
    Domain,
    Organization,
    Review,
    ReviewReply,
    ReviewSignal,
)
from marketplace.services.certification import certificate_revoke
from ratings import scoring
from ratings.evidence import SEVERITY_BY_CATEGORY, gather, review_population_mean
from ratings.models import Finding, Indicator, MisconductReport
from tests.marketplace.certification_fixtures import (
    make_body,
    make_certificate,
    make_scheme,
)
from tests.marketplace.factories import (
    AgentFactory,
    AgentVersionFactory,
    DomainFactory,
    OrganizationFactory,
    UserFactory,
    declaration,
)
from tests.ratings.factories import MisconductReportFactory

pytestmark = pytest.mark.django_db

ReportState = MisconductReport.State
HOUR = timedelta(hours=1)


def listed(publisher: Organization, **fields: Any) -> Agent:
    """An agent of ``publisher`` with a published version."""
    agent = AgentFactory.create(publisher=publisher, **fields)
    version: AgentVersion = AgentVersionFactory.create(
        agent=agent, state=AgentVersion.State.PUBLISHED
    )
    return version.agent


def review(agent: Agent, *, stars: int, at: datetime, **fields: Any) -> Review:
    assert agent.latest_version is not None
    written = Review.objects.create(
        user=UserFactory.create(),
        agent=agent,
        version=agent.latest_version,
        stars=stars,
        title="A review",
        body="It works.",
        **fields,
    )
    Review.objects.filter(pk=written.pk).update(created_at=at)
    return written


def reply(to: Review, *, at: datetime) -> None:
    answer = ReviewReply.objects.create(
        review=to, publisher=to.agent.publisher, body="Thank you."
    )
    ReviewReply.objects.filter(pk=answer.pk).update(created_at=at)


def finding(
    publisher: Organization,
    *,
    category: str,
    at: datetime,
    agent: Agent | None = None,
    severity: str | None = None,
    occurred_at: datetime | None = None,
    repaired_at: datetime | None = None,
) -> Finding:
    """A substantiated report about ``publisher`` and its finding, decided ``at``."""
    report = MisconductReportFactory.create(
        publisher=publisher,
        agent=agent,
        category=category,
        state=ReportState.SUBSTANTIATED,
    )
    made = Finding.objects.create(
        report=report,
        entity=publisher,
        category=category,
        severity=severity or SEVERITY_BY_CATEGORY[category],
        occurred_at=occurred_at or at,
        reasons="Found.",
        repaired_at=repaired_at,
    )
    Finding.objects.filter(pk=made.pk).update(decided_at=at)
    return made


def later(certificate: Certificate, at: datetime) -> None:
    """Move what happened to ``certificate`` just now to ``at``."""
    Certificate.objects.filter(pk=certificate.pk).update(updated_at=at)
    CertificationEvent.objects.filter(
        certificate=certificate, created_at__gt=at - 2 * HOUR
    ).exclude(to_state=Certificate.State.VALID).update(created_at=at)


@dataclass
class World:
    as_of: datetime
    a: Organization  # verified; gate held; reviews, a finding, certificates
    b: Organization  # not verified; a high-risk listing without its gate
    c: Organization  # a publisher outside the chunk, with a review
    substantiated_at: datetime


@pytest.fixture
def world() -> World:
    # A moment a little ahead: everything made below happened before it; what a
    # test wants after it is moved there explicitly.
    as_of = timezone.now() + timedelta(minutes=5)
    after = as_of + HOUR

    body = make_body(accredited=("security",))
    required = make_scheme(body, code="security-baseline")
    other = make_scheme(body, code="security-extra")
    third = make_scheme(body, code="security-third")
    fourth = make_scheme(body, code="security-fourth")
    office = DomainFactory.create(code="office", risk_tier=Domain.RiskTier.LOW)
    health = DomainFactory.create(code="health", risk_tier=Domain.RiskTier.HIGH)
    health.required_schemes.add(required)

    # A: verified; two listings (one lacks its homepage), a gate held.
    a = OrganizationFactory.create(
        verified_at=as_of - timedelta(days=30),
        domain="a.example",
        domain_verified_at=as_of - timedelta(days=20),
    )
    a1 = listed(a, domain=office, description="Writes e-mails.")
    a2 = listed(
        a,
        domain=health,
        description="Books appointments.",
        homepage="https://a.example/",
        filing_number="京ICP备12345678号",
    )
    make_certificate(body, required, a2.latest_version)
    revoked = make_certificate(body, other, a1.latest_version)
    certificate_revoke(
        actor=body.assessor, certificate=revoked, reason="Failed retest."
    )
    revoked_later = make_certificate(body, third, a1.latest_version)
    certificate_revoke(
        actor=body.assessor, certificate=revoked_later, reason="Failed retest."
    )
    later(revoked_later, after)  # still valid at as_of
    issued_later = make_certificate(body, fourth, a1.latest_version)
    Certificate.objects.filter(pk=issued_later.pk).update(created_at=after)

    first = review(a1, stars=5, at=as_of - 10 * HOUR)
    reply(first, at=as_of - 7 * HOUR)  # answered in 3 hours
    second = review(a1, stars=4, at=as_of - 5 * HOUR)
    reply(second, at=after)  # not answered by as_of: waited 5 hours
    review(a1, stars=3, at=as_of - HOUR)  # waited 1 hour
    review(a1, stars=1, at=as_of - HOUR, state=Review.State.HIDDEN)
    review(a1, stars=1, at=after)

    ReviewSignal.objects.create(
        agent=a1, kind="burst", details={"raised": True}, computed_at=as_of - HOUR
    )
    ReviewSignal.objects.create(
        agent=a1, kind="new_accounts", details={"raised": False}, computed_at=as_of
    )
    ReviewSignal.objects.create(
        agent=a2, kind="burst", details={"raised": True}, computed_at=after
    )

    substantiated_at = as_of - timedelta(days=40)
    finding(a, agent=a1, category="concealing_defects", at=substantiated_at)
    finding(a, category="false_advertising", at=after)
    MisconductReportFactory.create(
        publisher=a, category="other", state=ReportState.DISMISSED
    )

    # B: registration verified, domain only after as_of; a high-risk listing for
    # minors with neither filing number nor certificate; a listing only after.
    b = OrganizationFactory.create(
        verified_at=as_of - timedelta(days=1),
        domain="b.example",
        domain_verified_at=after,
    )
    listed(b, domain=health, age_rating=Agent.AgeRating.ALL)
    b2 = listed(b, domain=office, homepage="https://b.example/", description="x")
    Agent.objects.filter(pk=b2.pk).update(published_at=after)

    # C: outside the chunk, its review counts in the store's mean.
    c = OrganizationFactory.create()
    review(listed(c, domain=office), stars=1, at=as_of - HOUR)

    return World(as_of=as_of, a=a, b=b, c=c, substantiated_at=substantiated_at)


# --------------------------------------------------------------------------
# Known answers


def test_gather_known_answers_for_a_verified_publisher(world: World) -> None:
    # when
    evidence = gather(entity_ids=[world.a.pk, world.b.pk], as_of=world.as_of)

    # then
    a = evidence[world.a.pk]
    assert a == {
        "review_score": {
            "mean": Decimal("4"),
            "count": 3,
            "population_mean": Decimal("3.25"),
        },
        "review_signals": {"successes": 0, "trials": 1, "flagged": 1},
        "findings": [
            {
                "severity": "serious",
                "occurred_at": world.substantiated_at,
                "repaired": False,
                "category": "concealing_defects",
            }
        ],
        "certificates_held": 2,
        "certificates_lost": {"successes": 2, "trials": 3, "lost": 1},
        "recalls": None,
        "advisories": None,
        # 14 of 15 checklist items: A1 has no homepage (7 items apply to A1, the
        # 7 and its filing number to A2; the publisher's verification is the
        # verification source's, not counted here)
        "disclosure": Decimal("0.9333"),
        "review_reply_time": Decimal("3.00"),  # median of 3, 5 and 1 hours
        "report_reply_time": None,
        "verification": True,
        "dishonesty_listed": False,
        "risk_tier": "high",
        "filing_held": True,
        "required_certificates_held": True,
        "high_risk_gate_missing": False,
    }


def test_gather_known_answers_for_an_unverified_publisher(world: World) -> None:
    # when
    evidence = gather(entity_ids=[world.b.pk], as_of=world.as_of)

    # then
    assert evidence == {
        world.b.pk: {
            "review_score": None,
            "review_signals": None,
            "findings": [],
            "certificates_held": 0,
            "certificates_lost": None,
            "recalls": None,
            "advisories": None,
            # 5 of 9 checklist items: privacy, terms, pricing declared and
            # consistent, a model dependency; no homepage, description, filing
            # number or anti-addiction measures (minors may use it). Its verified
            # registration does not count here: the verification source scores it
            "disclosure": Decimal("0.5556"),
            "review_reply_time": None,
            "report_reply_time": None,
            "verification": False,
            "dishonesty_listed": False,
            "risk_tier": "high",
            "filing_held": False,
            "required_certificates_held": False,
            "high_risk_gate_missing": True,
        }
    }


def test_gather_keys_are_the_indicator_sources(world: World) -> None:
    # when
    evidence = gather(entity_ids=[world.c.pk], as_of=world.as_of)[world.c.pk]

    # then
    assert set(Indicator.Source.values) <= evidence.keys()
    assert all(type(key) is str for key in evidence)


def test_gather_ignores_what_happened_after_as_of(world: World) -> None:
    # given: a moment before any review, report, certificate or verification
    before = world.as_of - timedelta(days=400)

    # when
    a = gather(entity_ids=[world.a.pk], as_of=before)[world.a.pk]

    # then
    assert a["review_score"] is None
    assert a["review_reply_time"] is None
    assert a["review_signals"] is None
    assert a["findings"] == []
    assert a["certificates_held"] == 0
    assert a["certificates_lost"] is None
    assert a["disclosure"] is None  # nothing listed yet
    assert a["risk_tier"] is None
    assert a["verification"] is False


def test_gather_counts_what_happened_by_a_later_as_of(world: World) -> None:
    # given: everything the fixture put after as_of has happened
    later_as_of = world.as_of + 2 * HOUR

    # when
    evidence = gather(entity_ids=[world.a.pk, world.b.pk], as_of=later_as_of)

    # then
    a, b = evidence[world.a.pk], evidence[world.b.pk]
    assert a["review_score"]["count"] == 4  # the review written after
    assert a["review_score"]["population_mean"] == Decimal("2.8")  # 14 / 5
    assert [f["category"] for f in a["findings"]] == [
        "concealing_defects",
        "false_advertising",
    ]
    assert a["findings"][1]["severity"] == "general"
    assert a["certificates_held"] == 2  # the third revoked, the fourth issued
    assert a["certificates_lost"] == {"successes": 2, "trials": 4, "lost": 2}
    assert a["review_signals"] == {"successes": 0, "trials": 2, "flagged": 2}
    assert b["verification"] is True
    # B2 adds its 7 checklist items, all complete: 12 of 16
    assert b["disclosure"] == Decimal("0.75")


def test_gather_of_nobody_asks_nothing(django_assert_num_queries: Any) -> None:
    # when / then
    with django_assert_num_queries(0):
        assert gather(entity_ids=[], as_of=timezone.now()) == {}


def test_gather_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="aware"):
        gather(entity_ids=[1], as_of=datetime(2025, 1, 1))  # noqa: DTZ001


def test_population_mean_is_the_same_for_every_chunk(world: World) -> None:
    # when
    one = gather(entity_ids=[world.a.pk], as_of=world.as_of)[world.a.pk]
    other = gather(entity_ids=[world.c.pk], as_of=world.as_of)[world.c.pk]

    # then
    assert review_population_mean(as_of=world.as_of) == Decimal("3.25")
    assert one["review_score"]["population_mean"] == Decimal("3.25")
    assert other["review_score"]["population_mean"] == Decimal("3.25")


def test_findings_read_the_finding_rows_as_of() -> None:
    # given: a finding the body judged minor though its category is serious,
    # which occurred long before it was decided and was repaired later
    as_of = timezone.now()
    publisher = OrganizationFactory.create()
    occurred = as_of - timedelta(days=200)
    finding(
        publisher,
        category="concealing_defects",
        severity="minor",
        at=as_of - timedelta(days=10),
        occurred_at=occurred,
        repaired_at=as_of - timedelta(days=5),
    )
    finding(publisher, category="other", at=as_of + HOUR)  # decided after as_of

    # when
    now = gather(entity_ids=[publisher.pk], as_of=as_of)[publisher.pk]
    before_repair = gather(entity_ids=[publisher.pk], as_of=as_of - timedelta(days=6))[
        publisher.pk
    ]

    # then
    assert now["findings"] == [
        {
            "severity": "minor",
            "occurred_at": occurred,
            "repaired": True,
            "category": "concealing_defects",
        }
    ]
    assert before_repair["findings"][0]["repaired"] is False


def test_every_category_has_a_severity() -> None:
    assert set(SEVERITY_BY_CATEGORY) == set(MisconductReport.Category.values)
    assert set(SEVERITY_BY_CATEGORY.values()) <= set(scoring.SEVERITIES)


def test_disclosure_reads_the_publishers_checklist_items() -> None:
    # given: a free companion agent whose trial turns into a paid plan and which
    # declares no safeguards, from a publisher not verified yet
    publisher = OrganizationFactory.create()
    agent = AgentFactory.create(
        publisher=publisher, homepage="https://a.example/", description="Listens."
    )
    AgentVersionFactory.create(
        agent=agent,
        state=AgentVersion.State.PUBLISHED,
        declaration=declaration(
            pricing={
                "model": "free",
                "inAppPurchases": {"offered": False},
                "freeTrial": {"days": 7, "afterTrial": "converts"},
            },
            wellbeing={"companion": True},
        ),
    )
    agent.refresh_from_db()
    checklist = agent_disclosure(agent=agent)

    # when
    evidence = gather(entity_ids=[publisher.pk], as_of=timezone.now())

    # then: the publisher's checklist counts 6 of 9 (pricing consistent, companion
    # safeguards and the verification are not done)
    assert [item.key for item in checklist.items if item.applies and not item.done] == [
        "pricing_consistent",
        "companion_safeguards",
        "publisher_verified",
    ]
    assert checklist.share == Decimal("0.6667")
    # and the rating the same items but the verification (the verification source
    # scores it): 6 of 8
    assert evidence[publisher.pk]["disclosure"] == Decimal("0.75")


def test_the_publishers_verification_does_not_move_the_disclosure_share() -> None:
    # given: a listing with every checklist item done, from a publisher not
    # verified yet
    publisher = OrganizationFactory.create()
    agent = AgentFactory.create(
        publisher=publisher,
        homepage="https://a.example/",
        description="Plans trips.",
        age_rating=Agent.AgeRating.AGE_18,
    )
    AgentVersionFactory.create(agent=agent, state=AgentVersion.State.PUBLISHED)
    agent.refresh_from_db()
    assert agent_disclosure(agent=agent).share != 1
    before = gather(entity_ids=[publisher.pk], as_of=timezone.now())[publisher.pk]

    # when
    Organization.objects.filter(pk=publisher.pk).update(
        verified_at=timezone.now(), domain_verified_at=timezone.now()
    )
    agent.refresh_from_db()
    after = gather(entity_ids=[publisher.pk], as_of=timezone.now())[publisher.pk]

    # then: the checklist is complete, the share the same, the verification moved
    assert agent_disclosure(agent=agent).share == 1
    assert before["disclosure"] == after["disclosure"] == 1
    assert (before["verification"], after["verification"]) == (False, True)


def test_disclosure_reads_the_declaration_parts_the_checklist_needs() -> None:
    # given: a companion agent with every safeguard, a model dependency, and a free
    # pricing whose skills mention a price
    publisher = OrganizationFactory.create()
    agent = AgentFactory.create(
        publisher=publisher,
        homepage="https://a.example/",
        description="Listens.",
        age_rating=Agent.AgeRating.AGE_18,
    )
    document = declaration(
        wellbeing={
            "companion": True,
            "usageReminderMinutes": 30,
            "sessionLimitMinutes": 60,
            "humanHelp": "https://a.example/help",
            "neverClaimsHuman": True,
        }
    )
    document["skills"][0]["description"] = "Premium answers for $5 each."
    AgentVersionFactory.create(
        agent=agent, state=AgentVersion.State.PUBLISHED, declaration=document
    )
    agent.refresh_from_db()
    checklist = agent_disclosure(agent=agent)

    # when
    evidence = gather(entity_ids=[publisher.pk], as_of=timezone.now())

    # then: the same items done as on the checklist (the prices in the skills
    # make the pricing inconsistent; the safeguards and the model are there)
    undone = [item.key for item in checklist.items if item.applies and not item.done]
    assert undone == ["pricing_consistent", "publisher_verified"]
    assert evidence[publisher.pk]["disclosure"] == Decimal("0.875")  # 7 of 8


# --------------------------------------------------------------------------
# Queries


def many_publishers(count: int, as_of: datetime) -> list[int]:
    body = make_body(accredited=("security",))
    scheme = make_scheme(body, code="security-many")
    ids = []
    for n in range(count):
        publisher = OrganizationFactory.create(verified_at=as_of - HOUR)
        agent = listed(publisher, description="An agent.")
        review(agent, stars=1 + n % 5, at=as_of - 2 * HOUR)
        ReviewSignal.objects.create(
            agent=agent, kind="burst", details={"raised": n % 2 == 0}, computed_at=as_of
        )
        finding(publisher, category="other", at=as_of - HOUR)
        if n % 4 == 0:
            make_certificate(body, scheme, agent.latest_version)
        ids.append(publisher.pk)
    return ids


def test_gather_asks_a_constant_number_of_queries(
    django_assert_num_queries: Any,
) -> None:
    # given
    as_of = timezone.now() + timedelta(minutes=5)
    ids = many_publishers(20, as_of)

    # when / then
    with django_assert_num_queries(9):
        one = gather(entity_ids=ids[:1], as_of=as_of)
    with django_assert_num_queries(9):
        twenty = gather(entity_ids=ids, as_of=as_of)
    with django_assert_num_queries(8):
        gather(entity_ids=ids, as_of=as_of, population_mean=Decimal(3))
    assert len(one) == 1
    assert len(twenty) == 20
    assert sum(e["certificates_held"] for e in twenty.values()) == 5
    assert all(len(e["findings"]) == 1 for e in twenty.values())


# --------------------------------------------------------------------------
# Scoring what was gathered


def d(value: str | int) -> Decimal:
    return Decimal(value)


METHODOLOGY = scoring.Methodology(
    indicators=(
        scoring.Indicator(
            code="reviews",
            category="consumer",
            weight=d(20),
            source="review_score",
            normalisation="rate_shrunk",
            params={"lower": d(1), "upper": d(5), "prior_mean": d(3)},
        ),
        scoring.Indicator(
            code="signals",
            category="consumer",
            weight=d(5),
            source="review_signals",
            normalisation="wilson_lower",
        ),
        scoring.Indicator(
            code="findings",
            category="misconduct",
            weight=d(25),
            source="findings",
            normalisation="penalty_decay",
            direction="lower_is_better",
            params={"minor": d(5), "general": d(20), "serious": d(60)},
        ),
        scoring.Indicator(
            code="held",
            category="safety",
            weight=d(10),
            source="certificates_held",
            normalisation="linear",
            params={"lower": d(0), "upper": d(3)},
        ),
        scoring.Indicator(
            code="lost",
            category="safety",
            weight=d(5),
            source="certificates_lost",
            normalisation="wilson_lower",
        ),
        scoring.Indicator(
            code="recalls",
            category="safety",
            weight=d(5),
            source="recalls",
            normalisation="linear",
            direction="lower_is_better",
            params={"lower": d(0), "upper": d(5)},
        ),
        scoring.Indicator(
            code="advisories",
            category="safety",
            weight=d(5),
            source="advisories",
            normalisation="linear",
            direction="lower_is_better",
            params={"lower": d(0), "upper": d(5)},
        ),
        scoring.Indicator(
            code="disclosure",
            category="disclosure",
            weight=d(10),
            source="disclosure",
            normalisation="linear",
            params={"lower": d(0), "upper": d(1)},
        ),
        scoring.Indicator(
            code="review-replies",
            category="cooperation",
            weight=d(5),
            source="review_reply_time",
            normalisation="linear",
            direction="lower_is_better",
            params={"lower": d(0), "upper": d(72)},
        ),
        scoring.Indicator(
            code="report-replies",
            category="cooperation",
            weight=d(5),
            source="report_reply_time",
            normalisation="linear",
            direction="lower_is_better",
            params={"lower": d(0), "upper": d(240)},
        ),
        scoring.Indicator(
            code="verification",
            category="governance",
            weight=d(5),
            source="verification",
            normalisation="boolean",
        ),
    ),
    overrides=(
        scoring.OverrideRule(
            code="severe-finding",
            action="force",
            condition=scoring.FindingCondition("findings", frozenset({"serious"})),
        ),
        scoring.OverrideRule(
            code="dishonest",
            action="force",
            condition=scoring.FlagCondition("dishonesty_listed"),
        ),
        scoring.OverrideRule(
            code="gate",
            action="cap",
            grade="BBB",
            condition=scoring.FlagCondition("high_risk_gate_missing"),
        ),
        scoring.OverrideRule(
            code="gate-tier",
            action="cap",
            grade="BB",
            condition=scoring.GateCondition(
                "risk_tier",
                frozenset({"high"}),
                ("filing_held", "required_certificates_held"),
            ),
        ),
    ),
)


def test_gathered_evidence_scores(world: World) -> None:
    # when
    evidence = gather(
        entity_ids=[world.a.pk, world.b.pk, world.c.pk], as_of=world.as_of
    )
    results = {
        pk: scoring.score(methodology=METHODOLOGY, evidence=e, as_of=world.as_of)
        for pk, e in evidence.items()
    }

    # then: contributions add up, overrides follow the flags
    for result in results.values():
        assert sum(c.contribution for c in result.contributions) == result.score
    a, b = results[world.a.pk], results[world.b.pk]
    assert a.grade == "D"
    assert [o.code for o in a.overrides] == ["severe-finding"]
    assert b.provisional  # data for 50% of the weight only
    assert b.overrides == ()
    lenient = dataclasses.replace(METHODOLOGY, coverage_threshold=Decimal(0))
    capped = scoring.score(
        methodology=lenient, evidence=evidence[world.b.pk], as_of=world.as_of
    )
    assert [(o.code, o.grade) for o in capped.overrides] == [
        ("gate", "BBB"),
        ("gate-tier", "BB"),
    ]
    assert {c.code for c in a.contributions if c.normalised is None} == {
        "recalls",
        "advisories",
        "report-replies",
    }
    lost = next(c for c in a.contributions if c.code == "lost")
    assert lost.normalised == (
        100 * scoring.wilson_lower_bound(successes=2, trials=3)
    ).quantize(Decimal("0.01"))


def test_gathered_evidence_snapshots_and_scores_the_same(world: World) -> None:
    # given
    evidence = gather(entity_ids=[world.a.pk, world.b.pk], as_of=world.as_of)

    for item in evidence.values():
        # when
        snapshot = json.loads(json.dumps(scoring.evidence_snapshot(item)))

        # then
        assert scoring.evidence_hash(snapshot) == scoring.evidence_hash(item)
        assert scoring.score(
            methodology=METHODOLOGY, evidence=snapshot, as_of=world.as_of
        ) == scoring.score(methodology=METHODOLOGY, evidence=item, as_of=world.as_of)
