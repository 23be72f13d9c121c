"""Agents and their versions, as their publishers write them.

Who may do what:
- Owners, administrators and members of the publisher organisation create and edit
  its agents and draft versions; owners and administrators yank published versions.
- A quarantined agent cannot be edited, and gets no new versions, until the operator
  lifts the quarantine.
- A version is editable only as a draft: once submitted it never changes.
"""

from typing import Any, cast

from django.db import transaction
from django.utils.translation import gettext as _

from marketplace import declarations
from marketplace.exceptions import (
    InvalidAgentCard,
    InvalidDeclaration,
    PermissionDenied,
)
from marketplace.models import (
    Agent,
    AgentEvent,
    AgentVersion,
    Domain,
    Membership,
    Organization,
    PublisherKey,
    User,
)
from marketplace.search import token_text
from marketplace.selectors.organizations import membership_role
from marketplace.services.common import insert_unique

Role = Membership.Role
EDITOR_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MEMBER})

AGENT_FIELDS = (
    "name",
    "summary",
    "description",
    "domain",
    "tags",
    "homepage",
    "privacy_policy_url",
    "terms_url",
    "age_rating",
    "anti_addiction_measures",
    "filing_number",
)


def ensure_editor(*, actor: User, agent_or_publisher: Agent | Organization) -> None:
    publisher = (
        agent_or_publisher.publisher
        if isinstance(agent_or_publisher, Agent)
        else agent_or_publisher
    )
    if membership_role(user=actor, organization=publisher) not in EDITOR_ROLES:
        raise PermissionDenied(
            _("Only members of %(publisher)s can change its agents.")
            % {"publisher": publisher.name}
        )
    if (
        isinstance(agent_or_publisher, Agent)
        and agent_or_publisher.status == Agent.Status.QUARANTINED
    ):
        raise PermissionDenied(
            _(
                "This agent is quarantined: it cannot change until the operator has "
                "reviewed it."
            ),
            code="quarantined",
        )


def _event(
    *,
    agent: Agent,
    actor: User | None,
    action: str,
    version: AgentVersion | None = None,
    from_state: str = "",
    to_state: str = "",
    **payload: Any,
) -> None:
    AgentEvent.objects.create(
        agent=agent,
        version=version,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        payload=payload,
    )


