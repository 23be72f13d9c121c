"""The public credit registry's pages: the list of rated entities and its
filters, an entity's credit profile (breakdown, history, charts, findings,
sanctions, watch, withdrawal) and the dishonesty list."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import resolve, reverse
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from ratings.models import (
    Enrolment,
    Finding,
    GradeMeasure,
    Methodology,
    Rating,
    RatingCycle,
    Sanction,
    Watch,
)
from ratings.selectors.registry import credit_profile, current_ratings, grade_scale
from ratings.services.cycles import cycle_create
from ratings.services.decisions import (
    rating_analyst_review,
    rating_notify,
    rating_publish,
    rating_vote,
)
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.ratings.factories import MisconductReportFactory
from tests.ratings.test_cycles import _body, _enrol, _evidence, _methodology, _run

pytestmark = pytest.mark.django_db

State = Rating.State
SVG = "{http://www.w3.org/2000/svg}"

# Three indicators of the test methodology whose contributions add up to 72.35.
CONTRIBUTIONS: list[dict[str, Any]] = [
    {
        "code": "findings",
        "category": "misconduct",
        "weight": "40",
        "normalised": "100.00",
        "contribution": "40.00",
    },
    {
        "code": "reviews",
        "category": "consumer",
        "weight": "35",
        "normalised": "62.43",
        "contribution": "21.85",
    },
    {
        "code": "disclosure",
        "category": "disclosure",
        "weight": "25",
        "normalised": "42.00",
        "contribution": "10.50",
    },
]


@dataclass
class Scene:
    body: Organization
    analyst: User
    methodology: Methodology


def make_scene() -> Scene:
    body, analyst = _body()
    return Scene(body, analyst, _methodology(body, analyst))


@pytest.fixture
def scene() -> Scene:
    return make_scene()


def publisher(name: str = "", slug: str = "") -> Organization:
    fields: dict[str, Any] = {}
    if name:
        fields["name"] = name
    if slug:
        fields["slug"] = slug
    return OrganizationFactory.create(kind=Organization.Kind.PUBLISHER, **fields)


def rating_row(
    scene: Scene,
    entity: Organization,
    *,
    grade: str = "BBB",
    score: str = "72.35",
    state: str = State.PUBLISHED,
    published_at: datetime | None = None,
    valid_until: datetime | None = None,
    outlook: str = Rating.Outlook.STABLE,
    contributions: list[dict[str, Any]] | None = None,
    body: Organization | None = None,
    methodology: Methodology | None = None,
) -> Rating:
    """A rating written directly, in a cycle of its own (for history and edge
    cases the services would take many steps to reach)."""
    methodology = methodology or scene.methodology
    cycle = RatingCycle.objects.create(
        body=body or scene.body,
        methodology=methodology,
        as_of=timezone.now(),
        state=RatingCycle.State.PUBLISHED,
    )
    return Rating.objects.create(
        cycle=cycle,
        entity=entity,
        score=Decimal(score),
        grade=grade,
        computed_grade=grade,
        coverage=Decimal("1.0000"),
        contributions=CONTRIBUTIONS if contributions is None else contributions,
        evidence={},
        evidence_hash="ab" * 32,
        state=state,
        published_at=published_at or timezone.now(),
        valid_until=valid_until,
        outlook=outlook,
    )


def sanction_on(
    rating: Rating,
    *,
    kind: str = GradeMeasure.Kind.DISHONESTY_LIST,
    state: str = Sanction.State.ACTIVE,
    ends_in: timedelta = timedelta(days=200),
    reason: str = "Listed for fraud.",
) -> Sanction:
    now = timezone.now()
    return Sanction.objects.create(
        entity=rating.entity,
        body=rating.cycle.body,
        rating=rating,
        kind=kind,
        reason=reason,
        state=state,
        starts_at=now - timedelta(days=10),
        ends_at=now + ends_in,
        repairable_from=now + timedelta(days=80),
        ended_at=now if state != Sanction.State.ACTIVE else None,
    )


def walk_to_published(rating: Rating, analyst: User) -> Rating:
    """Analyst review, three committee votes, notice, the window closed,
    publication: the real services all the way."""
    committee = []
    for _ in range(3):
        member = UserFactory.create()
        MembershipFactory.create(
            user=member,
            organization=rating.cycle.body,
            role=Membership.Role.COMMITTEE_MEMBER,
        )
        committee.append(member)
    rating = rating_analyst_review(actor=analyst, rating=rating)
    for n, member in enumerate(committee):
        rating_vote(actor=member, rating=rating, vote="approve", chair=n == 0)
    rating.refresh_from_db()
    rating = rating_notify(actor=analyst, rating=rating)
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    rating.refresh_from_db()
    return rating_publish(rating=rating)


def make_published(monkeypatch: pytest.MonkeyPatch) -> Rating:
    """A rating computed by a real cycle and walked to publication (set to a
    plain BBB first so that its grade is on the scale)."""
    monkeypatch.setattr("ratings.evidence.gather", _evidence)
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    publishers = _enrol(body, methodology, 2, "reg")
    cycle = _run(cycle_create(actor=analyst, methodology=methodology))
    rating = Rating.objects.get(cycle=cycle, entity=publishers[0])
    Rating.objects.filter(pk=rating.pk).update(
        grade="BBB", computed_grade="BBB", provisional=False
    )
    rating.refresh_from_db()
    published = walk_to_published(rating, analyst)
    assert published.state == State.PUBLISHED
    return published


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Rating:
    return make_published(monkeypatch)


def contributions_in(html: str) -> list[Decimal]:
    return [
        Decimal(v)
        for v in re.findall(r'class="text-end contribution">([0-9.]+)<', html)
    ]


def queries_of(client: Client, url: str, query: dict[str, str] | None = None) -> int:
    """How many queries a GET of ``url`` runs (it must answer 200)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, query or {})
    assert response.status_code == 200
    return len(queries)


