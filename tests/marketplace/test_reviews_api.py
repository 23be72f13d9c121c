from typing import Any

import pytest
from rest_framework.test import APIClient

from marketplace.models import Agent, Membership, Review, ReviewFlag
from marketplace.services import reviews as review_services
from marketplace.services.review_signals import review_signals_compute
from marketplace.services.reviews import (
    review_flag,
    review_hide,
    review_reply,
)
from tests.marketplace.factories import MembershipFactory, UserFactory
from tests.marketplace.test_reviews import (
    installer,
    listed_agent,
    moderator,
    publisher_member,
    write,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def _base(agent: Agent) -> str:
    return f"/api/v1/agents/{agent.publisher.slug}/{agent.slug}/reviews/"


REVIEW = {"stars": 4, "title": "Handy", "body": "Saves me an hour a day."}


def test_without_an_install_a_review_is_refused_with_a_clear_message(
    api: APIClient,
) -> None:
    # given
    agent = listed_agent()
    api.force_authenticate(UserFactory.create())
    # when
    response = api.post(_base(agent), REVIEW, format="json")
    # then
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "review_not_allowed"
    assert error["message"] == "Only people who installed this agent can review it."
    assert not Review.objects.exists()


def test_anonymous_users_cannot_review(api: APIClient) -> None:
    agent = listed_agent()
    assert api.post(_base(agent), REVIEW, format="json").status_code in (401, 403)


def test_a_second_post_edits_the_review_and_keeps_a_revision(api: APIClient) -> None:
    # given
    agent = listed_agent()
    user = installer(agent)
    api.force_authenticate(user)
    first = api.post(_base(agent), REVIEW, format="json")
    assert first.status_code == 201, first.json()
    # when
    second = api.post(
        _base(agent), {**REVIEW, "stars": 1, "body": "It broke."}, format="json"
    )
    # then
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["stars"] == 1
    assert second.json()["edited"] is True
    review = Review.objects.get()
    assert list(review.revisions.values_list("stars", "body")) == [
        (4, "Saves me an hour a day.")
    ]
    summary = api.get(f"{_base(agent)}summary/").json()
    assert summary["count"] == 1
    assert summary["mean"] == 1.0
    assert summary["score"] == pytest.approx((35 + 1) / 11)
    assert summary["distribution"][-1] == {"stars": 1, "count": 1, "percent": 100}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"stars": 0}, "stars"),
        ({"stars": 6}, "stars"),
        ({"stars": "x"}, "stars"),
        ({"title": "x" * 121}, "title"),
        ({"body": "x" * 5001}, "body"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    api: APIClient, change: dict[str, Any], field: str
) -> None:
    agent = listed_agent()
    api.force_authenticate(installer(agent))
    response = api.post(_base(agent), {**REVIEW, **change}, format="json")
    assert response.status_code == 400
    assert field in _error(response)["details"]
    assert not Review.objects.exists()


def test_reviewing_too_often_is_a_429(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review_services, "REVIEW_RATE", (1, 3600))
    agent = listed_agent()
    api.force_authenticate(installer(agent))
    assert api.post(_base(agent), REVIEW, format="json").status_code == 201
    response = api.post(_base(agent), {**REVIEW, "stars": 2}, format="json")
    assert response.status_code == 429
    assert _error(response)["code"] == "too_many_requests"
    assert Review.objects.get().stars == 4


def test_the_public_list_shows_visible_reviews_with_replies(api: APIClient) -> None:
    # given
    agent = listed_agent()
    shown = write(agent, installer(agent), stars=5, title="Shown")
    hidden = write(agent, installer(agent), stars=1, title="Hidden")
    review_hide(actor=moderator(), review=hidden, reason="Spam")
    review_reply(actor=publisher_member(agent), review=shown, body="Thank you!")
    # when
    body = api.get(_base(agent)).json()
    # then
    assert body["count"] == 1
    item = body["results"][0]
    assert (item["id"], item["title"], item["stars"]) == (shown.pk, "Shown", 5)
    assert item["reply"]["body"] == "Thank you!"
    assert item["reply"]["publisher"] == agent.publisher.slug
    assert api.get(f"{_base(agent)}summary/").json()["count"] == 1


