"""Who manages an organisation, who sees its domain claim, and which domain it has
proved."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from marketplace.models import Membership, Organization
from marketplace.selectors.organizations import (
    organization_can_manage,
    organization_domain_claim_get,
)
from tests.marketplace.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.mark.parametrize(
    ("role", "manages"),
    [(Role.OWNER, True), (Role.ADMIN, True), (Role.MEMBER, False)],
)
def test_owners_and_administrators_manage_and_see_the_claim(
    role: str, manages: bool
) -> None:
    membership = MembershipFactory.create(role=role)
    organization = membership.organization
    assert (
        organization_can_manage(user=membership.user, organization=organization)
        is manages
    )
    claim = organization_domain_claim_get(
        actor=membership.user, organization=organization
    )
    assert claim == (organization if manages else None)


def test_strangers_anonymous_users_and_other_organisations_owners_do_not() -> None:
    organization = MembershipFactory.create(role=Role.OWNER).organization
    others: list[AbstractBaseUser | AnonymousUser] = [
        UserFactory.create(),
        AnonymousUser(),
        MembershipFactory.create(role=Role.OWNER).user,
    ]
    for user in others:
        assert not organization_can_manage(user=user, organization=organization)
        assert (
            organization_domain_claim_get(actor=user, organization=organization) is None
        )


@pytest.mark.parametrize(
    ("domain", "verified_at", "shown"),
    [
        ("", None, None),
        ("mingde-ai.cn", None, None),
        ("mingde-ai.cn", datetime(2026, 1, 1, tzinfo=UTC), "mingde-ai.cn"),
        ("", datetime(2026, 1, 1, tzinfo=UTC), None),
    ],
)
def test_the_verified_domain_is_the_domain_once_proved(
    domain: str, verified_at: datetime | None, shown: str | None
) -> None:
    organization = Organization(domain=domain, domain_verified_at=verified_at)
    assert organization.verified_domain == shown
