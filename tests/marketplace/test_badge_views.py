"""Badges at their stable addresses: the SVG and the shields.io endpoint JSON per
scheme and in summary, their headers and caching, and the embed page."""

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from config.site import absolute_url
from marketplace.badges import COLORS, BadgeState, shields_endpoint_errors
from marketplace.models import Agent, Certificate
from marketplace.services.certification import (
    certificate_expire_due,
    certificate_revoke,
    certificate_suspend,
    domain_set_requirements,
)
from tests.marketplace.certification_fixtures import (
    certify_on_request,
    make_body,
    make_certificate,
    make_operator,
    make_scheme,
    make_version,
)

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


def _certificate_in(state: str, *, code: str = "lab-sec") -> Certificate:
    body = make_body()
    scheme = make_scheme(body, code=code)
    certificate = make_certificate(body, scheme, level="enhanced")
    if state == "suspended":
        certificate_suspend(
            actor=body.assessor, certificate=certificate, reason="Retest"
        )
    elif state == "revoked":
        certificate_revoke(actor=body.assessor, certificate=certificate, reason="Hole")
    elif state == "expired":
        certificate_expire_due(now=certificate.valid_until + timedelta(seconds=1))
    certificate.refresh_from_db()
    assert certificate.state == state
    return certificate


def _url(name: str, agent: Agent, **kwargs: str) -> str:
    return reverse(
        name, kwargs={"publisher": agent.publisher.slug, "agent": agent.slug, **kwargs}
    )


def _svg_text(content: bytes) -> tuple[str, str]:
    """The SVG's accessible text and the colour of its message box."""
    root = ET.fromstring(content)  # noqa: S314 - the site's own output, under test
    assert root.tag == f"{SVG}svg"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text
    rects = root.findall(f".//{SVG}g/{SVG}rect")
    return title.text, rects[1].get("fill", "")


@pytest.mark.parametrize(
    ("state", "message", "color"),
    [
        ("valid", "enhanced", COLORS[BadgeState.VALID]),
        ("suspended", "suspended", COLORS[BadgeState.SUSPENDED]),
        ("revoked", "revoked", COLORS[BadgeState.REVOKED]),
        ("expired", "expired", COLORS[BadgeState.EXPIRED]),
    ],
)
def test_the_scheme_badge_shows_each_state(
    client: Client, state: str, message: str, color: str
) -> None:
    # given
    certificate = _certificate_in(state)
    agent = certificate.agent
    # when
    svg = client.get(_url("scheme-badge-svg", agent, scheme="lab-sec"))
    document = client.get(_url("scheme-badge-json", agent, scheme="lab-sec"))
    # then
    assert svg.status_code == 200
    assert _svg_text(svg.content) == (f"lab-sec: {message}", color)
    assert document.status_code == 200
    data = json.loads(document.content)
    assert shields_endpoint_errors(data) == []
    assert data["label"] == "lab-sec"
    assert data["message"] == message
    assert data["color"] == color


def test_a_badge_close_to_expiry_shows_the_days_left(
    client: Client, settings: Any
) -> None:
    # given: the notice period covers the whole validity
    settings.CERTIFICATE_EXPIRY_NOTICE_DAYS = 400
    certificate = _certificate_in("valid")
    # when
    svg = client.get(_url("scheme-badge-svg", certificate.agent, scheme="lab-sec"))
    data = json.loads(
        client.get(
            _url("scheme-badge-json", certificate.agent, scheme="lab-sec")
        ).content
    )
    # then
    text, color = _svg_text(svg.content)
    assert color == COLORS[BadgeState.EXPIRING]
    assert "days left" in text
    assert data["message"].startswith("enhanced · ")
    assert data["color"] == COLORS[BadgeState.EXPIRING]


def test_a_scheme_the_agent_never_held_is_none(client: Client) -> None:
    # given
    certificate = _certificate_in("valid")
    body = make_body()
    make_scheme(body, code="other-scheme")
    # when
    svg = client.get(_url("scheme-badge-svg", certificate.agent, scheme="other-scheme"))
    # then
    assert svg.status_code == 200
    assert _svg_text(svg.content) == ("other-scheme: none", COLORS[BadgeState.NONE])


