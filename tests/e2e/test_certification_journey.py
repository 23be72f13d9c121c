"""Through the pages only: a publisher asks an accredited body to certify its
agent, the body's assessor accepts and issues the certificate, anyone sees it on
the agent page and verifies its credential, and once the assessor revokes it the
verify page and the badge say so."""

import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from marketplace.models import Certificate, CertificationRequest, Membership
from tests.e2e.pages import sign_in
from tests.marketplace.certification_fixtures import (
    make_body,
    make_scheme,
    make_version,
)
from tests.marketplace.factories import MembershipFactory, OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"

SCHEME = "agent-security"
SCHEME_NAME = "Agent security baseline"  # make_scheme's
REPORT_URL = "https://lab.example.com/reports/planner-1.0.0.pdf"
REVOKED_BECAUSE = "The agent sends e-mail outside the declared scope."


def _new_page(stack: ExitStack, browser: Browser) -> Page:
    """A page in a browser context of its own (its own cookies: its own user)."""
    context = browser.new_context(
        locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    stack.callback(context.close)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _screenshot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _verify_pasted(page: Page, url: str, token: str) -> None:
    """Paste ``token`` into the verify page's form and send it."""
    page.goto(f"{url}/certificates/verify/")
    page.get_by_label("Signed credential (VC-JWT)").fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name="Verify", exact=True).click()