def test_reviews_of_an_unlisted_agent_are_not_found(api: APIClient) -> None:
    agent = listed_agent(status=Agent.Status.QUARANTINED)
    assert api.get(_base(agent)).status_code == 404
    assert api.get("/api/v1/agents/nobody/nothing/reviews/summary/").status_code == 404


@pytest.mark.parametrize("size", [2, 7])
def test_the_review_list_runs_a_constant_number_of_queries(
    api: APIClient, django_assert_num_queries: Any, size: int
) -> None:
    # given
    agent = listed_agent()
    member = publisher_member(agent)
    for index in range(size):
        review = write(agent, installer(agent), stars=1 + index % 5)
        if index % 2:
            review_reply(actor=member, review=review, body="Thanks")
    # when / then: the agent (and its visibility), the count, the page
    with django_assert_num_queries(4):
        response = api.get(_base(agent))
    assert len(response.json()["results"]) == size


def test_replies_are_for_the_publishers_members(api: APIClient) -> None:
    # given
    agent = listed_agent()
    review = write(agent, installer(agent))
    url = f"/api/v1/reviews/{review.pk}/reply/"
    # when a stranger replies
    api.force_authenticate(UserFactory.create())
    denied = api.post(url, {"body": "Hello"}, format="json")
    # then
    assert denied.status_code == 403
    # and a member of the publisher replies, then edits the reply
    api.force_authenticate(publisher_member(agent, Membership.Role.OWNER))
    assert api.post(url, {"body": "Thanks"}, format="json").status_code == 200
    edited = api.post(url, {"body": "Thanks again"}, format="json")
    assert edited.json()["body"] == "Thanks again"
    assert api.post(url, {"body": ""}, format="json").status_code == 400
    assert api.post("/api/v1/reviews/999999/reply/", {"body": "x"}).status_code == 404


def test_flags_are_once_per_user_and_not_for_the_author(api: APIClient) -> None:
    # given
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author)
    url = f"/api/v1/reviews/{review.pk}/flag/"
    # when the author flags their own review
    api.force_authenticate(author)
    own = api.post(url, {"reason": "spam"}, format="json")
    # then
    assert own.status_code == 403
    # a reader flags once; the second time is a conflict
    api.force_authenticate(UserFactory.create())
    first = api.post(url, {"reason": "spam", "note": "Advert"}, format="json")
    assert first.status_code == 201
    again = api.post(url, {"reason": "fake"}, format="json")
    assert again.status_code == 409
    assert _error(again)["code"] == "already_flagged"
    bad = api.post(url, {"reason": "boring"}, format="json")
    assert bad.status_code in (400, 409)
    assert ReviewFlag.objects.count() == 1


def test_flagging_needs_a_confirmed_email_address(api: APIClient) -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    api.force_authenticate(UserFactory.create(email_verified_at=None))
    response = api.post(f"/api/v1/reviews/{review.pk}/flag/", {"reason": "spam"})
    assert response.status_code == 403
    assert _error(response)["code"] == "email_not_verified"
    assert not ReviewFlag.objects.exists()


def test_flagging_too_often_is_a_429(
    api: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review_services, "FLAG_RATE", (1, 3600))
    agent = listed_agent()
    reviews = [write(agent, installer(agent)) for _ in range(2)]
    api.force_authenticate(UserFactory.create())
    ok = api.post(f"/api/v1/reviews/{reviews[0].pk}/flag/", {"reason": "spam"})
    assert ok.status_code == 201
    limited = api.post(f"/api/v1/reviews/{reviews[1].pk}/flag/", {"reason": "spam"})
    assert limited.status_code == 429


