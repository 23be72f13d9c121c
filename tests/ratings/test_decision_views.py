"""The pages of decisions on a rating: the body's rating page and its forms, and
the entity's ratings, statement of reasons and objection; with the denials."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Membership, Organization
from ratings.models import CommitteeVote, ConflictOfInterest, Objection, Rating
from ratings.selectors.cycles import rating_actions, rating_objection
from ratings.services.decisions import (
    rating_analyst_review,
    rating_notify,
    rating_vote,
)
from tests.ratings.test_cycle_views import (
    Setting,
    member,
    run_cycle,
    setting_fixture,  # noqa: F401  # the fixture
    signed_in,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role
State = Rating.State


def first_rating(setting: Setting) -> Rating:
    """The first publisher's rating of a run cycle, a plain BBB."""
    cycle = run_cycle(setting)
    rating = Rating.objects.get(cycle=cycle, entity=setting.publishers[0])
    Rating.objects.filter(pk=rating.pk).update(
        grade="BBB", computed_grade="BBB", provisional=False, overrides=[]
    )
    rating.refresh_from_db()
    return rating


def url(name: str, rating: Rating) -> str:
    return reverse(name, kwargs={"pk": rating.pk})


def entity_url(name: str, entity: Organization, rating: Rating) -> str:
    return reverse(name, kwargs={"entity": entity.slug, "pk": rating.pk})


def noticed(setting: Setting, rating: Rating) -> Rating:
    rating = rating_analyst_review(actor=setting.analyst, rating=rating)
    for n, voter in enumerate(setting.committee[:3]):
        rating_vote(actor=voter, rating=rating, vote="approve", chair=n == 0)
    rating.refresh_from_db()
    return rating_notify(actor=setting.analyst, rating=rating)


# --- The whole path through the pages ---------------------------------------------


def test_a_rating_goes_from_computed_to_published_through_the_pages(
    setting: Setting,
) -> None:
    # given
    rating = first_rating(setting)
    entity = setting.publishers[0]
    analyst = signed_in(setting.analyst)
    owner = signed_in(setting.entity_owner)

    # when: reviewed a notch up, three votes, notified
    reviewed = analyst.post(
        url("credit-rating-review", rating),
        {
            "adjustment": "1",
            "reason": "Answered every complaint within a day.",
            "outlook": "positive",
        },
    )
    for n, voter in enumerate(setting.committee[:3]):
        data = {"vote": "approve", "reason": "Sound."}
        if n == 0:
            data["chair"] = "on"
        assert (
            signed_in(voter).post(url("credit-rating-vote", rating), data).status_code
            == 302
        )
    notified = analyst.post(url("credit-rating-notify", rating))
    rating.refresh_from_db()

    # then
    assert reviewed.status_code == 302
    assert reviewed["Location"] == url("credit-rating-detail", rating)
    assert notified.status_code == 302
    assert (rating.state, rating.grade, rating.chair, rating.outlook) == (
        State.NOTICE,
        "A",
        setting.committee[0],
        "positive",
    )

    # when: the entity reads it and objects
    listing = owner.get(
        reverse("credit-entity-ratings", kwargs={"entity": entity.slug})
    )
    statement = owner.get(entity_url("credit-entity-rating-detail", entity, rating))
    objected = owner.post(
        entity_url("credit-entity-rating-object", entity, rating),
        {"grounds": "new_facts", "text": "We fixed the disclosure last week."},
    )

    # then
    assert f'data-rating="{rating.pk}"' in listing.content.decode()
    html = statement.content.decode()
    assert "Statement of reasons" in html
    assert rating.evidence_hash in html
    assert "computed automatically" in html
    as_of = timezone.localtime(rating.cycle.as_of)
    assert f"The evidence as it stood at {as_of:%Y-%m-%d %H:%M}" in html
    assert 'class="objection-form"' in html
    assert objected.status_code == 302
    rating.refresh_from_db()
    assert rating.state == State.OBJECTED

    # when: a new committee, with a member who never voted, approves; answered
    newcomer = member(setting.body, Role.COMMITTEE_MEMBER)
    voters = [setting.committee[0], setting.committee[3], newcomer]
    for n, voter in enumerate(voters):
        data = {"vote": "approve"}
        if n == 0:
            data["chair"] = "on"
        signed_in(voter).post(url("credit-rating-vote", rating), data)
    rating.refresh_from_db()
    assert rating.state == State.RE_REVIEWED
    answered = signed_in(setting.committee[4]).post(
        url("credit-rating-answer", rating),
        {"answer": "The disclosure was checked as of the evidence date."},
    )

    # then
    rating.refresh_from_db()
    assert answered.status_code == 302
    assert rating.state == State.PUBLISHED
    objection = Objection.objects.get(rating=rating)
    assert objection.state == Objection.State.REJECTED
    body_page = analyst.get(url("credit-rating-detail", rating)).content.decode()
    assert "rating_published" in body_page
    assert body_page.count('class="event"') >= 8
    assert 'data-round="2"' in body_page
    assert (
        "The disclosure was checked"
        in owner.get(
            entity_url("credit-entity-rating-detail", entity, rating)
        ).content.decode()
    )


