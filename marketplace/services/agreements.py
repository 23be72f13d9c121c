"""The site's own documents: the operator drafts and publishes versions of them,
users accept the versions in force (at sign-up, or when asked after a change), and
publishers accept the publisher agreement before their first submission.

A published version never changes; the published version of a kind with the
highest number is the one in force. Only one draft per kind is open at a time, so
that numbers follow the order of publication.
"""

from collections.abc import Iterable

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.exceptions import (
    AgreementsNotAccepted,
    ApplicationError,
    Conflict,
    PermissionDenied,
    PublisherAgreementNotAccepted,
)
from marketplace.models import (
    AgreementAcceptance,
    AgreementVersion,
    Organization,
    User,
)
from marketplace.selectors.agreements import (
    IN_FORCE_CACHE_KEY,
    agreement_editor,
    agreement_in_force_get,
    agreement_in_force_list,
    agreement_pending_list,
    publisher_agreement_accepted,
)
from marketplace.selectors.organizations import MANAGER_ROLES, membership_role
from marketplace.services.common import insert_unique

Kind = AgreementVersion.Kind
Context = AgreementAcceptance.Context

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 100_000
SUMMARY_MAX_LENGTH = 5_000


def ensure_agreement_editor(actor: User) -> None:
    """Staff and the operator's owners and administrators write the documents; the
    operator's reviewers do not."""
    if not agreement_editor(actor):
        raise PermissionDenied(
            _(
                "Only staff and the platform operator's owners and administrators "
                "edit these documents."
            )
        )


def _clean_texts(
    *,
    title_en: str,
    title_zh: str,
    body_en: str,
    body_zh: str,
    summary_en: str,
    summary_zh: str,
) -> dict[str, str]:
    texts = {
        "title_en": title_en.strip(),
        "title_zh": title_zh.strip(),
        "body_en": body_en.strip(),
        "body_zh": body_zh.strip(),
        "summary_en": summary_en.strip(),
        "summary_zh": summary_zh.strip(),
    }
    limits = {"title": TITLE_MAX_LENGTH, "body": BODY_MAX_LENGTH}
    errors: dict[str, list[str]] = {}
    for field, value in texts.items():
        part = field.rsplit("_", 1)[0]
        limit = limits.get(part, SUMMARY_MAX_LENGTH)
        if part in limits and not value:
            errors[field] = [_("Write this in both languages.")]
        elif len(value) > limit:
            errors[field] = [
                _("Keep this to %(max)d characters.") % {"max": limit},
            ]
    if errors:
        raise ApplicationError(_("Some fields are not valid."), details=errors)
    return texts


def _forget_in_force() -> None:
    """Drop the cached versions in force, now and once the transaction commits (so
    that a request reading in between does not keep the old ones)."""
    cache.delete(IN_FORCE_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(IN_FORCE_CACHE_KEY))


@transaction.atomic
def agreement_draft_create(
    *,
    actor: User,
    kind: str,
    title_en: str,
    title_zh: str,
    body_en: str,
    body_zh: str,
    summary_en: str = "",
    summary_zh: str = "",
) -> AgreementVersion:
    """A new draft of a document, numbered after its latest version."""
    ensure_agreement_editor(actor)
    if kind not in Kind.values:
        raise ApplicationError.on_field("kind", _("Choose a document."))
    texts = _clean_texts(
        title_en=title_en,
        title_zh=title_zh,
        body_en=body_en,
        body_zh=body_zh,
        summary_en=summary_en,
        summary_zh=summary_zh,
    )
    versions = AgreementVersion.objects.select_for_update().filter(kind=kind)
    if versions.filter(published_at__isnull=True).exists():
        raise Conflict(
            _("This document has a draft already: edit it, or publish it first."),
            code="draft_exists",
        )
    latest = versions.order_by("-number").values_list("number", flat=True).first()
    version = AgreementVersion(
        kind=kind, number=(latest or 0) + 1, created_by=actor, **texts
    )
    insert_unique(
        version,
        field="kind",
        message=_(
            "Someone wrote a version of this document at the same time; try again."
        ),
    )
    return version


@transaction.atomic
def agreement_draft_update(
    *,
    actor: User,
    version: AgreementVersion,
    title_en: str,
    title_zh: str,
    body_en: str,
    body_zh: str,
    summary_en: str = "",
    summary_zh: str = "",
) -> AgreementVersion:
    """Edit a draft. A published version never changes."""
    ensure_agreement_editor(actor)
    version = AgreementVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise Conflict(
            _("A published version never changes: write a new version instead."),
            code="agreement_published",
        )
    texts = _clean_texts(
        title_en=title_en,
        title_zh=title_zh,
        body_en=body_en,
        body_zh=body_zh,
        summary_en=summary_en,
        summary_zh=summary_zh,
    )
    for field, value in texts.items():
        setattr(version, field, value)
    version.save(update_fields=list(texts))
    return version