def test_a_certificate_is_asked_for_issued_verified_and_revoked_through_the_pages(
    browser: Browser, live_server: Any
) -> None:
    # given a published agent, a member of its publisher, and a body accredited
    # for security with a scheme that takes requests
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    publisher = OrganizationFactory.create(name="Acme Agents", slug="acme")
    make_version(
        agent__publisher=publisher,
        agent__slug="planner",
        agent__name="Meeting Planner",
        version="1.0.0",
    )
    pia = MembershipFactory.create(
        organization=publisher, role=Membership.Role.MEMBER, user__username="pia"
    ).user
    body = make_body(accredited=("security",))
    body_name = body.organization.name
    make_scheme(body, code=SCHEME)
    url = live_server.url
    agent_url = f"{url}/agents/acme/planner/"

    with ExitStack() as stack:
        # when pia asks the body to certify version 1.0.0 at the enhanced level
        publisher_page = _new_page(stack, browser)
        sign_in(publisher_page, url, pia.username)
        publisher_page.goto(f"{url}/console/agents/acme/planner/certification/")
        expect(
            publisher_page.get_by_role(
                "heading", name="Certification of Meeting Planner"
            )
        ).to_be_visible()
        publisher_page.get_by_label("Version", exact=True).select_option("1.0.0")
        publisher_page.get_by_label("Scheme", exact=True).select_option(SCHEME)
        publisher_page.get_by_label("Level asked for").select_option("enhanced")
        publisher_page.get_by_label("Message to the body").fill(
            "Please assess the e-mail permissions in particular."
        )
        with publisher_page.expect_navigation():
            publisher_page.get_by_role("button", name="Send the request").click()

        # then the request is sent, and listed among the agent's open requests
        expect(
            publisher_page.get_by_role("status").filter(
                has_text=f"Your request was sent to {body_name}."
            )
        ).to_be_visible()
        publisher_page.get_by_role(
            "link", name="All of Meeting Planner's certification"
        ).click()
        asked = publisher_page.get_by_role("table", name="Open requests").locator(
            "tbody tr"
        )
        expect(asked).to_have_count(1)
        for text in ("Meeting Planner", "1.0.0", SCHEME, "enhanced", body_name):
            expect(asked).to_contain_text(text)
        expect(asked.get_by_role("cell", name="Requested", exact=True)).to_be_visible()

        # when the body's assessor opens the request from the dashboard, accepts
        # it and issues the certificate
        assessor_page = _new_page(stack, browser)
        sign_in(assessor_page, url, body.assessor.username)
        assessor_page.goto(f"{url}/certification/")
        waiting = assessor_page.get_by_role(
            "table", name="Open requests to your bodies"
        )
        with assessor_page.expect_navigation():
            waiting.get_by_role("link", name="Meeting Planner").click()
        expect(
            assessor_page.get_by_role(
                "heading", name="Certification request: Meeting Planner 1.0.0"
            )
        ).to_be_visible()
        with assessor_page.expect_navigation():
            assessor_page.get_by_role(
                "button", name="Accept and start assessing"
            ).click()
        expect(assessor_page.get_by_text("You accepted the request;")).to_be_visible()
        expect(assessor_page.get_by_role("textbox", name="Agent")).to_have_value(
            "acme/planner"
        )
        expect(assessor_page.get_by_label("Level", exact=True)).to_have_value(
            "enhanced"
        )
        assessor_page.get_by_label("Assessor", exact=True).fill("Li Wei")
        assessor_page.get_by_label("Or the report's address").fill(REPORT_URL)
        with assessor_page.expect_navigation():
            assessor_page.get_by_role("button", name="Issue the certificate").click()

        # then the certificate is issued
        issued = assessor_page.get_by_role("status").filter(
            has_text=re.compile(r"The certificate \S+ was issued\.")
        )
        expect(issued).to_be_visible()
        serial = re.search(r"The certificate (\S+) was issued\.", issued.inner_text())
        assert serial is not None
        serial_number = serial.group(1)
        certificate = Certificate.objects.get(serial=serial_number)
        assert certificate.state == Certificate.State.VALID
        assert certificate.level == "enhanced"
        assert certificate.request is not None
        assert certificate.request.state == CertificationRequest.State.ISSUED

        # and its public page, reached from the dashboard, shows it valid
        assessor_page.goto(f"{url}/certification/")
        with assessor_page.expect_navigation():
            assessor_page.get_by_role(
                "table", name="Certificates your bodies issued"
            ).get_by_role("link", name=serial_number, exact=True).click()
        card = assessor_page.get_by_role("article", name=f"Certificate {serial_number}")
        expect(card).to_contain_text("Meeting Planner 1.0.0: Agent security baseline")
        expect(card.locator(".cert-state")).to_have_text("Valid")
        expect(card).to_contain_text("Li Wei")
        expect(card.get_by_role("link", name="Read the test report")).to_be_visible()
        _screenshot(assessor_page, "certificate-valid.png")

        # when anyone, signed out, opens the agent page
        visitor = _new_page(stack, browser)
        visitor.goto(agent_url)

        # then its Certification section shows the scheme and its badge
        section = visitor.get_by_role("region", name="Certification")
        expect(section.get_by_role("link", name=SCHEME_NAME)).to_be_visible()
        expect(section).to_contain_text("Enhanced")
        expect(section).to_contain_text(body_name)
        expect(section.locator(".cert-state")).to_have_text("Valid")
        badge = section.get_by_role("img", name=f"Badge of {SCHEME}")
        expect(badge).to_be_visible()
        assert badge.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0

        # when they follow the certificate's link and check its credential
        with visitor.expect_navigation():
            section.get_by_role("link", name=SCHEME_NAME).click()
        expect(
            visitor.get_by_role("heading", name=f"Certificate {serial_number}")
        ).to_be_visible()
        response = visitor.request.get(
            f"{url}/certificates/{serial_number}/credential.jwt"
        )
        assert response.ok
        token = response.text().strip()
        assert token.count(".") == 2
        _verify_pasted(visitor, url, token)

        # then the verify page says it is valid
        expect(visitor.get_by_role("heading", name="Result: Valid")).to_be_visible()
        expect(visitor.locator(".verify-status")).to_have_attribute(
            "data-status", "valid"
        )
        expect(
            visitor.get_by_role("link", name=serial_number, exact=True)
        ).to_be_visible()
        badge_json = f"{url}/badges/acme/planner/{SCHEME}.json"
        assert visitor.request.get(badge_json).json()["message"] == "enhanced"

        # when the assessor revokes it from its manage page
        assessor_page.goto(f"{url}/certification/")
        with assessor_page.expect_navigation():
            assessor_page.get_by_role(
                "link", name=f"Manage {serial_number}", exact=True
            ).click()
        expect(
            assessor_page.get_by_role(
                "heading", name=f"Manage the certificate {serial_number}"
            )
        ).to_be_visible()
        revoke = assessor_page.get_by_role("region", name="Revoke")
        revoke.get_by_label("Reason").fill(REVOKED_BECAUSE)
        with assessor_page.expect_navigation():
            revoke.get_by_role("button", name="Revoke the certificate").click()

        # then the manage page says so
        expect(
            assessor_page.get_by_role("status").filter(
                has_text="The certificate was revoked."
            )
        ).to_be_visible()
        expect(assessor_page.locator(".certificate-state")).to_have_text("Revoked")
        expect(assessor_page.get_by_role("region", name="Revoke")).to_have_count(0)

        # and the verify page, by serial, says it is revoked, and why
        visitor.goto(f"{url}/certificates/verify/")
        visitor.get_by_label("Serial number").fill(serial_number)
        with visitor.expect_navigation():
            visitor.get_by_role("button", name="Verify", exact=True).click()
        expect(visitor.get_by_role("heading", name="Result: Revoked")).to_be_visible()
        expect(visitor.get_by_text(REVOKED_BECAUSE)).to_be_visible()
        _screenshot(visitor, "verify-revoked.png")

        # and so does the credential pasted again
        _verify_pasted(visitor, url, token)
        expect(visitor.get_by_role("heading", name="Result: Revoked")).to_be_visible()
        expect(visitor.locator(".verify-status")).to_have_attribute(
            "data-status", "revoked"
        )

        # and the badge's JSON says revoked
        response = visitor.request.get(badge_json)
        assert response.ok
        assert response.json()["message"] == "revoked"