def test_the_rating_page_explains_the_score(setting: Setting) -> None:
    # given
    rating = first_rating(setting)

    # when
    html = (
        signed_in(setting.committee[0])
        .get(url("credit-rating-detail", rating))
        .content.decode()
    )

    # then: every indicator, their sum (the score), the evidence and its hash
    total = sum(Decimal(c["contribution"]) for c in rating.contributions)
    assert total == rating.score
    assert f'<td class="text-end contributions-sum"><strong>{total}</strong>' in html
    for contribution in rating.contributions:
        assert f'data-code="{contribution["code"]}"' in html
    assert rating.evidence_hash in html
    assert '<details class="evidence">' in html
    assert "&quot;as_of&quot;" in html


def test_each_form_shows_only_to_whom_may_use_it_and_when(setting: Setting) -> None:
    # given
    rating = first_rating(setting)
    page = url("credit-rating-detail", rating)

    # when
    analyst_computed = signed_in(setting.analyst).get(page).content.decode()
    committee_computed = signed_in(setting.committee[0]).get(page).content.decode()
    rating_analyst_review(actor=setting.analyst, rating=rating)
    analyst_reviewed = signed_in(setting.analyst).get(page).content.decode()
    committee_reviewed = signed_in(setting.committee[0]).get(page).content.decode()
    rating_vote(actor=setting.committee[0], rating=rating, vote="approve", chair=True)
    second = signed_in(setting.committee[1]).get(page).content.decode()
    voted = signed_in(setting.committee[0]).get(page).content.decode()

    # then
    assert 'class="review-form"' in analyst_computed
    assert 'class="review-form"' not in committee_computed
    assert 'class="vote-form"' not in committee_computed
    assert 'class="vote-form"' not in analyst_reviewed
    assert 'class="review-form"' not in analyst_reviewed
    assert 'class="vote-form"' in committee_reviewed
    assert "I chair this round" in committee_reviewed
    assert 'class="vote-form"' in second
    assert "I chair this round" not in second
    assert 'class="vote-form"' not in voted
    assert 'class="notify-form"' not in analyst_reviewed
    assert 'class="conflict-form"' in committee_computed


def test_service_refusals_show_on_the_page_with_their_status(setting: Setting) -> None:
    # given
    rating = first_rating(setting)
    analyst = signed_in(setting.analyst)

    review = url("credit-rating-review", rating)
    stable = {"outlook": "stable"}

    # when: a notch without a reason; bad forms; a vote twice; publishing early
    no_reason = analyst.post(review, {"adjustment": "1", **stable})
    bad_notch = analyst.post(review, {"adjustment": "3", **stable})
    bad_outlook = analyst.post(review, {"adjustment": "0", "outlook": "rosy"})
    analyst.post(review, {"adjustment": "0", **stable})
    voter = signed_in(setting.committee[0])
    voter.post(url("credit-rating-vote", rating), {"vote": "approve"})
    twice = voter.post(url("credit-rating-vote", rating), {"vote": "approve"})
    review_again = analyst.post(review, {"adjustment": "0", **stable})
    early = analyst.post(url("credit-rating-publish", rating))

    # then
    assert no_reason.status_code == 400
    assert "Give a written reason" in no_reason.content.decode()
    assert bad_notch.status_code == 400
    assert bad_outlook.status_code == 400
    assert twice.status_code == 409
    assert "You already voted in this round." in twice.content.decode()
    assert review_again.status_code == 409
    assert early.status_code == 409
    assert CommitteeVote.objects.filter(rating=rating).count() == 1