@pytest.mark.parametrize("suffix", ["svg", "json"])
def test_an_unknown_agent_or_scheme_still_gives_a_badge(
    client: Client, suffix: str
) -> None:
    # given
    certificate = _certificate_in("valid")
    agent = certificate.agent
    urls = [
        f"/badges/nobody/nothing/lab-sec.{suffix}",
        f"/badges/nobody/nothing.{suffix}",
        _url(f"scheme-badge-{suffix}", agent, scheme="no-such-scheme"),
    ]
    for url in urls:
        # when
        response = client.get(url)
        # then
        assert response.status_code == 404
        if suffix == "svg":
            assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
            text, color = _svg_text(response.content)
            assert text.endswith(": none")
            assert color == COLORS[BadgeState.NONE]
        else:
            assert shields_endpoint_errors(json.loads(response.content)) == []


def test_a_draft_only_agent_is_unknown_to_badges(client: Client) -> None:
    # given: an agent with no published version
    version = make_version(state="draft")
    # when
    response = client.get(_url("agent-badge-svg", version.agent))
    # then
    assert response.status_code == 404
    assert _svg_text(response.content)[0] == "certified: none"


def test_the_svg_headers(client: Client) -> None:
    # given
    certificate = _certificate_in("valid")
    # when
    response = client.get(_url("scheme-badge-svg", certificate.agent, scheme="lab-sec"))
    # then
    assert response["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'"
    )
    assert response["Access-Control-Allow-Origin"] == "*"
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert cache == {"public", "max-age=300"}
    assert response["ETag"]


def test_the_json_headers(client: Client) -> None:
    certificate = _certificate_in("valid")
    response = client.get(
        _url("scheme-badge-json", certificate.agent, scheme="lab-sec")
    )
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age=300" in response["Cache-Control"]
    assert response["ETag"]


@pytest.mark.parametrize("name", ["scheme-badge-svg", "agent-badge-json"])
def test_an_unchanged_badge_answers_304(client: Client, name: str) -> None:
    # given
    certificate = _certificate_in("valid")
    kwargs = {"scheme": "lab-sec"} if name.startswith("scheme") else {}
    url = _url(name, certificate.agent, **kwargs)
    first = client.get(url)
    # when
    again = client.get(url, headers={"if-none-match": first["ETag"]})
    # then
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]


def test_a_changed_badge_has_a_new_etag(client: Client) -> None:
    # given
    certificate = _certificate_in("valid")
    url = _url("scheme-badge-svg", certificate.agent, scheme="lab-sec")
    first = client.get(url)
    assessor = certificate.issued_by
    assert assessor is not None
    # when: the body suspends the certificate
    certificate_suspend(actor=assessor, certificate=certificate, reason="Retest")
    again = client.get(url, headers={"if-none-match": first["ETag"]})
    # then
    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]
    assert _svg_text(again.content)[0] == "lab-sec: suspended"


def test_the_same_badge_is_the_same_bytes(client: Client) -> None:
    certificate = _certificate_in("valid")
    url = _url("scheme-badge-svg", certificate.agent, scheme="lab-sec")
    assert client.get(url).content == client.get(url).content


def test_badges_are_english_unless_asked(client: Client) -> None:
    # given
    certificate = _certificate_in("revoked")
    url = _url("scheme-badge-json", certificate.agent, scheme="lab-sec")
    # when
    default = json.loads(
        client.get(url, headers={"accept-language": "zh-hans"}).content
    )
    unknown = json.loads(client.get(url, {"lang": "xx"}).content)
    # then
    assert default["message"] == "revoked"
    assert unknown["message"] == "revoked"
    assert client.get(url, {"lang": "zh-hans"}).status_code == 200


# --- The summary badge ----------------------------------------------------------------


def _agent_with(states: list[str]) -> Agent:
    """An agent whose latest version holds one certificate per state, each of
    its own scheme; the expired one's scheme runs 30 days, the others a year."""
    body = make_body()
    version = make_version()
    for index, state in enumerate(states):
        scheme = make_scheme(
            body,
            code=f"{body.organization.slug}-{index}",
            validity_days=30 if state == "expired" else 365,
        )
        certificate = make_certificate(body, scheme, version)
        if state == "suspended":
            certificate_suspend(
                actor=body.assessor, certificate=certificate, reason="x"
            )
        elif state == "revoked":
            certificate_revoke(actor=body.assessor, certificate=certificate, reason="x")
        elif state == "expired":
            certificate_expire_due(now=certificate.valid_until + timedelta(seconds=1))
    return Agent.objects.select_related("publisher").get(pk=version.agent_id)


