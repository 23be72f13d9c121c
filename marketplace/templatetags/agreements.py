"""The publisher agreement prompt of the console:
``{% publisher_agreement_prompt organization %}``."""

from typing import Any

from django import template

from marketplace.models import AgreementVersion, Organization
from marketplace.selectors.agreements import (
    agreement_in_force_get,
    publisher_agreement_accepted,
)
from marketplace.selectors.organizations import organization_can_manage

register = template.Library()


@register.inclusion_tag(
    "marketplace/agreements/_publisher_prompt_body.html", takes_context=True
)
def publisher_agreement_prompt(
    context: template.Context, organization: Organization
) -> dict[str, Any]:
    """When the publisher has not accepted the publisher agreement in force: the
    agreement's link, and the form to accept it for its owners and administrators.
    Nothing otherwise."""
    request = context["request"]
    if publisher_agreement_accepted(organization=organization):
        return {"version": None}
    return {
        "version": agreement_in_force_get(
            kind=AgreementVersion.Kind.PUBLISHER_AGREEMENT
        ),
        "organization": organization,
        "can_accept": organization_can_manage(
            user=request.user, organization=organization
        ),
        "request": request,
    }