def test_the_rating_page_denies_outsiders_the_analyst_voting_and_conflicts(
    setting: Setting,
) -> None:
    # given
    rating = first_rating(setting)
    rating_analyst_review(actor=setting.analyst, rating=rating)
    from tests.ratings.test_cycles import _body

    _other, other_analyst = _body()
    page = url("credit-rating-detail", rating)
    conflicted = setting.committee[1]
    declared = signed_in(conflicted).post(
        url("credit-rating-conflict", rating), {"reason": "I advise this publisher."}
    )

    # when
    anonymous = Client().get(page)
    stranger = signed_in(other_analyst).get(page)
    entity = signed_in(setting.entity_owner).get(page)
    analyst_votes = signed_in(setting.analyst).post(
        url("credit-rating-vote", rating), {"vote": "approve"}
    )
    conflicted_response = signed_in(conflicted).get(page)
    conflicted_page = conflicted_response.content.decode()
    conflicted_votes = signed_in(conflicted).post(
        url("credit-rating-vote", rating), {"vote": "approve"}
    )
    entity_votes = signed_in(setting.entity_owner).post(
        url("credit-rating-vote", rating), {"vote": "approve"}
    )
    empty_conflict = signed_in(setting.committee[2]).post(
        url("credit-rating-conflict", rating), {"reason": "  "}
    )

    # then
    assert declared.status_code == 302
    assert declared["Location"] == reverse(
        "credit-cycle-detail", kwargs={"public_id": rating.cycle.public_id}
    )
    assert conflicted_response.status_code == 403
    assert ConflictOfInterest.objects.filter(
        user=conflicted, entity=setting.publishers[0]
    ).exists()
    assert anonymous.status_code == 302
    assert stranger.status_code == 403
    assert entity.status_code == 403
    assert analyst_votes.status_code == 403
    assert 'class="vote-form"' not in conflicted_page
    assert "You declared a conflict of interest" in conflicted_page
    assert conflicted_votes.status_code == 403
    assert entity_votes.status_code == 403
    assert empty_conflict.status_code == 400
    assert not CommitteeVote.objects.filter(rating=rating).exists()


def test_publishing_after_the_window_closed(setting: Setting) -> None:
    # given
    rating = noticed(setting, first_rating(setting))
    page = url("credit-rating-detail", rating)
    analyst = signed_in(setting.analyst)
    assert 'class="publish-form"' not in analyst.get(page).content.decode()
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(minutes=1)
    )

    # when
    shown = analyst.get(page).content.decode()
    conflicted = setting.committee[4]
    ConflictOfInterest.objects.create(
        user=conflicted, entity=rating.entity, reason="Shareholder."
    )
    refused = signed_in(conflicted).post(url("credit-rating-publish", rating))
    published = analyst.post(url("credit-rating-publish", rating))

    # then
    assert 'class="publish-form"' in shown
    assert refused.status_code == 403
    assert published.status_code == 302
    rating.refresh_from_db()
    assert rating.state == State.PUBLISHED
    rating.entity.refresh_from_db()
    assert rating.entity.credit_grade == rating.grade


# --- The entity's side ------------------------------------------------------------


def test_the_entity_sees_a_rating_only_from_the_notice_on(setting: Setting) -> None:
    # given
    rating = first_rating(setting)
    entity = setting.publishers[0]
    owner = signed_in(setting.entity_owner)
    listing = reverse("credit-entity-ratings", kwargs={"entity": entity.slug})
    detail = entity_url("credit-entity-rating-detail", entity, rating)

    # when
    computed_list = owner.get(listing).content.decode()
    computed_detail = owner.get(detail)
    computed_object = owner.post(
        entity_url("credit-entity-rating-object", entity, rating),
        {"grounds": "new_facts", "text": "Early."},
    )
    noticed(setting, rating)
    noticed_list = owner.get(listing).content.decode()

    # then
    assert f'data-rating="{rating.pk}"' not in computed_list
    assert computed_detail.status_code == 404
    assert computed_object.status_code == 404
    assert f'data-rating="{rating.pk}"' in noticed_list
    assert owner.get(detail).status_code == 200


def test_the_entity_pages_are_for_its_owners_and_administrators(
    setting: Setting,
) -> None:
    # given
    entity = setting.publishers[0]
    rating = noticed(setting, first_rating(setting))
    plain_member = member(entity, Role.MEMBER)
    other_owner = member(setting.publishers[1], Role.OWNER)
    listing = reverse("credit-entity-ratings", kwargs={"entity": entity.slug})
    detail = entity_url("credit-entity-rating-detail", entity, rating)
    # the rating seen through another organisation's pages
    elsewhere = entity_url("credit-entity-rating-detail", setting.publishers[1], rating)

    # when / then
    assert Client().get(listing).status_code == 302
    assert signed_in(plain_member).get(listing).status_code == 403
    assert signed_in(plain_member).get(detail).status_code == 403
    assert signed_in(other_owner).get(detail).status_code == 403
    assert signed_in(other_owner).get(elsewhere).status_code == 404
    assert signed_in(setting.analyst).get(listing).status_code == 403


