"""The store's public pages: search and the agent page."""

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language, gettext

from config.pagination import CappedPaginator
from marketplace.forms import AgentSearchForm
from marketplace.models import (
    AgentVersion,
    Deployment,
    Domain,
    PricingModel,
    User,
)
from marketplace.protocols.mcp import mcp_protocol
from marketplace.selectors.agents import (
    agent_get,
    agent_visible,
    can_see_drafts,
    domain_list,
    version_list,
)
from marketplace.selectors.installs import install_active_for_agent
from marketplace.selectors.search import agent_search, search_facets
from marketplace.views.certificate_pages import agent_certification

PAGE_SIZE = 20


def agent_search_page(request: HttpRequest) -> HttpResponse:
    form = AgentSearchForm(request.GET or None, domains=list(domain_list()))
    form.is_valid()  # a value the form does not know is dropped, the rest apply
    criteria = {
        key: value
        for key, value in getattr(form, "cleaned_data", {}).items()
        if value not in (None, "", False)
    }
    agents = agent_search(**criteria)
    facets = search_facets(**criteria)
    page = CappedPaginator(agents, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "marketplace/store/search.html",
        {
            "form": form,
            "page": page,
            "facets": _facet_groups(request, facets),
            "pricing_choices": _pricing_choices(
                facets["pricing"], ticked=criteria.get("pricing", [])
            ),
            "criteria": criteria,
            "query": query.urlencode(),
        },
    )


@dataclass(frozen=True)
class FacetChoice:
    label: str
    count: int
    href: str
    active: bool


def _facet_groups(
    request: HttpRequest, facets: dict[str, list[dict[str, Any]]]
) -> list[tuple[str, list[FacetChoice]]]:
    """The facets as links: each sets its filter and keeps the others. Pricing is
    not among them: several models may be ticked, in ``_pricing_choices``."""
    chinese = get_language() == "zh-hans"

    def link(field: str, value: str) -> str:
        query = request.GET.copy()
        query.pop("page", None)
        query[field] = value
        return f"?{query.urlencode()}"

    def choices(
        field: str, rows: list[dict[str, Any]], key: str, labels: dict[str, str]
    ) -> list[FacetChoice]:
        current = request.GET.get(field, "")
        return [
            FacetChoice(
                label=labels.get(row[key], row[key]),
                count=row["count"],
                href=link(field, row[key]),
                active=row[key] == current,
            )
            for row in rows
        ]

    domains = {
        row["domain__code"]: row["domain__name_zh" if chinese else "domain__name_en"]
        for row in facets["domain"]
    }
    return [
        (
            gettext("Domains"),
            choices("domain", facets["domain"], "domain__code", domains),
        ),
        (
            gettext("Risk tier"),
            choices(
                "risk_tier",
                facets["risk_tier"],
                "domain__risk_tier",
                {k: str(v) for k, v in Domain.RiskTier.choices},
            ),
        ),
        (
            gettext("Deployment"),
            choices(
                "deployment",
                facets["deployment"],
                "deployment",
                {k: str(v) for k, v in Deployment.choices},
            ),
        ),
    ]


@dataclass(frozen=True)
class PricingChoice:
    """A pricing model to tick in the filters, with how many agents have it."""

    value: str
    label: str
    count: int
    checked: bool


def _pricing_choices(
    rows: list[dict[str, Any]], *, ticked: list[str]
) -> list[PricingChoice]:
    """Every pricing model as a checkbox (several may be ticked: an agent of any of
    them is kept), each with the count of its facet, which ignores the pricing
    filter so that the counts beside the models ticked stay meaningful. Ticked are
    the models the results are filtered by (``ticked``, the form's clean value)."""
    counts = {row["pricing_model"]: row["count"] for row in rows}
    return [
        PricingChoice(
            value=value,
            label=str(label),
            count=counts.get(value, 0),
            checked=value in ticked,
        )
        for value, label in PricingModel.choices
    ]


def agent_detail_page(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    found = agent_get(publisher=publisher, agent=agent)
    if found is None or not agent_visible(user=request.user, agent=found):
        raise Http404
    versions = list(version_list(agent=found, user=request.user))
    current = found.latest_version or next(iter(versions), None)
    # The documents other systems read describe the latest published version; a
    # quarantined listing serves none of them.
    exported = found.latest_version if found.is_listed else None
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
            "exported": exported,
            "speaks_mcp": exported is not None and mcp_protocol(exported) is not None,
            "install": (
                install_active_for_agent(user=request.user, agent=found)
                if isinstance(request.user, User)
                else None
            ),
            "certification": agent_certification(found),
        },
    )
