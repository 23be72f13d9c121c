"""Through the pages only, with a real Celery worker: an industry body publishes a
methodology, a publisher enrols, the body runs a rating cycle and watches its
progress, an analyst reviews the rating, three committee members vote, the
publisher objects, a committee with a new member decides again, the objection is
answered, and the published grade appears on the publisher's agent page."""

import re
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from marketplace.models import Membership, Organization, Review
from ratings.models import Objection, Rating
from tests.e2e.pages import sign_in
from tests.marketplace.certification_fixtures import make_version
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.worker import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
OBJECTION = "The review replies of March were sent by e-mail and are missing here."
ANSWER = "The replies were counted; the committee keeps the grade."


def _new_page(stack: ExitStack, browser: Browser, url: str, username: str) -> Page:
    """A signed-in page in a browser context of its own (its own cookies)."""
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    stack.callback(context.close)
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, url, username)
    return page


def _member(body: Organization, username: str, role: str) -> str:
    MembershipFactory.create(organization=body, role=role, user__username=username)
    return username


def _submit(page: Page, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name, exact=True).click()


def _vote(
    stack: ExitStack, browser: Browser, url: str, who: str, rating_url: str
) -> None:
    page = _new_page(stack, browser, url, who)
    page.goto(rating_url)
    page.locator(".vote-form").get_by_label("Approve").check()
    if who == "chen":
        page.get_by_label("I chair this round").check()
    _submit(page, "Vote")
    expect(
        page.get_by_role("alert").or_(page.get_by_role("status")).first
    ).to_be_visible()


def test_a_rating_is_computed_decided_objected_to_and_published_through_the_pages(
    browser: Browser, live_server: Any, tmp_path: Path
) -> None:
    # given an industry body with an author, an analyst and four committee
    # members, and a publisher with a published agent that has reviews
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    body = OrganizationFactory.create(
        name="China AI Credit Association",
        slug="caica",
        kind=Organization.Kind.INDUSTRY_BODY,
    )
    role = Membership.Role
    olga = _member(body, "olga", role.OWNER)
    ana = _member(body, "ana", role.ANALYST)
    committee = [
        _member(body, name, role.COMMITTEE_MEMBER)
        for name in ("chen", "dai", "eva", "fei")
    ]
    publisher = OrganizationFactory.create(
        name="Acme Agents", slug="acme", kind=Organization.Kind.PUBLISHER
    )
    pia = _member(publisher, "pia", role.OWNER)
    version = make_version(
        agent__publisher=publisher,
        agent__slug="planner",
        agent__name="Meeting Planner",
        version="1.0.0",
    )
    for n, stars in enumerate((5, 4, 5, 4, 5)):
        Review.objects.create(
            user=UserFactory.create(),
            agent=version.agent,
            version=version,
            stars=stars,
            title=f"Review {n}",
            body="Saves me an hour a day.",
        )
    url = live_server.url

    with ExitStack() as stack:
        # when the body's owner publishes the default methodology
        author = _new_page(stack, browser, url, olga)
        author.goto(f"{url}/credit/console/caica/methodologies/new/")
        author.get_by_label("Code").fill("developer-credit")
        author.get_by_label("Name (English)").fill("Developer credit")
        _submit(author, "Save the draft")
        _submit(author, "Publish")
        expect(author.get_by_text("Published", exact=True).first).to_be_visible()
        author.goto(f"{url}/credit/methodologies/")
        expect(
            author.get_by_role("link", name=re.compile("Developer credit"))
        ).to_be_visible()

        # and the publisher signs the body's credit commitment
        entity = _new_page(stack, browser, url, pia)
        entity.goto(f"{url}/credit/entity/acme/enrol/caica/")
        entity.get_by_label(re.compile("I sign this commitment")).check()
        _submit(entity, "Sign and enrol")
        expect(entity.get_by_text("China AI Credit Association").first).to_be_visible()

        # and the analyst starts a cycle while a worker runs: the cycle page shows
        # its progress bar until every enrolled entity is rated
        with celery_worker(tmp_path / "worker.log"):
            analyst = _new_page(stack, browser, url, ana)
            analyst.goto(f"{url}/credit/console/caica/cycles/")
            _submit(analyst, "Start the cycle")
            progress = analyst.get_by_role("progressbar")
            expect(progress).to_be_visible()
            expect(progress).to_have_attribute("aria-valuemax", "1")
            expect(progress).to_have_attribute("aria-valuenow", "1", timeout=60_000)
            expect(analyst.get_by_text("In review").first).to_be_visible(timeout=60_000)
        analyst.screenshot(path=str(SCREENSHOTS / "credit-cycle.png"), full_page=True)
        rating = Rating.objects.get(entity=publisher)
        assert not rating.provisional, rating.coverage
        assert sum(Decimal(c["contribution"]) for c in rating.contributions) == (
            rating.score
        )

        # and the analyst reviews it without adjustment
        rating_url = f"{url}/credit/ratings/{rating.pk}/"
        analyst.goto(rating_url)
        _submit(analyst, "Review")

        # and three committee members vote to approve, the first chairing
        for who in committee[:3]:
            _vote(stack, browser, url, who, rating_url)
        rating.refresh_from_db()
        assert rating.state == Rating.State.COMMITTEE_APPROVED

        # and the analyst sends the notice
        analyst.goto(rating_url)
        _submit(analyst, "Send the notice")

        # then the publisher reads the statement of reasons and objects
        entity.goto(f"{url}/credit/entity/acme/ratings/{rating.pk}/")
        expect(entity.get_by_text(rating.grade).first).to_be_visible()
        entity.get_by_label("Evidence misread").check()
        entity.get_by_label("Your objection").fill(OBJECTION)
        _submit(entity, "File the objection")
        rating.refresh_from_db()
        assert rating.state == Rating.State.OBJECTED

        # when a committee with one member new to the rating decides again
        for who in (committee[0], committee[1], committee[3]):
            _vote(stack, browser, url, who, rating_url)
        rating.refresh_from_db()
        assert rating.state == Rating.State.RE_REVIEWED

        # and the chair answers the objection with reasons
        chair = _new_page(stack, browser, url, committee[0])
        chair.goto(rating_url)
        chair.get_by_label("Answer, with reasons").fill(ANSWER)
        _submit(chair, "Answer")

        # then the rating is published, the publisher reads the answer, and the
        # grade is on the agent page for anyone
        rating.refresh_from_db()
        assert rating.state == Rating.State.PUBLISHED
        assert Objection.objects.get(rating=rating).state == Objection.State.REJECTED
        entity.goto(f"{url}/credit/entity/acme/ratings/{rating.pk}/")
        expect(entity.get_by_text(ANSWER)).to_be_visible()
        visitor_context = browser.new_context(locale="en-GB")
        stack.callback(visitor_context.close)
        visitor = visitor_context.new_page()
        visitor.goto(f"{url}/agents/acme/planner/")
        expect(
            visitor.get_by_text(f"Credit grade {rating.grade}", exact=False).first
        ).to_be_visible()
        visitor.screenshot(path=str(SCREENSHOTS / "credit-agent.png"), full_page=True)
        visitor.goto(f"{url}/credit/acme/")
        expect(
            visitor.get_by_role("img", name=re.compile("grade", re.I)).first
        ).to_be_visible()
