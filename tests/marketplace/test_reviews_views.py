from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import Agent, Membership, Review, ReviewFlag
from marketplace.services import reviews as review_services
from marketplace.services.review_signals import review_signals_compute
from marketplace.services.reviews import (
    review_flag,
    review_hide,
    review_reply,
)
from tests.marketplace.factories import (
    InstallFactory,
    MembershipFactory,
    UserFactory,
)
from tests.marketplace.test_reviews import (
    installer,
    listed_agent,
    moderator,
    publisher_member,
    write,
)

pytestmark = pytest.mark.django_db

# The agent page for a signed-in reader, of which the reviews section runs 6: the
# count and the page of reviews, the reader's own review, whether they may write and
# reply, and which of the page they flagged.
SECTION_QUERIES = 22
# The session and the user, is_reviewer, the count, the page, its open flags, the
# signals, and the inbox's unread count.
MODERATION_QUERIES = 8


def _agent_url(agent: Agent) -> str:
    return reverse(
        "agent-detail", kwargs={"publisher": agent.publisher.slug, "agent": agent.slug}
    )


def _url(name: str, agent: Agent, **kwargs: Any) -> str:
    return reverse(
        name,
        kwargs={"publisher": agent.publisher.slug, "agent": agent.slug, **kwargs},
    )


def test_the_agent_page_shows_the_summary_and_visible_reviews(client: Client) -> None:
    # given
    agent = listed_agent()
    write(agent, installer(agent), stars=5, title="Brilliant helper")
    write(agent, installer(agent), stars=3, title="Decent")
    hidden = write(agent, installer(agent), stars=1, title="Rude words")
    review_hide(actor=moderator(), review=hidden, reason="Abusive")
    # when
    html = client.get(_agent_url(agent)).content.decode()
    # then
    assert 'id="reviews"' in html
    assert "Brilliant helper" in html
    assert "Decent" in html
    assert "Rude words" not in html
    assert "2 ratings" in html
    # the distribution is readable as text, not colour alone
    assert "5 stars" in html
    assert "1 (50%)" in html
    assert "5 stars out of 5" in html
    # anonymous readers are asked to sign in
    assert "to review an agent you installed" in html


def test_readers_see_what_they_may_do(client: Client) -> None:
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author, title="Mine")
    write_url = _url("review-write", agent)
    flag_url = _url("review-flag", agent, review_id=review.pk)
    reply_url = _url("review-reply", agent, review_id=review.pk)
    # the author edits, and does not flag their own review
    client.force_login(author)
    html = client.get(_agent_url(agent)).content.decode()
    assert "Edit your review" in html
    assert write_url in html
    assert flag_url not in html
    # someone who installed it may write one, and flag others'
    client.force_login(installer(agent))
    html = client.get(_agent_url(agent)).content.decode()
    assert "Write a review" in html
    assert flag_url in html
    # someone who did not install it is told why not
    client.force_login(UserFactory.create())
    html = client.get(_agent_url(agent)).content.decode()
    assert "Only people who installed this agent can review it." in html
    assert write_url not in html
    # the publisher's members reply
    client.force_login(publisher_member(agent))
    assert reply_url in client.get(_agent_url(agent)).content.decode()


def test_the_author_still_sees_a_hidden_review_with_a_note(client: Client) -> None:
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author, title="Angry words")
    review_hide(actor=moderator(), review=review, reason="Insults")
    client.force_login(author)
    html = client.get(_agent_url(agent)).content.decode()
    assert "Angry words" in html
    assert "A moderator hid your review" in html
    assert "Insults" in html
    # and its page is theirs and the moderators' only
    url = _url("review-detail", agent, review_id=review.pk)
    assert client.get(url).status_code == 200
    client.force_login(UserFactory.create())
    assert client.get(url).status_code == 404


def test_writing_then_editing_through_the_form(client: Client) -> None:
    # given
    agent = listed_agent()
    user = installer(agent)
    client.force_login(user)
    url = _url("review-write", agent)
    assert client.get(url).status_code == 200
    # when
    created = client.post(url, {"stars": "4", "title": "Good", "body": "Works."})
    edited = client.post(url, {"stars": "2", "title": "Meh", "body": "Slower."})
    # then
    review = Review.objects.get()
    assert created.status_code == edited.status_code == 302
    assert edited["Location"].endswith(f"#review-{review.pk}")
    assert (review.stars, review.title) == (2, "Meh")
    assert review.revisions.count() == 1
    page = client.get(url).content.decode()
    assert "Edit your review" in page
    assert 'value="Meh"' in page


