from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    PermissionDenied,
    ReviewNotAllowed,
    TooManyRequests,
)
from marketplace.models import (
    Agent,
    AgentVersion,
    Install,
    Membership,
    Notification,
    Organization,
    Review,
    ReviewEvent,
    ReviewFlag,
    ReviewRevision,
    ReviewSignal,
    User,
)
from marketplace.selectors.reviews import MODERATION_VIEWS, moderation_queue
from marketplace.services import reviews as review_services
from marketplace.services.review_signals import (
    review_signals_agents_due,
    review_signals_compute,
)
from marketplace.services.reviews import (
    review_flag,
    review_flags_dismiss,
    review_hide,
    review_reply,
    review_restore,
    review_submit,
)
from marketplace.tasks import review_signals_compute as review_signals_compute_task
from marketplace.tasks import review_signals_compute_due as review_signals_due_task
from tests.marketplace.factories import (
    AgentVersionFactory,
    InstallFactory,
    MembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

State = Review.State


def listed_agent(**agent_fields: object) -> Agent:
    """An agent with a published version."""
    version = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED,
        **{f"agent__{key}": value for key, value in agent_fields.items()},
    )
    agent: Agent = version.agent
    agent.refresh_from_db()
    return agent


def installer(agent: Agent, **user_fields: object) -> User:
    """A user who installed the agent."""
    user = UserFactory.create(**user_fields)
    InstallFactory.create(user=user, agent=agent)
    return user


def moderator() -> User:
    membership = MembershipFactory.create(
        organization__kind=Organization.Kind.OPERATOR,
        role=Membership.Role.REVIEWER,
    )
    user: User = membership.user
    return user


def publisher_member(agent: Agent, role: str = Membership.Role.MEMBER) -> User:
    membership = MembershipFactory.create(organization=agent.publisher, role=role)
    user: User = membership.user
    return user


def write(agent: Agent, user: User, stars: int = 4, **text: str) -> Review:
    return review_submit(
        user=user,
        agent=agent,
        stars=stars,
        title=text.get("title", "Useful"),
        body=text.get("body", "It drafted my replies well."),
    )


def summary(agent: Agent) -> tuple[int, list[int], float | None, float]:
    agent.refresh_from_db()
    return (
        agent.rating_count,
        [getattr(agent, f"rating_{stars}") for stars in range(1, 6)],
        agent.rating_mean,
        agent.rating_score,
    )


# --- Writing ------------------------------------------------------------------------


def test_a_user_without_an_install_cannot_review() -> None:
    # given
    agent = listed_agent()
    stranger = UserFactory.create()
    # when / then
    with pytest.raises(ReviewNotAllowed) as caught:
        write(agent, stranger)
    assert caught.value.status_code == 403
    assert "Only people who installed this agent can review it." in str(caught.value)
    assert not Review.objects.exists()


def test_a_past_install_is_enough_to_review() -> None:
    # given: the user installed the agent and uninstalled it since
    agent = listed_agent()
    user = UserFactory.create()
    InstallFactory.create(
        user=user, agent=agent, state="uninstalled", uninstalled_at=timezone.now()
    )
    # when
    review = write(agent, user, stars=2)
    # then
    assert review.stars == 2
    assert review.version == agent.latest_version


def test_members_of_the_publisher_cannot_review_its_agents() -> None:
    agent = listed_agent()
    member = publisher_member(agent)
    InstallFactory.create(user=member, agent=agent)
    with pytest.raises(ReviewNotAllowed, match="you cannot review its agents"):
        write(agent, member)


def test_a_review_counts_in_the_summary_with_an_event() -> None:
    # given
    agent = listed_agent()
    user = installer(agent)
    # when
    review = write(agent, user, stars=4)
    # then
    count, histogram, mean, score = summary(agent)
    assert (count, histogram, mean) == (1, [0, 0, 0, 1, 0], 4.0)
    assert score == pytest.approx((10 * 3.5 + 4) / (10 + 1))
    event = ReviewEvent.objects.get(review=review)
    assert (event.action, event.actor, event.to_state) == ("created", user, "visible")


