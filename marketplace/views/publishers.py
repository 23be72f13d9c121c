"""A publisher's public profile: who it is, how far it is verified, its credit
grade and its listed agents."""

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from marketplace.models import Organization
from marketplace.selectors.agents import agent_list_public
from marketplace.selectors.organizations import organization_get

PAGE_SIZE = 20


def publisher_detail(request: HttpRequest, slug: str) -> HttpResponse:
    publisher = organization_get(slug=slug)
    if publisher is None or publisher.kind != Organization.Kind.PUBLISHER:
        raise Http404
    page = Paginator(agent_list_public(publisher=publisher.slug), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "marketplace/publishers/detail.html",
        {"publisher": publisher, "page": page},
    )
