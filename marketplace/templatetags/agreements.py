"""The publisher agreement prompt of the console,
``{% publisher_agreement_prompt organization %}``, and the link to the operator's
pages of the documents, ``{% operator_agreements_link %}``."""

from typing import Any

from django import template

from marketplace.models import AgreementVersion, Organization, User
from marketplace.selectors.agreements import (
    agreement_editor,
    agreement_in_force_get,
    publisher_agreement_accepted,
)
from marketplace.selectors.organizations import organization_can_manage

register = template.Library()


@register.inclusion_tag(
    "marketplace/agreements/_publisher_prompt_body.html", takes_context=True
)
def publisher_agreement_prompt(
    context: template.Context,
    organization: Organization,
    can_accept: bool | None = None,
    accepted: bool | None = None,
) -> dict[str, Any]:
    """When the publisher has not accepted the publisher agreement in force: the
    agreement's link, and the form to accept it for its owners and administrators.
    Nothing otherwise. ``can_accept`` and ``accepted``, when the page knows the
    reader's role or the answer already (a list read in one query), save looking
    them up."""
    request = context["request"]
    if accepted is None:
        accepted = publisher_agreement_accepted(organization=organization)
    if accepted:
        return {"version": None}
    return {
        "version": agreement_in_force_get(
            kind=AgreementVersion.Kind.PUBLISHER_AGREEMENT
        ),
        "organization": organization,
        "can_accept": (
            organization_can_manage(user=request.user, organization=organization)
            if can_accept is None
            else can_accept
        ),
        "request": request,
    }


@register.inclusion_tag(
    "marketplace/agreements/_operator_link.html", takes_context=True
)
def operator_agreements_link(context: template.Context) -> dict[str, Any]:
    """A link to the operator's pages of the documents, for those who write them."""
    user = context["request"].user
    return {"show": isinstance(user, User) and agreement_editor(user)}