def svgs_in(html: str) -> list[ElementTree.Element]:
    return [
        ElementTree.fromstring(match)  # noqa: S314  # our own output
        for match in re.findall(r"<svg .*?</svg>", html, flags=re.DOTALL)
    ]


# --- The registry list ---------------------------------------------------------------


def test_registry_lists_a_rating_published_through_the_services(
    client: Client, published: Rating
) -> None:
    # when
    response = client.get(reverse("credit-registry"))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert published.entity.name in html
    assert published.cycle.body.name in html
    assert (
        reverse("credit-profile", kwargs={"publisher": published.entity.slug}) in html
    )
    assert '<strong class="credit-grade">BBB</strong>' in html
    # the other publisher of the cycle was computed but never published
    other = Rating.objects.exclude(pk=published.pk).get(cycle=published.cycle)
    assert f'data-entity="{other.entity.slug}"' not in html


def test_registry_filters_by_grade_body_and_name(client: Client, scene: Scene) -> None:
    # given: A, BBB and B by one body, AA by another
    rating_row(scene, publisher("Alpha Labs"), grade="A")
    rating_row(scene, publisher("Beta Works"), grade="BBB")
    rating_row(scene, publisher("Gamma Soft"), grade="B")
    other_body, other_analyst = _body()
    other_methodology = _methodology(other_body, other_analyst)
    rating_row(
        scene,
        publisher("Delta Apps"),
        grade="AA",
        body=other_body,
        methodology=other_methodology,
    )

    def names(**query: str) -> set[str]:
        response = client.get(reverse("credit-registry"), query)
        assert response.status_code == 200
        return set(
            re.findall(
                r'data-entity="[^"]+">\s*<td><a [^>]+>([^<]+)</a>',
                response.content.decode(),
            )
        )

    # then
    assert names() == {"Alpha Labs", "Beta Works", "Gamma Soft", "Delta Apps"}
    assert names(grade="BBB") == {"Alpha Labs", "Beta Works", "Delta Apps"}
    assert names(grade="BBB", match="at_least") == {
        "Alpha Labs",
        "Beta Works",
        "Delta Apps",
    }
    assert names(grade="BBB", match="exactly") == {"Beta Works"}
    assert names(body=other_body.slug) == {"Delta Apps"}
    assert names(q="works") == {"Beta Works"}
    assert names(q="nothing-like-it") == set()