def test_a_reviewer_moderates_through_the_api(api: APIClient) -> None:
    # given: a flagged review
    agent = listed_agent()
    review = write(agent, installer(agent), stars=1)
    review_flag(user=UserFactory.create(), review=review, reason="offensive")
    review_signals_compute(agent_id=agent.pk)
    api.force_authenticate(moderator())
    # when
    queue = api.get("/api/v1/moderation/reviews/").json()
    # then
    assert [item["id"] for item in queue["results"]] == [review.pk]
    item = queue["results"][0]
    assert item["open_flags"] == 1
    assert item["flags"][0]["reason"] == "offensive"
    assert {signal["kind"] for signal in item["agent_signals"]} == {
        "new_accounts",
        "burst",
        "single_publisher",
    }
    # hiding needs a reason
    hide = f"/api/v1/moderation/reviews/{review.pk}/hide/"
    missing = api.post(hide, {}, format="json")
    assert missing.status_code == 400
    assert "reason" in _error(missing)["details"]
    blank = api.post(hide, {"reason": " "}, format="json")
    assert blank.status_code == 400
    hidden = api.post(hide, {"reason": "Abusive"}, format="json")
    assert hidden.status_code == 200
    assert hidden.json()["state"] == "hidden"
    assert api.get("/api/v1/moderation/reviews/").json()["count"] == 0
    assert api.get("/api/v1/moderation/reviews/?view=hidden").json()["count"] == 1
    assert api.get("/api/v1/moderation/reviews/?view=nope").status_code == 400
    # hiding twice is a conflict; restoring brings it back
    assert api.post(hide, {"reason": "Again"}, format="json").status_code == 409
    restore = f"/api/v1/moderation/reviews/{review.pk}/restore/"
    assert api.post(restore, {"reason": "Fixed"}, format="json").status_code == 200
    assert api.get(f"{_base(agent)}summary/").json()["count"] == 1


def test_moderation_is_for_the_operators_reviewers(api: APIClient) -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    api.force_authenticate(publisher_member(agent, Membership.Role.OWNER))
    assert api.get("/api/v1/moderation/reviews/").status_code == 403
    for action in ("hide", "restore", "dismiss"):
        response = api.post(
            f"/api/v1/moderation/reviews/{review.pk}/{action}/", {"reason": "x"}
        )
        assert response.status_code == 403
    assert Review.objects.get().state == "visible"
    anonymous = APIClient()
    assert anonymous.get("/api/v1/moderation/reviews/").status_code in (401, 403)


def test_the_queue_leaves_out_the_reviewers_own_publishers(api: APIClient) -> None:
    # given: flagged reviews of two agents; the reviewer belongs to one's publisher
    own, other = listed_agent(), listed_agent()
    for agent in (own, other):
        review = write(agent, installer(agent))
        review_flag(
            user=UserFactory.create(username=f"flagger-{agent.pk}"),
            review=review,
            reason="spam",
        )
    conflicted = moderator()
    MembershipFactory.create(user=conflicted, organization=own.publisher)
    api.force_authenticate(conflicted)
    # when
    response = api.get("/api/v1/moderation/reviews/")
    # then: the own publisher's review, and who flagged it, are not shown
    assert response.status_code == 200
    assert [item["agent"] for item in response.json()["results"]] == [other.slug]
    assert f"flagger-{own.pk}" not in response.content.decode()
    assert f"flagger-{other.pk}" in response.content.decode()


@pytest.mark.parametrize("size", [1, 6])
def test_the_moderation_queue_runs_a_constant_number_of_queries(
    api: APIClient, django_assert_num_queries: Any, size: int
) -> None:
    agent = listed_agent()
    for _ in range(size):
        review = write(agent, installer(agent))
        review_flag(user=UserFactory.create(), review=review, reason="spam")
    review_signals_compute(agent_id=agent.pk)
    api.force_authenticate(moderator())
    # is_reviewer, the count, the page, its open flags, the signals
    with django_assert_num_queries(5):
        response = api.get("/api/v1/moderation/reviews/")
    assert response.json()["count"] == size