def test_a_second_review_edits_the_first_and_keeps_a_revision() -> None:
    # given
    agent = listed_agent()
    user = installer(agent)
    first = write(agent, user, stars=5, title="Great", body="Loved it.")
    # when
    second = write(agent, user, stars=2, title="Worse now", body="It broke.")
    # then
    assert second.pk == first.pk
    assert Review.objects.filter(agent=agent, user=user).count() == 1
    revision = ReviewRevision.objects.get(review=first)
    assert (revision.stars, revision.title, revision.body) == (5, "Great", "Loved it.")
    assert summary(agent)[:3] == (1, [0, 1, 0, 0, 0], 2.0)
    assert list(
        ReviewEvent.objects.filter(review=first)
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["created", "edited"]


def test_an_edit_ties_the_review_to_the_latest_install() -> None:
    # given: the user reviewed 1.0, then installed 2.0
    agent = listed_agent()
    user = installer(agent)
    review = write(agent, user)
    Install.objects.filter(user=user).update(state="uninstalled")
    newer = AgentVersionFactory.create(agent=agent, state=AgentVersion.State.PUBLISHED)
    InstallFactory.create(user=user, agent=agent, version=newer)
    # when
    edited = write(agent, user, stars=5)
    # then
    assert edited.pk == review.pk
    assert edited.version == newer


def test_the_same_text_again_changes_nothing() -> None:
    agent = listed_agent()
    user = installer(agent)
    write(agent, user, stars=3)
    write(agent, user, stars=3)
    assert not ReviewRevision.objects.exists()
    assert summary(agent)[0] == 1


@pytest.mark.parametrize(
    ("stars", "title", "body", "field"),
    [
        (0, "t", "b", "stars"),
        (6, "t", "b", "stars"),
        ("x", "t", "b", "stars"),
        (True, "t", "b", "stars"),
        (3, "x" * 121, "b", "title"),
        (3, "  ", "b", "title"),
        (3, "t", "x" * 5001, "body"),
        (3, "t", "", "body"),
    ],
)
def test_bad_reviews_are_refused_by_field(
    stars: object, title: str, body: str, field: str
) -> None:
    agent = listed_agent()
    user = installer(agent)
    with pytest.raises(ApplicationError) as caught:
        review_submit(user=user, agent=agent, stars=stars, title=title, body=body)  # type: ignore[arg-type]  # what a careless caller might pass
    assert caught.value.status_code == 400
    assert field in caught.value.details
    assert not Review.objects.exists()


def test_reviewing_is_rate_limited_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setattr(review_services, "REVIEW_RATE", (2, 3600))
    agent = listed_agent()
    user = installer(agent)
    write(agent, user, stars=1)
    write(agent, user, stars=2)
    # when / then
    with pytest.raises(TooManyRequests) as caught:
        write(agent, user, stars=3)
    assert caught.value.status_code == 429
    assert summary(agent)[1] == [0, 1, 0, 0, 0]
    # another user is not held back
    write(agent, installer(agent), stars=5)


# --- Replies ------------------------------------------------------------------------


def test_the_publisher_replies_once_and_the_reviewer_is_notified(
    django_capture_on_commit_callbacks: object,
) -> None:
    # given
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author)
    member = publisher_member(agent, Membership.Role.ADMIN)
    # when
    reply = review_reply(actor=member, review=review, body="Thanks, fixed in 1.1.")
    edited = review_reply(actor=member, review=review, body="Thanks, fixed in 1.2.")
    # then
    assert edited.pk == reply.pk
    assert edited.body == "Thanks, fixed in 1.2."
    notification = Notification.objects.get(user=author)
    assert notification.kind == Notification.Kind.REVIEW_REPLY
    assert notification.link == (
        f"/agents/{agent.publisher.slug}/{agent.slug}/reviews/{review.pk}/"
    )
    assert agent.publisher.name in notification.text
    assert list(
        ReviewEvent.objects.filter(review=review)
        .order_by("pk")
        .values_list("action", flat=True)
    ) == ["created", "replied", "reply_edited"]


