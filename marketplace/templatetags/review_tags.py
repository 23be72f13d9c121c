"""The reviews section of the agent page: ``{% agent_reviews agent %}``."""

from typing import Any

from django import template

from marketplace.models import Agent
from marketplace.views.reviews import agent_reviews_context

register = template.Library()


@register.inclusion_tag("marketplace/reviews/_section.html", takes_context=True)
def agent_reviews(context: template.Context, agent: Agent) -> dict[str, Any]:
    return agent_reviews_context(context["request"], agent)


@register.filter
def star_glyphs(stars: int | float | str | None) -> str:
    """★★★★☆ for 4 (decoration: pages give the number in words as well)."""
    try:
        filled = max(0, min(5, round(float(stars or 0))))
    except ValueError:
        filled = 0
    return "★" * filled + "☆" * (5 - filled)
