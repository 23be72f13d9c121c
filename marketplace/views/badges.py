"""Certification badges at their stable addresses: one per agent and scheme, and a
summary of all of an agent's schemes, each as an SVG picture and as the JSON that
shields.io's endpoint badge reads; and the page that gives the snippets to embed
them.

Badges are embedded in other sites, so an address that names no agent or scheme
(or an agent never published) still answers with a picture (state "none", status
404), never with an HTML error page that would show as a broken image. Their words
are English unless ``?lang=`` names another language of the site, whatever the
reader's own language.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.http import ConditionalGetMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.decorators import decorator_from_middleware
from django.utils.html import escape
from django.utils.translation import npgettext, pgettext
from django.views.decorators.http import require_safe

from config.site import absolute_url
from marketplace.badges import (
    COLORS,
    BadgeState,
    badge_message,
    badge_svg,
    shields_endpoint,
)
from marketplace.models import Agent, Badge
from marketplace.selectors.agents import agent_get, agent_get_visible
from marketplace.selectors.certification import agent_badge, agent_badges
from marketplace.views.registry import public

CACHE_SECONDS = 300
SVG_CONTENT_TYPE = "image/svg+xml; charset=utf-8"
# An SVG opened on its own is a document: it may draw, never run or fetch anything.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
SUMMARY_LABEL = "certified"

# The summary shows a finding against the agent before its valid schemes: a revoked
# or suspended certificate is what a reader must not miss.
_FINDINGS = (BadgeState.REVOKED, BadgeState.SUSPENDED)

# ETag and 304 from the response's bytes, as the middleware would do site-wide.
conditional_get = cast(
    Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]],
    decorator_from_middleware(ConditionalGetMiddleware),
)


@dataclass(frozen=True)
class ShownState:
    """A badge's state as drawn now: "expiring" and "expired" are read from the
    end of validity, so a badge changes colour before the nightly job runs."""

    state: BadgeState
    level: str = ""
    days_left: int | None = None


def shown_state(
    *, state: str, valid_until: datetime | None, level: str = "", now: datetime
) -> ShownState:
    """The state to draw for a stored badge or certificate state."""
    if state != BadgeState.VALID:
        return ShownState(BadgeState(state))
    if valid_until is None:
        return ShownState(BadgeState.VALID, level)
    if valid_until <= now:
        return ShownState(BadgeState.EXPIRED)
    left = valid_until - now
    if left <= timedelta(days=settings.CERTIFICATE_EXPIRY_NOTICE_DAYS):
        return ShownState(BadgeState.EXPIRING, level, left.days)
    return ShownState(BadgeState.VALID, level)


def badge_shown(badge: Badge | None, *, now: datetime) -> ShownState:
    if badge is None:
        return ShownState(BadgeState.NONE)
    return shown_state(
        state=badge.state, valid_until=badge.valid_until, level=badge.level, now=now
    )


def summary_of(shown: list[ShownState], *, language: str = "en") -> tuple[str, str]:
    """The summary badge's message and colour: a revocation or suspension if the
    agent has one, else how many schemes it holds (yellow when one of them is
    about to expire), else "expired" or "none"."""
    states = {item.state for item in shown}
    for finding in _FINDINGS:
        if finding in states:
            return badge_message(state=finding, language=language), COLORS[finding]
    held = [s for s in shown if s.state in (BadgeState.VALID, BadgeState.EXPIRING)]
    if held:
        with translation.override(language):
            message = npgettext(
                "summary badge", "%(count)d scheme", "%(count)d schemes", len(held)
            ) % {"count": len(held)}
        expiring = any(s.state == BadgeState.EXPIRING for s in held)
        color = COLORS[BadgeState.EXPIRING if expiring else BadgeState.VALID]
        return message, color
    lapse = BadgeState.EXPIRED if BadgeState.EXPIRED in states else BadgeState.NONE
    return badge_message(state=lapse, language=language), COLORS[lapse]


def _language(request: HttpRequest) -> str:
    """The badge's language: ``?lang=`` if the site has it, else English."""
    wanted = request.GET.get("lang", "")[:16]
    try:
        return translation.get_supported_language_variant(wanted) if wanted else "en"
    except LookupError:
        return "en"


def _svg(*, label: str, message: str, color: str, status: int = 200) -> HttpResponse:
    response = HttpResponse(
        badge_svg(label=label, message=message, color=color).encode(),
        content_type=SVG_CONTENT_TYPE,
        status=status,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SVG_CSP
    return public(response, max_age=CACHE_SECONDS)


def _json(*, label: str, message: str, color: str, status: int = 200) -> HttpResponse:
    document = shields_endpoint(
        label=label, message=message, color=color, cache_seconds=CACHE_SECONDS
    )
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, sort_keys=True).encode(),
        content_type="application/json",
        status=status,
    )
    return public(response, max_age=CACHE_SECONDS)


def _public_agent(publisher: str, agent: str) -> Agent | None:
    """The agent if it was ever published: badges are the same for every reader,
    and one embedded elsewhere keeps telling the truth when the listing is
    quarantined or its versions yanked (a revoked certificate shows as revoked,
    not as no certificate). An agent never published has no badge."""
    found = agent_get(publisher=publisher, agent=agent)
    if found is None or found.published_at is None:
        return None
    return found


