"""Reads of the site's own documents: the versions in force, what a user still has
to accept, and who accepted what."""

from collections.abc import Iterable

from django.core.cache import cache
from django.db.models import QuerySet

from marketplace.models import (
    AgreementAcceptance,
    AgreementVersion,
    Organization,
    User,
)
from marketplace.selectors.organizations import MANAGER_ROLES, is_operator

Kind = AgreementVersion.Kind

# The documents every user accepts for themselves; the publisher agreement is
# accepted on behalf of a publisher organisation.
USER_KINDS: tuple[str, ...] = (
    Kind.PLATFORM_RULES,
    Kind.USER_AGREEMENT,
    Kind.PRIVACY_POLICY,
)

# The versions in force change only when one is published; the publish service
# deletes this key once its transaction commits.
IN_FORCE_CACHE_KEY = "agreements:in-force:v1"
IN_FORCE_CACHE_SECONDS = 60 * 60


def agreement_editor(user: User) -> bool:
    """Whether the user drafts, edits and publishes the site's documents: staff, or
    an owner or administrator of the platform operator (not its reviewers, who
    review listings and have no say over the terms)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return is_operator(user, roles=MANAGER_ROLES)


def agreement_in_force_map() -> dict[str, AgreementVersion]:
    """The version in force of each kind that has one (the published version with
    the highest number), by kind. Served from the cache when it is warm."""
    cached: dict[str, AgreementVersion] | None = cache.get(IN_FORCE_CACHE_KEY)
    if cached is not None:
        return cached
    in_force: dict[str, AgreementVersion] = {}
    published = AgreementVersion.objects.filter(published_at__isnull=False).order_by(
        "kind", "-number"
    )
    for version in published:
        in_force.setdefault(version.kind, version)
    cache.set(IN_FORCE_CACHE_KEY, in_force, IN_FORCE_CACHE_SECONDS)
    return in_force


def agreement_in_force_list(*, user_kinds_only: bool = False) -> list[AgreementVersion]:
    """The versions in force, in the order of the kinds."""
    in_force = agreement_in_force_map()
    kinds = USER_KINDS if user_kinds_only else tuple(Kind.values)
    return [in_force[kind] for kind in kinds if kind in in_force]


def agreement_in_force_get(*, kind: str) -> AgreementVersion | None:
    return agreement_in_force_map().get(kind)


def agreement_pending_list(*, user: User) -> list[AgreementVersion]:
    """The user documents in force that the user has not accepted. A kind with no
    published version asks nothing; with none at all, no query is made."""
    in_force = agreement_in_force_list(user_kinds_only=True)
    if not in_force:
        return []
    accepted = set(
        AgreementAcceptance.objects.filter(
            user=user,
            organization__isnull=True,
            version_id__in=[version.pk for version in in_force],
        ).values_list("version_id", flat=True)
    )
    return [version for version in in_force if version.pk not in accepted]


def agreement_acceptance_list(*, user: User) -> QuerySet[AgreementAcceptance]:
    """Every acceptance of the user, for themselves or for an organisation, newest
    first."""
    return AgreementAcceptance.objects.filter(user=user).select_related(
        "version", "organization"
    )


def publisher_agreement_accepted(*, organization: Organization) -> bool:
    """Whether the organisation accepted the publisher agreement in force (true
    when none is in force)."""
    version = agreement_in_force_get(kind=Kind.PUBLISHER_AGREEMENT)
    if version is None:
        return True
    return AgreementAcceptance.objects.filter(
        organization=organization, version=version
    ).exists()


def publisher_agreement_pending(
    *, organizations: Iterable[Organization]
) -> list[Organization]:
    """Those of ``organizations`` that have not accepted the publisher agreement in
    force (none when none is in force), in their order, in one query."""
    organizations = list(organizations)
    version = agreement_in_force_get(kind=Kind.PUBLISHER_AGREEMENT)
    if version is None or not organizations:
        return []
    accepted = set(
        AgreementAcceptance.objects.filter(
            version=version, organization__in=organizations
        ).values_list("organization_id", flat=True)
    )
    return [org for org in organizations if org.pk not in accepted]


def agreement_version_get(
    *, kind: str, number: int, include_drafts: bool = False
) -> AgreementVersion | None:
    """One version of a document: a published one, or also a draft when the reader
    may see drafts (the operator)."""
    versions = AgreementVersion.objects.filter(kind=kind, number=number)
    if not include_drafts:
        versions = versions.filter(published_at__isnull=False)
    return versions.first()


def agreement_published_list(*, kind: str) -> QuerySet[AgreementVersion]:
    """The published versions of one document, newest first."""
    return AgreementVersion.objects.filter(
        kind=kind, published_at__isnull=False
    ).order_by("-number")


def agreement_version_list() -> QuerySet[AgreementVersion]:
    """Every version of every document, drafts included, for the operator."""
    return AgreementVersion.objects.select_related(
        "created_by", "published_by"
    ).order_by("kind", "-number")