@pytest.mark.parametrize(
    "query",
    [
        {"grade": "ZZZ"},
        {"match": "roughly"},
        {"body": "no-such-body"},
        {"q": "x" * 101},
    ],
)
def test_bad_registry_filters_answer_400_with_a_message(
    client: Client, scene: Scene, query: dict[str, str]
) -> None:
    rating_row(scene, publisher("Alpha Labs"))
    response = client.get(reverse("credit-registry"), query)
    assert response.status_code == 400
    html = response.content.decode()
    assert "filter-errors" in html
    assert "Alpha Labs" not in html


@pytest.mark.parametrize("page", ["x", "-1", "999", ""])
def test_a_bad_page_number_gives_a_page_not_an_error(
    client: Client, scene: Scene, page: str
) -> None:
    rating_row(scene, publisher("Alpha Labs"))
    response = client.get(reverse("credit-registry"), {"page": page})
    assert response.status_code == 200
    assert "Alpha Labs" in response.content.decode()


def test_registry_marks_watch_and_dishonesty_list(client: Client, scene: Scene) -> None:
    # given
    watched = rating_row(scene, publisher("Watched One"))
    listed = rating_row(scene, publisher("Listed One"), grade="D")
    Watch.objects.create(
        entity=watched.entity,
        body=scene.body,
        reason=Watch.Reason.ANALYST,
        due_at=timezone.now() + timedelta(days=90),
    )
    sanction_on(listed)
    # when
    html = client.get(reverse("credit-registry")).content.decode()
    # then
    rows = dict(re.findall(r'data-entity="([^"]+)">(.*?)</tr>', html, flags=re.DOTALL))
    assert "on-watch" in rows[watched.entity.slug]
    assert "dishonesty-mark" not in rows[watched.entity.slug]
    assert "dishonesty-mark" in rows[listed.entity.slug]
    assert "on-watch" not in rows[listed.entity.slug]


def test_registry_query_count_is_constant(
    client: Client, scene: Scene, django_assert_num_queries: Any
) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            rating = rating_row(scene, publisher())
            Watch.objects.create(
                entity=rating.entity,
                body=scene.body,
                reason=Watch.Reason.ANALYST,
                due_at=timezone.now() + timedelta(days=90),
            )
            sanction_on(rating)

    url = reverse("credit-registry")
    add(2)
    small = queries_of(client, url, {"grade": "B"})
    add(6)
    with django_assert_num_queries(small):
        response = client.get(url, {"grade": "B"})
    assert response.content.decode().count('class="registry-row"') == 8


def test_an_expired_rating_is_not_current(client: Client, scene: Scene) -> None:
    # given: a rating that lapsed yesterday, and an old one without an end
    lapsed = rating_row(
        scene,
        publisher("Lapsed Co"),
        published_at=timezone.now() - timedelta(days=400),
        valid_until=timezone.now() - timedelta(days=1),
    )
    open_ended = rating_row(scene, publisher("Old Row Co"), valid_until=None)
    # then
    assert set(current_ratings()) == {open_ended}
    html = client.get(reverse("credit-registry")).content.decode()
    assert "Old Row Co" in html
    assert "Lapsed Co" not in html
    profile = client.get(
        reverse("credit-profile", kwargs={"publisher": lapsed.entity.slug})
    ).content.decode()
    assert "no-current-rating" in profile
    assert "current-rating" not in profile.replace("no-current-rating", "")