def _scheme_badge(
    request: HttpRequest, publisher: str, agent: str, scheme: str
) -> tuple[str, str, str, int]:
    language = _language(request)
    found = _public_agent(publisher, agent)
    if found is None:
        none = BadgeState.NONE
        return scheme, badge_message(state=none, language=language), COLORS[none], 404
    known, badge = agent_badge(agent=found, scheme_code=scheme)
    shown = badge_shown(badge, now=timezone.now())
    message = badge_message(
        state=shown.state,
        level=shown.level,
        days_left=shown.days_left,
        language=language,
    )
    return scheme, message, COLORS[shown.state], 200 if known is not None else 404


def _summary_badge(
    request: HttpRequest, publisher: str, agent: str
) -> tuple[str, str, str, int]:
    language = _language(request)
    found = _public_agent(publisher, agent)
    if found is None:
        none = BadgeState.NONE
        message = badge_message(state=none, language=language)
        return SUMMARY_LABEL, message, COLORS[none], 404
    now = timezone.now()
    shown = [badge_shown(badge, now=now) for badge in agent_badges(agent=found)]
    message, color = summary_of(shown, language=language)
    return SUMMARY_LABEL, message, color, 200


@require_safe
@conditional_get
def scheme_badge_svg(
    request: HttpRequest, publisher: str, agent: str, scheme: str
) -> HttpResponse:
    """The agent's badge for one scheme, as an SVG picture."""
    label, message, color, status = _scheme_badge(request, publisher, agent, scheme)
    return _svg(label=label, message=message, color=color, status=status)


@require_safe
@conditional_get
def scheme_badge_json(
    request: HttpRequest, publisher: str, agent: str, scheme: str
) -> HttpResponse:
    """The agent's badge for one scheme, as a shields.io endpoint document."""
    label, message, color, status = _scheme_badge(request, publisher, agent, scheme)
    return _json(label=label, message=message, color=color, status=status)


@require_safe
@conditional_get
def summary_badge_svg(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    """The summary of the agent's certification, as an SVG picture."""
    label, message, color, status = _summary_badge(request, publisher, agent)
    return _svg(label=label, message=message, color=color, status=status)


@require_safe
@conditional_get
def summary_badge_json(
    request: HttpRequest, publisher: str, agent: str
) -> HttpResponse:
    """The summary of the agent's certification, as a shields.io endpoint
    document."""
    label, message, color, status = _summary_badge(request, publisher, agent)
    return _json(label=label, message=message, color=color, status=status)


# --- The embed page -----------------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    label: str
    text: str


@dataclass(frozen=True)
class EmbedBadge:
    title: str
    svg_url: str
    json_url: str
    snippets: list[Snippet]


def _embed(
    *, title: str, alt: str, svg_path: str, json_path: str, link: str
) -> EmbedBadge:
    svg_url = absolute_url(svg_path)
    json_url = absolute_url(json_path)
    shields_url = f"https://img.shields.io/endpoint?url={quote(json_url, safe='')}"
    return EmbedBadge(
        title=title,
        svg_url=svg_path,
        json_url=json_path,
        snippets=[
            Snippet(
                pgettext("badge snippet", "Markdown"), f"[![{alt}]({svg_url})]({link})"
            ),
            Snippet(
                pgettext("badge snippet", "HTML"),
                f'<a href="{escape(link)}"><img src="{escape(svg_url)}" '
                f'alt="{escape(alt)}"></a>',
            ),
            Snippet(
                pgettext("badge snippet", "Markdown through shields.io"),
                f"[![{alt}]({shields_url})]({link})",
            ),
            Snippet(pgettext("badge snippet", "shields.io endpoint URL"), json_url),
        ],
    )


def agent_badges_page(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    """The snippets that embed the agent's badges in a README or a web page."""
    found = agent_get_visible(user=request.user, publisher=publisher, agent=agent)
    slugs = {"publisher": found.publisher.slug, "agent": found.slug}
    link = absolute_url(reverse("agent-detail", kwargs=slugs)) + "#certification"
    now = timezone.now()
    badges = list(agent_badges(agent=found))
    summary = _embed(
        title=pgettext("badge", "Summary of all schemes"),
        alt=f"{found.name}: {SUMMARY_LABEL}",
        svg_path=reverse("agent-badge-svg", kwargs=slugs),
        json_path=reverse("agent-badge-json", kwargs=slugs),
        link=link,
    )
    per_scheme = [
        (
            badge,
            badge_shown(badge, now=now),
            _embed(
                title=badge.scheme.name,
                alt=f"{found.name}: {badge.scheme.code}",
                svg_path=reverse(
                    "scheme-badge-svg", kwargs={**slugs, "scheme": badge.scheme.code}
                ),
                json_path=reverse(
                    "scheme-badge-json", kwargs={**slugs, "scheme": badge.scheme.code}
                ),
                link=link,
            ),
        )
        for badge in badges
    ]
    return render(
        request,
        "marketplace/certificates/badges.html",
        {"agent": found, "summary": summary, "badges": per_scheme},
    )
