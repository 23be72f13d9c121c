"""The signed side of certification: the bodies' signing keys, the site's JWKS,
the bitstring status lists, and the credential each certificate carries.

The cryptography itself (VC-JWT, status list encoding, Data Integrity proofs, the
offline verifier) is in ``marketplace.credentials`` and knows nothing of the
database; this module feeds it.
"""

import secrets
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config import keys
from config.site import absolute_url
from marketplace import credentials
from marketplace.models import (
    Certificate,
    IssuerKey,
    Organization,
    Scheme,
    StatusList,
)

Purpose = StatusList.Purpose


# --- Keys ---------------------------------------------------------------------------


def _raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@transaction.atomic
def issuer_key_rotate(*, organization: Organization) -> IssuerKey:
    """Give the organisation a new signing key and retire its current one, which
    stays published so that what it signed still verifies."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    IssuerKey.objects.filter(organization=organization, retired_at=None).update(
        retired_at=timezone.now()
    )
    seed = secrets.token_bytes(32)
    public = keys.b64url(_raw_public(Ed25519PrivateKey.from_private_bytes(seed)))
    return IssuerKey.objects.create(
        organization=organization,
        kid=keys.okp_thumbprint(public),
        public_key=public,
        private_key=keys.seal(seed),
    )


def issuer_key_current(*, organization: Organization) -> IssuerKey:
    """The key the organisation signs with now, made on first use. Call inside a
    transaction."""
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    key = IssuerKey.objects.filter(organization=organization, retired_at=None).first()
    return key or issuer_key_rotate(organization=organization)


def issuer_private_key(key: IssuerKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(keys.unseal(key.private_key))


def jwks_url() -> str:
    return absolute_url(reverse("jwks"))


def jwks() -> dict[str, list[dict[str, str]]]:
    """The site's public keys and every certification body's, current and
    retired: everything needed to check any signature the site ever made. Each
    key names the issuer it signs for in an ``iss`` member (RFC 7517 allows
    members of one's own), so that a verifier does not take one body's key for
    another's: the site's key the site (which issues the status lists), a body's
    key the body's issuer profile."""
    published = [{**keys.public_jwk(), "iss": site_issuer_id()}]
    for key in IssuerKey.objects.select_related("organization").order_by("pk"):
        published.append(
            {
                "crv": "Ed25519",
                "kty": "OKP",
                "x": key.public_key,
                "kid": key.kid,
                "use": "sig",
                "alg": "EdDSA",
                "iss": issuer_profile_url(key.organization),
            }
        )
    return {"keys": published}


# --- Status lists -----------------------------------------------------------------


def status_list_url() -> str:
    return absolute_url(reverse("certificate-status-list"))


def site_issuer_id() -> str:
    """The issuer of the status lists: the site itself."""
    return absolute_url("/")


# How long a signed status list stands: a verifier refuses an older list, so that
# an old list cannot be replayed to hide a revocation. The list is signed again
# well within that.
STATUS_LIST_VALIDITY = timedelta(days=7)

STATUS_VALUES: dict[str, int] = {
    Certificate.State.SUSPENDED: credentials.STATUS_SUSPENDED,
    Certificate.State.REVOKED: credentials.STATUS_REVOKED,
}


def _status_list_build() -> dict[str, object]:
    values = {
        index: STATUS_VALUES[state]
        for index, state in Certificate.objects.filter(
            state__in=list(STATUS_VALUES)
        ).values_list("status_index", "state")
    }
    valid_from = timezone.now()
    return credentials.status_list_credential(
        list_url=status_list_url(),
        issuer_id=site_issuer_id(),
        purpose=Purpose.MESSAGE,
        values=values,
        valid_from=valid_from,
        valid_until=valid_from + STATUS_LIST_VALIDITY,
        key=keys.private_key(),
        verification_method=f"{jwks_url()}#{keys.public_jwk()['kid']}",
    )


def status_list_lock() -> StatusList:
    """Lock the status list (made on first use) before changing a certificate's
    entry: two changes at once then rebuild one after the other, and the second
    sees the first. Call inside a transaction."""
    StatusList.objects.get_or_create(purpose=Purpose.MESSAGE, defaults={"document": {}})
    return StatusList.objects.select_for_update().get(purpose=Purpose.MESSAGE)


@transaction.atomic
def status_list_publish() -> StatusList:
    """Rebuild and re-sign the status list from the certificates' states."""
    status_list = status_list_lock()
    status_list.document = _status_list_build()
    status_list.save(update_fields=["document", "updated_at"])
    return status_list


def status_list_document() -> dict[str, object]:
    """The signed list as served; built the first time it is asked for."""
    stored = StatusList.objects.filter(purpose=Purpose.MESSAGE).first()
    if stored is None or not stored.document:
        stored = status_list_publish()
    document: dict[str, object] = stored.document
    return document


STATUS_INDEX_ATTEMPTS = 32


def status_index_pick() -> int:
    """A free position in the status lists, chosen at random (the lists then say
    nothing about the order certificates were issued in). The unique constraint on
    ``Certificate.status_index`` settles a race; the caller retries."""
    for _attempt in range(STATUS_INDEX_ATTEMPTS):
        candidate = secrets.randbelow(credentials.STATUS_LIST_SIZE)
        if not Certificate.objects.filter(status_index=candidate).exists():
            return candidate
    used = set(Certificate.objects.values_list("status_index", flat=True))
    for candidate in range(credentials.STATUS_LIST_SIZE):
        if candidate not in used:
            return candidate
    raise RuntimeError("The certificate status list is full.")


# --- The credential ------------------------------------------------------------------


def issuer_profile_url(body: Organization) -> str:
    return absolute_url(
        reverse("certification-body-profile", kwargs={"slug": body.slug})
    )


def achievement_url(scheme: Scheme, level: str) -> str:
    return absolute_url(
        reverse("scheme-level", kwargs={"code": scheme.code, "level": level})
    )


def certificate_url(serial: str) -> str:
    return absolute_url(reverse("certificate-detail", kwargs={"serial": serial}))


def certificate_credential_sign(
    *,
    certificate: Certificate,
    key: IssuerKey,
    valid_from: datetime,
    valid_until: datetime,
) -> str:
    """Build the certificate's Open Badges 3.0 credential and sign it as a VC-JWT
    with the body's key."""
    scheme = certificate.scheme
    body = certificate.body
    agent = certificate.agent
    version = certificate.version
    level_name = next(
        (
            level.get("name_en") or level["code"]
            for level in scheme.levels
            if level["code"] == certificate.level
        ),
        certificate.level,
    )
    achievement = {
        "id": achievement_url(scheme, certificate.level),
        "type": ["Achievement"],
        "achievementType": "Certification",
        "name": f"{scheme.name_en}: {level_name}",
        "description": (
            f"Certification of the {scheme.get_dimension_display()} of an agent "
            f"version by {body.name}, scheme {scheme.code}, level {level_name}."
        ),
        "criteria": {"narrative": scheme.criteria_en},
        "tag": [scheme.dimension, scheme.code, certificate.level],
        "creator": {
            "id": issuer_profile_url(body),
            "type": ["Profile"],
            "name": body.name,
        },
    }
    evidence_url = certificate.report_url or absolute_url(
        reverse("certificate-report", kwargs={"serial": certificate.serial})
    )
    evidence = [
        {
            "id": evidence_url,
            "type": ["Evidence"],
            "name": "Test report",
            "description": f"Assessed by {certificate.assessor}.",
        }
    ]
    credential = credentials.certificate_credential(
        credential_id=certificate_url(certificate.serial),
        name=f"{scheme.name_en} ({level_name}): {agent.name} {version.version}",
        issuer={
            "id": issuer_profile_url(body),
            "type": ["Profile"],
            "name": body.name,
            **({"url": body.website} if body.website else {}),
        },
        achievement=achievement,
        subject_id=agent.identifier,
        subject_name=agent.name,
        version=version.version,
        digest_hex=certificate.digest,
        valid_from=valid_from,
        valid_until=valid_until,
        status_index=certificate.status_index,
        status_list_url=status_list_url(),
        evidence=evidence,
    )
    return credentials.vc_jwt_sign(
        credential=credential, key=issuer_private_key(key), kid=key.kid
    )