def test_only_the_latest_publication_of_a_body_is_current(scene: Scene) -> None:
    entity = publisher()
    rating_row(scene, entity, published_at=timezone.now() - timedelta(days=30))
    newer = rating_row(scene, entity, grade="A")
    assert list(current_ratings()) == [newer]


# --- The profile ----------------------------------------------------------------------


def test_profile_explains_a_published_rating(client: Client, published: Rating) -> None:
    # given
    methodology = published.cycle.methodology
    # when
    response = client.get(
        reverse("credit-profile", kwargs={"publisher": published.entity.slug})
    )
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "BBB means..." in html  # the band's public definition
    assert (
        reverse(
            "credit-methodology-detail",
            kwargs={
                "body": published.cycle.body.slug,
                "code": methodology.code,
                "version": methodology.version,
            },
        )
        in html
    )
    assert published.evidence_hash in html
    assert "Agent developer credit" in html  # the methodology's name
    # the breakdown: one row per indicator, adding up to the score in the total
    contributions = contributions_in(html)
    assert len(contributions) == len(published.contributions)
    assert sum(contributions) == published.score
    total = re.search(r'class="total-row">.*?<strong>([0-9.]+)</strong>', html, re.S)
    assert total is not None
    assert Decimal(total.group(1)) == published.score
    assert "Misconduct findings" in html  # indicator names from the methodology
    # two charts, each an image with a title and a description
    charts = svgs_in(html)
    assert len(charts) == 2
    for chart in charts:
        assert chart.get("role") == "img"
        title_id, desc_id = str(chart.get("aria-labelledby")).split()
        assert chart.find(f"{SVG}title").get("id") == title_id  # type: ignore[union-attr]
        assert chart.find(f"{SVG}desc").get("id") == desc_id  # type: ignore[union-attr]


def test_profile_shows_superseded_history_in_table_and_chart(
    client: Client, scene: Scene
) -> None:
    # given: three publications, the last one current
    entity = publisher()
    now = timezone.now()
    rating_row(
        scene,
        entity,
        grade="B",
        score="55.00",
        state=State.SUPERSEDED,
        published_at=now - timedelta(days=700),
        outlook=Rating.Outlook.POSITIVE,
    )
    rating_row(
        scene,
        entity,
        grade="BBB",
        score="71.00",
        state=State.SUPERSEDED,
        published_at=now - timedelta(days=350),
    )
    rating_row(scene, entity, grade="A", score="72.35", published_at=now)
    # when
    html = client.get(
        reverse("credit-profile", kwargs={"publisher": entity.slug})
    ).content.decode()
    # then
    states = re.findall(r'class="history-row" data-state="(\w+)"', html)
    assert states == ["published", "superseded", "superseded"]
    assert "55.00" in html
    assert "Positive" in html
    history = next(c for c in svgs_in(html) if "grade-history" in str(c.get("id")))
    marks = [c for c in history.iter(f"{SVG}circle") if c.get("class") == "mark"]
    assert len(marks) == 3
    # time runs left to right; a better grade sits higher
    xs = [float(str(m.get("cx"))) for m in marks]
    ys = [float(str(m.get("cy"))) for m in marks]
    assert xs == sorted(xs)
    assert ys[0] > ys[1] > ys[2]  # B, then BBB, then A


def test_grade_scale_keeps_the_methodology_order_and_adds_the_rest(
    scene: Scene,
) -> None:
    bands = list(scene.methodology.bands.order_by("-min_score"))
    assert grade_scale(bands, []) == ["AAA", "A", "BBB", "B", "C", "D"]
    # a grade of an older scale goes to its place; a provisional one last
    assert grade_scale(bands, ["NR-P", "BB", "A"]) == [
        "AAA",
        "A",
        "BBB",
        "BB",
        "B",
        "C",
        "D",
        "NR-P",
    ]