def test_the_form_refuses_people_without_an_install(client: Client) -> None:
    agent = listed_agent()
    client.force_login(UserFactory.create())
    url = _url("review-write", agent)
    response = client.get(url)
    assert response.status_code == 403
    assert "Only people who installed this agent can review it." in (
        response.content.decode()
    )
    posted = client.post(url, {"stars": "5", "title": "x", "body": "y"})
    assert posted.status_code == 403
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "data",
    [
        {"stars": "0", "title": "t", "body": "b"},
        {"stars": "6", "title": "t", "body": "b"},
        {"stars": "x", "title": "t", "body": "b"},
        {"stars": "3", "title": "t" * 121, "body": "b"},
        {"stars": "3", "title": "t", "body": ""},
    ],
)
def test_bad_input_on_the_form_is_a_400(client: Client, data: dict[str, str]) -> None:
    agent = listed_agent()
    client.force_login(installer(agent))
    response = client.post(_url("review-write", agent), data)
    assert response.status_code == 400
    assert "field-errors" in response.content.decode()
    assert not Review.objects.exists()


def test_the_form_answers_429_when_reviewing_too_often(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(review_services, "REVIEW_RATE", (1, 3600))
    agent = listed_agent()
    client.force_login(installer(agent))
    url = _url("review-write", agent)
    client.post(url, {"stars": "4", "title": "Good", "body": "Works."})
    response = client.post(url, {"stars": "1", "title": "Bad", "body": "No."})
    assert response.status_code == 429
    assert "try again later" in response.content.decode()


def test_the_publisher_replies_from_the_reply_page(client: Client) -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    url = _url("review-reply", agent, review_id=review.pk)
    # a stranger may not
    client.force_login(UserFactory.create())
    assert client.get(url).status_code == 403
    assert client.post(url, {"body": "Hi"}).status_code == 403
    # a member may
    client.force_login(publisher_member(agent, Membership.Role.ADMIN))
    assert client.get(url).status_code == 200
    assert client.post(url, {"body": "We fixed it."}).status_code == 302
    assert "We fixed it." in client.get(_agent_url(agent)).content.decode()
    assert client.post(url, {"body": ""}).status_code == 400


def test_flagging_from_the_flag_page(client: Client) -> None:
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author)
    url = _url("review-flag", agent, review_id=review.pk)
    client.force_login(author)
    assert client.get(url).status_code == 403
    client.force_login(UserFactory.create())
    assert client.get(url).status_code == 200
    assert client.post(url, {"reason": "spam", "note": "An advert"}).status_code == 302
    again = client.post(url, {"reason": "spam"})
    assert again.status_code == 409
    assert "already" in again.content.decode()
    assert ReviewFlag.objects.count() == 1
    assert "You flagged this review." in client.get(_agent_url(agent)).content.decode()
    assert client.get(url.replace(str(review.pk), "999999")).status_code == 404


def test_flagging_needs_a_confirmed_email_address(client: Client) -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    url = _url("review-flag", agent, review_id=review.pk)
    client.force_login(UserFactory.create(email_verified_at=None))
    page = client.get(url)
    assert page.status_code == 403
    assert "Confirm your e-mail address" in page.content.decode()
    assert client.post(url, {"reason": "spam"}).status_code == 403
    assert not ReviewFlag.objects.exists()


def test_the_moderation_page_leaves_out_the_reviewers_own_publishers(
    client: Client,
) -> None:
    # given: flagged reviews of two agents; the reviewer belongs to one's publisher
    own, other = listed_agent(), listed_agent()
    for agent in (own, other):
        review = write(agent, installer(agent), title=f"Review of {agent.slug}")
        review_flag(
            user=UserFactory.create(username=f"flagger-{agent.pk}"),
            review=review,
            reason="spam",
        )
    conflicted = moderator()
    MembershipFactory.create(user=conflicted, organization=own.publisher)
    client.force_login(conflicted)
    # when
    html = client.get(reverse("review-moderation")).content.decode()
    # then
    assert f"Review of {other.slug}" in html
    assert f"flagger-{other.pk}" in html
    assert f"Review of {own.slug}" not in html
    assert f"flagger-{own.pk}" not in html


