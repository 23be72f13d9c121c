from pathlib import Path
from typing import Any

import pytest

from marketplace.models import Membership, Organization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_sign_up_create_an_organisation_and_switch_to_chinese(
    page: Any, live_server: Any
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # sign up
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Create an account").first.click()
    page.get_by_label("User name", exact=True).fill("mei")
    page.get_by_label("E-mail address").fill("mei@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create the account").click()
    page.get_by_role("heading", name="Your profile").wait_for()

    # create an organisation
    page.get_by_role("link", name="Create an organisation").click()
    page.get_by_label("Name", exact=True).fill("Mei Agents")
    page.get_by_label("Short name").fill("mei-agents")
    page.get_by_label("Kind").select_option("publisher")
    page.get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Members and settings").wait_for()
    page.screenshot(
        path=str(SCREENSHOTS / "organization-settings-en.png"), full_page=True
    )
    organization = Organization.objects.get(slug="mei-agents")
    assert Membership.objects.get(organization=organization).role == "owner"

    # switch to Chinese with the keyboard: the switcher is reachable and focus shows
    page.get_by_role("button", name="简体中文").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert page.get_by_role("button", name="退出登录").is_visible()
    page.screenshot(
        path=str(SCREENSHOTS / "organization-settings-zh.png"), full_page=True
    )


def test_the_home_page_fits_a_phone(page: Any, live_server: Any) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    # the menu is behind the toggler and opens
    page.get_by_role("button", name="Show menu").click()
    page.get_by_role("link", name="Organisations").wait_for(state="visible")
    page.screenshot(path=str(SCREENSHOTS / "home-phone.png"), full_page=True)
