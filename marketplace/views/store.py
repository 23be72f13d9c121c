"""The store's public pages: search and the agent page."""

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from marketplace.forms import AgentSearchForm
from marketplace.models import AgentVersion
from marketplace.selectors.agents import (
    agent_get,
    agent_search,
    agent_visible,
    can_see_drafts,
    domain_facets,
    domain_list,
    version_list,
)

PAGE_SIZE = 20


def agent_search_page(request: HttpRequest) -> HttpResponse:
    form = AgentSearchForm(request.GET or None, domains=list(domain_list()))
    filters = form.cleaned_data if form.is_valid() else {}
    criteria = {key: value for key, value in filters.items() if value}
    agents = agent_search(**criteria)
    facets = domain_facets(
        agents=agent_search(**{k: v for k, v in criteria.items() if k != "domain"})
    )
    page = Paginator(agents, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "marketplace/store/search.html",
        {
            "form": form,
            "page": page,
            "facets": facets,
            "criteria": criteria,
            "query": query.urlencode(),
        },
    )


def agent_detail_page(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    found = agent_get(publisher=publisher, agent=agent)
    if found is None or not agent_visible(user=request.user, agent=found):
        raise Http404
    versions = list(version_list(agent=found, user=request.user))
    current = found.latest_version or next(iter(versions), None)
    return render(
        request,
        "marketplace/store/agent.html",
        {
            "agent": found,
            "versions": versions,
            "current": current,
            "declaration": current.declaration if current else {},
            "can_edit": can_see_drafts(user=request.user, agent=found),
            "published": AgentVersion.State.PUBLISHED,
        },
    )
