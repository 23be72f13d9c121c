"""Through the pages only: a new version of the privacy policy is in force; a user
who accepted the first one tries to install an agent, is asked to read what changed
and accept it, and comes back to the install page, where the install goes through."""

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from marketplace.models import Agent, AgreementAcceptance, Install
from tests.e2e.pages import sign_in
from tests.marketplace.factories import OrganizationFactory
from tests.marketplace.test_agreements import (
    accepted_user,
    documents_in_force,
    publish,
)
from tests.marketplace.test_installs import PERMISSIONS, listed_agent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_a_changed_privacy_policy_is_accepted_before_installing(
    browser: Browser, live_server: Any
) -> None:
    # given
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    documents_in_force()
    user = accepted_user(
        username="una",
        email_verified_at=timezone.now(),
        birth_year=timezone.localdate().year - 30,
    )
    agent = listed_agent(
        PERMISSIONS,
        publisher=OrganizationFactory.create(name="Acme Agents", slug="acme"),
        slug="planner",
        name="Meeting Planner",
        age_rating=Agent.AgeRating.AGE_18,
    )
    publish(
        "privacy_policy",
        summary_en="Request logs are now kept for 14 days.",
        summary_zh="访问日志改为保存 14 天。",
    )
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live_server.url, "una")
        page.goto(f"{live_server.url}/agents/acme/planner/install/")

        # when she installs
        page.get_by_role(
            "button", name="Install and grant the ticked permissions"
        ).click()

        # then she is asked to accept the change first, and told what changed
        expect(
            page.get_by_role("heading", name="Accept the changed documents")
        ).to_be_visible()
        changes = page.get_by_text("Request logs are now kept for 14 days.")
        expect(changes).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "agreements-accept.png"), full_page=True)
        assert not Install.objects.filter(user=user).exists()

        # when she accepts
        page.get_by_label("I have read and accept these documents").check()
        page.get_by_role("button", name="Accept and continue").click()

        # then she is back on the install page, and the install goes through
        expect(
            page.get_by_role("heading", name="Install Meeting Planner")
        ).to_be_visible()
        page.get_by_role(
            "button", name="Install and grant the ticked permissions"
        ).click()
        expect(
            page.get_by_role("heading", name="Meeting Planner is installed")
        ).to_be_visible()
        assert Install.objects.filter(user=user, agent=agent).exists()
        assert AgreementAcceptance.objects.filter(
            user=user, version__kind="privacy_policy", version__number=2
        ).exists()
    finally:
        context.close()