def test_profile_of_a_publisher_never_rated_says_so(client: Client) -> None:
    entity = publisher("Fresh Start")
    response = client.get(reverse("credit-profile", kwargs={"publisher": entity.slug}))
    assert response.status_code == 200
    html = response.content.decode()
    assert "not-rated" in html
    assert "<svg" not in html


def test_profile_404s(client: Client) -> None:
    body = OrganizationFactory.create(kind=Organization.Kind.INDUSTRY_BODY)
    assert (
        client.get(reverse("credit-profile", kwargs={"publisher": "nobody"}))
    ).status_code == 404
    assert (
        client.get(reverse("credit-profile", kwargs={"publisher": body.slug}))
    ).status_code == 404


def test_profile_shows_watch_findings_sanctions_and_withdrawal(
    client: Client, scene: Scene
) -> None:
    # given
    entity = publisher()
    rating = rating_row(scene, entity, grade="D")
    Watch.objects.create(
        entity=entity,
        body=scene.body,
        reason=Watch.Reason.SEVERE_FINDING,
        due_at=timezone.now() + timedelta(days=90),
    )
    Finding.objects.create(
        report=MisconductReportFactory.create(publisher=entity),
        entity=entity,
        body=scene.body,
        category="false_advertising",
        severity=Finding.Severity.SERIOUS,
        occurred_at=timezone.now() - timedelta(days=20),
        reasons="Proven.",
        repaired_at=timezone.now(),
    )
    sanction_on(rating)
    sanction_on(rating, kind=GradeMeasure.Kind.DOWNRANK, state=Sanction.State.LIFTED)
    Enrolment.objects.create(
        entity=entity,
        body=scene.body,
        methodology=scene.methodology,
        commitment_text="We commit.",
        withdrawn_at=timezone.now() - timedelta(days=1),
    )
    # when
    html = client.get(
        reverse("credit-profile", kwargs={"publisher": entity.slug})
    ).content.decode()
    # then
    assert "A serious misconduct finding" in html
    assert html.count('class="finding-row"') == 1
    assert "Serious" in html
    assert "Yes," in html  # repaired
    assert sorted(re.findall(r'class="sanction-row" data-state="(\w+)"', html)) == [
        "active",
        "lifted",
    ]
    assert "Store downranking" in html
    assert "dishonesty-alert" in html
    assert "enrolment-withdrawn" in html


def test_a_re_enrolled_entity_has_no_withdrawal_note(scene: Scene) -> None:
    entity = publisher()
    rating_row(scene, entity)
    Enrolment.objects.create(
        entity=entity,
        body=scene.body,
        methodology=scene.methodology,
        commitment_text="We commit.",
        withdrawn_at=timezone.now() - timedelta(days=30),
    )
    Enrolment.objects.create(
        entity=entity,
        body=scene.body,
        methodology=scene.methodology,
        commitment_text="We commit again.",
    )
    assert credit_profile(entity=entity).bodies[0].withdrawn_at is None


def test_profile_query_count_is_constant(
    client: Client, scene: Scene, django_assert_num_queries: Any
) -> None:
    entity = publisher()
    url = reverse("credit-profile", kwargs={"publisher": entity.slug})

    def add(n: int) -> None:
        Rating.objects.filter(entity=entity).update(state=State.SUPERSEDED)
        for i in range(n):
            rating = rating_row(
                scene,
                entity,
                state=State.SUPERSEDED if i < n - 1 else State.PUBLISHED,
                published_at=timezone.now() - timedelta(days=n - i),
            )
            sanction_on(rating, kind=GradeMeasure.Kind.DOWNRANK)
            Finding.objects.create(
                report=MisconductReportFactory.create(publisher=entity),
                entity=entity,
                body=scene.body,
                category="false_advertising",
                severity=Finding.Severity.MINOR,
                occurred_at=timezone.now(),
                reasons="Proven.",
            )

    add(2)
    small = queries_of(client, url)
    add(5)
    with django_assert_num_queries(small):
        response = client.get(url)
    assert response.content.decode().count('class="history-row"') == 7