def test_an_edited_reply_keeps_the_previous_text_in_the_event() -> None:
    # given: a reply by one member, edited by another
    agent = listed_agent()
    review = write(agent, installer(agent))
    first, second = publisher_member(agent), publisher_member(agent)
    review_reply(actor=first, review=review, body="Thanks, fixed in 1.1.")
    review_reply(actor=second, review=review, body="Thanks, fixed in 1.2.")
    # when
    review_reply(actor=second, review=review, body="Thanks, fixed in 1.3.")
    # then: each edit's event holds the text and author it replaced
    edits = ReviewEvent.objects.filter(review=review, action="reply_edited").order_by(
        "pk"
    )
    assert [
        (
            event.actor,
            event.payload["previous_body"],
            event.payload["previous_author_id"],
        )
        for event in edits
    ] == [
        (second, "Thanks, fixed in 1.1.", first.pk),
        (second, "Thanks, fixed in 1.2.", second.pk),
    ]
    assert all(event.payload["previous_written_at"] for event in edits)
    # the same text again is no edit
    review_reply(actor=second, review=review, body="Thanks, fixed in 1.3.")
    assert edits.count() == 2


@pytest.mark.parametrize("role", [None, Membership.Role.ANALYST])
def test_only_editors_of_the_publisher_reply(role: str | None) -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    outsider = UserFactory.create() if role is None else publisher_member(agent, role)
    with pytest.raises(PermissionDenied):
        review_reply(actor=outsider, review=review, body="Hello")
    assert not hasattr(Review.objects.get(pk=review.pk), "reply")


# --- Flags and moderation -------------------------------------------------------------


def test_flags_count_once_per_user_and_never_by_the_author() -> None:
    # given
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author)
    reader = UserFactory.create()
    # when
    review_flag(user=reader, review=review, reason="spam", note="An advert")
    # then
    review.refresh_from_db()
    assert review.open_flags == 1
    with pytest.raises(Conflict, match="already"):
        review_flag(user=reader, review=review, reason="fake")
    with pytest.raises(PermissionDenied, match="your own review"):
        review_flag(user=author, review=review, reason="spam")
    with pytest.raises(ApplicationError) as caught:
        review_flag(user=UserFactory.create(), review=review, reason="boring")
    assert "reason" in caught.value.details
    review.refresh_from_db()
    assert review.open_flags == 1
    assert ReviewFlag.objects.count() == 1


def test_flagging_needs_a_confirmed_email_address() -> None:
    # given
    agent = listed_agent()
    review = write(agent, installer(agent))
    unconfirmed = UserFactory.create(email_verified_at=None)
    # when / then
    with pytest.raises(PermissionDenied, match="Confirm your e-mail") as caught:
        review_flag(user=unconfirmed, review=review, reason="spam")
    assert caught.value.code == "email_not_verified"
    review.refresh_from_db()
    assert review.open_flags == 0
    assert not ReviewFlag.objects.exists()
    assert not ReviewEvent.objects.filter(action="flagged").exists()


def test_flagging_is_rate_limited_per_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review_services, "FLAG_RATE", (1, 3600))
    agent = listed_agent()
    reviews = [write(agent, installer(agent)) for _ in range(2)]
    reader = UserFactory.create()
    review_flag(user=reader, review=reviews[0], reason="spam")
    with pytest.raises(TooManyRequests):
        review_flag(user=reader, review=reviews[1], reason="spam")


def test_hiding_takes_the_review_out_and_restoring_puts_it_back(
    django_capture_on_commit_callbacks: object,
) -> None:
    # given: two reviews, one flagged twice
    agent = listed_agent()
    author = installer(agent)
    review = write(agent, author, stars=1)
    write(agent, installer(agent), stars=5)
    for _ in range(2):
        review_flag(user=UserFactory.create(), review=review, reason="offensive")
    mod = moderator()
    # when
    hidden = review_hide(actor=mod, review=review, reason="Insults the developer")
    # then
    assert hidden.state == State.HIDDEN
    assert hidden.open_flags == 0
    assert not ReviewFlag.objects.filter(resolved_at=None).exists()
    assert summary(agent)[:3] == (1, [0, 0, 0, 0, 1], 5.0)
    event = ReviewEvent.objects.filter(review=review, action="hidden").get()
    assert (event.from_state, event.to_state, event.reason, event.actor) == (
        "visible",
        "hidden",
        "Insults the developer",
        mod,
    )
    notice = Notification.objects.get(user=author)
    assert notice.kind == Notification.Kind.REVIEW_MODERATED
    assert "Insults the developer" in notice.text
    # and when restored
    restored = review_restore(actor=mod, review=review, reason="Edited by the author")
    assert restored.state == State.VISIBLE
    assert summary(agent)[:3] == (2, [1, 0, 0, 0, 1], 3.0)
    assert Notification.objects.filter(user=author).count() == 2


