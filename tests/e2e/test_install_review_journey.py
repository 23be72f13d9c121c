"""Through the pages only: a user installs an agent with informed consent and reviews
it, another user flags the review, and the operator's reviewer hides and restores it;
the author hears of both decisions in her inbox."""

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from marketplace.models import (
    Agent,
    ConsentReceipt,
    Grant,
    Install,
    Membership,
    Organization,
    Review,
)
from tests.e2e.pages import sign_in
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)
from tests.marketplace.test_installs import PERMISSIONS, listed_agent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

# How the pages word each decision authority (templates/…/installs/_authority.html).
AUTHORITY = {
    "user_only": "Only you act",
    "user_authorised": "Acts after you confirm each action",
    "autonomous": "Acts on its own within the scope",
}
REQUIRED = [p["scope"] for p in PERMISSIONS if p.get("required", True)]
OPTIONAL = [p["scope"] for p in PERMISSIONS if not p.get("required", True)]
TITLE = "Books the right room"


def _new_page(stack: ExitStack, browser: Browser) -> Page:
    """A page in a browser context of its own (its own cookies: its own user)."""
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    stack.callback(context.close)
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def test_install_with_consent_review_flag_and_moderate_through_the_pages(
    browser: Browser, live_server: Any
) -> None:
    # given
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    publisher = OrganizationFactory.create(name="Acme Agents", slug="acme")
    agent = listed_agent(
        PERMISSIONS,
        publisher=publisher,
        slug="planner",
        name="Meeting Planner",
        age_rating=Agent.AgeRating.AGE_18,
        privacy_policy_url="https://acme.example/privacy",
        terms_url="https://acme.example/terms",
    )
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    rita = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER, user__username="rita"
    ).user
    una = UserFactory.create(
        username="una",
        email_verified_at=timezone.now(),
        birth_year=timezone.localdate().year - 30,
    )
    UserFactory.create(username="vic", email_verified_at=timezone.now())
    url = live_server.url
    agent_url = f"{url}/agents/acme/planner/"

    with ExitStack() as stack:
        # when una installs it, leaving the optional permission out
        page = _new_page(stack, browser)
        sign_in(page, url, "una")
        page.goto(agent_url)
        page.get_by_role("link", name="Install", exact=True).click()
        expect(
            page.get_by_role("heading", name="Install Meeting Planner")
        ).to_be_visible()
        for permission in PERMISSIONS:
            box = page.get_by_role("checkbox", name=permission["scope"])
            expect(box).to_have_accessible_description(
                re.compile(
                    re.escape(permission["purpose"])
                    + ".*Decision authority: "
                    + re.escape(AUTHORITY[permission["authority"]])
                )
            )
            if permission["scope"] in REQUIRED:
                expect(box).to_be_checked()
            else:
                expect(box).not_to_be_checked()
        expect(page.get_by_role("link", name="Privacy policy")).to_have_attribute(
            "href", "https://acme.example/privacy"
        )
        expect(page.get_by_role("link", name="Terms of service")).to_have_attribute(
            "href", "https://acme.example/terms"
        )
        _screenshot(page, "install-consent.png")
        page.get_by_role(
            "button", name="Install and grant the ticked permissions"
        ).click()

        # then the page confirms it, and My installs lists the two granted scopes
        expect(
            page.get_by_role("heading", name="Meeting Planner is installed")
        ).to_be_visible()
        granted = page.get_by_role("status").filter(has_text="You granted")
        for scope in REQUIRED:
            expect(granted).to_contain_text(scope)
        expect(granted).not_to_contain_text(OPTIONAL[0])
        page.get_by_role("main").get_by_role("link", name="My installs").click()
        holds = page.get_by_role("table", name="Permissions Meeting Planner holds")
        expect(holds.locator("tbody td code")).to_have_text(sorted(REQUIRED))
        install = Install.objects.get(user=una, agent=agent)
        assert sorted(
            Grant.objects.filter(install=install, revoked_at=None).values_list(
                "scope", flat=True
            )
        ) == sorted(REQUIRED)
        assert ConsentReceipt.objects.get(install=install).declined == OPTIONAL

        # when una reviews it
        page.get_by_role("link", name="Meeting Planner", exact=True).click()
        page.get_by_role("link", name="Write a review").click()
        page.get_by_label("Rating").select_option("4")
        page.get_by_label("Title").fill(TITLE)
        page.get_by_label("Your review").fill("It found a free room for six of us.")
        page.get_by_role("button", name="Publish the review").click()

        # then the review and the rating show on the agent page
        expect(page.get_by_text("Your review was published.")).to_be_visible()
        reviews = page.get_by_role("region", name="Reviews")
        expect(reviews.get_by_role("heading", name=TITLE)).to_be_visible()
        expect(reviews).to_contain_text("1 rating")
        expect(reviews).to_contain_text("4.0")
        _screenshot(page, "agent-reviewed.png")
        review = Review.objects.get(user=una, agent=agent)

        # when vic flags it
        vic = _new_page(stack, browser)
        sign_in(vic, url, "vic")
        vic.goto(agent_url)
        vic.get_by_role("link", name=f"Flag the review “{TITLE}”").click()
        vic.get_by_label("Reason").select_option(label="Offensive or abusive")
        vic.get_by_label("Note for the moderators").fill("Names a colleague rudely.")
        vic.get_by_role("button", name="Flag the review").click()

        # then the page confirms it
        expect(
            vic.get_by_text("Thank you; the moderators will look at this review.")
        ).to_be_visible()
        expect(vic.get_by_text("You flagged this review.")).to_be_visible()

        # when the reviewer hides it
        moderator = _new_page(stack, browser)
        sign_in(moderator, url, rita.username)
        moderator.goto(f"{url}/review/moderation/")
        flagged = moderator.get_by_role("article", name=TITLE)
        expect(flagged).to_contain_text("1 open flag")
        expect(flagged).to_contain_text("Offensive or abusive · vic")
        _screenshot(moderator, "moderation-flagged.png")
        flagged.get_by_label("Reason").fill("Insults a named person.")
        flagged.get_by_role("button", name="Hide").click()

        # then the public no longer sees it, nor counts it
        expect(moderator.get_by_text("The review was hidden.")).to_be_visible()
        expect(moderator.get_by_text("No review waits for moderation.")).to_be_visible()
        visitor = _new_page(stack, browser)
        visitor.goto(agent_url)
        public = visitor.get_by_role("region", name="Reviews")
        expect(public.get_by_text("No ratings yet.")).to_be_visible()
        expect(public.get_by_role("heading", name=TITLE)).to_have_count(0)
        assert Review.objects.get(pk=review.pk).state == Review.State.HIDDEN

        # when the reviewer restores it
        moderator.get_by_role("link", name="Hidden").click()
        hidden = moderator.get_by_role("article", name=TITLE)
        hidden.get_by_label("Reason").fill("The person named agreed to it.")
        hidden.get_by_role("button", name="Restore").click()

        # then it shows again
        expect(moderator.get_by_text("The review was restored.")).to_be_visible()
        visitor.reload()
        expect(public.get_by_role("heading", name=TITLE)).to_be_visible()
        expect(public).to_contain_text("1 rating")

        # and una's inbox tells her of both decisions
        page.goto(f"{url}/inbox/")
        for text in (
            "A moderator hid your review of Meeting Planner: Insults a named person.",
            "A moderator restored your review of Meeting Planner: "
            "The person named agreed to it.",
        ):
            expect(page.get_by_role("link", name=text)).to_be_visible()
        _screenshot(page, "inbox-moderated.png")
