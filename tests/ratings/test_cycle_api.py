"""Rating cycles and decisions through the API: happy paths, bad input, denials
and constant query counts on the lists."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from marketplace.models import Membership, User
from ratings.models import (
    CommitteeVote,
    ConflictOfInterest,
    Objection,
    Rating,
    RatingCycle,
)
from ratings.services.cycles import cycle_create
from ratings.tasks import cycle_start as cycle_start_task
from tests.marketplace.factories import UserFactory
from tests.ratings.test_cycle_views import (
    Setting,
    member,
    run_cycle,
    setting_fixture,  # noqa: F401  # the fixture
)
from tests.ratings.test_cycles import _body, _enrol, _methodology
from tests.ratings.test_decision_views import first_rating, noticed

pytestmark = pytest.mark.django_db

Role = Membership.Role
State = Rating.State


def api(user: User | None = None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_authenticate(user)
    return client


def rating_url(rating: Rating, action: str = "") -> str:
    name = f"api-credit-rating-{action}" if action else "api-credit-rating-detail"
    return reverse(name, kwargs={"pk": rating.pk})


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


# --- Cycles -------------------------------------------------------------------------


def test_an_analyst_starts_a_cycle_and_reads_its_progress(setting: Setting) -> None:
    # given
    client = api(setting.analyst)
    url = reverse("api-credit-body-cycles", kwargs={"slug": setting.body.slug})

    # when
    created = client.post(url, {"chunk_size": 2}, format="json")
    public_id = created.json()["public_id"]
    cycle = RatingCycle.objects.get(public_id=public_id)
    cycle_start_task(cycle_id=cycle.pk)
    detail_url = reverse("api-credit-cycle-detail", kwargs={"public_id": public_id})
    scoring = client.get(detail_url).json()
    listed = client.get(url).json()

    # then
    assert created.status_code == 201
    assert created.json()["methodology"] == str(setting.methodology.public_id)
    assert created.json()["progress"]["running"] is True
    assert scoring["state"] == "scoring"
    assert scoring["progress"] == {
        "state": "scoring",
        "total": 3,
        "done": 0,
        "percent": 0,
        "running": True,
    }
    assert [c["public_id"] for c in listed["results"]] == [public_id]


def test_starting_a_cycle_refuses_bad_input_and_the_wrong_people(
    setting: Setting,
) -> None:
    # given
    url = reverse("api-credit-body-cycles", kwargs={"slug": setting.body.slug})
    _other_body, other_analyst = _body()
    future = (timezone.now() + timedelta(days=1)).isoformat()

    # when
    anonymous = api().post(url, {}, format="json")
    stranger = api(other_analyst).post(url, {}, format="json")
    committee = api(setting.committee[0]).post(url, {}, format="json")
    in_future = api(setting.analyst).post(url, {"as_of": future}, format="json")
    bad_chunk = api(setting.analyst).post(url, {"chunk_size": 0}, format="json")
    unknown = api(setting.analyst).post(
        url, {"methodology": "00000000-0000-0000-0000-000000000000"}, format="json"
    )
    no_body = api(setting.analyst).get(
        reverse("api-credit-body-cycles", kwargs={"slug": "nobody"})
    )
    body_without_methodology, its_analyst = _body()
    none_in_force = api(its_analyst).post(
        reverse(
            "api-credit-body-cycles", kwargs={"slug": body_without_methodology.slug}
        ),
        {},
        format="json",
    )

    # then
    assert anonymous.status_code in (401, 403)
    assert stranger.status_code == 403
    assert committee.status_code == 403
    assert in_future.status_code == 400
    assert "as_of" in in_future.json()["error"]["details"]
    assert bad_chunk.status_code == 400
    assert "chunk_size" in bad_chunk.json()["error"]["details"]
    assert unknown.status_code == 400
    assert "methodology" in unknown.json()["error"]["details"]
    assert no_body.status_code == 404
    assert none_in_force.status_code == 409
    assert not RatingCycle.objects.exists()


def test_cancelling_a_cycle(setting: Setting) -> None:
    # given
    running = cycle_create(actor=setting.analyst, methodology=setting.methodology)
    finished = run_cycle(setting)

    def cancel(user: User, cycle: RatingCycle) -> Any:
        return api(user).post(
            reverse("api-credit-cycle-cancel", kwargs={"public_id": cycle.public_id})
        )

    # when
    refused = cancel(setting.committee[0], running)
    cancelled = cancel(setting.analyst, running)
    too_late = cancel(setting.analyst, finished)

    # then
    assert refused.status_code == 403
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["progress"]["running"] is False
    assert too_late.status_code == 409


def test_the_cycle_lists_take_as_many_queries_whatever_their_length(
    setting: Setting, django_assert_num_queries: Any
) -> None:
    # given: a cycle of 3 ratings and one of 15; a body with 1 cycle and one with 4
    small = run_cycle(setting)
    _enrol(setting.body, setting.methodology, 12, "api")
    large = run_cycle(setting)
    client = api(setting.analyst)
    other_body, other_analyst = _body()
    other_methodology = _methodology(other_body, other_analyst)
    for _ in range(4):
        cycle_create(actor=other_analyst, methodology=other_methodology)
    Membership.objects.create(
        user=setting.analyst, organization=other_body, role=Role.ANALYST
    )

    def ratings(cycle: RatingCycle) -> int:
        response = client.get(
            reverse("api-credit-cycle-ratings", kwargs={"public_id": cycle.public_id})
        )
        assert response.status_code == 200
        return len(response.json()["results"])

    def cycles(slug: str) -> int:
        response = client.get(reverse("api-credit-body-cycles", kwargs={"slug": slug}))
        assert response.status_code == 200
        return len(response.json()["results"])

    # when
    with CaptureQueriesContext(connection) as few_ratings:
        assert ratings(small) == 3
    with CaptureQueriesContext(connection) as few_cycles:
        assert cycles(setting.body.slug) == 2

    # then
    with django_assert_num_queries(len(few_ratings)):
        assert ratings(large) == 15
    with django_assert_num_queries(len(few_cycles)):
        assert cycles(other_body.slug) == 4


def test_the_cycle_ratings_filter_by_state_and_grade(setting: Setting) -> None:
    # given
    cycle = run_cycle(setting)
    rating = Rating.objects.filter(cycle=cycle).order_by("pk").first()
    assert rating is not None
    Rating.objects.filter(pk=rating.pk).update(grade="ZZ", state=State.ANALYST_REVIEWED)
    url = reverse("api-credit-cycle-ratings", kwargs={"public_id": cycle.public_id})
    client = api(setting.committee[0])

    # when
    by_grade = client.get(url, {"grade": "ZZ"}).json()["results"]
    by_state = client.get(url, {"state": "computed"}).json()["results"]
    bad = client.get(url, {"state": "nonsense"})
    _o, other_analyst = _body()
    stranger = api(other_analyst).get(url)

    # then
    assert [r["id"] for r in by_grade] == [rating.pk]
    assert len(by_state) == 2
    assert rating.pk not in [r["id"] for r in by_state]
    assert bad.status_code == 400
    assert "state" in bad.json()["error"]["details"]
    assert stranger.status_code == 403


# --- Decisions ----------------------------------------------------------------------


def test_a_rating_goes_from_computed_to_published_through_the_api(
    setting: Setting,
) -> None:
    # given
    rating = first_rating(setting)
    owner = api(setting.entity_owner)

    # when: review, three votes, notice
    reviewed = api(setting.analyst).post(
        rating_url(rating, "review"),
        {
            "adjustment": -1,
            "reason": "A complaint left unanswered.",
            "outlook": "negative",
        },
        format="json",
    )
    for n, voter in enumerate(setting.committee[:3]):
        voted = api(voter).post(
            rating_url(rating, "votes"),
            {"vote": "approve", "chair": n == 0},
            format="json",
        )
        assert voted.status_code == 201
    notified = api(setting.analyst).post(rating_url(rating, "notify"))
    seen = owner.get(rating_url(rating))
    objected = owner.post(
        rating_url(rating, "objection"),
        {"grounds": "misread_evidence", "text": "The complaint was answered."},
        format="json",
    )
    newcomer = member(setting.body, Role.COMMITTEE_MEMBER)
    for n, voter in enumerate([setting.committee[1], setting.committee[3], newcomer]):
        api(voter).post(
            rating_url(rating, "votes"),
            {"vote": "approve", "chair": n == 0},
            format="json",
        )
    answered = api(setting.committee[4]).post(
        reverse("api-credit-objection-answer", kwargs={"pk": rating.pk}),
        {"answer": "The complaint was answered after the evidence date."},
        format="json",
    )

    # then
    assert reviewed.status_code == 200
    assert (
        reviewed.json()["grade"],
        reviewed.json()["state"],
        reviewed.json()["outlook"],
    ) == ("B", "analyst_reviewed", "negative")
    assert notified.status_code == 200
    assert notified.json()["state"] == "notice"
    assert seen.status_code == 200
    assert seen.json()["side"] == "entity"
    assert "evidence" not in seen.json()
    assert seen.json()["statement"]["facts"]["evidence_hash"] == rating.evidence_hash
    assert objected.status_code == 201
    assert objected.json()["objection"]["state"] == "open"
    assert answered.status_code == 200
    body = answered.json()
    assert body["state"] == "published"
    assert body["objection"]["state"] == "rejected"
    assert [v["round"] for v in body["votes"]] == [1, 1, 1, 2, 2, 2]
    assert any(e["to_state"] == "published" for e in body["events"])
    assert body["side"] == "body"
    assert Objection.objects.get(rating=rating).state == Objection.State.REJECTED


def test_the_rating_api_refuses_the_wrong_people(setting: Setting) -> None:
    # given
    rating = first_rating(setting)
    _other, other_analyst = _body()
    detail = rating_url(rating)

    # when: the entity before the notice, a stranger, an analyst voting
    anonymous = api().get(detail)
    early_entity = api(setting.entity_owner).get(detail)
    early_objection = api(setting.entity_owner).post(
        rating_url(rating, "objection"),
        {"grounds": "new_facts", "text": "Early."},
        format="json",
    )
    stranger = api(other_analyst).get(detail)
    bad_outlook = api(setting.analyst).post(
        rating_url(rating, "review"), {"outlook": "rosy"}, format="json"
    )
    api(setting.analyst).post(rating_url(rating, "review"), {}, format="json")
    analyst_votes = api(setting.analyst).post(
        rating_url(rating, "votes"), {"vote": "approve"}, format="json"
    )
    ConflictOfInterest.objects.create(
        user=setting.committee[0], entity=rating.entity, reason="Advisor."
    )
    conflicted = api(setting.committee[0]).post(
        rating_url(rating, "votes"), {"vote": "approve"}, format="json"
    )
    bad_vote = api(setting.committee[1]).post(
        rating_url(rating, "votes"), {"vote": "maybe"}, format="json"
    )
    entity_member = member(setting.publishers[0], Role.COMMITTEE_MEMBER)
    publish_early = api(setting.analyst).post(rating_url(rating, "publish"))

    # then
    assert anonymous.status_code in (401, 403)
    assert bad_outlook.status_code == 400
    assert "outlook" in bad_outlook.json()["error"]["details"]
    assert early_entity.status_code == 404
    assert early_objection.status_code == 404
    assert stranger.status_code == 404
    assert analyst_votes.status_code == 403
    assert conflicted.status_code == 403
    assert error_code(conflicted) == "conflict_of_interest"
    assert bad_vote.status_code == 400
    assert api(entity_member).get(detail).status_code == 404
    assert publish_early.status_code == 409
    assert not CommitteeVote.objects.filter(rating=rating).exists()


def test_objecting_after_the_deadline_and_publishing_after_it(setting: Setting) -> None:
    # given
    rating = noticed(setting, first_rating(setting))
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    plain_member = member(setting.publishers[0], Role.MEMBER)

    # when
    late = api(setting.entity_owner).post(
        rating_url(rating, "objection"),
        {"grounds": "new_facts", "text": "Late."},
        format="json",
    )
    member_reads = api(plain_member).get(rating_url(rating))
    entity_publishes = api(setting.entity_owner).post(rating_url(rating, "publish"))
    published = api(setting.committee[0]).post(rating_url(rating, "publish"))

    # then
    assert late.status_code == 409
    assert error_code(late) == "objection_window_closed"
    assert member_reads.status_code == 404
    assert entity_publishes.status_code == 403
    assert published.status_code == 200
    assert published.json()["state"] == "published"


def test_declaring_a_conflict_of_interest(setting: Setting) -> None:
    # given
    url = reverse("api-credit-conflicts")
    entity = setting.publishers[2]
    outsider = UserFactory.create()

    # when
    declared = api(setting.committee[0]).post(
        url, {"entity": entity.slug, "reason": "I consult for them."}, format="json"
    )
    again = api(setting.committee[0]).post(
        url, {"entity": entity.slug, "reason": "Still."}, format="json"
    )
    not_a_body = api(outsider).post(
        url, {"entity": entity.slug, "reason": "Me too."}, format="json"
    )
    unknown = api(setting.committee[0]).post(
        url, {"entity": "nobody-here", "reason": "?"}, format="json"
    )
    blank = api(setting.committee[0]).post(
        url, {"entity": entity.slug, "reason": ""}, format="json"
    )
    anonymous = api().post(url, {"entity": entity.slug, "reason": "x"}, format="json")

    # then
    assert declared.status_code == 201
    assert declared.json()["reason"] == "I consult for them."
    assert again.status_code == 201
    assert again.json()["reason"] == "I consult for them."
    assert not_a_body.status_code == 403
    assert unknown.status_code == 400
    assert blank.status_code == 400
    assert anonymous.status_code in (401, 403)
    assert ConflictOfInterest.objects.filter(entity=entity).count() == 1


# --- Members of the body who belong to the entity or declared a conflict -------------


def test_the_rating_api_gives_the_conflicted_no_body_side(setting: Setting) -> None:
    # given: an analyst of the body who also owns the rated entity, a committee
    # member who declared a conflict with it
    rating = first_rating(setting)
    entity = setting.publishers[0]
    both = member(setting.body, Role.ANALYST)
    Membership.objects.create(user=both, organization=entity, role=Role.OWNER)
    declared = setting.committee[4]
    ConflictOfInterest.objects.create(user=declared, entity=entity, reason="Advisor.")
    detail = rating_url(rating)

    # when: before the notice
    both_early = api(both).get(detail)
    both_reviews = api(both).post(rating_url(rating, "review"), {}, format="json")
    declared_early = api(declared).get(detail)
    noticed(setting, rating)
    both_later = api(both).get(detail)
    both_publishes = api(both).post(rating_url(rating, "publish"))
    declared_later = api(declared).get(detail)

    # then
    assert both_early.status_code == 403
    assert error_code(both_early) == "conflict_of_interest"
    assert "grade" not in both_early.json()
    assert both_reviews.status_code == 403
    assert declared_early.status_code == 403
    assert error_code(declared_early) == "conflict_of_interest"
    assert both_later.status_code == 200
    assert both_later.json()["side"] == "entity"
    assert "evidence" not in both_later.json()
    assert both_publishes.status_code == 403
    assert declared_later.status_code == 403
    assert api(setting.analyst).get(detail).json()["side"] == "body"


def test_notifying_through_the_api_is_refused_to_the_conflicted(
    setting: Setting,
) -> None:
    # given: a rating the committee approved; an analyst who belongs to the entity
    rating = first_rating(setting)
    api(setting.analyst).post(rating_url(rating, "review"), {}, format="json")
    for n, voter in enumerate(setting.committee[:3]):
        api(voter).post(
            rating_url(rating, "votes"), {"vote": "approve", "chair": n == 0}, "json"
        )
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED
    both = member(setting.body, Role.ANALYST)
    Membership.objects.create(
        user=both, organization=setting.publishers[0], role=Role.MEMBER
    )

    # when
    refused = api(both).post(rating_url(rating, "notify"))

    # then
    assert refused.status_code == 403
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED


def test_the_cycle_api_leaves_out_the_conflicted_entities(setting: Setting) -> None:
    # given: a cycle of every entity, and one of the first entity alone
    cycle = run_cycle(setting)
    first = setting.publishers[0]
    declared = setting.committee[1]
    ConflictOfInterest.objects.create(user=declared, entity=first, reason="Advisor.")
    both = member(setting.body, Role.ANALYST)
    Membership.objects.create(
        user=both, organization=setting.publishers[1], role=Role.OWNER
    )
    watch = cycle_create(
        actor=setting.analyst,
        methodology=setting.methodology,
        entity=first,
        trigger=RatingCycle.Trigger.WATCH,
    )

    def entities(user: User) -> set[str]:
        response = api(user).get(
            reverse("api-credit-cycle-ratings", kwargs={"public_id": cycle.public_id})
        )
        assert response.status_code == 200
        return {row["entity"] for row in response.json()["results"]}

    # when / then
    everyone = {p.slug for p in setting.publishers}
    assert entities(setting.analyst) == everyone
    assert entities(declared) == everyone - {first.slug}
    assert entities(both) == everyone - {setting.publishers[1].slug}
    watch_url = reverse(
        "api-credit-cycle-detail", kwargs={"public_id": watch.public_id}
    )
    assert api(setting.analyst).get(watch_url).status_code == 200
    refused = api(declared).get(watch_url)
    assert refused.status_code == 403
    assert error_code(refused) == "conflict_of_interest"
    assert (
        api(declared)
        .get(reverse("api-credit-cycle-ratings", kwargs={"public_id": watch.public_id}))
        .status_code
        == 403
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("as_of", "0001-01-01T00:00:00"),
        ("as_of", "0001-01-01T00:00:00+00:00"),
        ("as_of", "1999-12-31T23:00:00"),
        ("scheduled_for", "0001-01-01T00:00:00"),
        ("scheduled_for", "9999-12-31T23:59:59"),
        ("scheduled_for", "9999-12-31T23:59:59-12:00"),
    ],
)
def test_starting_a_cycle_refuses_moments_out_of_range(
    setting: Setting, field: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the serializer itself refuses, before any service is asked
    def never(**kwargs: object) -> None:
        raise AssertionError("the serializer let an out-of-range moment through")

    monkeypatch.setattr("ratings.api.cycles.cycle_create", never)
    url = reverse("api-credit-body-cycles", kwargs={"slug": setting.body.slug})

    # when
    response = api(setting.analyst).post(url, {field: value}, format="json")

    # then
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not RatingCycle.objects.exists()