def test_an_edit_of_a_hidden_review_leaves_the_summary_alone() -> None:
    agent = listed_agent()
    user = installer(agent)
    review = write(agent, user, stars=1)
    review_hide(actor=moderator(), review=review, reason="Abusive")
    write(agent, user, stars=5, title="Calmer", body="It works.")
    assert summary(agent) == (0, [0, 0, 0, 0, 0], None, 0.0)
    assert Review.objects.get(pk=review.pk).state == State.HIDDEN


def test_a_transition_is_atomic_on_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a flagged review, and an inbox that fails after the state moved
    agent = listed_agent()
    review = write(agent, installer(agent), stars=2)
    review_flag(user=UserFactory.create(), review=review, reason="spam")

    def failing(**kwargs: object) -> None:
        raise RuntimeError("inbox down")

    monkeypatch.setattr(review_services, "notification_create", failing)
    locked = Review.objects.select_related("agent__publisher", "user").get(pk=review.pk)
    # when: called directly, outside any service's transaction
    with pytest.raises(RuntimeError):
        review_services.review_transition(
            review=locked,
            to=State.HIDDEN,
            actor=moderator(),
            action="hidden",
            reason="x",
        )
    # then: nothing of it stays
    review.refresh_from_db()
    assert (review.state, review.open_flags) == (State.VISIBLE, 1)
    assert summary(agent)[:2] == (1, [0, 1, 0, 0, 0])
    assert not ReviewEvent.objects.filter(action="hidden").exists()
    assert ReviewFlag.objects.get().resolved_at is None


def test_the_transition_table_refuses_a_second_hide() -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    mod = moderator()
    review_hide(actor=mod, review=review, reason="Spam")
    with pytest.raises(InvalidTransition):
        review_hide(actor=mod, review=review, reason="Spam again")
    with pytest.raises(InvalidTransition):
        review_restore(actor=mod, review=write(agent, installer(agent)), reason="x")
    assert summary(agent)[0] == 1


def test_moderation_needs_a_reviewer_and_a_reason() -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    with pytest.raises(PermissionDenied):
        review_hide(actor=UserFactory.create(), review=review, reason="Spam")
    with pytest.raises(PermissionDenied):
        review_hide(actor=publisher_member(agent), review=review, reason="Spam")
    with pytest.raises(ApplicationError) as caught:
        review_hide(actor=moderator(), review=review, reason="  ")
    assert "reason" in caught.value.details
    # a reviewer who belongs to the publisher has a conflict of interest
    conflicted = moderator()
    MembershipFactory.create(user=conflicted, organization=agent.publisher)
    with pytest.raises(PermissionDenied, match="cannot moderate"):
        review_hide(actor=conflicted, review=review, reason="Spam")
    assert Review.objects.get(pk=review.pk).state == State.VISIBLE


def test_the_queue_leaves_out_reviews_of_the_reviewers_own_publishers() -> None:
    # given: flagged and hidden reviews of two publishers' agents, and a reviewer
    # who is a member of one of the publishers
    own, other = listed_agent(), listed_agent()
    mod = moderator()
    for agent in (own, other):
        flagged = write(agent, installer(agent))
        review_flag(user=UserFactory.create(), review=flagged, reason="spam")
        review_hide(actor=mod, review=write(agent, installer(agent)), reason="Spam")
    conflicted = moderator()
    MembershipFactory.create(user=conflicted, organization=own.publisher)
    # when
    queues = {
        view: list(moderation_queue(actor=conflicted, view=view))
        for view in MODERATION_VIEWS
    }
    # then: only the other publisher's reviews, so no flagger of its own is shown
    assert {view: [r.agent_id for r in found] for view, found in queues.items()} == {
        "flagged": [other.pk],
        "hidden": [other.pk],
    }
    # an unconflicted reviewer sees both
    assert len(moderation_queue(actor=mod)) == 2


def test_a_moderator_keeps_a_review_and_closes_its_flags() -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    review_flag(user=UserFactory.create(), review=review, reason="other")
    kept = review_flags_dismiss(actor=moderator(), review=review, reason="Fair review")
    assert (kept.state, kept.open_flags) == (State.VISIBLE, 0)
    assert ReviewFlag.objects.get().resolved_at is not None
    assert summary(agent)[0] == 1
    with pytest.raises(Conflict):
        review_flags_dismiss(actor=moderator(), review=review, reason="Again")


