import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from marketplace.models import Invitation, Membership
from tests.marketplace.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_model_of_the_project_is_in_the_admin() -> None:
    project_models = [
        model
        for app in ("marketplace", "ratings", "ledger")
        for model in apps.get_app_config(app).get_models()
    ]
    assert project_models
    assert [m for m in project_models if m not in admin.site._registry] == []


@pytest.mark.parametrize(
    "model", ["user", "organization", "membership", "invitation", "organizationevent"]
)
def test_admin_lists_search_and_filter(client: Client, model: str) -> None:
    MembershipFactory.create(role=Membership.Role.OWNER)
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    url = reverse(f"admin:marketplace_{model}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "org"}).status_code == 200


def test_staff_revoke_invitations_from_the_admin(client: Client) -> None:
    owner = MembershipFactory.create(role=Membership.Role.OWNER)
    client.force_login(owner.user)
    client.post(
        reverse("organization-settings", args=[owner.organization.slug]),
        {"invite": "1", "email": "x@example.com", "role": "member"},
    )
    invitation = Invitation.objects.get()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:marketplace_invitation_changelist"),
        {"action": "revoke", "_selected_action": [invitation.pk]},
    )
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.REVOKED


def test_memberships_cannot_be_edited_around_the_rules(client: Client) -> None:
    owner = MembershipFactory.create(role=Membership.Role.OWNER)
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    delete = reverse("admin:marketplace_membership_delete", args=[owner.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_non_staff_cannot_open_the_admin(client: Client) -> None:
    client.force_login(UserFactory.create())
    response = client.get(reverse("admin:marketplace_organization_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "model",
    ["certificate", "scheme", "accreditation", "issuerkey", "badge", "statuslist"],
)
def test_certification_is_listed_read_only(client: Client, model: str) -> None:
    from tests.marketplace.certification_fixtures import (
        make_body,
        make_certificate,
        make_scheme,
    )

    body = make_body()
    make_certificate(body, make_scheme(body))
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    url = reverse(f"admin:marketplace_{model}_changelist")
    assert client.get(url).status_code == 200
    assert client.get(url, {"q": "org"}).status_code == 200
    assert client.get(reverse(f"admin:marketplace_{model}_add")).status_code == 403


def test_the_admin_never_shows_a_sealed_private_key(client: Client) -> None:
    from marketplace.models import IssuerKey
    from tests.marketplace.certification_fixtures import (
        make_body,
        make_certificate,
        make_scheme,
    )

    body = make_body()
    make_certificate(body, make_scheme(body))
    key = IssuerKey.objects.get()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:marketplace_issuerkey_change", args=[key.pk]))
    assert page.status_code == 200
    assert key.public_key in page.content.decode()
    assert key.private_key not in page.content.decode()
