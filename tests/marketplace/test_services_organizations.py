from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from marketplace.exceptions import (
    Conflict,
    InvalidRole,
    InvitationNotUsable,
    NotFound,
    PermissionDenied,
)
from marketplace.models import Invitation, Membership, Organization, OrganizationEvent
from marketplace.services import organizations as services
from marketplace.tasks import invitation_send as invitation_send_task
from tests.marketplace.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


def _org_with(*roles: str) -> tuple[Organization, list[Membership]]:
    organization = OrganizationFactory.create(kind=Organization.Kind.INDUSTRY_BODY)
    return organization, [
        MembershipFactory.create(organization=organization, role=role) for role in roles
    ]


def test_organization_create_makes_the_creator_owner_and_records_it() -> None:
    # given
    creator = UserFactory.create()
    # when
    organization = services.organization_create(
        actor=creator, name="Mingde AI", slug="mingde-ai", kind="publisher"
    )
    # then
    membership = Membership.objects.get(organization=organization)
    assert membership.user == creator
    assert membership.role == Role.OWNER
    event = OrganizationEvent.objects.get(organization=organization)
    assert event.action == OrganizationEvent.Action.CREATED
    assert event.actor == creator


@pytest.mark.parametrize(
    "slug", ["Bad Slug", "a", "-lead", "trail-", "dou--ble", "x" * 51]
)
def test_organization_create_refuses_bad_slugs_and_writes_nothing(slug: str) -> None:
    with pytest.raises(ValidationError) as error:
        services.organization_create(
            actor=UserFactory.create(), name="X", slug=slug, kind="publisher"
        )
    assert "slug" in error.value.message_dict
    assert not Organization.objects.exists()
    assert not Membership.objects.exists()


def test_organization_create_refuses_a_taken_slug() -> None:
    OrganizationFactory.create(slug="taken")
    with pytest.raises(ValidationError) as error:
        services.organization_create(
            actor=UserFactory.create(), name="X", slug="taken", kind="publisher"
        )
    assert "slug" in error.value.message_dict


@pytest.mark.parametrize("slug", ["console", "dishonesty-list", "methodologies"])
def test_organization_create_refuses_a_slug_the_credit_pages_use(slug: str) -> None:
    with pytest.raises(ValidationError) as error:
        services.organization_create(
            actor=UserFactory.create(), name="X", slug=slug, kind="publisher"
        )
    assert "reserved" in error.value.message_dict["slug"][0]
    assert not Organization.objects.exists()


def test_only_staff_create_regulators_and_operators() -> None:
    with pytest.raises(PermissionDenied):
        services.organization_create(
            actor=UserFactory.create(), name="R", slug="regulator", kind="regulator"
        )
    staff = UserFactory.create(is_staff=True)
    organization = services.organization_create(
        actor=staff, name="R", slug="regulator", kind="regulator"
    )
    assert organization.kind == "regulator"


def test_invitation_create_by_owner_enqueues_the_email_on_commit(
    django_capture_on_commit_callbacks: object,
) -> None:
    # given
    organization, (owner,) = _org_with(Role.OWNER)
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # type: ignore[operator]
        invitation = services.invitation_create(
            actor=owner.user,
            organization=organization,
            email="New.Person@Example.com",
            role=Role.ANALYST,
        )
    # then
    assert len(callbacks) == 1
    assert invitation.email == "new.person@example.com"
    assert invitation.state == Invitation.State.PENDING
    assert invitation.expires_at > timezone.now() + timedelta(days=13)


def test_invitation_send_mails_a_working_link_once() -> None:
    # given
    organization, (owner,) = _org_with(Role.OWNER)
    invitation = Invitation.objects.create(
        organization=organization,
        email="new@example.com",
        role=Role.MEMBER,
        invited_by=owner.user,
        expires_at=timezone.now() + timedelta(days=1),
    )
    # when: the task runs twice, as an at-least-once broker may make it
    first = invitation_send_task(invitation_id=invitation.pk)
    second = invitation_send_task(invitation_id=invitation.pk)
    # then
    assert (first, second) == (True, False)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]
    token = services.invitation_token(invitation=invitation)
    assert f"http://testserver/invitations/{token}/" in mail.outbox[0].body
    invitation.refresh_from_db()
    assert invitation.sent_at is not None


def test_invitation_send_of_a_missing_invitation_does_nothing() -> None:
    assert invitation_send_task(invitation_id=987654) is False
    assert mail.outbox == []


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ANALYST, Role.COMMITTEE_MEMBER])
def test_members_below_admin_cannot_invite(role: str) -> None:
    organization, (member,) = _org_with(role)
    with pytest.raises(PermissionDenied):
        services.invitation_create(
            actor=member.user,
            organization=organization,
            email="x@example.com",
            role=Role.MEMBER,
        )
    assert not Invitation.objects.exists()


def test_admins_invite_members_but_not_owners_or_admins() -> None:
    organization, (admin,) = _org_with(Role.ADMIN)
    services.invitation_create(
        actor=admin.user,
        organization=organization,
        email="m@example.com",
        role=Role.MEMBER,
    )
    for role in (Role.OWNER, Role.ADMIN):
        with pytest.raises(PermissionDenied):
            services.invitation_create(
                actor=admin.user,
                organization=organization,
                email="o@example.com",
                role=role,
            )