def test_hidden_reviews_cannot_be_flagged_or_replied_to() -> None:
    agent = listed_agent()
    review = write(agent, installer(agent))
    review_hide(actor=moderator(), review=review, reason="Spam")
    with pytest.raises(Conflict):
        review_flag(user=UserFactory.create(), review=review, reason="spam")
    with pytest.raises(Conflict):
        review_reply(actor=publisher_member(agent), review=review, body="Hi")


def test_the_score_follows_the_prior_settings(settings: object) -> None:
    settings.REVIEW_PRIOR_WEIGHT = 2  # type: ignore[attr-defined]
    settings.REVIEW_PRIOR_MEAN = 3.0  # type: ignore[attr-defined]
    agent = listed_agent()
    write(agent, installer(agent), stars=5)
    write(agent, installer(agent), stars=4)
    _count, _histogram, mean, score = summary(agent)
    assert mean == 4.5
    assert score == pytest.approx((2 * 3.0 + 9) / 4)


# --- Signs of manipulation ------------------------------------------------------------


def _review_at(
    agent: Agent, *, stars: int, written: object, joined: object = None
) -> Review:
    user = installer(agent)
    if joined is not None:
        User.objects.filter(pk=user.pk).update(date_joined=joined)
    review = write(agent, user, stars=stars)
    Review.objects.filter(pk=review.pk).update(created_at=written)
    return review


def _signal(agent: Agent, kind: str) -> ReviewSignal:
    return ReviewSignal.objects.get(agent=agent, kind=kind)


def test_reviews_from_accounts_made_the_same_day_raise_a_signal() -> None:
    # given: 4 of 6 recent reviews from accounts all made on one day
    now = timezone.now()
    batch_day = timezone.localtime(now - timedelta(days=10)).replace(hour=12)
    agent = listed_agent()
    for offset in range(4):
        _review_at(
            agent,
            stars=5,
            written=now - timedelta(days=5, hours=offset * 7),
            joined=batch_day + timedelta(minutes=offset),
        )
    for offset in range(2):
        _review_at(
            agent,
            stars=3,
            written=now - timedelta(days=2 + offset),
            joined=now - timedelta(days=300 + 40 * offset),
        )
    # when
    review_signals_compute(agent_id=agent.pk, now=now)
    # then
    signal = _signal(agent, ReviewSignal.Kind.NEW_ACCOUNTS)
    assert signal.details["count"] == 4
    assert signal.details["reviews"] == 6
    assert signal.score == pytest.approx(4 / 6, abs=1e-4)
    assert signal.details["raised"] is True
    assert signal.details["days"][0]["accounts"] == 4


def test_accounts_made_on_different_days_raise_nothing() -> None:
    now = timezone.now()
    agent = listed_agent()
    for offset in range(6):
        _review_at(
            agent,
            stars=5,
            written=now - timedelta(days=offset + 1),
            joined=now - timedelta(days=100 + 3 * offset),
        )
    review_signals_compute(agent_id=agent.pk, now=now)
    signal = _signal(agent, ReviewSignal.Kind.NEW_ACCOUNTS)
    assert (signal.details["count"], signal.details["raised"]) == (0, False)


def test_a_burst_of_five_star_reviews_against_the_usual_rate_raises_a_signal() -> None:
    # given: an agent listed for 60 days with 6 reviews spread over them, then six
    # 5-star reviews within three hours
    now = timezone.now()
    agent = listed_agent()
    Agent.objects.filter(pk=agent.pk).update(published_at=now - timedelta(days=60))
    for day in range(6):
        _review_at(agent, stars=3, written=now - timedelta(days=50 - day * 8))
    for minute in range(6):
        _review_at(agent, stars=5, written=now - timedelta(days=1, minutes=30 * minute))
    # when
    review_signals_compute(agent_id=agent.pk, now=now)
    # then
    signal = _signal(agent, ReviewSignal.Kind.BURST)
    assert signal.details["stars_5"]["count"] == 6
    assert signal.details["stars_5"]["expected"] == 1.0  # 6 reviews in 60 days
    assert signal.details["stars_1"]["count"] == 0
    assert signal.score == pytest.approx(6.0)
    assert signal.details["raised"] is True


