"""Install tokens: short-lived JWTs (RFC 7519) that an agent's runtime shows to prove
an install and the scopes its user granted.

A token is a compact JWS signed with EdDSA (Ed25519) by the site's key
(``config.keys``), with the ``kid`` that ``/.well-known/jwks.json`` publishes, so
that anyone can verify it offline with the JWKS alone. Its claims:

``iss``          the site's URL
``aud``          the agent's ``did:web`` identifier
``sub``          the install's public id (also in ``install_id``)
``scope``        the scopes granted when it was issued, space-separated
``iat``, ``exp`` issued and expiry times (``INSTALL_TOKEN_TTL`` seconds apart)
``jti``          a unique id

A valid signature says only what was granted when the token was issued: the
publisher asks the introspection endpoint what is still granted now.
"""

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, TypedDict

from cryptography.exceptions import InvalidSignature
from django.conf import settings

from config import keys
from config.site import absolute_url

TOKEN_TYPE = "JWT"  # noqa: S105  # the JOSE "typ", not a secret
ALGORITHM = "EdDSA"
# Tokens longer than this are not tokens of ours; they are refused before decoding.
MAX_TOKEN_LENGTH = 8192


class InstallTokenClaims(TypedDict):
    iss: str
    aud: str
    sub: str
    install_id: str
    scope: str
    iat: int
    exp: int
    jti: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: InstallTokenClaims

    @property
    def expires_in(self) -> int:
        return self.claims["exp"] - self.claims["iat"]

    @property
    def scopes(self) -> list[str]:
        return self.claims["scope"].split()


def issuer() -> str:
    """The ``iss`` of the site's tokens: its public URL, without a trailing
    slash."""
    return absolute_url("")


def install_token_issue(
    *, install_id: str, audience: str, scopes: list[str], now: int | None = None
) -> IssuedToken:
    """Sign a token for the install, carrying ``scopes`` (in a stable order)."""
    issued_at = int(time.time()) if now is None else now
    claims: InstallTokenClaims = {
        "iss": issuer(),
        "aud": audience,
        "sub": install_id,
        "install_id": install_id,
        "scope": " ".join(sorted(set(scopes))),
        "iat": issued_at,
        "exp": issued_at + settings.INSTALL_TOKEN_TTL,
        "jti": secrets.token_urlsafe(16),
    }
    payload = json.dumps(claims, separators=(",", ":")).encode()
    protected, encoded, signature = keys.sign_compact_jws(payload, typ=TOKEN_TYPE)
    return IssuedToken(token=f"{protected}.{encoded}.{signature}", claims=claims)


def _json_part(part: str) -> Any:
    return json.loads(keys.b64url_decode(part))


def install_token_verify(
    token: str, *, now: int | None = None
) -> InstallTokenClaims | None:
    """The claims of a token that this site signed and that has not expired, else
    None (malformed, another algorithm or key, a bad signature, wrong issuer,
    expired, or claims of the wrong types)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        return None
    protected, encoded, signature = token.split(".")
    try:
        header = _json_part(protected)
        if not isinstance(header, dict):
            return None
        if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE:
            return None
        if header.get("kid") != keys.public_jwk()["kid"] or "crit" in header:
            return None
        keys.private_key().public_key().verify(
            keys.b64url_decode(signature), f"{protected}.{encoded}".encode("ascii")
        )
        claims = _json_part(encoded)
    except (InvalidSignature, ValueError, UnicodeError):
        return None
    if not _well_formed(claims):
        return None
    current = int(time.time()) if now is None else now
    if claims["iss"] != issuer() or claims["exp"] <= current:
        return None
    verified: InstallTokenClaims = claims
    return verified


def _well_formed(claims: Any) -> bool:
    if not isinstance(claims, dict):
        return False
    strings = ("iss", "aud", "sub", "install_id", "scope", "jti")
    integers = ("iat", "exp")
    return (
        all(isinstance(claims.get(name), str) for name in strings)
        and all(
            isinstance(claims.get(name), int) and not isinstance(claims[name], bool)
            for name in integers
        )
        and claims["sub"] == claims["install_id"]
    )