def test_objecting_after_the_deadline_or_with_a_bad_form_is_refused(
    setting: Setting,
) -> None:
    # given
    entity = setting.publishers[0]
    rating = noticed(setting, first_rating(setting))
    owner = signed_in(setting.entity_owner)
    object_url = entity_url("credit-entity-rating-object", entity, rating)

    # when
    bad = owner.post(object_url, {"grounds": "bad_mood", "text": ""})
    Rating.objects.filter(pk=rating.pk).update(
        objection_deadline=timezone.now() - timedelta(seconds=1)
    )
    late = owner.post(object_url, {"grounds": "new_facts", "text": "Too late?"})
    page = owner.get(entity_url("credit-entity-rating-detail", entity, rating))

    # then
    assert bad.status_code == 400
    assert late.status_code == 409
    assert "The time to object has passed." in late.content.decode()
    assert 'class="objection-form"' not in page.content.decode()
    assert not Objection.objects.filter(rating=rating).exists()


def test_the_entity_list_takes_as_many_queries_whatever_its_length(
    setting: Setting, django_assert_num_queries: object
) -> None:
    # given: the owner of two publishers, one rated once, the other three times
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    entity, other = setting.publishers[0], setting.publishers[1]
    owner = setting.entity_owner
    Membership.objects.create(user=owner, organization=other, role=Role.OWNER)
    for _ in range(3):
        cycle = run_cycle(setting)
        Rating.objects.filter(cycle=cycle).update(
            state=State.PUBLISHED, notice_at=timezone.now()
        )
    Rating.objects.filter(entity=entity).exclude(
        pk=Rating.objects.filter(entity=entity).first().pk  # type: ignore[union-attr]
    ).update(state=State.COMPUTED)
    client = signed_in(owner)

    def get(organization: Organization) -> str:
        response = client.get(
            reverse("credit-entity-ratings", kwargs={"entity": organization.slug})
        )
        assert response.status_code == 200
        return response.content.decode()

    # when
    with CaptureQueriesContext(connection) as few:
        one = get(entity)

    # then
    assert one.count('class="rating"') == 1
    with django_assert_num_queries(len(few)):  # type: ignore[operator]
        three = get(other)
    assert three.count('class="rating"') == 3


# --- Members of the body who belong to the entity or declared a conflict -------------


def test_the_body_side_is_refused_to_the_entitys_members_and_the_conflicted(
    setting: Setting,
) -> None:
    # given: an analyst of the body who also owns the rated entity, and a
    # committee member who declared a conflict with it
    rating = first_rating(setting)
    entity = setting.publishers[0]
    both = member(setting.body, Role.ANALYST)
    Membership.objects.create(user=both, organization=entity, role=Role.OWNER)
    declared = setting.committee[4]
    ConflictOfInterest.objects.create(user=declared, entity=entity, reason="Advisor.")
    page = url("credit-rating-detail", rating)
    review = url("credit-rating-review", rating)
    entity_detail = entity_url("credit-entity-rating-detail", entity, rating)

    # when: before the notice
    both_page = signed_in(both).get(page)
    both_reviews = signed_in(both).post(
        review, {"adjustment": "0", "outlook": "stable"}
    )
    both_entity_early = signed_in(both).get(entity_detail)
    declared_page = signed_in(declared).get(page)
    # and from the notice on
    noticed(setting, rating)
    both_page_later = signed_in(both).get(page)
    both_entity_later = signed_in(both).get(entity_detail)

    # then
    assert both_page.status_code == 403
    assert "You belong to the rated entity" in both_page.content.decode()
    assert "BBB" not in both_page.content.decode()
    assert both_reviews.status_code == 403
    assert both_entity_early.status_code == 404
    assert declared_page.status_code == 403
    assert "You declared a conflict of interest" in declared_page.content.decode()
    assert both_page_later.status_code == 403
    assert both_entity_later.status_code == 200
    assert signed_in(setting.analyst).get(page).status_code == 200


def test_notify_is_not_offered_to_the_conflicted(setting: Setting) -> None:
    # given: a rating the committee approved
    rating = first_rating(setting)
    rating = rating_analyst_review(actor=setting.analyst, rating=rating)
    for n, voter in enumerate(setting.committee[:3]):
        rating_vote(actor=voter, rating=rating, vote="approve", chair=n == 0)
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED
    both = member(setting.body, Role.ANALYST)
    Membership.objects.create(
        user=both, organization=setting.publishers[0], role=Role.MEMBER
    )
    declared = member(setting.body, Role.ADMIN)
    ConflictOfInterest.objects.create(
        user=declared, entity=setting.publishers[0], reason="Advisor."
    )
    objection = rating_objection(rating=rating)

    # when
    offered = {
        user.pk: rating_actions(user=user, rating=rating, objection=objection).notify
        for user in (setting.analyst, both, declared)
    }
    refused = signed_in(both).post(url("credit-rating-notify", rating))

    # then
    assert offered == {setting.analyst.pk: True, both.pk: False, declared.pk: False}
    assert refused.status_code == 403
    rating.refresh_from_db()
    assert rating.state == State.COMMITTEE_APPROVED
