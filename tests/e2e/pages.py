"""What the browser tests do the same way."""

from typing import Any

from playwright.sync_api import expect

from tests.marketplace.factories import PASSWORD


def sign_in(page: Any, url: str, username: str) -> None:
    """Sign in through the form and wait until the page says so."""
    page.goto(f"{url}/accounts/login/")
    page.get_by_label("User name or e-mail address").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").last.click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
