"""Install tokens: signed by the site's key, verifiable offline with the JWKS alone,
refused when forged, tampered with or expired."""

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.test import Client

from config import keys
from marketplace import tokens

pytestmark = pytest.mark.django_db

AUDIENCE = "did:web:testserver:agents:mingde-ai:mail-helper"


def _issue(**overrides: object) -> tokens.IssuedToken:
    arguments: dict[str, object] = {
        "install_id": str(uuid.uuid4()),
        "audience": AUDIENCE,
        "scopes": ["mail.send", "mail.read"],
    }
    arguments.update(overrides)
    return tokens.install_token_issue(**arguments)  # type: ignore[arg-type]  # test values


def _forge(
    header: Mapping[str, object], claims: Mapping[str, object], key: Ed25519PrivateKey
) -> str:
    """A token of ``header`` (written compactly, as the site writes its own) and
    ``claims``, signed by ``key``."""
    protected = keys.b64url(json.dumps(header, separators=(",", ":")).encode())
    payload = keys.b64url(json.dumps(claims).encode())
    signature = key.sign(f"{protected}.{payload}".encode())
    return f"{protected}.{payload}.{keys.b64url(signature)}"


def test_a_token_verifies_offline_with_the_published_jwks(client: Client) -> None:
    # given
    issued = _issue()
    jwks = client.get("/.well-known/jwks.json").json()
    # when: another library verifies it with nothing but the JWKS
    header = jwt.get_unverified_header(issued.token)
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(
        issued.token,
        key=key.key,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer="http://testserver",
    )
    # then
    assert header == {"alg": "EdDSA", "kid": jwks["keys"][0]["kid"], "typ": "JWT"}
    assert claims["scope"] == "mail.read mail.send"
    assert claims["sub"] == claims["install_id"]
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]
    assert tokens.install_token_verify(issued.token) == claims


def test_the_lifetime_is_the_setting(settings: Any) -> None:
    # given
    settings.INSTALL_TOKEN_TTL = 60
    # when
    issued = _issue()
    # then
    assert issued.expires_in == 60
    assert issued.claims["exp"] == issued.claims["iat"] + 60


def test_an_expired_token_does_not_verify() -> None:
    # given
    issued = _issue(now=int(time.time()) - 301)
    # then
    assert tokens.install_token_verify(issued.token) is None
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(
            issued.token,
            key=keys.private_key().public_key(),
            algorithms=["EdDSA"],
            audience=AUDIENCE,
        )


def test_a_token_signed_by_another_key_does_not_verify() -> None:
    # given: the same header and claims, signed by a key that is not the site's
    issued = _issue()
    header = {"alg": "EdDSA", "kid": keys.public_jwk()["kid"], "typ": "JWT"}
    forged = _forge(header, dict(issued.claims), Ed25519PrivateKey.generate())
    # then
    assert tokens.install_token_verify(forged) is None


def test_a_tampered_token_does_not_verify() -> None:
    # given: more scopes written into a genuine token's payload
    issued = _issue()
    protected, _payload, signature = issued.token.split(".")
    claims = {**issued.claims, "scope": "mail.read mail.send payments.initiate"}
    payload = keys.b64url(json.dumps(claims).encode())
    # then
    assert tokens.install_token_verify(f"{protected}.{payload}.{signature}") is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "a.b.c",
        "a.b",
        "x" * 9000,
        "..",
        "a.b.c.d",
        # alg "none", no signature
        keys.b64url(b'{"alg":"none","typ":"JWT"}') + "." + keys.b64url(b"{}") + ".",
    ],
)
def test_garbage_does_not_verify(token: str) -> None:
    assert tokens.install_token_verify(token) is None


def test_another_algorithm_or_key_id_in_the_header_does_not_verify() -> None:
    # given: the site's own key, but a header that names another algorithm or key
    issued = _issue()
    site_key = keys.private_key()
    kid = keys.public_jwk()["kid"]
    for header in (
        {"alg": "HS256", "kid": kid, "typ": "JWT"},
        {"alg": "EdDSA", "kid": "another", "typ": "JWT"},
        {"alg": "EdDSA", "kid": kid, "typ": "JOSE"},
    ):
        # then
        forged = _forge(header, dict(issued.claims), site_key)
        assert tokens.install_token_verify(forged) is None