def test_the_moderation_queue_is_for_reviewers_and_hides_with_a_reason(
    client: Client,
) -> None:
    # given
    agent = listed_agent()
    review = write(agent, installer(agent), stars=1, title="Shouting")
    review_flag(user=UserFactory.create(), review=review, reason="offensive")
    review_signals_compute(agent_id=agent.pk)
    page = reverse("review-moderation")
    act = reverse("review-moderate", kwargs={"review_id": review.pk})
    # others are refused
    client.force_login(publisher_member(agent, Membership.Role.OWNER))
    assert client.get(page).status_code == 403
    assert client.post(act, {"action": "hide", "reason": "x"}).status_code == 403
    # a reviewer sees the flagged review and the agent's signals
    client.force_login(moderator())
    html = client.get(page).content.decode()
    assert "Shouting" in html
    assert "Offensive or abusive" in html
    assert "Signs of manipulation for this agent" in html
    assert "Not raised" in html
    # hiding without a reason is refused
    client.post(act, {"action": "hide", "reason": ""})
    assert Review.objects.get().state == "visible"
    # with a reason it hides
    response = client.post(act, {"action": "hide", "reason": "Abusive"})
    assert response.status_code == 302
    assert Review.objects.get().state == "hidden"
    assert "Shouting" not in client.get(page).content.decode()
    assert "Shouting" in client.get(page, {"view": "hidden"}).content.decode()
    client.post(act, {"action": "restore", "reason": "Appeal accepted", "view": "x"})
    assert Review.objects.get().state == "visible"


def test_the_rating_bars_need_no_inline_style(client: Client) -> None:
    # given: ratings of 5, 5 and 2 stars
    agent = listed_agent()
    for stars in (5, 5, 2):
        write(agent, installer(agent), stars=stars)
    # when
    html = client.get(_agent_url(agent)).content.decode()
    # then: meters the CSP lets through, and the numbers in text
    section = html[
        html.index('id="reviews"') : html.index(
            "</section>", html.index('id="reviews"')
        )
    ]
    assert "style=" not in section
    assert (
        '<meter class="rating-meter flex-grow-1" min="0" max="100" value="67"'
        in section
    )
    assert (
        '<meter class="rating-meter flex-grow-1" min="0" max="100" value="0"' in section
    )
    assert "2 (67%)" in section
    assert "1 (33%)" in section


@pytest.mark.parametrize("size", [2, 9])
def test_the_reviews_section_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any, size: int
) -> None:
    # given: a signed-in reader who installed the agent, with reviews some of which
    # have replies and the reader's flags
    agent = listed_agent()
    reader = UserFactory.create()
    member = publisher_member(agent)
    InstallFactory.create(user=reader, agent=agent)
    for index in range(size):
        review = write(agent, installer(agent), stars=1 + index % 5)
        if index % 2:
            review_reply(actor=member, review=review, body="Thanks")
            review_flag(user=reader, review=review, reason="spam")
    client.force_login(reader)
    # when / then
    with django_assert_num_queries(SECTION_QUERIES):
        response = client.get(_agent_url(agent))
    assert response.status_code == 200
    assert response.content.decode().count('class="review ') == size


@pytest.mark.parametrize("size", [1, 5])
def test_the_moderation_page_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any, size: int
) -> None:
    client.force_login(moderator())
    agent = listed_agent()
    for _ in range(size):
        review = write(agent, installer(agent))
        review_flag(user=UserFactory.create(), review=review, reason="spam")
    review_signals_compute(agent_id=agent.pk)
    with django_assert_num_queries(MODERATION_QUERIES):
        response = client.get(reverse("review-moderation"))
    assert response.status_code == 200
    assert response.content.decode().count('class="card mb-3"') == size


def test_the_review_pages_render_in_chinese() -> None:
    # given
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author, title="很好用")
    review_flag(user=UserFactory.create(), review=review, reason="other")
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    # when / then
    chinese.force_login(author)
    page = chinese.get(_agent_url(agent))
    assert page.status_code == 200
    assert 'lang="zh-Hans"' in page.content.decode()
    assert "很好用" in page.content.decode()
    assert chinese.get(_url("review-write", agent)).status_code == 200
    chinese.force_login(moderator())
    assert chinese.get(reverse("review-moderation")).status_code == 200
