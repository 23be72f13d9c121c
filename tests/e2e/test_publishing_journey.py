import json
import time
from pathlib import Path
from typing import Any

import pytest

from marketplace.models import Membership, Organization
from tests.e2e.pages import sign_in
from tests.marketplace.factories import (
    DomainFactory,
    MembershipFactory,
    OrganizationFactory,
    declaration,
)
from tests.worker import celery_worker

pytestmark = [
    pytest.mark.browser,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _wait_for_state(page: Any, version: str, states: tuple[str, ...]) -> str:
    """Reload the console until the version leaves "Submitted" (the worker runs the
    checks in the background)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page.reload()
        state = page.locator(f'article[data-version="{version}"] .state').inner_text()
        if state in states:
            return str(state)
        time.sleep(0.5)
    raise AssertionError(f"version {version} stayed {state}")


def test_a_publisher_publishes_through_the_pages_and_the_agent_is_found(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    DomainFactory.create(
        code="office", name_en="Office and productivity", name_zh="办公效率"
    )
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    reviewer = MembershipFactory.create(
        organization=operator, role=Membership.Role.REVIEWER, user__username="rita"
    )
    publisher = browser.new_context(locale="en-GB")
    page = publisher.new_page()
    page.set_default_timeout(15_000)
    url = live_server.url

    with celery_worker(tmp_path / "worker.log"):
        # sign up and create a publisher organisation
        page.goto(f"{url}/accounts/signup/")
        page.get_by_label("User name", exact=True).fill("wei")
        page.get_by_label("E-mail address").fill("wei@example.com")
        page.get_by_label("Password").fill("a long enough passphrase")
        page.get_by_role("button", name="Create the account").click()
        page.get_by_role("link", name="Create an organisation").click()
        page.get_by_label("Name", exact=True).fill("Wei Labs")
        page.get_by_label("Short name").fill("wei-labs")
        page.get_by_role("button", name="Create").click()

        # a new agent, without a privacy policy yet
        page.get_by_role("link", name="Developer console").click()
        page.get_by_role("link", name="New agent").click()
        page.get_by_label("Short name").fill("mail-assistant")
        page.get_by_label("Name", exact=True).fill("邮件助手 Mail Assistant")
        page.get_by_label("Summary").fill(
            "自动起草客户邮件回复 Drafts replies to customers"
        )
        page.get_by_label("Domain").select_option(label="Office and productivity")
        page.get_by_label("Age rating").select_option("18+")
        page.get_by_role("button", name="Create the agent").click()

        # its first version
        page.get_by_role("textbox", name="Version", exact=True).fill("1.0.0")
        page.get_by_label("Capability declaration (JSON)").fill(
            json.dumps(declaration(), ensure_ascii=False)
        )
        page.get_by_role("button", name="Save as draft").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Submit for review").click()
        assert _wait_for_state(page, "1.0.0", ("Rejected", "In review")) == "Rejected"
        reason = page.locator('article[data-version="1.0.0"] .checks .text-danger')
        assert "privacy policy" in reason.inner_text()
        page.screenshot(
            path=str(SCREENSHOTS / "console-check-failed.png"), full_page=True
        )

        # fix the listing and resubmit
        page.get_by_label("Privacy policy URL").fill("https://wei.example/privacy")
        page.get_by_label("Terms of service URL").fill("https://wei.example/terms")
        page.get_by_role("button", name="Save the listing").click()
        with page.expect_navigation():
            page.get_by_role("button", name="Resubmit").click()
        assert _wait_for_state(page, "1.0.0", ("Rejected", "In review")) == "In review"

    # the operator's reviewer approves
    review = browser.new_context(locale="en-GB")
    reviewer_page = review.new_page()
    sign_in(reviewer_page, url, reviewer.user.username)
    reviewer_page.goto(f"{url}/review/")
    reviewer_page.get_by_role("button", name="Decide").click()
    reviewer_page.get_by_text("published.").first.wait_for()
    review.close()

    # anyone finds it, in Chinese and in English
    visitor = browser.new_context(locale="zh-CN")
    search = visitor.new_page()
    for query in ("邮件", "Mail assistant", "客户"):
        search.goto(f"{url}/agents/?q={query}")
        search.get_by_role("link", name="邮件助手 Mail Assistant").wait_for()
    search.get_by_role("link", name="邮件助手 Mail Assistant").click()
    search.get_by_text("did:web:").wait_for()
    search.screenshot(path=str(SCREENSHOTS / "agent-page-zh.png"), full_page=True)
    visitor.close()
    publisher.close()
