"""The disclosure checklist of a listing in the developer console:
``{% disclosure_checklist agent %}``."""

from typing import Any

from django import template

from marketplace.disclosure import agent_disclosure
from marketplace.models import Agent

register = template.Library()


@register.inclusion_tag("marketplace/console/_disclosure.html")
def disclosure_checklist(agent: Agent) -> dict[str, Any]:
    """Which fields and documents the listing discloses, and what to fix. The
    console page shows it only to the publisher's members."""
    return {"agent": agent, "disclosure": agent_disclosure(agent=agent)}