def test_steady_reviews_are_no_burst() -> None:
    now = timezone.now()
    agent = listed_agent()
    Agent.objects.filter(pk=agent.pk).update(published_at=now - timedelta(days=30))
    for day in range(10):
        _review_at(agent, stars=5, written=now - timedelta(days=day * 3 + 1))
    review_signals_compute(agent_id=agent.pk, now=now)
    signal = _signal(agent, ReviewSignal.Kind.BURST)
    assert signal.details["stars_5"]["count"] == 1
    assert signal.details["raised"] is False


def test_reviewers_of_one_publisher_only_raise_a_signal() -> None:
    # given: 3 of 4 reviewers reviewed two agents of the same publisher and nothing
    # else; the fourth also reviewed another publisher's agent
    agent = listed_agent()
    sibling = listed_agent(publisher=agent.publisher)
    elsewhere = listed_agent()
    for _ in range(3):
        user = installer(agent)
        InstallFactory.create(user=user, agent=sibling)
        write(agent, user)
        write(sibling, user)
    honest = installer(agent)
    InstallFactory.create(user=honest, agent=elsewhere)
    write(agent, honest)
    write(elsewhere, honest)
    # when
    review_signals_compute(agent_id=agent.pk)
    # then
    signal = _signal(agent, ReviewSignal.Kind.SINGLE_PUBLISHER)
    assert (signal.details["count"], signal.details["reviewers"]) == (3, 4)
    assert signal.score == 0.75
    assert signal.details["raised"] is True


def test_signals_are_upserted_and_the_task_runs_per_agent() -> None:
    # given
    agent = listed_agent()
    write(agent, installer(agent))
    # when: twice for one agent
    assert review_signals_compute_task(agent_id=agent.pk) == 3
    assert review_signals_compute_task(agent_id=agent.pk) == 3
    # then: one row per kind
    assert ReviewSignal.objects.filter(agent=agent).count() == 3
    assert review_signals_compute_task(agent_id=agent.pk + 1000) == 0


def test_the_per_agent_task_is_retried_on_database_errors_within_time_limits() -> None:
    # the retry options are set on the task, but not declared by celery-types
    task: Any = review_signals_compute_task
    assert OperationalError in task.autoretry_for
    assert task.max_retries == 3
    assert task.retry_backoff is True
    assert (task.soft_time_limit, task.time_limit) == (60, 90)


def test_the_beat_job_enqueues_one_task_per_recently_reviewed_agent(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    # given: an agent reviewed lately, one reviewed long ago, one never
    now = timezone.now()
    recent, old = listed_agent(), listed_agent()
    listed_agent()
    write(recent, installer(recent))
    _review_at(old, stars=4, written=now - timedelta(days=200))
    enqueued: list[int] = []
    monkeypatch.setattr(
        review_signals_compute_task,
        "delay",
        lambda **kwargs: enqueued.append(kwargs["agent_id"]),
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        count = review_signals_due_task()
    # then: it only enqueues, and only the agent reviewed within the window
    assert count == 1
    assert enqueued == [recent.pk]
    assert not ReviewSignal.objects.exists()
    assert review_signals_agents_due() == [recent.pk]
    assert "marketplace.review_signals_compute_due" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_stored_signals_are_recomputed_until_the_window_holds_no_review() -> None:
    # given: an agent whose signals counted a review that has left the window since
    now = timezone.now()
    agent = listed_agent()
    _review_at(agent, stars=5, written=now - timedelta(days=100))
    review_signals_compute(agent_id=agent.pk, now=now - timedelta(days=20))
    # when / then: due once more, to fade; then no more
    assert review_signals_agents_due(now=now) == [agent.pk]
    review_signals_compute(agent_id=agent.pk, now=now)
    assert review_signals_agents_due(now=now) == []


def test_the_signals_are_deterministic() -> None:
    now = timezone.now()
    agent = listed_agent()
    for offset in range(5):
        _review_at(agent, stars=1, written=now - timedelta(hours=offset))
    first = [
        (s.kind, s.score, s.details)
        for s in review_signals_compute(agent_id=agent.pk, now=now)
    ]
    second = [
        (s.kind, s.score, s.details)
        for s in review_signals_compute(agent_id=agent.pk, now=now)
    ]
    assert first == second
    stored = {
        s.kind: (s.score, s.details) for s in ReviewSignal.objects.filter(agent=agent)
    }
    assert stored == {kind: (score, details) for kind, score, details in first}
