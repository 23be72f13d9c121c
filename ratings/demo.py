"""The credit rating in the demo store: the AI Industry Credit Association with its
people, a published methodology, most demo publishers enrolled, and two rating
cycles whose ratings went through the real decision services.

People (demo log-ins, the demo password): dave owns the association, erin and
frank are its analysts, grace, heidi, ivan and judy sit on its rating committee.

What it leaves:

- an earlier cycle, about four months ago, every rating published (so that each
  entity's history has two points);
- misconduct reports about a few publishers, substantiated about two months ago
  through the report services (the entity answered first), which pull their
  grades down;
- the current cycle, a month ago: its ratings reviewed by an analyst (one moved a
  notch, with a reason), approved by three committee members (one chairing),
  notified, and published once the objection window closed; except one rating
  notified today (the entity can object), and one objected to by the entity,
  waiting for a new committee round. A publisher enrolled without listings gets
  a provisional grade (too little evidence);
- a dishonesty-list sanction on the lowest-rated publisher, a downranking on
  another whose owner has applied for credit repair, and a rating an analyst put
  on watch.

The history is written as it would have happened: each step runs through the
services with the clock set back to its moment (``_clock``), so that every row
and event carries that moment, and the objection windows of the published
ratings closed before today. Nothing writes a state directly.

Idempotent: once the association has a rating cycle, nothing is loaded again.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.db import transaction
from django.utils import timezone

from marketplace.models import Agent, Membership, Organization, User
from marketplace.services.accounts import user_create
from marketplace.services.installs import install_create
from marketplace.services.organizations import membership_add, organization_create
from marketplace.services.reviews import review_reply, review_submit
from ratings import services as reports
from ratings.models import (
    CycleChunk,
    Enrolment,
    GradeMeasure,
    Methodology,
    MisconductReport,
    Rating,
    RatingCycle,
    Watch,
)
from ratings.services import (
    cycles,
    decisions,
    methodologies,
    repair,
    sanctions,
    surveillance,
)

Role = Membership.Role

BODY_SLUG = "ai-industry-association"
METHODOLOGY_CODE = "agent-developer-credit"

# username, e-mail, role in the association (dave and erin exist already).
PEOPLE: tuple[tuple[str, str, str], ...] = (
    ("dave", "dave@example.com", Role.OWNER),
    ("erin", "erin@example.com", Role.ANALYST),
    ("frank", "frank@example.com", Role.ANALYST),
    ("grace", "grace@example.com", Role.COMMITTEE_MEMBER),
    ("heidi", "heidi@example.com", Role.COMMITTEE_MEMBER),
    ("ivan", "ivan@example.com", Role.COMMITTEE_MEMBER),
    ("judy", "judy@example.com", Role.COMMITTEE_MEMBER),
)
COMMITTEE = ("grace", "heidi", "ivan", "judy")

INDICATORS: list[dict[str, Any]] = [
    {
        "code": "findings",
        "category": "misconduct",
        "name_en": "Substantiated misconduct",
        "name_zh": "经查实的失信行为",
        "weight": "45",
        "source": "findings",
        "normalisation": "penalty_decay",
        "direction": "lower_is_better",
        "params": {"minor": 30, "general": 60, "serious": 100},
    },
    {
        "code": "reviews",
        "category": "consumer",
        "name_en": "User reviews",
        "name_zh": "用户评价",
        "weight": "40",
        "source": "review_score",
        "normalisation": "rate_shrunk",
        "direction": "higher_is_better",
        "params": {"lower": 1, "upper": 5, "prior_weight": 3, "prior_mean": 3.5},
    },
    {
        "code": "reply-time",
        "category": "cooperation",
        "name_en": "Time to answer reviews (hours)",
        "name_zh": "回复评价的时间（小时）",
        "weight": "15",
        "source": "review_reply_time",
        "normalisation": "linear",
        "direction": "lower_is_better",
        "params": {"lower": 0, "upper": 168},
    },
]

# grade, lowest score, definition (English, Chinese)
SCALE: tuple[tuple[str, int, str, str], ...] = (
    (
        "AAA",
        90,
        "Exceptional credit: a clean record, strong disclosure and safety.",
        "信用极好：记录良好，信息披露与安全保障充分。",
    ),
    ("AA", 85, "Very good credit: minimal risk.", "信用很好：风险很低。"),
    ("A", 80, "Good credit: low risk.", "信用较好：风险较低。"),
    ("BBB", 70, "Adequate credit: isolated minor issues.", "信用一般：偶有轻微问题。"),
    (
        "BB",
        60,
        "Fair credit: some weaknesses to watch.",
        "信用尚可：存在需关注的薄弱环节。",
    ),
    (
        "B",
        50,
        "Weak credit: repeated issues or thin disclosure; a warning.",
        "信用较弱：问题反复或披露不足，予以警示。",
    ),
    ("CCC", 40, "Poor credit: general misconduct found.", "信用差：查实一般失信行为。"),
    ("CC", 30, "Very poor credit: serious concerns.", "信用很差：存在严重问题。"),
    ("C", 20, "Extremely poor credit.", "信用极差。"),
    (
        "D",
        0,
        "Dishonest: serious misconduct, or listed as dishonest.",
        "失信：严重失信行为，或被列入失信名单。",
    ),
)
OVERRIDES: list[dict[str, Any]] = [
    {"kind": "force", "condition": "dishonesty_listed", "grade": "D"},
    {"kind": "force", "condition": "severe_finding_open", "grade": "D"},
    {"kind": "cap", "condition": "high_risk_gate_missing", "grade": "BBB"},
]
MEASURES: list[dict[str, Any]] = [
    {"grade": "AAA", "kind": GradeMeasure.Kind.STORE_BADGE},
    {"grade": "AAA", "kind": GradeMeasure.Kind.FAST_TRACK},
    {"grade": "AA", "kind": GradeMeasure.Kind.FAST_TRACK},
    *(
        {
            "grade": grade,
            "kind": GradeMeasure.Kind.DOWNRANK,
            "duration_days": 180,
            "repair_after_days": 7,
        }
        for grade in ("B", "CCC", "CC", "C", "D")
    ),
    *(
        {
            "grade": grade,
            "kind": GradeMeasure.Kind.PUBLISHING_REVIEW,
            "duration_days": 180,
            "repair_after_days": 30,
        }
        for grade in ("CC", "C", "D")
    ),
    {
        "grade": "D",
        "kind": GradeMeasure.Kind.DISHONESTY_LIST,
        "duration_days": 365,
        "repair_after_days": 90,
    },
]

# Publishers left out of the rating (they did not sign the commitment).
NOT_ENROLLED = ("xinghe-news", "jingming-music", "tongqu-planet", "haiyun-culture")
# A publisher that enrols before listing anything: a provisional grade.
NEWCOMER = (
    "lantern-startup",
    "Lantern Startup Studio",
    "灯笼创业工作室：刚刚入驻，尚未上架智能体。\n\n"
    "Lantern Startup Studio: just arrived, nothing listed yet.",
)

# Misconduct found between the two cycles: publisher, category, severity, what.
FINDINGS: tuple[tuple[str, str, str, str], ...] = (
    (
        "beacon-labs",
        "inducing_consumption",
        "general",
        "The game agent pressed players to buy in-game items with countdown offers.",
    ),
    (
        "beacon-labs",
        "false_advertising",
        "general",
        "The listing promised rewards that the agent never paid out.",
    ),
    (
        "qingcheng-media",
        "false_advertising",
        "general",
        "The video agent's listing claimed a licence for footage it did not hold.",
    ),
    (
        "qingcheng-media",
        "other",
        "minor",
        "Support questions went unanswered for weeks.",
    ),
    (
        "modian-content",
        "privacy_violation",
        "general",
        "Drafts were kept after users deleted them.",
    ),
    ("open-desk", "other", "minor", "The changelog left out a removed feature."),
    (
        "yanhuo-life",
        "false_advertising",
        "minor",
        "A recipe agent's listing overstated its number of recipes.",
    ),
)
REPORTERS = ("carol", "sam", "hana", "operator")

# Customers who installed and reviewed the demo agents (the demo password too).
CUSTOMERS = (
    "lei",
    "mei",
    "tao",
    "yun",
    "hao",
    "jing",
    "ping",
    "qiang",
    "rui",
    "shan",
    "wen",
    "xin",
)
# What each publisher's users think: the stars of the reviews written before the
# first cycle, of those written between the cycles, and in how many hours the
# publisher replies (None: it does not).
PROFILES: dict[str, tuple[tuple[int, ...], tuple[int, ...], int | None]] = {
    "excellent": ((5, 5), (5,), 2),
    "very-good": ((5, 4), (4,), 24),
    "good": ((4, 4), (4,), 60),
    "fair": ((4, 3), (3,), 100),
    "average": ((3, 3), (3,), None),
    "poor": ((3, 2), (1,), None),
    "bad": ((2, 1), (1,), None),
}
PROFILE_OF = {
    "beacon-labs": "bad",
    "qingcheng-media": "poor",
    "modian-content": "fair",
    "open-desk": "very-good",
    "yanhuo-life": "good",
    "northwind-agents": "average",
}
# The others, by turns.
PROFILE_TURNS = (
    "excellent",
    "very-good",
    "good",
    "fair",
    "excellent",
    "average",
    "very-good",
    "good",
)

# The current cycle's exceptions: the rating notified today, the one objected to,
# and the analyst's notch.
UNDER_NOTICE = "yanhuo-life"
OBJECTED = "northwind-agents"
# The rating an analyst put on watch today, and why.
WATCHED = (
    "modian-content",
    "Users report that deleted drafts reappear after the latest update; we are "
    "asking the publisher how it stores them.",
)
ADJUSTED = (
    "shushan-academy",
    -1,
    "Two of its tutoring agents changed owners "
    "this quarter; we hold the grade one notch lower until the handover "
    "is verified.",
)


@contextmanager
def _clock(moment: datetime) -> Iterator[None]:
    """Run what follows as if it were ``moment`` (time flows on from there):
    the services and the rows they write take their times from it."""
    real_now = timezone.now
    started = real_now()

    def now() -> datetime:
        return moment + (real_now() - started)

    with mock.patch.object(timezone, "now", now):
        yield


def _people(password: str) -> dict[str, User]:
    users: dict[str, User] = {}
    for username, email, _role in PEOPLE:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(username=username, email=email, password=password)
            User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
            user.refresh_from_db()
        users[username] = user
    return users


def _body(users: dict[str, User]) -> Organization:
    body = Organization.objects.filter(slug=BODY_SLUG).first()
    if body is None:
        body = organization_create(
            actor=users["dave"],
            name="AI Industry Credit Association",
            slug=BODY_SLUG,
            kind=Organization.Kind.INDUSTRY_BODY,
            description=(
                "Rates the credit of agent developers and platforms that opt in."
            ),
        )
    have = set(
        Membership.objects.filter(organization=body).values_list(
            "user__username", flat=True
        )
    )
    for username, _email, role in PEOPLE:
        if username not in have:
            membership_add(organization=body, user=users[username], role=role)
    return body


def _methodology(body: Organization, analyst: User) -> Methodology:
    methodology = methodologies.methodology_in_force(body=body)
    if methodology is not None:
        return methodology
    draft = methodologies.methodology_create(
        actor=analyst,
        body=body,
        code=METHODOLOGY_CODE,
        name_en="Agent developer credit",
        name_zh="智能体开发者信用评价",
        text_en=(
            "We rate the publishers of AI agents on what the store knows about "
            "them: misconduct substantiated after a hearing, what users say in "
            "their reviews, and how quickly the publisher answers them. Older "
            "misconduct weighs less; a grade with too "
            "little evidence is provisional. An analyst reviews every grade and a "
            "committee of at least three decides; the publisher may object."
        ),
        text_zh=(
            "我们依据平台掌握的信息评价智能体发布者：经听证查实的失信行为、用户评价，"
            "以及发布者回复评价的速度。越早的失信行为权重越低；证据不足"
            "的评级为临时评级。每个评级均由分析师复核、至少三人的评审委员会决定，"
            "发布者可以提出异议。"
        ),
        commitment_en=(
            "We commit to honest dealing with users, to disclose our agents "
            "truthfully, and to answer the association's questions."
        ),
        commitment_zh="我们承诺诚信对待用户，如实披露智能体信息，并配合协会的询问。",
    )
    methodologies.methodology_set_content(
        actor=analyst,
        methodology=draft,
        indicators=INDICATORS,
        bands=[
            {"grade": g, "min_score": s, "definition_en": en, "definition_zh": zh}
            for g, s, en, zh in SCALE
        ],
        overrides=OVERRIDES,
        measures=MEASURES,
    )
    return methodologies.methodology_publish(actor=analyst, methodology=draft)


def _run(cycle: RatingCycle) -> list[Rating]:
    """What the workers do, here and now: start the cycle and run its chunks."""
    cycles.cycle_start(cycle_id=cycle.pk)
    for index in CycleChunk.objects.filter(cycle=cycle).values_list("index", flat=True):
        cycles.chunk_run(cycle_id=cycle.pk, index=index)
    return list(
        Rating.objects.filter(cycle=cycle)
        .select_related("entity")
        .order_by("entity__slug")
    )


def _decide(rating: Rating, users: dict[str, User], *, analyst: str, turn: int) -> None:
    """Analyst review (a notch for ``ADJUSTED``), three votes with a chair."""
    slug, by, reason = ADJUSTED
    adjust = by if rating.entity.slug == slug and not rating.provisional else 0
    decisions.rating_analyst_review(
        actor=users[analyst],
        rating=rating,
        adjustment=adjust,
        reason=reason if adjust else "",
    )
    voters = [COMMITTEE[(turn + k) % len(COMMITTEE)] for k in range(3)]
    for number, username in enumerate(voters):
        decisions.rating_vote(
            actor=users[username],
            rating=rating,
            vote="approve",
            reason="Consistent with the evidence." if number == 0 else "",
            chair=number == 0,
        )


def _customers(password: str) -> list[User]:
    customers = []
    for username in CUSTOMERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(
                username=username, email=f"{username}@example.com", password=password
            )
            # Confirmed adults, ready to install any demo agent.
            User.objects.filter(pk=user.pk).update(
                email_verified_at=timezone.now(), birth_year=1990
            )
            user.refresh_from_db()
        customers.append(user)
    return customers


def _reviews(
    publishers: list[Organization],
    customers: list[User],
    owner: User,
    *,
    when: datetime,
    later: bool,
) -> None:
    """Customers install each publisher's first agent and review it, a few hours
    apart from ``when``; the publisher replies as its profile says."""
    turn = 0
    for index, publisher in enumerate(publishers):
        profile = PROFILE_OF.get(
            publisher.slug, PROFILE_TURNS[index % len(PROFILE_TURNS)]
        )
        early, late, reply_hours = PROFILES[profile]
        agent = (
            Agent.objects.filter(publisher=publisher, latest_version__isnull=False)
            .select_related("latest_version")
            .order_by("pk")
            .first()
        )
        if agent is None or agent.latest_version is None:
            continue
        scopes = [
            str(p.get("scope"))
            for p in agent.latest_version.declaration.get("permissions", [])
            if isinstance(p, dict)
        ]
        first = len(early) if later else 0
        for number, stars in enumerate(late if later else early):
            customer = customers[(index * 3 + first + number) % len(customers)]
            moment = when + timedelta(hours=3 * turn)
            turn += 1
            with _clock(moment):
                install_create(user=customer, agent=agent, granted_scopes=scopes)
                review = review_submit(
                    user=customer,
                    agent=agent,
                    stars=stars,
                    title=REVIEW_TITLES[stars],
                    body=REVIEW_BODIES[stars],
                )
            if reply_hours is not None:
                with _clock(moment + timedelta(hours=reply_hours)):
                    review_reply(
                        actor=owner,
                        review=review,
                        body="Thank you for your review; we read every one.",
                    )


REVIEW_TITLES = {
    1: "Does not do what it says",
    2: "Disappointing",
    3: "Works, with rough edges",
    4: "Useful every day",
    5: "Excellent",
}
REVIEW_BODIES = {
    1: "It failed at the main task, and I was charged for extras I never chose.",
    2: "Slow and often wrong; support did not answer.",
    3: "It does the job, but I have to check its work.",
    4: "Saves me time; a few small mistakes.",
    5: "Reliable and clear; exactly what the listing promised.",
}


def _findings(users: dict[str, User]) -> None:
    """The reports, through their whole path: sent, triaged by the operator's
    reviewer, investigated by the association, answered by the publisher,
    substantiated with a finding."""
    for number, (slug, category, severity, text) in enumerate(FINDINGS):
        publisher = Organization.objects.get(slug=slug)
        report = reports.report_submit(
            reporter=users[REPORTERS[number % len(REPORTERS)]],
            publisher=publisher,
            category=category,
            description=text,
        )
        report = reports.report_transition(
            report=report, to=MisconductReport.State.TRIAGED, actor=users["rita"]
        )
        report = reports.report_transition(
            report=report,
            to=MisconductReport.State.INVESTIGATING,
            actor=users["erin"],
        )
        report = reports.report_entity_answer(
            actor=users["alice"],
            report=report,
            text="We have looked into this and changed the listing.",
        )
        reports.report_transition(
            report=report,
            to=MisconductReport.State.SUBSTANTIATED,
            actor=users["erin"],
            severity=severity,
            note=f"Substantiated after hearing the publisher: {text}",
        )


@transaction.atomic
def load_credit(*, password: str) -> int:
    """Load the demo credit rating; idempotent. Returns how many ratings were
    made (0 when it was loaded already)."""
    if RatingCycle.objects.filter(body__slug=BODY_SLUG).exists():
        return 0
    users = _people(password)
    for username in ("alice", "rita", *REPORTERS):
        users[username] = User.objects.get(username=username)
    today = timezone.now()
    publishers = list(
        Organization.objects.filter(
            kind=Organization.Kind.PUBLISHER,
            memberships__user=users["alice"],
            memberships__role=Role.OWNER,
        ).exclude(slug__in=NOT_ENROLLED)
    )
    customers = _customers(password)
    made = 0

    # Five months ago: the first reviews.
    _reviews(
        publishers,
        customers,
        users["alice"],
        when=today - timedelta(days=150),
        later=False,
    )

    # Four months ago: the methodology, the enrolments, the first cycle.
    with _clock(today - timedelta(days=130)):
        body = _body(users)
        methodology = _methodology(body, users["erin"])
        slug, name, description = NEWCOMER
        if not Organization.objects.filter(slug=slug).exists():
            organization_create(
                actor=users["alice"],
                name=name,
                slug=slug,
                kind=Organization.Kind.PUBLISHER,
                description=description,
                website=f"https://{slug}.example.com",
            )
        enrolled = set(
            Enrolment.objects.filter(body=body, withdrawn_at__isnull=True).values_list(
                "entity_id", flat=True
            )
        )
        for publisher in publishers:
            if publisher.pk in enrolled:
                continue
            methodologies.enrolment_sign(
                actor=users["alice"], entity=publisher, body=body, language="zh"
            )
    with _clock(today - timedelta(days=125)):
        first = cycles.cycle_create(
            actor=users["erin"], methodology=methodology, chunk_size=20
        )
        ratings = _run(first)
        made += len(ratings)
        for turn, rating in enumerate(ratings):
            _decide(rating, users, analyst="erin", turn=turn)
            decisions.rating_notify(actor=users["erin"], rating=rating)
    with _clock(today - timedelta(days=100)):
        for rating in ratings:
            decisions.rating_publish(rating=rating, actor=users["dave"])

    # Three months ago, more reviews; two months ago, misconduct found and the
    # newcomer enrols.
    _reviews(
        publishers,
        customers,
        users["alice"],
        when=today - timedelta(days=90),
        later=True,
    )
    with _clock(today - timedelta(days=60)):
        _findings(users)
        newcomer = Organization.objects.get(slug=NEWCOMER[0])
        if not Enrolment.objects.filter(entity=newcomer, body=body).exists():
            methodologies.enrolment_sign(
                actor=users["alice"], entity=newcomer, body=body
            )

    # A month ago: the current cycle; all but two notified then.
    held_back = {UNDER_NOTICE, OBJECTED}
    with _clock(today - timedelta(days=32)):
        current = cycles.cycle_create(
            actor=users["frank"], methodology=methodology, chunk_size=20
        )
        ratings = _run(current)
        made += len(ratings)
        for turn, rating in enumerate(ratings):
            _decide(rating, users, analyst="frank", turn=turn)
            if rating.entity.slug not in held_back:
                decisions.rating_notify(actor=users["frank"], rating=rating)
    published = [r for r in ratings if r.entity.slug not in held_back]
    with _clock(today - timedelta(days=14)):
        for rating in published:
            decisions.rating_publish(rating=rating, actor=users["dave"])
        _sanctions(published, users)

    # Today: one notice open, one objection filed.
    for rating in ratings:
        if rating.entity.slug in held_back:
            decisions.rating_notify(actor=users["frank"], rating=rating)
        if rating.entity.slug == OBJECTED:
            decisions.objection_file(
                actor=users["alice"],
                rating=rating,
                grounds="misread_evidence",
                text=(
                    "The reviews counted as unanswered were answered on our "
                    "support site, where users asked us to reply; the links are "
                    "in our answer to each review."
                ),
            )
    _repair(users)
    slug, detail = WATCHED
    surveillance.watch_open(
        entity=Organization.objects.get(slug=slug),
        body=body,
        reason=Watch.Reason.ANALYST,
        detail=detail,
        actor=users["erin"],
    )
    return made


def _lowest(ratings: list[Rating], *grades: str) -> Rating | None:
    for grade in grades:
        for rating in ratings:
            rating.refresh_from_db(fields=["grade", "state"])
            if rating.grade == grade and rating.state == Rating.State.PUBLISHED:
                return rating
    return None


def _sanctions(published: list[Rating], users: dict[str, User]) -> None:
    """The dishonesty list for the lowest-rated publisher, a downranking for the
    next."""
    lowest = _lowest(published, "D")
    if lowest is not None:
        sanctions.sanction_impose(
            actor=users["dave"],
            rating=lowest,
            kind=GradeMeasure.Kind.DISHONESTY_LIST,
            reason=(
                "Two findings of misconduct against players in one year, and no "
                "correction after the association's warning."
            ),
        )
    other = _lowest([r for r in published if r is not lowest], "C", "CC", "CCC", "B")
    if other is not None:
        sanctions.sanction_impose(
            actor=users["dave"],
            rating=other,
            kind=GradeMeasure.Kind.DOWNRANK,
            reason="A substantiated finding of false advertising.",
        )


def _repair(users: dict[str, User]) -> None:
    """The downranked publisher's owner applies for credit repair."""
    from ratings.models import Sanction

    sanction = Sanction.objects.filter(
        body__slug=BODY_SLUG, kind=GradeMeasure.Kind.DOWNRANK
    ).first()
    if sanction is None:
        return
    repair.repair_apply(
        actor=users["alice"],
        sanction=sanction,
        corrective_actions=(
            "We rewrote the listing, removed the licence claim and added a review "
            "step before any listing text goes live."
        ),
        evidence_links=[f"https://{sanction.entity.slug}.example.com/corrections"],
    )
