"""Listings declared free whose reviews or reports speak of charges: the flags, and
the moderators who uphold or dismiss them."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import (
    Agent,
    AgentVersion,
    ListingFlag,
    Membership,
    Notification,
    Organization,
    User,
)
from marketplace.pricing import charge_terms
from marketplace.selectors.governance import listing_flag_list
from marketplace.services.governance import listing_flag_decide, listing_flag_scan
from marketplace.services.reviews import review_submit
from ratings.models import MisconductReport
from ratings.services import report_submit
from tests.marketplace.factories import (
    AgentVersionFactory,
    InstallFactory,
    MembershipFactory,
    UserFactory,
    declaration,
)
from tests.marketplace.test_pricing import MONTHLY

pytestmark = pytest.mark.django_db


def _agent(pricing: dict[str, Any] | None = None) -> Agent:
    fields = declaration() if pricing is None else declaration(pricing=pricing)
    version = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED, declaration=fields
    )
    return Agent.objects.select_related("publisher").get(pk=version.agent_id)


def _installer(agent: Agent) -> User:
    user = UserFactory.create()
    InstallFactory.create(user=user, agent=agent)
    return user


def _moderator() -> User:
    return MembershipFactory.create(
        organization__kind=Organization.Kind.OPERATOR,
        role=Membership.Role.REVIEWER,
    ).user


def _flag(agent: Agent | None = None, text: str = "每个月都被扣费") -> ListingFlag:
    flag = listing_flag_scan(
        agent=agent or _agent(), source="review", source_id=1, text=text
    )
    assert flag is not None
    return flag


# --- Finding the words ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("说是免费，结果每个月自动续费扣了我30块", ["自动续费"]),
        ("充值之后才能用，乱扣钱", ["充值", "乱扣"]),
        ("I was Charged twice and asked for a refund.", ["charged", "refund"]),
        ("It pushed an in-app purchase on me", ["in-app purchase"]),
        ("Thanks for the feedback, great coffee", []),
        ("Unpaid volunteers wrote it", []),
        ("好用，免费，推荐", []),
    ],
)
def test_words_about_charges_are_found_as_words(text: str, terms: list[str]) -> None:
    found, excerpt = charge_terms(text)
    assert found == terms
    assert bool(excerpt) == bool(terms)


# --- Flags from reviews and reports -----------------------------------------------


def test_a_review_of_a_free_agent_that_speaks_of_charges_flags_it() -> None:
    # given
    agent = _agent()
    assert agent.pricing_model == "free"
    user = _installer(agent)
    # when
    review = review_submit(
        user=user,
        agent=agent,
        stars=1,
        title="不是免费的",
        body="用了三天就开始扣费，客服也找不到。",
    )
    # then
    flag = ListingFlag.objects.get(agent=agent)
    assert flag.kind == ListingFlag.Kind.FREE_BUT_CHARGES
    assert flag.source == ListingFlag.Source.REVIEW
    assert flag.source_id == review.pk
    assert flag.categories == ["inducing_consumption", "false_advertising"]
    assert flag.terms == ["扣费"]
    assert "扣费" in flag.excerpt
    assert flag.state == ListingFlag.State.OPEN
    # the categories are the report categories of the ratings app
    assert set(flag.categories) <= set(MisconductReport.Category.values)

    # when: the review is edited, still about charges
    review_submit(
        user=user, agent=agent, stars=1, title="收费", body="说是免费却收费、扣费"
    )
    # then: the same flag, with the words found now
    flag = ListingFlag.objects.get(agent=agent)
    assert flag.terms == ["收费", "扣费"]


def test_a_review_of_a_paid_agent_or_without_charges_flags_nothing() -> None:
    paid = _agent(MONTHLY)
    review_submit(
        user=_installer(paid), agent=paid, stars=2, title="贵", body="每月扣费太贵了"
    )
    free = _agent()
    review_submit(
        user=_installer(free),
        agent=free,
        stars=5,
        title="Great",
        body="Thanks for taking my feedback; it is free and good.",
    )
    assert not ListingFlag.objects.exists()


def test_a_report_naming_a_free_agent_that_speaks_of_charges_flags_it() -> None:
    # given
    agent = _agent()
    # when
    report = report_submit(
        reporter=UserFactory.create(),
        publisher=agent.publisher,
        agent=agent,
        category=MisconductReport.Category.FALSE_ADVERTISING,
        description="Listed as free, but I was billed CNY 30 every month.",
    )
    # then
    flag = ListingFlag.objects.get(agent=agent)
    assert flag.source == ListingFlag.Source.REPORT
    assert flag.source_id == report.pk
    assert flag.terms == ["billed"]


def test_a_scan_is_idempotent_and_leaves_a_decided_flag_as_decided() -> None:
    # given
    agent = _agent()
    flag = _flag(agent)
    assert _flag(agent).pk == flag.pk
    listing_flag_decide(
        actor=_moderator(), flag_id=flag.pk, decision="dismiss", note="A joke."
    )
    # when
    again = _flag(agent, text="还是收费")
    # then
    assert again.pk == flag.pk
    assert again.state == ListingFlag.State.DISMISSED
    assert again.terms == ["扣费"]
    assert ListingFlag.objects.count() == 1
    assert (
        listing_flag_scan(agent=None, source="report", source_id=2, text="收费") is None
    )


# --- Decisions --------------------------------------------------------------------


def test_a_moderator_upholds_a_flag_with_a_note_once() -> None:
    # given
    flag = _flag()
    moderator = _moderator()
    # when
    decided = listing_flag_decide(
        actor=moderator, flag_id=flag.pk, decision="uphold", note=" It charges. "
    )
    # then
    assert decided.state == ListingFlag.State.UPHELD
    assert decided.decided_by == moderator
    assert decided.decided_at is not None
    assert decided.note == "It charges."
    with pytest.raises(Conflict):
        listing_flag_decide(
            actor=moderator, flag_id=flag.pk, decision="dismiss", note="No."
        )


def test_upholding_a_flag_tells_the_publishers_owners_and_administrators() -> None:
    # given: a flagged listing whose publisher has an owner, an admin and a member
    flag = _flag()
    publisher = flag.agent.publisher
    owner, admin, member = (
        MembershipFactory.create(organization=publisher, role=role).user
        for role in (
            Membership.Role.OWNER,
            Membership.Role.ADMIN,
            Membership.Role.MEMBER,
        )
    )
    # when
    listing_flag_decide(
        actor=_moderator(), flag_id=flag.pk, decision="uphold", note="It charges."
    )
    # then
    notices = Notification.objects.filter(params__agent_id=flag.agent.pk)
    assert sorted(notice.user_id for notice in notices) == sorted([owner.pk, admin.pk])
    notice = notices.get(user=owner)
    assert "flagged for declaring free while charging" in notice.text
    assert "“It charges.”" in notice.text
    assert notice.params["note"] == "It charges."
    assert notice.link == reverse(
        "agent-detail",
        kwargs={"publisher": publisher.slug, "agent": flag.agent.slug},
    )
    assert member.pk not in {notice.user_id for notice in notices}


def test_dismissing_a_flag_tells_nobody() -> None:
    # given
    flag = _flag()
    MembershipFactory.create(
        organization=flag.agent.publisher, role=Membership.Role.OWNER
    )
    # when
    listing_flag_decide(
        actor=_moderator(), flag_id=flag.pk, decision="dismiss", note="A joke."
    )
    # then
    assert not Notification.objects.exists()


def test_decisions_are_refused_to_others_and_without_a_note() -> None:
    flag = _flag()
    with pytest.raises(PermissionDenied):
        listing_flag_decide(
            actor=UserFactory.create(), flag_id=flag.pk, decision="uphold", note="x"
        )
    # a moderator who belongs to the publisher may not decide its flags
    conflicted = _moderator()
    MembershipFactory.create(user=conflicted, organization=flag.agent.publisher)
    with pytest.raises(PermissionDenied):
        listing_flag_decide(
            actor=conflicted, flag_id=flag.pk, decision="uphold", note="x"
        )
    moderator = _moderator()
    with pytest.raises(ApplicationError) as error:
        listing_flag_decide(
            actor=moderator, flag_id=flag.pk, decision="uphold", note=""
        )
    assert "note" in error.value.details
    with pytest.raises(ApplicationError) as error:
        listing_flag_decide(
            actor=moderator, flag_id=flag.pk, decision="delete", note="x"
        )
    assert "decision" in error.value.details
    flag.refresh_from_db()
    assert flag.state == ListingFlag.State.OPEN


def test_the_queue_lists_open_flags_first_and_hides_the_moderators_own() -> None:
    # given
    decided = _flag()
    moderator = _moderator()
    listing_flag_decide(
        actor=moderator, flag_id=decided.pk, decision="dismiss", note="Fine."
    )
    open_flag = _flag()
    own = _flag()
    MembershipFactory.create(user=moderator, organization=own.agent.publisher)
    # then
    assert list(listing_flag_list(actor=moderator, view="all")) == [
        open_flag,
        decided,
    ]
    assert list(listing_flag_list(actor=moderator)) == [open_flag]
    with pytest.raises(PermissionDenied):
        listing_flag_list(actor=UserFactory.create())


# --- The pages --------------------------------------------------------------------


URL = "/moderation/listings/"


def test_the_queue_page_is_for_moderators_only(client: Client) -> None:
    _flag()
    assert client.get(URL).status_code == 302  # to sign in
    client.force_login(UserFactory.create())
    assert client.get(URL).status_code == 403
    client.force_login(_moderator())
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "扣费" in page
    assert "Inducing consumption" in page
    assert "False advertising" in page
    assert "What upholding does" in page
    assert reverse("listing-flag-queue") == URL


def test_the_queue_links_each_flag_to_its_review_or_report(client: Client) -> None:
    # given: a flag found in a review and one found in a report
    agent = _agent()
    review = review_submit(
        user=_installer(agent),
        agent=agent,
        stars=1,
        title="Not free",
        body="每个月都被扣费",
    )
    report = report_submit(
        reporter=UserFactory.create(),
        publisher=agent.publisher,
        agent=agent,
        category=MisconductReport.Category.FALSE_ADVERTISING,
        description="Listed as free, but I was billed CNY 30 every month.",
    )
    assert ListingFlag.objects.filter(agent=agent).count() == 2
    # when
    client.force_login(_moderator())
    page = client.get(URL).content.decode()
    # then
    review_url = reverse(
        "review-detail",
        kwargs={
            "publisher": agent.publisher.slug,
            "agent": agent.slug,
            "review_id": review.pk,
        },
    )
    report_url = reverse("report-detail", kwargs={"public_id": report.public_id})
    assert f'href="{review_url}"' in page
    assert f'href="{report_url}"' in page
    assert client.get(report_url).status_code == 200
    # and a moderator who may not open reports (an owner of the operator) gets no
    # link to a page that would not open for them
    owner = MembershipFactory.create(
        organization__kind=Organization.Kind.OPERATOR, role=Membership.Role.OWNER
    ).user
    client.force_login(owner)
    page = client.get(URL).content.decode()
    assert f'href="{review_url}"' in page
    assert f'href="{report_url}"' not in page
    assert client.get(report_url).status_code == 404


def test_deciding_from_the_page(client: Client) -> None:
    # given
    flag = _flag()
    decide = reverse("listing-flag-decide", kwargs={"flag_id": flag.pk})
    # when: someone else tries
    client.force_login(UserFactory.create())
    assert client.post(decide, {"decision": "uphold", "note": "x"}).status_code == 403
    # when: a moderator without a note, with a decision the page does not offer
    client.force_login(_moderator())
    assert client.post(decide, {"decision": "uphold", "note": " "}).status_code == 400
    assert client.post(decide, {"decision": "ban", "note": "x"}).status_code == 400
    flag.refresh_from_db()
    assert flag.state == ListingFlag.State.OPEN
    # when: with the note
    response = client.post(decide, {"decision": "uphold", "note": "It charges."})
    # then
    assert response.status_code == 302
    flag.refresh_from_db()
    assert flag.state == ListingFlag.State.UPHELD
    # ... and once only
    assert client.post(decide, {"decision": "dismiss", "note": "x"}).status_code == 409
    missing = reverse("listing-flag-decide", kwargs={"flag_id": flag.pk + 1000})
    assert client.post(missing, {"decision": "dismiss", "note": "x"}).status_code == 404
    assert client.get(decide).status_code == 405


def test_the_queue_page_keeps_a_constant_number_of_queries(client: Client) -> None:
    client.force_login(_moderator())

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, {"view": "all"}).status_code == 200
        return len(captured)

    _flag()
    one = queries()
    for _ in range(4):
        _flag()
    assert queries() == one


def test_the_review_queue_links_to_the_listing_flags(client: Client) -> None:
    client.force_login(_moderator())
    page = client.get(reverse("review-moderation")).content.decode()
    assert f'href="{URL}"' in page
