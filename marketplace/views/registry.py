from typing import TypeVar

from django.http import Http404, HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from marketplace import declarations
from marketplace.models import Agent, AgentVersion
from marketplace.protocols import a2a, acps, anp, did, mcp
from marketplace.selectors.agents import agent_get

ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


@require_GET
def declaration_schema(request: HttpRequest) -> JsonResponse:
    """The JSON Schema of capability declarations, at its stable address."""
    response = JsonResponse(
        declarations.schema(),
        content_type="application/schema+json",
        json_dumps_params={"ensure_ascii": False, "indent": 2},
    )
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=3600)
    return response


def public(response: ResponseT, *, max_age: int = 300) -> ResponseT:
    """A document any site may fetch (CORS) and caches may keep ``max_age``
    seconds."""
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=max_age)
    return response


def _public_json(data: object) -> JsonResponse:
    return public(
        JsonResponse(data, json_dumps_params={"ensure_ascii": False}, safe=False)
    )


def _listed_agent(publisher: str, agent: str) -> Agent:
    found = agent_get(publisher=publisher, agent=agent)
    if found is None or not found.is_listed:
        raise Http404
    return found


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The site's public keys and the certification bodies' (current and retired),
    for verifying what they sign."""
    from marketplace.services.credentials import jwks as all_keys

    return _public_json(all_keys())


@require_GET
def agent_did_document(
    request: HttpRequest, publisher: str, agent: str
) -> JsonResponse:
    return _public_json(did.did_document(_listed_agent(publisher, agent)))


@require_GET
def agent_profile(request: HttpRequest, publisher: str, agent: str) -> JsonResponse:
    return _public_json(did.lookup_record(_listed_agent(publisher, agent)))


@require_GET
def agent_card(request: HttpRequest, publisher: str, agent: str) -> JsonResponse:
    latest = _listed_agent(publisher, agent).latest_version
    if latest is None:  # _listed_agent already refuses these
        raise Http404
    return _public_json(a2a.signed_agent_card(latest))


def _public_version(publisher: str, agent: str, version: str) -> AgentVersion:
    """A published or yanked version of a listed agent, never a draft or a version
    under review or rejected."""
    found = _listed_agent(publisher, agent)
    target = found.versions.filter(
        version=version,
        state__in=(AgentVersion.State.PUBLISHED, AgentVersion.State.YANKED),
    ).first()
    if target is None:
        raise Http404
    target.agent = found
    return target


@require_GET
def version_agent_card(
    request: HttpRequest, publisher: str, agent: str, version: str
) -> JsonResponse:
    return _public_json(
        a2a.signed_agent_card(_public_version(publisher, agent, version))
    )


@require_GET
def version_server_json(
    request: HttpRequest, publisher: str, agent: str, version: str
) -> JsonResponse:
    """The MCP registry's server.json, for versions that declare MCP."""
    target = _public_version(publisher, agent, version)
    if mcp.mcp_protocol(target) is None:
        raise Http404
    return _public_json(mcp.server_json(target))


@require_GET
def version_agent_description(
    request: HttpRequest, publisher: str, agent: str, version: str
) -> JsonResponse:
    """The ANP agent description."""
    return _public_json(
        anp.agent_description(_public_version(publisher, agent, version))
    )


@require_GET
def version_acs(
    request: HttpRequest, publisher: str, agent: str, version: str
) -> JsonResponse:
    """The ACPs capability specification, for agents that hold an ACPs identity
    code (the site gives them only when the operator holds an arc)."""
    target = _public_version(publisher, agent, version)
    if not target.agent.aic:
        raise Http404
    return _public_json(acps.capability_spec(target))