def test_a_role_the_kind_does_not_have_is_refused() -> None:
    publisher = OrganizationFactory.create(kind=Organization.Kind.PUBLISHER)
    owner = MembershipFactory.create(organization=publisher, role=Role.OWNER)
    with pytest.raises(InvalidRole) as error:
        services.invitation_create(
            actor=owner.user,
            organization=publisher,
            email="a@example.com",
            role=Role.ANALYST,
        )
    assert error.value.status_code == 400
    assert "role" in error.value.details


def test_a_second_pending_invitation_or_an_existing_member_is_a_conflict() -> None:
    organization, (owner, member) = _org_with(Role.OWNER, Role.MEMBER)
    services.invitation_create(
        actor=owner.user,
        organization=organization,
        email="a@example.com",
        role=Role.MEMBER,
    )
    with pytest.raises(Conflict):
        services.invitation_create(
            actor=owner.user,
            organization=organization,
            email="A@example.com",
            role=Role.MEMBER,
        )
    with pytest.raises(Conflict):
        services.invitation_create(
            actor=owner.user,
            organization=organization,
            email=member.user.email.upper(),
            role=Role.MEMBER,
        )


def _pending(
    organization: Organization, email: str, role: str = Role.MEMBER
) -> Invitation:
    return Invitation.objects.create(
        organization=organization,
        email=email,
        role=role,
        expires_at=timezone.now() + timedelta(days=1),
    )


def test_invitation_accept_adds_the_member_with_the_invited_role() -> None:
    # given
    organization, _ = _org_with(Role.OWNER)
    invitee = UserFactory.create(email="invitee@example.com")
    invitation = _pending(organization, "INVITEE@example.com", Role.COMMITTEE_MEMBER)
    token = services.invitation_token(invitation=invitation)
    # when
    membership = services.invitation_accept(
        actor=invitee, invitation=services.invitation_from_token(token=token)
    )
    # then
    assert membership.role == Role.COMMITTEE_MEMBER
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.ACCEPTED
    assert invitation.accepted_by == invitee
    with pytest.raises(InvitationNotUsable):
        services.invitation_accept(actor=invitee, invitation=invitation)


def test_invitation_cannot_be_accepted_by_another_address() -> None:
    organization, _ = _org_with(Role.OWNER)
    invitation = _pending(organization, "someone@example.com")
    with pytest.raises(PermissionDenied):
        services.invitation_accept(actor=UserFactory.create(), invitation=invitation)
    assert Membership.objects.filter(organization=organization).count() == 1


def test_expired_or_revoked_invitations_cannot_be_accepted() -> None:
    organization, (owner,) = _org_with(Role.OWNER)
    invitee = UserFactory.create(email="late@example.com")
    late = _pending(organization, "late@example.com")
    Invitation.objects.filter(pk=late.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(InvitationNotUsable):
        services.invitation_accept(actor=invitee, invitation=late)
    # the sweep closes it
    assert services.invitation_expire_due() == 1
    late.refresh_from_db()
    assert late.state == Invitation.State.EXPIRED

    revoked = _pending(organization, "late@example.com")
    services.invitation_revoke(actor=owner.user, invitation=revoked)
    with pytest.raises(InvitationNotUsable):
        services.invitation_accept(actor=invitee, invitation=revoked)


def test_a_tampered_token_is_refused() -> None:
    organization, _ = _org_with(Role.OWNER)
    token = services.invitation_token(
        invitation=_pending(organization, "t@example.com")
    )
    with pytest.raises(InvitationNotUsable):
        services.invitation_from_token(token=token[:-2] + "xx")


def test_owner_removes_a_member_and_the_removal_is_recorded() -> None:
    organization, (owner, member) = _org_with(Role.OWNER, Role.MEMBER)
    services.membership_remove(actor=owner.user, membership=member)
    assert not Membership.objects.filter(pk=member.pk).exists()
    event = OrganizationEvent.objects.filter(organization=organization).first()
    assert event is not None
    assert event.action == OrganizationEvent.Action.MEMBER_REMOVED
    assert event.payload == {"user": member.user.username, "role": Role.MEMBER}


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ANALYST, Role.ADMIN])
def test_a_member_cannot_remove_the_owner(role: str) -> None:
    _organization, (owner, other) = _org_with(Role.OWNER, role)
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=other.user, membership=owner)
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_a_member_cannot_remove_another_member_but_an_admin_can() -> None:
    _organization, (_owner, admin, first, second) = _org_with(
        Role.OWNER, Role.ADMIN, Role.MEMBER, Role.MEMBER
    )
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=first.user, membership=second)
    services.membership_remove(actor=admin.user, membership=second)
    assert not Membership.objects.filter(pk=second.pk).exists()


def test_an_admin_cannot_remove_another_admin() -> None:
    _organization, (_owner, admin, other_admin) = _org_with(
        Role.OWNER, Role.ADMIN, Role.ADMIN
    )
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=admin.user, membership=other_admin)