@transaction.atomic
def agreement_publish(*, actor: User, version: AgreementVersion) -> AgreementVersion:
    """Put a draft in force. A version after the first says what changed, in both
    languages, for the people who accepted the one before."""
    ensure_agreement_editor(actor)
    version = AgreementVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise Conflict(
            _("This version is published already."), code="agreement_published"
        )
    if version.number > 1:
        missing = {
            field: [_("Say what changed, in both languages.")]
            for field in ("summary_en", "summary_zh")
            if not getattr(version, field).strip()
        }
        if missing:
            raise ApplicationError(
                _("Say what changed since the version before, in both languages."),
                code="summary_missing",
                details=missing,
            )
    now = timezone.now()
    moved = AgreementVersion.objects.filter(
        pk=version.pk, published_at__isnull=True
    ).update(published_at=now, published_by=actor)
    if not moved:  # pragma: no cover - the row is locked above
        raise Conflict(_("This version is published already."))
    version.published_at = now
    version.published_by = actor
    _forget_in_force()
    return version


@transaction.atomic
def agreements_accept(
    *, user: User, version_ids: Iterable[int], context: str = Context.PROMPT
) -> list[AgreementAcceptance]:
    """Record that the user accepted these versions, each one in force and one of
    the user documents. Accepting a version again changes nothing."""
    if not user.is_authenticated or not user.is_active:
        raise PermissionDenied()
    if context not in Context.values or context == Context.PUBLISHER:
        raise ApplicationError.on_field("context", _("Not a way of accepting."))
    wanted = set(version_ids)
    if not wanted:
        raise ApplicationError.on_field(
            "versions", _("Choose the documents you accept.")
        )
    in_force = {
        version.pk: version for version in agreement_in_force_list(user_kinds_only=True)
    }
    stale = sorted(wanted - set(in_force))
    if stale:
        message = _(
            "Only the versions in force can be accepted; these are not: %(ids)s."
        ) % {"ids": ", ".join(str(pk) for pk in stale)}
        raise ApplicationError(
            message, code="agreement_not_in_force", details={"versions": [message]}
        )
    AgreementAcceptance.objects.bulk_create(
        [
            AgreementAcceptance(user=user, version=in_force[pk], context=context)
            for pk in sorted(wanted)
        ],
        ignore_conflicts=True,
    )
    return list(
        AgreementAcceptance.objects.filter(
            user=user, organization__isnull=True, version_id__in=wanted
        ).select_related("version")
    )


@transaction.atomic
def publisher_agreement_accept(
    *, actor: User, organization: Organization
) -> AgreementAcceptance:
    """An owner or administrator of a publisher accepts the publisher agreement in
    force on its behalf. Accepting it again changes nothing."""
    if organization.kind != Organization.Kind.PUBLISHER:
        raise ApplicationError(
            _("Only publishers accept the publisher agreement."),
            code="not_a_publisher",
        )
    if membership_role(user=actor, organization=organization) not in MANAGER_ROLES:
        raise PermissionDenied(
            _(
                "Only the publisher's owners and administrators accept the "
                "publisher agreement."
            )
        )
    agreements_ensure_accepted(user=actor)
    version = agreement_in_force_get(kind=Kind.PUBLISHER_AGREEMENT)
    if version is None:
        raise ApplicationError(
            _("There is no publisher agreement in force."),
            code="agreement_not_in_force",
        )
    acceptance = AgreementAcceptance.objects.filter(
        organization=organization, version=version
    ).first()
    if acceptance is not None:
        return acceptance
    acceptance = AgreementAcceptance(
        user=actor,
        version=version,
        organization=organization,
        context=Context.PUBLISHER,
    )
    try:
        with transaction.atomic():
            acceptance.save(force_insert=True)
    except IntegrityError:  # another owner accepted it at the same moment
        return AgreementAcceptance.objects.get(
            organization=organization, version=version
        )
    return acceptance


def agreements_ensure_accepted(*, user: User) -> None:
    """Deny a write to a user who has not accepted the documents in force. The
    first rule of every write a user makes (install, review, report)."""
    if not user.is_authenticated:
        return
    pending = agreement_pending_list(user=user)
    if not pending:
        return
    names = ", ".join(str(Kind(version.kind).label) for version in pending)
    raise AgreementsNotAccepted(
        _(
            "These documents changed: %(names)s. Read and accept them at %(url)s "
            "before you continue."
        )
        % {"names": names, "url": reverse("agreements-accept")}
    )


def publisher_agreement_ensure_accepted(*, organization: Organization) -> None:
    """Deny a submission by a publisher that has not accepted the publisher
    agreement in force."""
    if publisher_agreement_accepted(organization=organization):
        return
    raise PublisherAgreementNotAccepted(
        _(
            "%(name)s has not accepted the publisher agreement in force. An owner or "
            "administrator accepts it in the console at %(url)s before the first "
            "submission."
        )
        % {"name": organization.name, "url": reverse("console")}
    )
