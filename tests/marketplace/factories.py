from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from marketplace.declarations import digest
from marketplace.models import (
    Agent,
    AgentVersion,
    Domain,
    Install,
    Membership,
    Organization,
    User,
)
from marketplace.services.agents import agent_refresh_listing

PASSWORD = "a-long-test-password-1"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)
    email_verified_at = factory.LazyFunction(timezone.now)


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    kind = Organization.Kind.PUBLISHER


class MembershipFactory(DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER


def declaration(**overrides: Any) -> dict[str, Any]:
    """A valid capability declaration; keyword arguments replace top-level keys."""
    base: dict[str, Any] = {
        "skills": [
            {
                "id": "draft-reply",
                "name": "Draft replies",
                "description": "Drafts replies to customer e-mails.",
                "tags": ["email"],
                "permissions": ["mail.read", "mail.send"],
            }
        ],
        "inputModes": ["text/plain"],
        "outputModes": ["text/plain"],
        "protocols": [{"type": "a2a", "version": "1.0"}],
        "endpoint": "https://agent.example.com/a2a",
        "deployment": "cloud",
        "permissions": [
            {
                "scope": "mail.read",
                "purpose": "Read the thread",
                "authority": "autonomous",
            },
            {
                "scope": "mail.send",
                "purpose": "Send the reply",
                "authority": "user_authorised",
            },
        ],
        "dependencies": {"models": [{"name": "qwen3", "provider": "Alibaba Cloud"}]},
        "pricing": {"model": "free", "inAppPurchases": {"offered": False}},
    }
    base.update(overrides)
    return base


class DomainFactory(DjangoModelFactory[Domain]):
    class Meta:
        model = Domain
        django_get_or_create = ("code",)

    code = "office"
    name_en = "Office"
    name_zh = "办公"
    risk_tier = Domain.RiskTier.LOW


class AgentFactory(DjangoModelFactory[Agent]):
    class Meta:
        model = Agent

    publisher = factory.SubFactory(OrganizationFactory)
    slug = factory.Sequence(lambda n: f"agent-{n}")
    name = factory.Sequence(lambda n: f"Agent {n}")
    summary = "Answers customer e-mails."
    domain = factory.SubFactory(DomainFactory)
    privacy_policy_url = "https://example.com/privacy"
    terms_url = "https://example.com/terms"
    age_rating = Agent.AgeRating.AGE_18


def _refresh_listing(
    version: AgentVersion, create: bool, extracted: Any, **kwargs: Any
) -> None:
    """What the publishing service does when a version is published."""
    if create and version.state == AgentVersion.State.PUBLISHED:
        agent_refresh_listing(agent=version.agent)
        version.agent.refresh_from_db()


class AgentVersionFactory(DjangoModelFactory[AgentVersion]):
    class Meta:
        model = AgentVersion
        skip_postgeneration_save = True

    agent = factory.SubFactory(AgentFactory)
    version = factory.Sequence(lambda n: f"1.0.{n}")
    declaration = factory.LazyFunction(declaration)
    declaration_digest = factory.LazyAttribute(lambda v: digest(v.declaration))
    state = AgentVersion.State.DRAFT
    published_at = factory.LazyAttribute(
        lambda v: timezone.now() if v.state == AgentVersion.State.PUBLISHED else None
    )

    listing = factory.PostGeneration(_refresh_listing)


class InstallFactory(DjangoModelFactory[Install]):
    """An install as a row (the installs service does more: consent, grants)."""

    class Meta:
        model = Install

    user = factory.SubFactory(UserFactory)
    # A listed agent, unless one is given.
    agent = factory.LazyFunction(
        lambda: AgentVersionFactory.create(state=AgentVersion.State.PUBLISHED).agent
    )
    version = factory.LazyAttribute(lambda install: install.agent.latest_version)
    refresh_secret_hash = "0" * 64
