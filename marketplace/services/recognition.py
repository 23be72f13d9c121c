"""Mutual recognition: the operator registers another platform's issuer key as
trusted, and a publisher imports a credential that platform issued to one of its
agents. The credential is shown, with its origin, only after its signature verified
against that key and it names the agent; its status on the other platform cannot be
checked from here (its status list lives there), which the page says.
"""

import binascii
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config import keys
from marketplace import credentials
from marketplace.exceptions import ApplicationError, PermissionDenied
from marketplace.models import Agent, ImportedCredential, TrustedIssuer, User
from marketplace.selectors.organizations import is_operator, membership_role
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.common import insert_unique

# A credential whose status could not be checked here (its list is the other
# platform's) is accepted; one that is invalid, revoked, suspended or expired is not.
IMPORTABLE = frozenset(
    {credentials.VerificationStatus.VALID, credentials.VerificationStatus.UNKNOWN}
)


@transaction.atomic
def trusted_issuer_add(
    *,
    actor: User,
    name: str,
    issuer_id: str,
    public_key: str,
    kid: str = "",
    platform_url: str = "",
) -> TrustedIssuer:
    """Trust ``public_key`` (an Ed25519 key, base64url) for credentials whose
    ``iss`` is ``issuer_id``. The key id defaults to the key's RFC 7638
    thumbprint."""
    if not is_operator(actor):
        raise PermissionDenied(
            _("Only the platform operator registers trusted issuers.")
        )
    name = name.strip()
    issuer_id = issuer_id.strip()
    public_key = public_key.strip()
    if not name:
        raise ApplicationError.on_field("name", _("Name the issuer."))
    if not issuer_id.startswith(("https://", "did:")) or len(issuer_id) > 500:
        raise ApplicationError.on_field(
            "issuer_id",
            _("The issuer id is the https:// URL or DID the credentials name."),
        )
    try:
        raw = keys.b64url_decode(public_key)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise ApplicationError.on_field(
            "public_key", _("Give the Ed25519 public key: 32 bytes in base64url.")
        )
    platform_url = platform_url.strip()
    if platform_url and (
        not platform_url.startswith("https://") or len(platform_url) > 200
    ):
        raise ApplicationError.on_field(
            "platform_url", _("The platform's address must be an https:// URL.")
        )
    kid = kid.strip() or keys.okp_thumbprint(public_key)
    if len(kid) > 200:
        raise ApplicationError.on_field("kid", _("The key id is too long."))
    issuer = TrustedIssuer(
        name=name[:200],
        issuer_id=issuer_id,
        kid=kid,
        public_key=keys.b64url(raw),
        platform_url=platform_url,
        added_by=actor,
    )
    insert_unique(
        issuer, field="kid", message=_("This issuer key is registered already.")
    )
    return issuer


@transaction.atomic
def trusted_issuer_revoke(*, actor: User, issuer: TrustedIssuer) -> TrustedIssuer:
    """Stop trusting the key: its imported credentials are no longer shown."""
    if not is_operator(actor):
        raise PermissionDenied(
            _("Only the platform operator registers trusted issuers.")
        )
    TrustedIssuer.objects.filter(pk=issuer.pk, revoked_at=None).update(
        revoked_at=timezone.now()
    )
    issuer.refresh_from_db()
    return issuer


def _trusted_jwks() -> tuple[dict[str, list[dict[str, str]]], dict[str, TrustedIssuer]]:
    issuers = {
        issuer.kid: issuer for issuer in TrustedIssuer.objects.filter(revoked_at=None)
    }
    jwks = {
        "keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": issuer.public_key, "kid": kid}
            for kid, issuer in issuers.items()
        ]
    }
    return jwks, issuers


def _subject_id(credential: dict[str, object]) -> str:
    subject = credential.get("credentialSubject")
    found = subject.get("id") if isinstance(subject, dict) else None
    return found if isinstance(found, str) else ""


def _achievement_name(credential: dict[str, object]) -> str:
    subject = credential.get("credentialSubject")
    if isinstance(subject, dict):
        achievement = subject.get("achievement")
        name = achievement.get("name") if isinstance(achievement, dict) else None
        if isinstance(name, str):
            return name[:300]
    return ""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


@transaction.atomic
def credential_import(
    *, actor: User, agent: Agent, token: str, now: datetime | None = None
) -> ImportedCredential:
    """Import a credential another platform issued to ``agent``: it must verify
    against a trusted issuer's key, be issued by that issuer, name the agent's
    identifier and be neither expired nor revoked or suspended as far as can be
    told."""
    agent = Agent.objects.select_related("publisher").get(pk=agent.pk)
    if membership_role(user=actor, organization=agent.publisher) not in EDITOR_ROLES:
        raise PermissionDenied(
            _("Only members of %(publisher)s add credentials to its agents.")
            % {"publisher": agent.publisher.name}
        )
    token = (token or "").strip()
    if not token:
        raise ApplicationError.on_field(
            "credential", _("Paste or upload the credential (a VC-JWT).")
        )
    jwks, issuers = _trusted_jwks()
    result = credentials.verify_credential(
        token=token, jwks=jwks, status_lists=[], now=now or timezone.now()
    )
    if (
        result.status not in IMPORTABLE
        or result.credential is None
        or result.kid is None
    ):
        reasons = "; ".join(result.reasons) or str(result.status)
        raise ApplicationError.on_field(
            "credential",
            _("The credential was not accepted (%(status)s): %(reasons)s")
            % {"status": result.status, "reasons": reasons},
        )
    issuer = issuers[result.kid]
    credential = result.credential
    iss = credential.get("issuer")
    iss_id = iss.get("id") if isinstance(iss, dict) else iss
    if iss_id != issuer.issuer_id:
        raise ApplicationError.on_field(
            "credential",
            _(
                "The credential names the issuer %(found)s, but the key is trusted "
                "for %(trusted)s."
            )
            % {"found": iss_id, "trusted": issuer.issuer_id},
        )
    if _subject_id(credential) != agent.identifier:
        raise ApplicationError.on_field(
            "credential",
            _("The credential is about %(subject)s, not this agent (%(agent)s).")
            % {"subject": _subject_id(credential) or "-", "agent": agent.identifier},
        )
    credential_id = str(credential.get("id", ""))[:500]
    imported = ImportedCredential(
        issuer=issuer,
        agent=agent,
        credential_id=credential_id,
        token=token,
        name=str(credential.get("name", ""))[:300] or _achievement_name(credential),
        achievement=_achievement_name(credential),
        valid_from=_time(credential.get("validFrom")),
        valid_until=_time(credential.get("validUntil")),
        imported_by=actor,
    )
    insert_unique(
        imported,
        field="credential",
        message=_("This credential was imported already."),
    )
    return imported
