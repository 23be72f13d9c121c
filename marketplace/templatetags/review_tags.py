"""The reviews section of the agent page: ``{% agent_reviews agent %}``."""

from typing import Any

from django import template

from config.pagination import CappedPaginator
from marketplace.models import Agent, Review, User
from marketplace.selectors.reviews import (
    review_can_reply,
    review_can_write,
    review_flagged_ids,
    review_hidden_reason,
    review_list_public,
    review_of_user,
    review_summary,
)

register = template.Library()

SECTION_PAGE_SIZE = 10


@register.inclusion_tag("marketplace/reviews/_section.html", takes_context=True)
def agent_reviews(context: template.Context, agent: Agent) -> dict[str, Any]:
    """The summary, a page of visible reviews with the replies, and what the reader
    may do. A constant number of queries, whatever the page size."""
    request = context["request"]
    user = request.user
    page = CappedPaginator(review_list_public(agent=agent), SECTION_PAGE_SIZE).get_page(
        request.GET.get("reviews_page")
    )
    own = review_of_user(user=user, agent=agent)
    hidden_reason = (
        review_hidden_reason(review=own)
        if own is not None and own.state == Review.State.HIDDEN
        else ""
    )
    query = request.GET.copy()
    query.pop("reviews_page", None)
    return {
        "agent": agent,
        "summary": review_summary(agent=agent),
        "page": page,
        "own_review": own,
        "own_hidden_reason": hidden_reason,
        "can_write": own is not None or review_can_write(user=user, agent=agent),
        "can_reply": review_can_reply(user=user, agent=agent),
        "flagged": review_flagged_ids(user=user, reviews=page.object_list),
        "signed_in": isinstance(user, User),
        "query": query.urlencode(),
        "request": request,
    }


@register.filter
def star_glyphs(stars: int | float | str | None) -> str:
    """★★★★☆ for 4 (decoration: pages give the number in words as well)."""
    try:
        filled = max(0, min(5, round(float(stars or 0))))
    except ValueError:
        filled = 0
    return "★" * filled + "☆" * (5 - filled)
