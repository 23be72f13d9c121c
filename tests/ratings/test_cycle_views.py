"""The pages of rating cycles: the body's list and start form, the cycle page with
its live progress bar, its ratings and the bulk actions, with the denials."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from ratings.models import (
    CommitteeVote,
    ConflictOfInterest,
    CreditEvent,
    Methodology,
    Rating,
    RatingCycle,
)
from ratings.services.cycles import cycle_create
from ratings.tasks import chunk_run as chunk_run_task
from ratings.tasks import cycle_start as cycle_start_task
from tests.marketplace.factories import MembershipFactory, UserFactory
from tests.ratings.test_cycles import _body, _enrol, _evidence, _methodology, _run

pytestmark = pytest.mark.django_db

Role = Membership.Role
State = RatingCycle.State


@dataclass
class Setting:
    body: Organization
    analyst: User
    methodology: Methodology
    publishers: list[Organization]
    committee: list[User]
    entity_owner: User


def member(organization: Organization, role: str) -> User:
    user = UserFactory.create()
    MembershipFactory.create(user=user, organization=organization, role=role)
    return user


@pytest.fixture(name="setting")
def setting_fixture(monkeypatch: pytest.MonkeyPatch) -> Setting:
    """A body with a published methodology, three enrolled publishers, five
    committee members and the owner of the first publisher; no cycle yet."""
    monkeypatch.setattr("ratings.evidence.gather", _evidence)
    body, analyst = _body()
    methodology = _methodology(body, analyst)
    publishers = _enrol(body, methodology, 3, "v")
    committee = [member(body, Role.COMMITTEE_MEMBER) for _ in range(5)]
    owner = member(publishers[0], Role.OWNER)
    return Setting(body, analyst, methodology, publishers, committee, owner)


def run_cycle(setting: Setting) -> RatingCycle:
    return _run(cycle_create(actor=setting.analyst, methodology=setting.methodology))


def signed_in(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def texts(response: object) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]  # type: ignore[attr-defined]


# --- The body's cycles ------------------------------------------------------------


def test_the_body_lists_its_cycles_and_an_analyst_starts_one(setting: Setting) -> None:
    # given
    earlier = run_cycle(setting)
    client = signed_in(setting.analyst)
    url = reverse("credit-body-cycles", kwargs={"body": setting.body.slug})

    # when
    page = client.get(url)
    started = client.post(
        url, {"methodology": str(setting.methodology.public_id), "chunk_size": "2"}
    )

    # then
    assert page.status_code == 200
    html = page.content.decode()
    assert str(earlier.public_id) in html
    assert "3 of 3 entities rated" in html
    assert 'class="start-cycle"' in html
    cycle = RatingCycle.objects.exclude(pk=earlier.pk).get()
    assert started.status_code == 302
    assert started["Location"] == reverse(
        "credit-cycle-detail", kwargs={"public_id": cycle.public_id}
    )
    assert (cycle.state, cycle.chunk_size, cycle.started_by) == (
        State.SCHEDULED,
        2,
        setting.analyst,
    )
    assert CreditEvent.objects.filter(cycle=cycle, action="cycle_created").exists()


def test_an_analyst_schedules_a_cycle_for_later(setting: Setting) -> None:
    # given
    client = signed_in(setting.analyst)
    url = reverse("credit-body-cycles", kwargs={"body": setting.body.slug})
    later = timezone.localtime() + timedelta(days=2)
    past = timezone.localtime() - timedelta(days=2)

    # when
    scheduled = client.post(
        url,
        {
            "methodology": str(setting.methodology.public_id),
            "scheduled_for": later.strftime("%Y-%m-%dT%H:%M"),
        },
        follow=True,
    )
    refused = client.post(
        url,
        {
            "methodology": str(setting.methodology.public_id),
            "scheduled_for": past.strftime("%Y-%m-%dT%H:%M"),
        },
    )

    # then
    cycle = RatingCycle.objects.get()
    assert (cycle.state, cycle.trigger) == (State.SCHEDULED, "schedule")
    assert cycle.scheduled_for == later.replace(second=0, microsecond=0)
    assert "The rating cycle was scheduled" in scheduled.content.decode()
    assert refused.status_code == 400
    assert "Give a later moment" in refused.content.decode()
    assert RatingCycle.objects.count() == 1


def test_the_start_form_refuses_bad_input_with_400(setting: Setting) -> None:
    # given
    client = signed_in(setting.analyst)
    url = reverse("credit-body-cycles", kwargs={"body": setting.body.slug})
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")

    # when
    in_future = client.post(
        url, {"methodology": str(setting.methodology.public_id), "as_of": future}
    )
    too_big = client.post(
        url, {"methodology": str(setting.methodology.public_id), "chunk_size": "0"}
    )
    unknown = client.post(url, {"methodology": "not-a-methodology"})

    # then
    assert in_future.status_code == 400
    assert "cannot be in the future" in in_future.content.decode()
    assert too_big.status_code == 400
    assert unknown.status_code == 400
    assert not RatingCycle.objects.exists()


def test_the_cycles_page_is_for_the_body_members_and_starting_for_its_analysts(
    setting: Setting,
) -> None:
    # given
    url = reverse("credit-body-cycles", kwargs={"body": setting.body.slug})
    _other_body, other_analyst = _body()
    committee = signed_in(setting.committee[0])
    data = {"methodology": str(setting.methodology.public_id)}

    # when
    anonymous = Client().get(url)
    stranger = signed_in(other_analyst).get(url)
    entity = signed_in(setting.entity_owner).get(url)
    committee_page = committee.get(url)
    committee_start = committee.post(url, data)
    unknown = signed_in(setting.analyst).get(
        reverse("credit-body-cycles", kwargs={"body": "no-such-body"})
    )

    # then
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    assert stranger.status_code == 403
    assert entity.status_code == 403
    assert committee_page.status_code == 200
    assert 'class="start-cycle"' not in committee_page.content.decode()
    assert committee_start.status_code == 403
    assert unknown.status_code == 404
    assert not RatingCycle.objects.exists()


# --- The cycle page and its progress ----------------------------------------------


def test_the_progress_bar_polls_while_scoring_and_stops_in_review(
    setting: Setting,
) -> None:
    # given: a cycle started, its chunks not yet scored
    cycle = cycle_create(
        actor=setting.analyst, methodology=setting.methodology, chunk_size=2
    )
    cycle_start_task(cycle_id=cycle.pk)
    client = signed_in(setting.committee[0])
    progress_url = reverse(
        "credit-cycle-progress", kwargs={"public_id": cycle.public_id}
    )
    page_url = reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})

    # when
    page = client.get(page_url).content.decode()
    scoring = client.get(progress_url).content.decode()
    chunk_run_task(cycle_id=cycle.pk, index=0)
    halfway = client.get(progress_url, HTTP_HX_REQUEST="true")
    chunk_run_task(cycle_id=cycle.pk, index=1)
    finished = client.get(progress_url, HTTP_HX_REQUEST="true")
    done = finished.content.decode()

    # then
    assert 'hx-trigger="every 1s"' in page
    assert f'hx-get="{progress_url}"' in page
    assert 'hx-trigger="every 1s"' in scoring
    assert 'role="progressbar"' in scoring
    assert 'aria-valuenow="0"' in scoring
    assert 'aria-valuemax="3"' in scoring
    assert "0 of 3 entities rated" in scoring
    assert "2 of 3 entities rated" in halfway.content.decode()
    assert "progress-pct-66" in halfway.content.decode()
    assert "HX-Refresh" not in halfway
    assert "hx-trigger" not in done
    assert 'aria-valuenow="3"' in done
    assert "3 of 3 entities rated" in done
    assert "show its ratings" in done
    assert finished["HX-Refresh"] == "true"  # the page reloads with its ratings


def test_the_cycle_page_shows_the_figures_counts_and_ratings(setting: Setting) -> None:
    # given
    cycle = run_cycle(setting)
    ratings = list(Rating.objects.filter(cycle=cycle).order_by("pk"))
    Rating.objects.filter(pk=ratings[0].pk).update(grade="ZZ")
    client = signed_in(setting.analyst)
    url = reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})

    # when
    page = client.get(url)
    by_grade = client.get(url, {"grade": "ZZ"}).content.decode()
    by_state = client.get(url, {"state": "published"}).content.decode()
    bad = client.get(url, {"state": "nonsense"})

    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "hx-trigger" not in html
    assert "In review" in html
    assert "Started by hand" in html
    assert 'data-state="computed"' in html
    assert html.count('class="rating"') == 3
    assert '<li data-grade="ZZ">' in html
    assert by_grade.count('class="rating"') == 1
    assert ratings[0].entity.name in by_grade
    assert by_state.count('class="rating"') == 0
    assert bad.status_code == 400
    assert "Select a valid choice" in bad.content.decode()


def test_the_cycle_ratings_take_as_many_queries_whatever_their_number(
    setting: Setting, django_assert_num_queries: object
) -> None:
    # given: a cycle of 3 ratings and one of 15
    small = run_cycle(setting)
    _enrol(setting.body, setting.methodology, 12, "more")
    large = run_cycle(setting)
    client = signed_in(setting.analyst)

    def get(cycle: RatingCycle) -> None:
        response = client.get(
            reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})
        )
        assert response.status_code == 200

    # when
    with CaptureQueriesContext(connection) as few:
        get(small)

    # then
    assert Rating.objects.filter(cycle=large).count() == 15
    with django_assert_num_queries(len(few)):  # type: ignore[operator]
        get(large)


def test_the_cycle_page_is_for_the_body_members_only(setting: Setting) -> None:
    # given
    cycle = run_cycle(setting)
    _other, other_analyst = _body()
    url = reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})
    progress = reverse("credit-cycle-progress", kwargs={"public_id": cycle.public_id})

    # when / then
    assert Client().get(url).status_code == 302
    assert signed_in(other_analyst).get(url).status_code == 403
    assert signed_in(other_analyst).get(progress).status_code == 403
    assert signed_in(setting.entity_owner).get(url).status_code == 403


def test_an_analyst_cancels_a_running_cycle_and_not_a_finished_one(
    setting: Setting,
) -> None:
    # given
    running = cycle_create(actor=setting.analyst, methodology=setting.methodology)
    cycle_start_task(cycle_id=running.pk)
    finished = run_cycle(setting)
    client = signed_in(setting.analyst)

    def cancel(c: Client, cycle: RatingCycle) -> object:
        return c.post(
            reverse("credit-cycle-cancel", kwargs={"public_id": cycle.public_id})
        )

    # when
    refused = cancel(signed_in(setting.committee[0]), running)
    cancelled = cancel(client, running)
    too_late = cancel(client, finished)

    # then
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert cancelled.status_code == 302  # type: ignore[attr-defined]
    running.refresh_from_db()
    assert running.state == State.CANCELLED
    finished.refresh_from_db()
    assert finished.state == State.REVIEW
    assert too_late.status_code == 302  # type: ignore[attr-defined]
    assert any("cannot go from" in t for t in texts(too_late))
    assert (
        signed_in(setting.analyst)
        .get(reverse("credit-cycle-detail", kwargs={"public_id": running.public_id}))
        .content.decode()
        .count("Cancel the cycle")
        == 0
    )


# --- Bulk actions -----------------------------------------------------------------


def test_an_analyst_reviews_the_page_and_the_committee_approves_the_selected(
    setting: Setting,
) -> None:
    # given
    cycle = run_cycle(setting)
    ratings = list(Rating.objects.filter(cycle=cycle).order_by("pk"))
    url = reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})
    analyst = signed_in(setting.analyst)
    page = analyst.get(url).content.decode()
    assert 'class="bulk-review"' in page

    # when: the analyst reviews the page, the committee approves two of three
    reviewed = analyst.post(
        reverse("credit-cycle-bulk-review", kwargs={"public_id": cycle.public_id}),
        {"rating": [str(r.pk) for r in ratings], "state": "computed", "page": "1"},
    )
    voter = signed_in(setting.committee[0])
    assert 'class="bulk-vote"' in voter.get(url).content.decode()
    voted = voter.post(
        reverse("credit-cycle-bulk-vote", kwargs={"public_id": cycle.public_id}),
        {"rating": [str(ratings[0].pk), str(ratings[1].pk)]},
    )

    # then
    assert reviewed.status_code == 302
    assert reviewed["Location"] == f"{url}?state=computed&page=1"
    assert set(Rating.objects.filter(cycle=cycle).values_list("state", flat=True)) == {
        Rating.State.ANALYST_REVIEWED
    }
    assert any("reviewed without adjustment: 3" in t for t in texts(reviewed))
    assert voted.status_code == 302
    assert set(
        CommitteeVote.objects.filter(member=setting.committee[0]).values_list(
            "rating_id", "vote"
        )
    ) == {(ratings[0].pk, "approve"), (ratings[1].pk, "approve")}


def test_bulk_actions_report_refusals_per_rating_and_deny_wrong_roles(
    setting: Setting,
) -> None:
    # given: a committee member in conflict with the first entity
    cycle = run_cycle(setting)
    ratings = list(Rating.objects.filter(cycle=cycle).order_by("entity_id"))
    assert ratings[0].entity == setting.publishers[0]
    signed_in(setting.analyst).post(
        reverse("credit-cycle-bulk-review", kwargs={"public_id": cycle.public_id}),
        {"rating": [str(r.pk) for r in ratings]},
    )
    conflicted = setting.committee[1]
    ConflictOfInterest.objects.create(
        user=conflicted, entity=setting.publishers[0], reason="My cousin runs it."
    )
    vote_url = reverse("credit-cycle-bulk-vote", kwargs={"public_id": cycle.public_id})
    review_url = reverse(
        "credit-cycle-bulk-review", kwargs={"public_id": cycle.public_id}
    )

    # when
    mixed = signed_in(conflicted).post(
        vote_url, {"rating": [str(r.pk) for r in ratings]}
    )
    analyst_votes = signed_in(setting.analyst).post(
        vote_url, {"rating": [str(ratings[1].pk)]}
    )
    committee_reviews = signed_in(setting.committee[2]).post(
        review_url, {"rating": [str(ratings[1].pk)]}
    )
    nothing = signed_in(setting.committee[3]).post(
        vote_url, {"rating": ["x", "999999"]}
    )

    # then
    messages = texts(mixed)
    assert any(
        t.startswith(f"{setting.publishers[0].name}:") and "conflict" in t
        for t in messages
    )
    assert any("Votes to approve cast: 2" in t for t in messages)
    assert CommitteeVote.objects.filter(member=conflicted).count() == 2
    assert analyst_votes.status_code == 403
    assert committee_reviews.status_code == 403
    assert any("Select at least one rating" in t for t in texts(nothing))
    assert not CommitteeVote.objects.filter(member=setting.committee[3]).exists()


def test_the_cycles_list_takes_as_many_queries_whatever_its_length(
    setting: Setting, django_assert_num_queries: object
) -> None:
    # given: a body with one cycle, another with four
    run_cycle(setting)
    other_body, other_analyst = _body()
    other_methodology = _methodology(other_body, other_analyst)
    for _ in range(4):
        cycle_create(actor=other_analyst, methodology=other_methodology)
    MembershipFactory.create(
        user=setting.analyst, organization=other_body, role=Role.ANALYST
    )
    client = signed_in(setting.analyst)

    def get(body: Organization) -> str:
        response = client.get(reverse("credit-body-cycles", kwargs={"body": body.slug}))
        assert response.status_code == 200
        return response.content.decode()

    # when
    with CaptureQueriesContext(connection) as few:
        one = get(setting.body)

    # then
    assert one.count('class="cycle"') == 1
    with django_assert_num_queries(len(few)):  # type: ignore[operator]
        four = get(other_body)
    assert four.count('class="cycle"') == 4


# --- Conflicts of interest and odd input --------------------------------------------


def test_the_cycle_page_leaves_out_the_entities_a_member_is_conflicted_with(
    setting: Setting,
) -> None:
    # given: the first entity graded ZZ; a committee member who declared a
    # conflict with it, an analyst of the body who belongs to the second entity
    cycle = run_cycle(setting)
    ratings = {r.entity_id: r for r in Rating.objects.filter(cycle=cycle)}
    first, second, third = setting.publishers
    Rating.objects.filter(pk=ratings[first.pk].pk).update(grade="ZZ")
    declared = setting.committee[1]
    ConflictOfInterest.objects.create(user=declared, entity=first, reason="Advisor.")
    both = member(setting.body, Role.ANALYST)
    MembershipFactory.create(user=both, organization=second, role=Role.OWNER)
    url = reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})

    # when
    plain = signed_in(setting.analyst).get(url).content.decode()
    conflicted = signed_in(declared).get(url)
    member_of_second = signed_in(both).get(url).content.decode()
    filtered = signed_in(declared).get(url, {"grade": "ZZ"}).content.decode()

    # then
    assert plain.count('class="rating"') == 3
    assert '<li data-grade="ZZ">' in plain
    assert conflicted.status_code == 200
    html = conflicted.content.decode()
    assert html.count('class="rating"') == 2
    assert first.name not in html
    assert third.name in html
    assert '<li data-grade="ZZ">' not in html
    assert member_of_second.count('class="rating"') == 2
    assert second.name not in member_of_second
    assert first.name in member_of_second
    assert filtered.count('class="rating"') == 0


def test_a_cycle_of_one_entity_is_refused_to_those_conflicted_with_it(
    setting: Setting,
) -> None:
    # given: a cycle rating the first entity alone
    first = setting.publishers[0]
    cycle = _run(
        cycle_create(
            actor=setting.analyst,
            methodology=setting.methodology,
            entity=first,
            trigger=RatingCycle.Trigger.WATCH,
        )
    )
    declared = setting.committee[1]
    ConflictOfInterest.objects.create(user=declared, entity=first, reason="Advisor.")
    both = member(setting.body, Role.ANALYST)
    MembershipFactory.create(user=both, organization=first, role=Role.MEMBER)
    kwargs = {"public_id": cycle.public_id}
    detail = reverse("credit-cycle-detail", kwargs=kwargs)
    progress = reverse("credit-cycle-progress", kwargs=kwargs)

    # when / then
    assert signed_in(setting.analyst).get(detail).status_code == 200
    refused = signed_in(declared).get(detail)
    assert refused.status_code == 403
    assert "conflict of interest" in refused.content.decode()
    assert signed_in(declared).get(progress).status_code == 403
    assert signed_in(both).get(detail).status_code == 403
    assert (
        signed_in(both)
        .post(reverse("credit-cycle-bulk-review", kwargs=kwargs), {"rating": ["1"]})
        .status_code
        == 403
    )


def test_bulk_actions_skip_ids_that_are_not_plain_numbers_in_range(
    setting: Setting,
) -> None:
    # given
    cycle = run_cycle(setting)
    rating = Rating.objects.filter(cycle=cycle).order_by("pk").first()
    assert rating is not None
    url = reverse("credit-cycle-bulk-review", kwargs={"public_id": cycle.public_id})
    client = signed_in(setting.analyst)

    # when: a superscript digit, a number too large for the database, a page
    # number in Arabic-Indic digits
    odd = client.post(url, {"rating": ["²", "1" * 25, str(2**63)]})
    mixed = client.post(url, {"rating": ["²", "1" * 25, str(rating.pk)], "page": "٣"})

    # then
    assert odd.status_code == 302
    assert any("Select at least one rating" in t for t in texts(odd))
    assert mixed.status_code == 302
    assert "page=" not in mixed["Location"]
    rating.refresh_from_db()
    assert rating.state == Rating.State.ANALYST_REVIEWED
    assert Rating.objects.filter(cycle=cycle, state=Rating.State.COMPUTED).count() == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("as_of", "0001-01-01T00:00"),
        ("as_of", "1999-12-31T23:59"),
        ("scheduled_for", "0001-01-01T00:00"),
        ("scheduled_for", "9999-12-31T23:59"),
    ],
)
def test_the_start_form_refuses_moments_out_of_range(
    setting: Setting, field: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the form itself refuses, before any service is asked
    def never(**kwargs: object) -> None:
        raise AssertionError("the form let an out-of-range moment through")

    monkeypatch.setattr("ratings.views.cycles.cycle_create", never)
    client = signed_in(setting.analyst)
    url = reverse("credit-body-cycles", kwargs={"body": setting.body.slug})

    # when
    response = client.post(
        url, {"methodology": str(setting.methodology.public_id), field: value}
    )

    # then
    assert response.status_code == 400
    assert "Give a moment from 2000-01-01 to 9000-01-01." in response.content.decode()
    assert not RatingCycle.objects.exists()
