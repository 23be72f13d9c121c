"""Through the pages: a user in the elder-friendly mode reads larger type, and the
install of an agent that would act on its own needs a second confirmation."""

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from marketplace.models import ConsentReceipt, Install
from tests.e2e.pages import sign_in
from tests.marketplace.factories import OrganizationFactory, UserFactory
from tests.marketplace.test_installs import PERMISSIONS, listed_agent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _font_size(page: Page, selector: str) -> float:
    size: str = page.eval_on_selector(
        selector, "element => getComputedStyle(element).fontSize"
    )
    return float(size.removesuffix("px"))


def test_an_elder_confirms_a_second_time_before_an_agent_acts_on_its_own(
    page: Page, live_server: Any
) -> None:
    # given: an agent asking for a scope it uses on its own, and a user in the
    # elder-friendly mode
    publisher = OrganizationFactory.create(name="Acme Agents", slug="acme")
    agent = listed_agent(
        PERMISSIONS, publisher=publisher, slug="planner", name="Meeting Planner"
    )
    UserFactory.create(
        username="grandpa",
        email_verified_at=timezone.now(),
        birth_year=timezone.localdate().year - 78,
        elder_mode=True,
    )
    url = live_server.url
    sign_in(page, url, "grandpa")

    # when: they open the agent's install page
    page.goto(f"{url}/agents/acme/planner/install/")

    # then: the pages are in care mode, with larger type and a way out
    expect(page.get_by_role("heading", name="Install Meeting Planner")).to_be_visible()
    expect(page.locator("html")).to_have_class("care-mode")
    expect(page.get_by_text("Elder-friendly mode is on.")).to_be_visible()
    expect(page.get_by_role("link", name="Turn it off in your profile")).to_be_visible()
    # (1.25 times the usual 16px)
    assert _font_size(page, "body") == pytest.approx(20, abs=0.5)

    # when: they install, ticking the required permissions only
    page.get_by_role("button", name="Install and grant the ticked permissions").click()

    # then: the page asks a second time, saying what the agent does on its own
    panel = page.get_by_role(
        "region", name="Please confirm: the agent will act on its own"
    )
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("contacts.read")
    expect(panel).to_contain_text("Find the people")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "elder-mode-confirm.png"), full_page=True)
    assert not Install.objects.filter(agent=agent).exists()

    # when: they press the button without ticking the confirmation
    panel.get_by_role("button", name="Confirm and install").click()

    # then: still not installed; the page asks again
    expect(
        page.get_by_role("region", name="Please confirm: the agent will act on its own")
    ).to_be_visible()
    assert not Install.objects.filter(agent=agent).exists()

    # when: they confirm
    panel = page.get_by_role(
        "region", name="Please confirm: the agent will act on its own"
    )
    panel.get_by_role("checkbox", name="Yes, let it act on its own").check()
    panel.get_by_role("button", name="Confirm and install").click()

    # then: installed, with the confirmation on the receipt
    expect(
        page.get_by_role("heading", name="Meeting Planner is installed")
    ).to_be_visible()
    install = Install.objects.get(agent=agent)
    assert ConsentReceipt.objects.get(install=install).autonomous_confirmed is True