def test_an_outsider_cannot_remove_anyone() -> None:
    _organization, (member,) = _org_with(Role.MEMBER)
    _outsider_org, (outsider_owner,) = _org_with(Role.OWNER)
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=outsider_owner.user, membership=member)


def test_members_may_leave_but_the_last_owner_may_not() -> None:
    organization, (owner, member) = _org_with(Role.OWNER, Role.MEMBER)
    services.membership_remove(actor=member.user, membership=member)
    assert (
        OrganizationEvent.objects.filter(organization=organization).first().action  # type: ignore[union-attr]
        == OrganizationEvent.Action.MEMBER_LEFT
    )
    with pytest.raises(Conflict):
        services.membership_remove(actor=owner.user, membership=owner)
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_owners_change_roles_but_never_leave_the_organisation_without_one() -> None:
    organization, (owner, member) = _org_with(Role.OWNER, Role.MEMBER)
    with pytest.raises(Conflict):
        services.membership_change_role(
            actor=owner.user, membership=owner, role=Role.MEMBER
        )
    services.membership_change_role(
        actor=owner.user, membership=member, role=Role.OWNER
    )
    services.membership_change_role(
        actor=owner.user, membership=owner, role=Role.ANALYST
    )
    roles = dict(
        Membership.objects.filter(organization=organization).values_list("pk", "role")
    )
    assert roles == {owner.pk: Role.ANALYST, member.pk: Role.OWNER}


def test_only_owners_change_roles() -> None:
    _organization, (_owner, admin, member) = _org_with(
        Role.OWNER, Role.ADMIN, Role.MEMBER
    )
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            actor=admin.user, membership=member, role=Role.ADMIN
        )
    member.refresh_from_db()
    assert member.role == Role.MEMBER


def test_invitation_expire_due_leaves_open_invitations_alone() -> None:
    organization, _ = _org_with(Role.OWNER)
    open_one = _pending(organization, "open@example.com")
    assert services.invitation_expire_due() == 0
    open_one.refresh_from_db()
    assert open_one.state == Invitation.State.PENDING


def test_an_unconfirmed_address_cannot_accept_an_invitation() -> None:
    organization, _ = _org_with(Role.OWNER)
    squatter = UserFactory.create(email="victim@corp.example", email_verified_at=None)
    invitation = _pending(organization, "victim@corp.example")
    with pytest.raises(PermissionDenied) as error:
        services.invitation_accept(actor=squatter, invitation=invitation)
    assert error.value.code == "email_not_verified"
    assert not Membership.objects.filter(user=squatter).exists()


def test_removing_a_membership_that_is_already_gone_is_not_found() -> None:
    _organization, (owner, member) = _org_with(Role.OWNER, Role.MEMBER)
    services.membership_remove(actor=owner.user, membership=member)
    with pytest.raises(NotFound):
        services.membership_remove(actor=owner.user, membership=member)
    with pytest.raises(NotFound):
        services.membership_change_role(
            actor=owner.user, membership=member, role=Role.ADMIN
        )


def test_an_admin_cannot_remove_demote_or_make_owners() -> None:
    organization, (owner, admin, member) = _org_with(
        Role.OWNER, Role.ADMIN, Role.MEMBER
    )
    with pytest.raises(PermissionDenied):
        services.membership_remove(actor=admin.user, membership=owner)
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            actor=admin.user, membership=owner, role=Role.MEMBER
        )
    with pytest.raises(PermissionDenied):
        services.membership_change_role(
            actor=admin.user, membership=member, role=Role.OWNER
        )
    roles = dict(
        Membership.objects.filter(organization=organization).values_list("pk", "role")
    )
    assert roles == {owner.pk: Role.OWNER, admin.pk: Role.ADMIN, member.pk: Role.MEMBER}


def test_revoking_needs_a_manager_of_that_organisation() -> None:
    organization, (_owner, member) = _org_with(Role.OWNER, Role.MEMBER)
    _other, (outsider,) = _org_with(Role.OWNER)
    invitation = _pending(organization, "someone@example.com")
    for actor in (member.user, outsider.user):
        with pytest.raises(PermissionDenied):
            services.invitation_revoke(actor=actor, invitation=invitation)
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING


def test_a_lapsed_invitation_is_not_mailed() -> None:
    organization, _ = _org_with(Role.OWNER)
    invitation = _pending(organization, "late@example.com")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert invitation_send_task(invitation_id=invitation.pk) is False
    assert mail.outbox == []


def test_a_slug_taken_in_a_race_is_a_conflict_not_a_crash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: validation passes (as it would if the other insert had not committed)
    OrganizationFactory.create(slug="raced")
    monkeypatch.setattr(
        Organization, "validate_unique", lambda self, exclude=None: None
    )
    monkeypatch.setattr(
        Organization, "validate_constraints", lambda self, exclude=None: None
    )
    # when / then: the database's constraint has the last word
    with pytest.raises(Conflict) as error:
        services.organization_create(
            actor=UserFactory.create(), name="X", slug="raced", kind="publisher"
        )
    assert "slug" in error.value.details
    assert Organization.objects.filter(slug="raced").count() == 1
