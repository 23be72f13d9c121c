from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Invitation, Membership, Organization
from marketplace.services.organizations import invitation_token
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


def test_creating_an_organisation_makes_the_user_its_owner(client: Client) -> None:
    user = UserFactory.create()
    client.force_login(user)
    response = client.post(
        reverse("organization-create"),
        {"name": "Mingde AI", "slug": "mingde-ai", "kind": "publisher"},
    )
    assert response.status_code == 302
    organization = Organization.objects.get(slug="mingde-ai")
    assert Membership.objects.get(organization=organization).user == user
    assert response["Location"] == reverse("organization-settings", args=["mingde-ai"])


def test_organisation_form_shows_service_errors_on_the_field(client: Client) -> None:
    OrganizationFactory.create(slug="taken")
    client.force_login(UserFactory.create())
    response = client.post(
        reverse("organization-create"),
        {"name": "X", "slug": "taken", "kind": "publisher"},
    )
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors


def test_a_user_cannot_create_a_regulator_through_the_form(client: Client) -> None:
    client.force_login(UserFactory.create())
    response = client.post(
        reverse("organization-create"),
        {"name": "R", "slug": "reg", "kind": "regulator"},
    )
    assert response.status_code == 200
    assert "kind" in response.context["form"].errors
    assert not Organization.objects.exists()


def test_settings_are_for_members_only(client: Client) -> None:
    member = MembershipFactory.create(role=Role.MEMBER)
    url = reverse("organization-settings", args=[member.organization.slug])
    # anonymous: to the sign-in page
    assert client.get(url).status_code == 302
    # a non-member: denied, and nothing about the members shows
    client.force_login(UserFactory.create())
    response = client.get(url)
    assert response.status_code == 403
    assert member.user.username not in response.content.decode()
    # a member: sees the members
    client.force_login(member.user)
    response = client.get(url)
    assert response.status_code == 200
    assert member.user.username in response.content.decode()


def test_the_public_page_of_an_organisation_hides_its_members(client: Client) -> None:
    member = MembershipFactory.create()
    response = client.get(
        reverse("organization-detail", args=[member.organization.slug])
    )
    assert response.status_code == 200
    assert member.organization.name in response.content.decode()
    assert member.user.username not in response.content.decode()


def test_owner_invites_and_the_invitee_accepts_from_the_email(client: Client) -> None:
    # given
    owner = MembershipFactory.create(role=Role.OWNER)
    slug = owner.organization.slug
    client.force_login(owner.user)
    # when: the owner invites
    response = client.post(
        reverse("organization-settings", args=[slug]),
        {"invite": "1", "email": "friend@example.com", "role": "member"},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="friend@example.com")
    # the e-mail goes out from the worker; here the task runs in-process
    from marketplace.tasks import invitation_send

    invitation_send(invitation_id=invitation.pk)
    assert mail.outbox[0].to == ["friend@example.com"]
    # and the invitee follows the link
    friend = UserFactory.create(email="friend@example.com")
    client.force_login(friend)
    url = reverse("invitation-accept", args=[invitation_token(invitation=invitation)])
    assert url in mail.outbox[0].body
    assert client.get(url).status_code == 200
    response = client.post(url)
    # then
    assert response.status_code == 302
    assert Membership.objects.get(user=friend).role == Role.MEMBER


def test_an_invalid_invitation_link_is_a_404(client: Client) -> None:
    assert (
        client.get(reverse("invitation-accept", args=["not-a-token"])).status_code
        == 404
    )


def test_a_member_cannot_invite(client: Client) -> None:
    member = MembershipFactory.create(role=Role.MEMBER)
    client.force_login(member.user)
    response = client.post(
        reverse("organization-settings", args=[member.organization.slug]),
        {"invite": "1", "email": "friend@example.com", "role": "member"},
    )
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_owner_removes_a_member(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    client.force_login(owner.user)
    response = client.post(
        reverse("membership-remove", args=[owner.organization.slug, member.pk])
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_a_member_cannot_remove_the_owner(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization, role=Role.MEMBER)
    client.force_login(member.user)
    response = client.post(
        reverse("membership-remove", args=[owner.organization.slug, owner.pk])
    )
    assert response.status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_a_non_member_cannot_remove_anyone_or_probe_memberships(client: Client) -> None:
    member = MembershipFactory.create()
    client.force_login(UserFactory.create())
    url = reverse("membership-remove", args=[member.organization.slug, member.pk])
    assert client.post(url).status_code == 403
    missing = reverse("membership-remove", args=[member.organization.slug, 999999])
    assert client.post(missing).status_code == 403
    assert Membership.objects.filter(pk=member.pk).exists()


def test_removal_needs_post(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    client.force_login(owner.user)
    url = reverse("membership-remove", args=[owner.organization.slug, member.pk])
    assert client.get(url).status_code == 405
    assert Membership.objects.filter(pk=member.pk).exists()


def test_the_last_owner_leaving_is_refused_with_a_message(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    response = client.post(
        reverse("membership-remove", args=[owner.organization.slug, owner.pk]),
        follow=True,
    )
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_organisation_directory_and_settings_keep_a_constant_query_count(
    client: Client,
) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    client.force_login(owner.user)
    settings_url = reverse("organization-settings", args=[owner.organization.slug])
    counts = []
    for round_ in range(2):
        with CaptureQueriesContext(connection) as directory:
            assert client.get(reverse("organization-list")).status_code == 200
        with CaptureQueriesContext(connection) as page:
            assert client.get(settings_url).status_code == 200
        counts.append((len(directory), len(page)))
        for index in range(5):
            OrganizationFactory.create()
            MembershipFactory.create(organization=owner.organization)
            Invitation.objects.create(
                organization=owner.organization,
                email=f"i{round_}-{index}@example.com",
                role=Role.MEMBER,
                expires_at=timezone.now() + timedelta(days=1),
            )
    # session, user, one query for the directory, one for the unread messages
    assert counts[0] == counts[1] == (4, counts[0][1])
    # the settings page's selectors each check the actor's membership or role
    assert counts[0][1] <= 12


def test_a_nul_character_in_the_directory_search_is_ignored(client: Client) -> None:
    OrganizationFactory.create(name="Mingde AI")
    response = client.get(reverse("organization-list"), {"q": "a\x00b", "kind": "nope"})
    assert response.status_code == 200
    assert "Mingde AI" in response.content.decode()


def test_members_below_admin_do_not_see_pending_invitations(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    Invitation.objects.create(
        organization=owner.organization,
        email="secret-hire@example.com",
        role=Role.MEMBER,
        expires_at=timezone.now() + timedelta(days=1),
    )
    url = reverse("organization-settings", args=[owner.organization.slug])
    client.force_login(owner.user)
    assert "secret-hire@example.com" in client.get(url).content.decode()
    client.force_login(member.user)
    assert "secret-hire@example.com" not in client.get(url).content.decode()


def test_a_member_cannot_revoke_an_invitation(client: Client) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    invitation = Invitation.objects.create(
        organization=owner.organization,
        email="x@example.com",
        role=Role.MEMBER,
        expires_at=timezone.now() + timedelta(days=1),
    )
    client.force_login(member.user)
    url = reverse("invitation-revoke", args=[owner.organization.slug, invitation.pk])
    assert client.post(url).status_code == 403
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING


def test_a_double_clicked_remove_is_a_404_not_a_500(
    client: Client,
) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    client.force_login(owner.user)
    url = reverse("membership-remove", args=[owner.organization.slug, member.pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 404