def test_claims_of_the_wrong_shape_or_issuer_do_not_verify() -> None:
    issued = _issue()
    header = {"alg": "EdDSA", "kid": keys.public_jwk()["kid"], "typ": "JWT"}
    site_key = keys.private_key()
    for changed in (
        {"iss": "https://elsewhere.example"},
        {"exp": "tomorrow"},
        {"exp": True},
        {"sub": "someone-else"},
        {"scope": ["mail.read"]},
    ):
        forged = _forge(header, {**issued.claims, **changed}, site_key)
        assert tokens.install_token_verify(forged) is None
    # the same construction with the claims unchanged verifies
    assert tokens.install_token_verify(
        _forge(header, dict(issued.claims), site_key)
    ) == dict(issued.claims)


def test_the_site_issues_the_one_header_that_verification_expects() -> None:
    # given
    issued = _issue()
    # then
    protected = issued.token.split(".")[0]
    assert protected == tokens.expected_protected_header(keys.public_jwk()["kid"])


def test_a_header_written_otherwise_does_not_verify_even_when_signed() -> None:
    # given: the site's own header members, in another order or spacing, and an
    # extra member, each signed by the site's key
    issued = _issue()
    site_key = keys.private_key()
    kid = keys.public_jwk()["kid"]
    for protected in (
        keys.b64url(json.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).encode()),
        keys.b64url(
            json.dumps(
                {"typ": "JWT", "kid": kid, "alg": "EdDSA"}, separators=(",", ":")
            ).encode()
        ),
        keys.b64url(
            json.dumps(
                {"alg": "EdDSA", "kid": kid, "typ": "JWT", "crit": ["exp"]},
                separators=(",", ":"),
            ).encode()
        ),
    ):
        payload = issued.token.split(".")[1]
        signature = keys.b64url(site_key.sign(f"{protected}.{payload}".encode()))
        # then
        assert tokens.install_token_verify(f"{protected}.{payload}.{signature}") is None


def _deep_header_token() -> str:
    """A token whose header is 5,000 nested arrays: it would exhaust the recursion
    of a JSON parser."""
    protected = keys.b64url(b"[" * 5000)
    return f"{protected}.{keys.b64url(b'{}')}.{keys.b64url(b'x' * 64)}"


@pytest.mark.parametrize(
    "token",
    [
        _deep_header_token(),
        # within the length limit, deep structures in the payload of a token with
        # the right header but no valid signature
        "{header}." + keys.b64url(b"[" * 2000) + "." + keys.b64url(b"x" * 64),
        # the right header and garbage after it
        "{header}.%%%.@@@",
        "{header}.\u00e9t\u00e9.\u00e9t\u00e9",  # not ASCII
        "{header}.\ud800.\ud800",  # a lone surrogate, as JSON input may carry
        "{header}..",
        # a long token under the length limit, and one over it
        "{header}." + "A" * (tokens.MAX_TOKEN_LENGTH - 200) + ".AAAA",
        "{header}." + "A" * tokens.MAX_TOKEN_LENGTH + ".AAAA",
    ],
)
def test_hostile_tokens_do_not_verify_and_raise_nothing(token: str) -> None:
    # given
    token = token.replace(
        "{header}", tokens.expected_protected_header(keys.public_jwk()["kid"])
    )
    # when / then
    assert tokens.install_token_verify(token) is None


def test_a_token_over_the_length_limit_is_refused_before_any_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a genuine token padded past the limit
    issued = _issue()
    padded = issued.token + "A" * tokens.MAX_TOKEN_LENGTH

    def fail(*args: object) -> bytes:
        raise AssertionError("decoded")

    monkeypatch.setattr(keys, "b64url_decode", fail)
    # then
    assert tokens.MAX_TOKEN_LENGTH == 4096
    assert tokens.install_token_verify(padded) is None
