"""The site's Ed25519 signing key: it signs exported agent cards (and, later,
certificates and the ledger's tree heads). Its public half is published as a JWKS.

Production sets ``SITE_SIGNING_KEY`` (the 32-byte private seed, base64url). In
development and tests a key is generated once into ``var/`` so that it survives
restarts.
"""

import base64
import hashlib
import json
import secrets
from functools import cache
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _seed() -> bytes:
    if settings.SITE_SIGNING_KEY:
        seed = b64url_decode(settings.SITE_SIGNING_KEY)
    else:
        path = Path(settings.SITE_SIGNING_KEY_FILE)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(b64url(secrets.token_bytes(32)), encoding="ascii")
            path.chmod(0o600)
        seed = b64url_decode(path.read_text(encoding="ascii").strip())
    if len(seed) != 32:
        raise ImproperlyConfigured(
            "SITE_SIGNING_KEY must be a 32-byte Ed25519 seed in base64url."
        )
    return seed


@cache
def _private_key(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key() -> Ed25519PrivateKey:
    return _private_key(_seed())


def public_jwk() -> dict[str, str]:
    raw = private_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
    # RFC 7638 thumbprint: SHA-256 of the required members, canonical.
    kid = b64url(hashlib.sha256(rfc8785.dumps(jwk)).digest())
    return {**jwk, "kid": kid, "use": "sig", "alg": "EdDSA"}


def jwks() -> dict[str, list[dict[str, str]]]:
    return {"keys": [public_jwk()]}


def sign_compact_jws(payload: bytes, *, typ: str = "JOSE") -> tuple[str, str, str]:
    """Sign ``payload`` as a JWS with EdDSA; returns the compact serialization's
    three parts (protected header, payload, signature), each base64url."""
    header = {"alg": "EdDSA", "kid": public_jwk()["kid"], "typ": typ}
    protected = b64url(json.dumps(header, separators=(",", ":")).encode())
    encoded_payload = b64url(payload)
    signature = private_key().sign(f"{protected}.{encoded_payload}".encode("ascii"))
    return protected, encoded_payload, b64url(signature)


def canonical_json(value: Any) -> bytes:
    return rfc8785.dumps(value)


def okp_thumbprint(x: str) -> str:
    """The RFC 7638 thumbprint of an Ed25519 public key given as base64url."""
    return b64url(
        hashlib.sha256(rfc8785.dumps({"crv": "Ed25519", "kty": "OKP", "x": x})).digest()
    )


def verify_compact_jws(
    protected: str, payload: bytes, signature: str, public_key_x: str
) -> bool:
    """Whether ``signature`` is an EdDSA signature by the key over the JWS signing
    input ``protected.base64url(payload)``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(b64url_decode(public_key_x))
        key.verify(
            b64url_decode(signature), f"{protected}.{b64url(payload)}".encode("ascii")
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def _sealing_key() -> bytes:
    """The Fernet key that encrypts private keys kept in the database: derived
    from ``CERTIFICATE_KEY_SECRET``, or else from the site's signing key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    secret = settings.CERTIFICATE_KEY_SECRET.encode() or _seed()
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"agentstore sealed keys"
    ).derive(secret)
    return base64.urlsafe_b64encode(derived)


def seal(data: bytes) -> str:
    """Encrypt (and authenticate) ``data`` for storage."""
    from cryptography.fernet import Fernet

    return Fernet(_sealing_key()).encrypt(data).decode("ascii")


def unseal(token: str) -> bytes:
    """The data ``seal`` encrypted; raises ``cryptography.fernet.InvalidToken`` if
    it was altered or sealed under another secret."""
    from cryptography.fernet import Fernet

    return Fernet(_sealing_key()).decrypt(token.encode("ascii"))