def test_grade_definition_follows_the_reader_language(
    client: Client, scene: Scene
) -> None:
    scene.methodology.bands.filter(grade="BBB").update(definition_zh="BBB 的含义")
    entity = publisher()
    rating_row(scene, entity)
    url = reverse("credit-profile", kwargs={"publisher": entity.slug})
    assert "BBB means..." in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "BBB 的含义" in chinese


# --- The dishonesty list ---------------------------------------------------------


def test_dishonesty_list_excludes_lifted_expired_and_other_sanctions(
    client: Client, scene: Scene
) -> None:
    # given
    listed = sanction_on(rating_row(scene, publisher("Listed Co"), grade="D"))
    sanction_on(
        rating_row(scene, publisher("Lifted Co"), grade="D"),
        state=Sanction.State.LIFTED,
    )
    sanction_on(
        rating_row(scene, publisher("Expired Co"), grade="D"),
        state=Sanction.State.EXPIRED,
    )
    sanction_on(
        rating_row(scene, publisher("Ran Out Co"), grade="D"),
        ends_in=timedelta(days=-1),
    )
    sanction_on(
        rating_row(scene, publisher("Downranked Co"), grade="C"),
        kind=GradeMeasure.Kind.DOWNRANK,
    )
    # when
    response = client.get(reverse("credit-dishonesty-list"))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'class="listed-entity" data-entity="([^"]+)"', html) == [
        listed.entity.slug
    ]
    assert "Listed for fraud." in html
    # and the JSON says the same
    data = client.get(reverse("credit-dishonesty-list-json")).json()
    assert [r["entity"]["slug"] for r in data["results"]] == [listed.entity.slug]
    assert data["count"] == 1


@pytest.mark.parametrize(
    "name", ["credit-dishonesty-list", "credit-dishonesty-list-json"]
)
def test_dishonesty_list_query_count_is_constant(
    client: Client, scene: Scene, django_assert_num_queries: Any, name: str
) -> None:
    def add(n: int) -> None:
        for _ in range(n):
            sanction_on(rating_row(scene, publisher(), grade="D"))

    url = reverse(name)
    add(2)
    small = queries_of(client, url)
    add(6)
    with django_assert_num_queries(small):
        response = client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count(scene.body.name) >= 8


def test_dishonesty_list_bad_page_gives_the_first(client: Client, scene: Scene) -> None:
    sanction_on(rating_row(scene, publisher("Listed Co"), grade="D"))
    for page in ("x", "0", "99"):
        assert (
            client.get(reverse("credit-dishonesty-list"), {"page": page}).status_code
            == 200
        )
        data = client.get(reverse("credit-dishonesty-list-json"), {"page": page}).json()
        assert len(data["results"]) == 1


# --- Addresses and links ---------------------------------------------------------


def test_fixed_credit_paths_come_before_the_publisher_route() -> None:
    assert resolve("/credit/dishonesty-list/").url_name == "credit-dishonesty-list"
    assert resolve("/credit/methodologies/").url_name == "credit-methodology-list"
    assert resolve("/credit/console/").url_name == "credit-console"
    assert resolve("/credit/entity/").url_name == "credit-entity-index"
    assert resolve("/credit/some-publisher/").url_name == "credit-profile"
    assert resolve("/credit/some-publisher.json").url_name == "credit-profile-json"


def test_navigation_and_publisher_page_link_to_the_registry(
    client: Client, published: Rating
) -> None:
    html = client.get(
        reverse("publisher-detail", kwargs={"slug": published.entity.slug})
    ).content.decode()
    assert reverse("credit-registry") in html
    assert (
        reverse("credit-profile", kwargs={"publisher": published.entity.slug}) in html
    )
