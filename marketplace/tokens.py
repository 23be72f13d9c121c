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
``daily_use_reminder``  (optional) the minutes of use a day after which the user
                 wants the agent to remind them, an integer: the user's own
                 preference or, for a minor or a user in the elder-friendly mode
                 who set none, the site's default. The agent honours it.

A valid signature says only what was granted when the token was issued: the
publisher asks the introspection endpoint what is still granted now.

Verification does no work on untrusted input beyond comparing bytes until the
signature holds: the site issues a single protected header per key, so a token's
header must be exactly that encoded header (never parsed), and a token longer than
``MAX_TOKEN_LENGTH`` is refused before anything else.
"""

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

from cryptography.exceptions import InvalidSignature
from django.conf import settings

from config import keys
from config.site import absolute_url

TOKEN_TYPE = "JWT"  # noqa: S105  # the JOSE "typ", not a secret
ALGORITHM = "EdDSA"
# Tokens longer than this are not tokens of ours (they are about 500 characters,
# plus the scopes); they are refused before any other work.
MAX_TOKEN_LENGTH = 4096


class InstallTokenClaims(TypedDict):
    iss: str
    aud: str
    sub: str
    install_id: str
    scope: str
    iat: int
    exp: int
    jti: str
    daily_use_reminder: NotRequired[int]


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
    *,
    install_id: str,
    audience: str,
    scopes: list[str],
    now: int | None = None,
    daily_use_reminder_minutes: int | None = None,
) -> IssuedToken:
    """Sign a token for the install, carrying ``scopes`` (in a stable order) and,
    when given, the user's daily-use reminder."""
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
    if daily_use_reminder_minutes is not None:
        claims["daily_use_reminder"] = int(daily_use_reminder_minutes)
    payload = json.dumps(claims, separators=(",", ":")).encode()
    protected, encoded, signature = keys.sign_compact_jws(payload, typ=TOKEN_TYPE)
    return IssuedToken(token=f"{protected}.{encoded}.{signature}", claims=claims)


def expected_protected_header(kid: str) -> str:
    """The protected header, encoded, of the tokens signed with key ``kid``: the
    only one the site issues (``keys.sign_compact_jws`` writes the same bytes)."""
    header = {"alg": ALGORITHM, "kid": kid, "typ": TOKEN_TYPE}
    return keys.b64url(json.dumps(header, separators=(",", ":")).encode())


def install_token_verify(
    token: str, *, now: int | None = None
) -> InstallTokenClaims | None:
    """The claims of a token that this site signed and that has not expired, else
    None (malformed, another algorithm or key, a bad signature, wrong issuer,
    expired, or claims of the wrong types)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        return None
    protected, encoded, signature = token.split(".")
    # Byte for byte, before any decoding: another algorithm, key, type or extra
    # member ("crit", a nested structure) is simply not this string.
    # The header is public, so a plain comparison leaks nothing.
    if protected != expected_protected_header(keys.public_jwk()["kid"]):
        return None
    try:
        keys.private_key().public_key().verify(
            keys.b64url_decode(signature), f"{protected}.{encoded}".encode("ascii")
        )
        # Signed by the site: the payload is one the site wrote.
        claims = json.loads(keys.b64url_decode(encoded))
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
    optional_integers = ("daily_use_reminder",)
    return (
        all(isinstance(claims.get(name), str) for name in strings)
        and all(_is_int(claims.get(name)) for name in integers)
        and all(_is_int(claims[name]) for name in optional_integers if name in claims)
        and claims["sub"] == claims["install_id"]
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
