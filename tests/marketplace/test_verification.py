import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from marketplace.models import AgentVersion, Membership, Organization
from marketplace.registration import uscc_valid
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y43",
        "9144030071526726XG",
        "91110000100006485K",
        " 91310000775785552l ",
    ],
)
def test_valid_unified_social_credit_codes(code: str) -> None:
    assert uscc_valid(code)


@pytest.mark.parametrize(
    "code",
    ["91350100M000100Y44", "9144030071526726X", "91350100M000100Y4I", "", "O" * 18],
)
def test_invalid_unified_social_credit_codes(code: str) -> None:
    assert not uscc_valid(code)


def _operator() -> Membership:
    operator = OrganizationFactory.create(kind=Organization.Kind.OPERATOR)
    return MembershipFactory.create(organization=operator, role=Role.REVIEWER)


def test_registration_then_operator_verification(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    slug = owner.organization.slug
    api = APIClient()
    api.force_authenticate(owner.user)
    bad = api.post(
        f"/api/v1/organizations/{slug}/registration/", {"number": "91350100M000100Y44"}
    )
    assert bad.status_code == 400
    assert "number" in bad.json()["error"]["details"]
    good = api.post(
        f"/api/v1/organizations/{slug}/registration/", {"number": "91350100M000100Y43"}
    )
    assert good.status_code == 200
    assert good.json()["verified"] is False
    # the publisher cannot verify itself
    assert api.post(f"/api/v1/organizations/{slug}/verify/").status_code == 403
    api.force_authenticate(_operator().user)
    assert api.post(f"/api/v1/organizations/{slug}/verify/").json()["verified"] is True
    # a changed registration needs checking again
    api.force_authenticate(owner.user)
    response = api.post(
        f"/api/v1/organizations/{slug}/registration/",
        {"country": "DE", "number": "HRB 12345"},
    )
    assert response.json()["verified"] is False


def test_a_member_cannot_change_the_registration() -> None:
    member = MembershipFactory.create(role=Role.MEMBER)
    api = APIClient()
    api.force_authenticate(member.user)
    response = api.post(
        f"/api/v1/organizations/{member.organization.slug}/registration/",
        {"number": "91350100M000100Y43"},
    )
    assert response.status_code == 403


def test_the_verified_mark_shows_and_search_filters_on_it(client: Client) -> None:
    verified = AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED, agent__name="Verified agent"
    )
    AgentVersionFactory.create(
        state=AgentVersion.State.PUBLISHED, agent__name="Unverified agent"
    )
    publisher = verified.agent.publisher
    Organization.objects.filter(pk=publisher.pk).update(
        registration_number="91350100M000100Y43"
    )
    from marketplace.services.organizations import organization_verify

    organization_verify(actor=_operator().user, organization=publisher)
    page = client.get(reverse("agent-search"), {"verified": "on"}).context["page"]
    assert [agent.name for agent in page] == ["Verified agent"]
    html = client.get(
        reverse("agent-detail", args=[publisher.slug, verified.agent.slug])
    ).content.decode()
    assert "✓ Verified" in html
    assert (
        "✓ Verified"
        in client.get(
            reverse("organization-detail", args=[publisher.slug])
        ).content.decode()
    )
