"""Pages and API of rating watches, and of the investigation of reports (the
entity's answer, the finding): content, denials and query counts."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.models import Membership, User
from ratings.models import (
    ConflictOfInterest,
    Finding,
    MisconductReport,
    Rating,
    ReportEvidence,
    Watch,
)
from ratings.services import report_entity_answer, report_transition
from ratings.services.surveillance import watch_open
from tests.marketplace.factories import UserFactory
from tests.ratings.surveillance_world import (
    World,
    build_world,
    member,
    publish_watch_cycle,
    report_about,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
State = MisconductReport.State


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    return build_world(monkeypatch)


def _client(user: User | None = None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def _api(user: User | None = None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_authenticate(user)
    return client


def _watches_url(world: World) -> str:
    return reverse("credit-body-watches", kwargs={"body": world.body.slug})


def _resolve_url(world: World, watch: Watch) -> str:
    return reverse(
        "credit-watch-resolve",
        kwargs={"body": world.body.slug, "public_id": watch.public_id},
    )


def _open(world: World, entity_index: int = 0) -> Watch:
    return watch_open(
        entity=world.entities[entity_index],
        body=world.body,
        reason=Watch.Reason.ANALYST,
        detail="Complaints pile up.",
        actor=world.analyst,
    )


# --- The body's watch page -----------------------------------------------------------


def test_the_watch_page_lists_open_and_overdue_watches(world: World) -> None:
    # given: one watch fresh, one overdue
    fresh = _open(world)
    late = _open(world, 1)
    Watch.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(days=1))
    # when
    response = _client(world.analyst).get(_watches_url(world))
    # then
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="card mb-3 watch') == 2
    assert page.count("watch-overdue") == 1
    assert "Complaints pile up." in page
    assert page.count('class="row g-2 watch-resolve"') == 2
    overdue = _client(world.analyst).get(_watches_url(world), {"state": "overdue"})
    assert str(late.public_id) in overdue.content.decode()
    assert str(fresh.public_id) not in overdue.content.decode()


def test_a_bad_state_filter_answers_400(world: World) -> None:
    response = _client(world.analyst).get(_watches_url(world), {"state": "nope"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_committee_members_see_but_do_not_act(world: World) -> None:
    # given
    _open(world)
    client = _client(world.committee)
    # when
    page = client.get(_watches_url(world)).content.decode()
    # then
    assert "watch-resolve" not in page
    assert "watch-open" not in page
    response = client.post(
        _watches_url(world), {"entity": world.entities[1].slug, "detail": "x"}
    )
    assert response.status_code == 403


def test_outsiders_and_the_anonymous_are_turned_away(world: World) -> None:
    url = _watches_url(world)
    anonymous = _client().get(url)
    assert anonymous.status_code == 302
    assert "login" in anonymous["Location"]
    assert _client(UserFactory.create()).get(url).status_code == 403
    assert _client(world.entity_owner).get(url).status_code == 403
    missing = reverse("credit-body-watches", kwargs={"body": "no-such-body"})
    assert _client(world.analyst).get(missing).status_code == 404
    not_a_body = reverse("credit-body-watches", kwargs={"body": world.entity.slug})
    assert _client(world.analyst).get(not_a_body).status_code == 404


def test_an_analyst_opens_a_watch_from_the_page(world: World) -> None:
    # given
    client = _client(world.analyst)
    # when
    response = client.post(
        _watches_url(world), {"entity": world.entity.slug, "detail": "A recall."}
    )
    # then
    assert response.status_code == 302
    watch = Watch.objects.get()
    assert (watch.entity, watch.reason) == (world.entity, Watch.Reason.ANALYST)
    missing = client.post(
        _watches_url(world), {"entity": "no-such-entity", "detail": "x"}
    )
    assert missing.status_code == 400
    assert "There is no such entity." in missing.content.decode()
    empty = client.post(_watches_url(world), {"entity": world.entity.slug})
    assert empty.status_code == 400
    assert Watch.objects.count() == 1


def test_a_conflicted_analyst_cannot_open_or_resolve(world: World) -> None:
    watch = _open(world)
    conflicted = member(world.body, Role.ANALYST)
    ConflictOfInterest.objects.create(user=conflicted, entity=world.entity, reason="x")
    client = _client(conflicted)
    prefix = f"w-{watch.pk}"
    resolved = client.post(
        _resolve_url(world, watch),
        {f"{prefix}-resolution": "affirm", f"{prefix}-reason": "Fine."},
    )
    assert resolved.status_code == 403
    opened = client.post(
        _watches_url(world), {"entity": world.entity.slug, "detail": "x"}
    )
    assert opened.status_code == 403
    watch.refresh_from_db()
    assert watch.is_open


def test_resolving_from_the_page(world: World) -> None:
    # given
    watch = _open(world)
    prefix = f"w-{watch.pk}"
    client = _client(world.analyst)
    # when / then: without reasons, then with them
    bad = client.post(
        _resolve_url(world, watch),
        {f"{prefix}-resolution": "upgrade", f"{prefix}-reason": ""},
    )
    assert bad.status_code == 400
    assert "is-invalid" in bad.content.decode()
    downgrade = {
        f"{prefix}-resolution": "downgrade",
        f"{prefix}-reason": "Complaints upheld.",
        f"{prefix}-outlook": "negative",
    }
    # the watch cycle's rating is not published yet: no downgrade
    page = client.get(_watches_url(world)).content.decode()
    assert "watch-cycle-pending" in page
    early = client.post(_resolve_url(world, watch), downgrade)
    assert early.status_code == 409
    assert "publish the rating of the watch cycle first" in early.content.decode()
    world.rating.refresh_from_db()
    assert (world.rating.grade, world.rating.state) == ("BBB", "published")
    # once it is published, lower, the page says so and the downgrade goes
    since = publish_watch_cycle(watch, "BB")
    page = client.get(_watches_url(world)).content.decode()
    assert "Rated again since the watch opened: BB (was BBB)." in page
    done = client.post(_resolve_url(world, watch), downgrade)
    assert done.status_code == 302
    watch.refresh_from_db()
    assert watch.resolution == "downgrade"
    world.rating.refresh_from_db()
    assert (world.rating.grade, world.rating.state) == ("BBB", "superseded")
    since.refresh_from_db()
    assert (since.grade, since.outlook) == ("BB", "negative")
    again = client.post(
        _resolve_url(world, watch),
        {f"{prefix}-resolution": "affirm", f"{prefix}-reason": "Again."},
    )
    assert again.status_code == 409
    assert "resolved already" in again.content.decode()
    resolved_page = client.get(_watches_url(world), {"state": "resolved"})
    assert "Complaints upheld." in resolved_page.content.decode()


def test_a_watch_of_another_body_is_not_found(world: World) -> None:
    from tests.ratings.test_cycles import _body

    other, other_analyst = _body()
    watch = _open(world)
    url = reverse(
        "credit-watch-resolve",
        kwargs={"body": other.slug, "public_id": watch.public_id},
    )
    prefix = f"w-{watch.pk}"
    response = _client(other_analyst).post(
        url, {f"{prefix}-resolution": "affirm", f"{prefix}-reason": "x"}
    )
    assert response.status_code == 404


def test_the_watch_page_takes_the_same_queries_for_any_number_of_rows(
    world: World, django_assert_num_queries: Any
) -> None:
    from tests.ratings.test_cycles import _enrol

    client = _client(world.analyst)
    url = _watches_url(world)
    _open(world)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    more = _enrol(world.body, world.rating.cycle.methodology, 5, "more")
    for entity in more:
        watch_open(entity=entity, body=world.body, reason="recall", detail="Recalled.")
    with django_assert_num_queries(len(one)):
        response = client.get(url)
    assert response.content.decode().count('class="card mb-3 watch') == 6


# --- The watch API -------------------------------------------------------------------


def test_the_api_lists_opens_and_resolves_watches(world: World) -> None:
    api = _api(world.analyst)
    url = reverse("api-credit-body-watches", kwargs={"slug": world.body.slug})
    created = api.post(
        url, {"entity": world.entity.slug, "detail": "A call."}, format="json"
    )
    assert created.status_code == 201
    public_id = created.json()["public_id"]
    assert created.json()["grade"] == "BBB"
    again = api.post(url, {"entity": world.entity.slug, "detail": "x"}, format="json")
    assert again.status_code == 200
    assert again.json()["public_id"] == public_id
    listed = api.get(url)
    assert [w["public_id"] for w in listed.json()["results"]] == [public_id]
    assert listed.json()["results"][0]["overdue"] is False
    assert listed.json()["results"][0]["grade_since"] is None
    resolve = reverse("api-credit-watch-resolve", kwargs={"public_id": public_id})
    upgrade = {"resolution": "upgrade", "reason": "Fixed.", "grade": "A"}
    early = api.post(resolve, upgrade, format="json")
    assert early.status_code == 409
    assert "watch cycle" in str(early.json())
    publish_watch_cycle(Watch.objects.get(public_id=public_id), "A")
    assert api.get(url).json()["results"][0]["grade_since"] == "A"
    done = api.post(resolve, upgrade, format="json")
    assert done.status_code == 200
    assert (
        done.json()["resolution"],
        done.json()["grade"],
        done.json()["grade_since"],
    ) == ("upgrade", "BBB", "A")
    current = Rating.objects.get(entity=world.entity, state="published")
    assert current.grade == "A"
    twice = api.post(resolve, {"resolution": "affirm", "reason": "x"}, format="json")
    assert twice.status_code == 409
    resolved = api.get(url, {"state": "resolved"})
    assert len(resolved.json()["results"]) == 1


def test_the_api_refuses_bad_input(world: World) -> None:
    api = _api(world.analyst)
    url = reverse("api-credit-body-watches", kwargs={"slug": world.body.slug})
    assert api.get(url, {"state": "nope"}).status_code == 400
    assert (
        api.post(url, {"entity": "nobody", "detail": "x"}, format="json").status_code
        == 400
    )
    assert (
        api.post(url, {"entity": world.entity.slug}, format="json").status_code == 400
    )
    watch = _open(world)
    resolve = reverse("api-credit-watch-resolve", kwargs={"public_id": watch.public_id})
    for body in (
        {"resolution": "shrug", "reason": "x"},
        {"resolution": "affirm"},
        {"resolution": "affirm", "reason": "x", "outlook": "sunny"},
        {"resolution": "affirm", "reason": "x", "grade": "AAA"},
    ):
        assert api.post(resolve, body, format="json").status_code == 400
    watch.refresh_from_db()
    assert watch.is_open


def test_the_api_denials(world: World) -> None:
    url = reverse("api-credit-body-watches", kwargs={"slug": world.body.slug})
    watch = _open(world)
    resolve = reverse("api-credit-watch-resolve", kwargs={"public_id": watch.public_id})
    body = {"resolution": "affirm", "reason": "x"}
    assert _api().get(url).status_code in (401, 403)
    assert _api(UserFactory.create()).get(url).status_code == 403
    assert (
        _api(world.entity_owner).post(resolve, body, format="json").status_code == 404
    )
    committee = _api(world.committee)
    assert committee.get(url).status_code == 200
    assert committee.post(resolve, body, format="json").status_code == 403
    assert (
        committee.post(
            url, {"entity": world.entity.slug, "detail": "x"}, format="json"
        ).status_code
        == 403
    )
    missing = reverse("api-credit-body-watches", kwargs={"slug": "no-such-body"})
    assert _api(world.analyst).get(missing).status_code == 404


def test_the_api_list_takes_the_same_queries_for_any_page_size(
    world: World, django_assert_num_queries: Any
) -> None:
    from tests.ratings.test_cycles import _enrol

    more = _enrol(world.body, world.rating.cycle.methodology, 4, "api")
    for entity in [world.entity, *more]:
        watch_open(entity=entity, body=world.body, reason="recall", detail="x")
    api = _api(world.analyst)
    url = reverse("api-credit-body-watches", kwargs={"slug": world.body.slug})
    api.get(url)
    with CaptureQueriesContext(connection) as small:
        response = api.get(url, {"page_size": 1})
    assert len(response.json()["results"]) == 1
    with django_assert_num_queries(len(small)):
        response = api.get(url, {"page_size": 5})
    assert len(response.json()["results"]) == 5


# --- Investigation pages -------------------------------------------------------------


def _investigating(world: World) -> MisconductReport:
    report = report_about(world.entity, world.body)
    ReportEvidence.objects.create(
        report=report,
        file="reports/x/evidence.txt",
        original_name="secret-log.txt",
        content_type="text/plain",
        size=3,
        sha256="0" * 64,
    )
    return report_transition(report=report, to=State.INVESTIGATING, actor=world.analyst)


def _detail(report: MisconductReport) -> str:
    return reverse("report-detail", kwargs={"public_id": report.public_id})


def test_the_entity_reads_the_report_without_evidence_and_answers(
    world: World,
) -> None:
    # given
    report = _investigating(world)
    client = _client(world.entity_owner)
    # when
    page = client.get(_detail(report)).content.decode()
    # then: the report without its evidence, and the answer form
    assert report.description in page
    assert "secret-log.txt" not in page
    assert report.reporter.username not in page  # type: ignore[union-attr]
    assert "The entity may answer until" in page
    assert 'class="report-answer"' in page
    evidence = report.evidence.get()
    download = client.get(
        reverse(
            "report-evidence",
            kwargs={"public_id": report.public_id, "evidence_id": evidence.pk},
        )
    )
    assert download.status_code == 404
    listed = client.get(reverse("report-entity-list")).content.decode()
    assert str(report.public_id) in listed
    # when: the owner answers
    answer_url = reverse("report-answer", kwargs={"public_id": report.public_id})
    empty = client.post(answer_url, {"text": "  "})
    assert empty.status_code == 400
    sent = client.post(answer_url, {"text": "We removed the claim."})
    assert sent.status_code == 302
    page = client.get(_detail(report)).content.decode()
    assert "We removed the claim." in page
    assert 'class="report-answer"' not in page
    twice = client.post(answer_url, {"text": "Again."})
    assert twice.status_code == 409


def test_the_answer_form_is_refused_to_others(world: World) -> None:
    report = _investigating(world)
    answer_url = reverse("report-answer", kwargs={"public_id": report.public_id})
    # a member who is not an owner or admin does not see the report at all
    assert (
        _client(world.entity_member).post(answer_url, {"text": "x"}).status_code == 404
    )
    assert (
        _client(UserFactory.create()).post(answer_url, {"text": "x"}).status_code == 404
    )
    # the analyst sees it but does not answer for the entity
    assert _client(world.analyst).post(answer_url, {"text": "x"}).status_code == 403
    assert _client().post(answer_url, {"text": "x"}).status_code == 302


def test_the_analyst_upholds_with_the_finding_fields(world: World) -> None:
    # given
    report = _investigating(world)
    client = _client(world.analyst)
    page = client.get(_detail(report)).content.decode()
    assert "secret-log.txt" in page
    assert 'name="severity"' in page
    url = reverse("report-transition", kwargs={"public_id": report.public_id})
    early = client.post(
        url,
        {
            "to": "substantiated",
            "seen": "investigating",
            "severity": "general",
            "note": "Found.",
        },
        follow=True,
    )
    assert "may answer until" in early.content.decode()
    assert not Finding.objects.exists()
    report_entity_answer(actor=world.entity_owner, report=report, text="Sorry.")
    # when
    client.post(
        url,
        {
            "to": "substantiated",
            "seen": "investigating",
            "severity": "serious",
            "category": "concealing_defects",
            "occurred_on": "2025-01-15",
            "note": "Hid a known defect.",
        },
    )
    # then
    finding = Finding.objects.get(report=report)
    assert (finding.severity, finding.category) == ("serious", "concealing_defects")
    assert timezone.localtime(finding.occurred_at).date().isoformat() == "2025-01-15"
    page = _client(world.entity_owner).get(_detail(report)).content.decode()
    assert "Hid a known defect." in page
    assert 'class="mb-4 finding"' in page
    assert Watch.objects.filter(entity=world.entity, finding=finding).exists()


def test_the_report_api_for_the_entity_and_the_body(world: World) -> None:
    report = _investigating(world)
    detail = reverse("api-report-detail", kwargs={"public_id": report.public_id})
    owner = _api(world.entity_owner)
    seen = owner.get(detail).json()
    assert seen["evidence"] == []
    assert seen["evidence_links"] == []
    assert seen["answer_deadline"] is not None
    about = owner.get("/api/v1/reports/", {"scope": "about"}).json()
    assert [r["public_id"] for r in about["results"]] == [str(report.public_id)]
    assert owner.get("/api/v1/reports/", {"scope": "nope"}).status_code == 400
    answer = reverse("api-report-answer", kwargs={"public_id": report.public_id})
    assert owner.post(answer, {"text": ""}, format="json").status_code == 400
    assert owner.post(answer, {"text": "Fixed."}, format="json").status_code == 200
    assert owner.post(answer, {"text": "Again."}, format="json").status_code == 409
    analyst = _api(world.analyst)
    assert len(analyst.get(detail).json()["evidence"]) == 1
    assigned = analyst.get("/api/v1/reports/", {"scope": "assigned"}).json()
    assert [r["public_id"] for r in assigned["results"]] == [str(report.public_id)]
    assert analyst.post(answer, {"text": "x"}, format="json").status_code == 403
    move = reverse("api-report-transition", kwargs={"public_id": report.public_id})
    bad = analyst.post(
        move, {"to": "substantiated", "note": "x", "severity": "grave"}, format="json"
    )
    assert bad.status_code == 400
    done = analyst.post(
        move,
        {"to": "substantiated", "note": "Found.", "severity": "minor"},
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["finding"]["severity"] == "minor"


def test_the_report_lists_take_the_same_queries_for_any_number_of_rows(
    world: World,
) -> None:
    owner, analyst = _client(world.entity_owner), _client(world.analyst)
    owner_api, analyst_api = _api(world.entity_owner), _api(world.analyst)
    pages = [
        (owner, reverse("report-entity-list")),
        (analyst, reverse("report-body-list")),
    ]
    apis = [(owner_api, "about"), (analyst_api, "assigned")]

    def measure() -> list[int]:
        counts = []
        for client, url in pages:
            with CaptureQueriesContext(connection) as captured:
                assert client.get(url).status_code == 200
            counts.append(len(captured))
        for api, scope in apis:
            with CaptureQueriesContext(connection) as captured:
                response = api.get("/api/v1/reports/", {"scope": scope})
            assert response.status_code == 200
            counts.append(len(captured))
        return counts

    _investigating(world)
    measure()
    one = measure()
    for _n in range(4):
        _investigating(world)
    many = measure()
    assert many == one
    page = owner.get(reverse("report-entity-list")).content.decode()
    assert page.count('href="/reports/') >= 5


def test_the_api_refuses_to_uphold_before_the_entity_was_heard(world: World) -> None:
    # given: under investigation, not answered, the deadline ahead
    report = _investigating(world)
    move = reverse("api-report-transition", kwargs={"public_id": report.public_id})
    # when
    response = _api(world.analyst).post(
        move,
        {"to": "substantiated", "note": "Found.", "severity": "general"},
        format="json",
    )
    # then
    assert response.status_code == 409
    assert "may answer until" in response.json()["error"]["message"]
    assert not Finding.objects.exists()
