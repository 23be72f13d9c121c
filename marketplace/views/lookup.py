"""The public lookup of an agent by its identifier: its did:web identifier or its
ACPs identity code."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from config.exceptions import ApplicationError, NotFound
from marketplace.forms import AgentLookupForm
from marketplace.protocols import did
from marketplace.selectors.agents import agent_get_by_identifier


@require_GET
def agent_lookup(request: HttpRequest) -> HttpResponse:
    """An empty form without an identifier; the lookup record of the agent it names;
    404 when no listed agent has it or it is from another registry; 400 when it is
    not an identifier at all."""
    asked = request.GET.get("id", "").strip()
    form = AgentLookupForm(request.GET if asked else None)
    context: dict[str, object] = {"form": form, "agent": None, "record": None}
    status = 200
    if form.is_bound:
        if not form.is_valid():
            status = 400
        else:
            try:
                agent = agent_get_by_identifier(identifier=form.cleaned_data["id"])
            except NotFound as error:
                context["not_found"] = error.message
                status = 404
            except ApplicationError as error:
                form.add_error("id", error.message)
                status = 400
            else:
                if agent is None:
                    context["not_found"] = _("No agent has this identifier.")
                    status = 404
                else:
                    record = did.lookup_record(agent)
                    context.update(
                        agent=agent,
                        record=record,
                        record_lists=[
                            (_("Certificates"), record.get("certificates") or []),
                            (_("Recalls"), record.get("recalls") or []),
                            (_("Sanctions"), record.get("sanctions") or []),
                        ],
                    )
    return render(request, "marketplace/lookup.html", context, status=status)