@pytest.mark.parametrize(
    ("states", "message", "color"),
    [
        (["valid", "valid", "valid"], "3 schemes", COLORS[BadgeState.VALID]),
        (["valid"], "1 scheme", COLORS[BadgeState.VALID]),
        (["valid", "expired"], "1 scheme", COLORS[BadgeState.VALID]),
        (["valid", "suspended"], "suspended", COLORS[BadgeState.SUSPENDED]),
        (["suspended", "revoked", "valid"], "revoked", COLORS[BadgeState.REVOKED]),
        (["expired"], "expired", COLORS[BadgeState.EXPIRED]),
        ([], "none", COLORS[BadgeState.NONE]),
    ],
)
def test_the_summary_badge(
    client: Client, states: list[str], message: str, color: str
) -> None:
    # given
    agent = _agent_with(states)
    # when
    svg = client.get(_url("agent-badge-svg", agent))
    data = json.loads(client.get(_url("agent-badge-json", agent)).content)
    # then
    assert svg.status_code == 200
    assert _svg_text(svg.content) == (f"certified: {message}", color)
    assert shields_endpoint_errors(data) == []
    assert (data["label"], data["message"], data["color"]) == (
        "certified",
        message,
        color,
    )


def test_the_summary_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    # given
    few = _agent_with(["valid"])
    many = _agent_with(["valid", "revoked", "suspended", "valid"])
    # when / then: the agent, its badges
    for agent in (few, many):
        url = _url("agent-badge-svg", agent)
        with django_assert_num_queries(2):
            client.get(url)


# --- The embed page -------------------------------------------------------------------


def test_the_embed_page_gives_the_snippets(client: Client) -> None:
    # given
    certificate = _certificate_in("valid")
    agent = certificate.agent
    # when
    response = client.get(_url("agent-badges", agent))
    # then
    assert response.status_code == 200
    html = response.content.decode()
    svg = f"/badges/{agent.publisher.slug}/{agent.slug}/lab-sec.svg"
    summary = f"/badges/{agent.publisher.slug}/{agent.slug}.svg"
    assert f"[![{agent.name}: lab-sec]({absolute_url(svg)})" in html
    assert f"[![{agent.name}: certified]({absolute_url(summary)})" in html
    assert "img.shields.io/endpoint?url=" in html
    assert "lab-sec.json" in html
    assert "&lt;img src=" in html
    assert html.count("readonly") >= 8


def test_the_embed_page_of_an_agent_without_badges(client: Client) -> None:
    version = make_version()
    response = client.get(_url("agent-badges", version.agent))
    assert response.status_code == 200
    assert "has no certificates yet" in response.content.decode()


def test_the_embed_page_of_an_unknown_agent_is_404(client: Client) -> None:
    assert client.get("/agents/nobody/nothing/badges/").status_code == 404


# --- Quarantined agents and agents never published -----------------------------------


def test_a_quarantined_agent_shows_its_revoked_badge(client: Client) -> None:
    # given: the certificate its domain requires is revoked, so the listing is
    # quarantined
    body = make_body()
    scheme = make_scheme(body, code="lab-sec")
    certificate = make_certificate(body, scheme, level="enhanced")
    agent = certificate.agent
    domain_set_requirements(
        actor=make_operator(), domain=agent.domain, schemes=[scheme], dimensions=[]
    )
    certificate_revoke(actor=body.assessor, certificate=certificate, reason="Hole")
    agent.refresh_from_db()
    assert agent.status == Agent.Status.QUARANTINED
    # when
    svg = client.get(_url("scheme-badge-svg", agent, scheme="lab-sec"))
    data = json.loads(
        client.get(_url("scheme-badge-json", agent, scheme="lab-sec")).content
    )
    summary = client.get(_url("agent-badge-svg", agent))
    # then: an embedded badge tells the truth, not "none"
    assert svg.status_code == 200
    assert _svg_text(svg.content) == ("lab-sec: revoked", COLORS[BadgeState.REVOKED])
    assert data["message"] == "revoked"
    assert summary.status_code == 200
    assert _svg_text(summary.content)[0] == "certified: revoked"


def test_an_agent_never_published_has_no_badge_even_with_a_certificate(
    client: Client,
) -> None:
    # given: certified on request while still a draft
    body = make_body()
    scheme = make_scheme(body, code="lab-sec")
    certificate = certify_on_request(body, scheme, make_version(state="draft"))
    agent = certificate.agent
    # when / then
    for url in (
        _url("scheme-badge-svg", agent, scheme="lab-sec"),
        _url("agent-badge-svg", agent),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert _svg_text(response.content)[0].endswith(": none")