@transaction.atomic
def agent_create(
    *,
    actor: User,
    publisher: Organization,
    slug: str,
    name: str,
    summary: str,
    domain: Domain,
    **fields: Any,
) -> Agent:
    if publisher.kind != Organization.Kind.PUBLISHER:
        raise PermissionDenied(_("Only publisher organisations list agents."))
    ensure_editor(actor=actor, agent_or_publisher=publisher)
    unknown = set(fields) - set(AGENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown agent fields: {sorted(unknown)}")
    agent = Agent(
        publisher=publisher,
        slug=slug,
        name=name,
        summary=summary,
        domain=domain,
        **fields,
    )
    agent.full_clean()
    insert_unique(
        agent,
        field="slug",
        message=_("This publisher has an agent with this short name."),
    )
    _event(agent=agent, actor=actor, action="created")
    agent_refresh_listing(agent=agent)
    return agent


@transaction.atomic
def agent_update(*, actor: User, agent: Agent, **fields: Any) -> Agent:
    agent = (
        Agent.objects.select_for_update().select_related("publisher").get(pk=agent.pk)
    )
    ensure_editor(actor=actor, agent_or_publisher=agent)
    unknown = set(fields) - set(AGENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown agent fields: {sorted(unknown)}")
    changed = sorted(
        field for field, value in fields.items() if getattr(agent, field) != value
    )
    for field, value in fields.items():
        setattr(agent, field, value)
    agent.full_clean()
    agent.save()
    if changed:
        _event(agent=agent, actor=actor, action="updated", fields=changed)
    agent_refresh_listing(agent=agent)
    agent.refresh_from_db()
    return agent


def agent_refresh_listing(*, agent: Agent) -> None:
    """Recompute what listing and search read from the latest published version."""
    latest = (
        agent.versions.filter(state=AgentVersion.State.PUBLISHED)
        .order_by("-published_at", "-pk")
        .first()
    )
    declaration: dict[str, Any] = latest.declaration if latest else {}
    skills = declaration.get("skills", [])
    parts = [
        agent.name,
        agent.summary,
        agent.description,
        " ".join(agent.tags or []),
        agent.publisher.name,
        agent.domain.name_en,
        agent.domain.name_zh,
        *(
            " ".join([s.get("name", ""), s.get("description", ""), *s.get("tags", [])])
            for s in skills
        ),
    ]
    protocols = sorted({p["type"] for p in declaration.get("protocols", [])})
    Agent.objects.filter(pk=agent.pk).update(
        latest_version=latest,
        protocols="".join(f",{p}" for p in protocols) + ("," if protocols else ""),
        deployment=declaration.get("deployment", ""),
        pricing_model=(declaration.get("pricing") or {}).get("model", ""),
        companion=declarations.is_companion(declaration),
        search_name=token_text([agent.name]),
        search_text=token_text(parts),
        published_at=agent.published_at
        or (latest.published_at if latest is not None else None),
    )


def _checked_declaration(declaration: object) -> dict[str, Any]:
    errors = declarations.validate(declaration)
    if errors:
        details: dict[str, list[str]] = {}
        for error in errors:
            path = "declaration" + (f".{error['path']}" if error["path"] else "")
            details.setdefault(path, []).append(error["message"])
        raise InvalidDeclaration(
            _("The capability declaration is not valid: %(count)d problem(s).")
            % {"count": len(errors)},
            details=details,
        )
    return cast(dict[str, Any], declaration)  # the schema says it is an object


@transaction.atomic
def version_create(
    *,
    actor: User,
    agent: Agent,
    version: str,
    declaration: object,
    changelog: str = "",
) -> AgentVersion:
    """A new draft version. The declaration must already be valid: the checks at
    submission look at the whole listing, not at the shape of the JSON."""
    agent = Agent.objects.select_related("publisher").get(pk=agent.pk)
    ensure_editor(actor=actor, agent_or_publisher=agent)
    checked = _checked_declaration(declaration)
    agent_version = AgentVersion(
        agent=agent,
        version=version,
        changelog=changelog,
        declaration=checked,
        declaration_digest=declarations.digest(checked),
    )
    agent_version.full_clean()
    insert_unique(
        agent_version,
        field="version",
        message=_("This agent has a version %(version)s already.")
        % {"version": version},
    )
    _event(
        agent=agent,
        version=agent_version,
        actor=actor,
        action="version_created",
        to_state=AgentVersion.State.DRAFT,
        version_number=version,
    )
    return agent_version


@transaction.atomic
def version_update(
    *,
    actor: User,
    version: AgentVersion,
    declaration: object,
    changelog: str,
) -> AgentVersion:
    """Change a draft. A version that has been submitted never changes."""
    version = (
        AgentVersion.objects.select_for_update()
        .select_related("agent__publisher")
        .get(pk=version.pk)
    )
    ensure_editor(actor=actor, agent_or_publisher=version.agent)
    if version.state != AgentVersion.State.DRAFT:
        raise PermissionDenied(
            _(
                "Version %(version)s was submitted and can no longer change; create a "
                "new version instead."
            )
            % {"version": version.version},
            code="version_immutable",
        )
    checked = _checked_declaration(declaration)
    version.declaration = checked
    version.declaration_digest = declarations.digest(checked)
    version.changelog = changelog
    version.save(update_fields=["declaration", "declaration_digest", "changelog"])
    _event(agent=version.agent, version=version, actor=actor, action="version_updated")
    return version


@transaction.atomic
def version_import_card(
    *,
    actor: User,
    agent: Agent,
    card: object,
    deployment: str = "cloud",
) -> AgentVersion:
    """Create a draft version from an uploaded A2A Agent Card. The card's name and
    description become the listing's; a card that carries signatures must verify
    with one of the publisher's registered keys."""
    from marketplace.protocols.a2a import card_import, card_signature_valid

    agent = Agent.objects.select_related("publisher", "domain").get(pk=agent.pk)
    ensure_editor(actor=actor, agent_or_publisher=agent)
    imported = card_import(card, deployment=deployment)
    if len(imported.description) > Agent._meta.get_field("summary").max_length:  # type: ignore[operator]
        raise InvalidAgentCard(
            _("The card's description is longer than 300 characters."),
            details={"card.description": [_("At most 300 characters.")]},
        )
    if imported.provider and imported.provider != agent.publisher.name:
        raise InvalidAgentCard(
            _(
                "The card names the provider “%(provider)s”, but %(publisher)s "
                "publishes it."
            )
            % {"provider": imported.provider, "publisher": agent.publisher.name},
            details={"card.provider.organization": [_("Not this publisher.")]},
        )
    signed = bool(imported.signatures)
    if signed:
        keys = dict(
            PublisherKey.objects.filter(
                organization=agent.publisher, revoked_at__isnull=True
            ).values_list("kid", "public_key")
        )
        if not card_signature_valid(cast(dict[str, Any], card), keys=keys):
            raise InvalidAgentCard(
                _(
                    "No signature of the card verifies with the keys %(publisher)s "
                    "registered."
                )
                % {"publisher": agent.publisher.name},
                details={"card.signatures": [_("The signature does not verify.")]},
            )
    agent_update(
        actor=actor, agent=agent, name=imported.name, summary=imported.description
    )
    version = version_create(
        actor=actor,
        agent=agent,
        version=imported.version,
        declaration=imported.declaration,
        changelog=_("Imported from an A2A Agent Card."),
    )
    _event(
        agent=agent, version=version, actor=actor, action="card_imported", signed=signed
    )
    return version
