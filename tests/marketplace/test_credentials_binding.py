"""The verifier against hostile inputs beyond forgery: strings no encoder writes,
keys that speak for another issuer, credentials that make it work per status
entry, and old status lists replayed after they were replaced."""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from config import keys
from config.keys import b64url, canonical_json
from marketplace import credentials
from marketplace.services import credentials as credential_services
from tests.marketplace.certification_fixtures import (
    make_body,
    make_certificate,
    make_scheme,
)
from tests.marketplace.test_credentials import (
    INDEX,
    JWKS_URL,
    NOW,
    REVOKED,
    SITE,
    STATUS_URL,
    Site,
    _jwk,
    _payload,
    _public_raw,
)

VERIFY_API = "/api/v1/certificates/verify/"
# The issuer Site.credential names, and a second certification body.
BODY_A = f"{SITE}/bodies/cnas-lab/"
BODY_B = f"{SITE}/bodies/other-lab/"


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _sign(protected: bytes, payload: bytes, key: Ed25519PrivateKey) -> str:
    """A compact JWS of exactly these header and payload bytes."""
    signing_input = f"{b64url(protected)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def _header(kid: str) -> bytes:
    return json.dumps({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).encode()


def _post(api: APIClient, body: dict[str, Any]) -> Any:
    # json.dumps writes a lone surrogate as its \u escape, as an attacker would.
    return api.post(VERIFY_API, json.dumps(body), content_type="application/json")


# -- Strings that UTF-8 cannot write ---------------------------------------------


def test_a_header_with_a_lone_surrogate_is_malformed(site: Site) -> None:
    # given: the kid written as the JSON escape \ud800, genuinely signed
    protected = b'{"alg":"EdDSA","kid":"\\ud800"}'
    token = _sign(protected, canonical_json(_payload(site.token())), site.key)
    # when
    result = site.verify(token)
    # then
    assert result.status == "invalid"
    assert result.reasons == ["The JWS header is not a JSON object."]
    assert result.kid is None
    assert result.credential is None


@pytest.mark.parametrize(
    "spelling",
    [
        '"name":"\\ud800"',  # a value
        '"name":"ok","\\udc00x":1',  # a member name
        '"name":["a",{"b":"\\udfff"}]',  # deep inside
        '"name":"\\ude00\\ud83d"',  # a pair in the wrong order
    ],
)
def test_a_payload_with_a_lone_surrogate_is_malformed_even_when_signed(
    site: Site, spelling: str
) -> None:
    # given: a caller's own key, and a payload it signed
    key = Ed25519PrivateKey.generate()
    kid = _jwk(key)["kid"]
    text = canonical_json(_payload(site.token())).decode()
    original = '"name":"Security certification, level 2"'
    assert original in text
    payload = text.replace(original, spelling).encode()
    # when
    result = site.verify(_sign(_header(kid), payload, key), jwks={"keys": [_jwk(key)]})
    # then
    assert result.status == "invalid"
    assert result.reasons == ["The signed payload is not a JSON object."]
    assert result.credential is None


def test_a_surrogate_pair_written_as_escapes_is_text_like_any_other(
    site: Site,
) -> None:
    # given: an emoji spelled as the escapes \ud83d\ude00
    payload = _payload(site.token())
    payload["name"] = "Certified \U0001f600"
    encoded = json.dumps(payload, ensure_ascii=True).encode()
    assert b"\\ud83d\\ude00" in encoded
    # when
    result = site.verify(_sign(_header(site.kid), encoded, site.key))
    # then
    assert result.status == "valid"
    assert result.credential is not None
    assert result.credential["name"] == "Certified \U0001f600"


def test_a_status_list_with_a_lone_surrogate_is_not_genuine(site: Site) -> None:
    # given: the genuine list, with a lone surrogate slipped into it
    status_list = site.status_list()
    status_list["credentialSubject"]["statusMessages"][0]["message"] = "\ud800"
    # when
    result = site.verify(site.token(), status_lists=[status_list])
    # then
    assert result.status == "unknown"
    assert result.reasons == [
        f'The status list "{STATUS_URL}" has no valid proof by a key of the key '
        "set, so that status is unknown."
    ]


@pytest.mark.django_db
def test_the_api_answers_lone_surrogates_with_a_verdict_not_an_error(
    site: Site, api: APIClient
) -> None:
    # given: each place a caller may put one
    key = Ed25519PrivateKey.generate()
    payload = canonical_json(_payload(site.token())).replace(
        b'"name":"Security certification, level 2"', b'"name":"\\ud800"'
    )
    in_header = _sign(b'{"alg":"EdDSA","kid":"\\ud800"}', canonical_json({}), site.key)
    in_payload = _sign(_header(_jwk(key)["kid"]), payload, key)
    status_list = site.status_list()
    status_list["issuer"] = "\ud800"
    # when
    header_answer = _post(api, {"credential": in_header, "jwks": site.jwks})
    payload_answer = _post(
        api, {"credential": in_payload, "jwks": {"keys": [_jwk(key)]}}
    )
    list_answer = _post(
        api,
        {"credential": site.token(), "jwks": site.jwks, "status_lists": [status_list]},
    )
    # then
    assert header_answer.status_code == 200
    assert header_answer.json()["status"] == "invalid"
    assert header_answer.json()["kid"] is None
    assert payload_answer.status_code == 200
    assert payload_answer.json()["status"] == "invalid"
    assert payload_answer.json()["credential"] is None
    assert list_answer.status_code == 200
    assert list_answer.json()["status"] == "unknown"


# -- Keys bound to issuers -------------------------------------------------------


class Bodies:
    """The site (which signs the status lists) and two certification bodies, each
    key published with the issuer it signs for."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.a = Ed25519PrivateKey.generate()
        self.b = Ed25519PrivateKey.generate()
        self.jwks = {
            "keys": [
                {**_jwk(site.key), "iss": SITE},
                {**_jwk(self.a), "iss": BODY_A},
                {**_jwk(self.b), "iss": BODY_B},
            ]
        }

    def token(self, issuer: str, key: Ed25519PrivateKey) -> str:
        credential = self.site.credential(
            issuer={"id": issuer, "type": ["Profile"], "name": "A lab"}
        )
        return credentials.vc_jwt_sign(
            credential=credential, key=key, kid=_jwk(key)["kid"]
        )

    def verify(self, token: str, **options: Any) -> credentials.Verification:
        options.setdefault("jwks", self.jwks)
        return self.site.verify(token, **options)


@pytest.fixture
def bodies(site: Site) -> Bodies:
    return Bodies(site)


def test_each_body_s_key_verifies_its_own_credentials(bodies: Bodies) -> None:
    assert bodies.verify(bodies.token(BODY_A, bodies.a)).status == "valid"
    assert bodies.verify(bodies.token(BODY_B, bodies.b)).status == "valid"


def test_a_credential_signed_with_another_body_s_key_is_invalid(
    bodies: Bodies,
) -> None:
    # given: body B's credential, signed by body A's key under A's kid
    token = bodies.token(BODY_B, bodies.a)
    kid = _jwk(bodies.a)["kid"]
    # when
    result = bodies.verify(token)
    # then
    assert result.status == "invalid"
    assert result.reasons == [
        f'The key "{kid}" belongs to the issuer "{BODY_A}", not to the '
        f'credential\'s issuer "{BODY_B}".'
    ]
    assert result.credential is None
    assert result.kid == kid


def test_the_site_key_does_not_sign_for_a_body(bodies: Bodies) -> None:
    result = bodies.verify(bodies.token(BODY_A, bodies.site.key))
    assert result.status == "invalid"
    assert "belongs to the issuer" in result.reasons[0]


def test_an_issuer_given_as_a_string_is_bound_the_same_way(
    bodies: Bodies,
) -> None:
    # given: credentials whose issuer is a plain URL, signed by body A's key
    def token(issuer: str) -> str:
        payload = _payload(bodies.token(BODY_A, bodies.a))
        payload["issuer"] = payload["iss"] = issuer
        return _sign(_header(_jwk(bodies.a)["kid"]), canonical_json(payload), bodies.a)

    # then
    assert bodies.verify(token(BODY_A)).status == "valid"
    assert bodies.verify(token(BODY_B)).status == "invalid"


def test_a_status_list_signed_by_a_body_key_is_unknown(bodies: Bodies) -> None:
    # given: the site's list (issuer the site), signed with body A's key
    status_list = bodies.site.status_list({INDEX: REVOKED}, key=bodies.a)
    token = bodies.token(BODY_A, bodies.a)
    # when
    result = bodies.verify(token, status_lists=[status_list])
    # then
    assert result.status == "unknown"
    assert result.reasons == [
        f'The status list "{STATUS_URL}" is signed with the key '
        f'"{_jwk(bodies.a)["kid"]}", which belongs to the issuer "{BODY_A}", not to '
        "the list's issuer, so that status is unknown."
    ]


def test_a_forged_list_beside_the_genuine_one_does_not_count(bodies: Bodies) -> None:
    # given: a body's "all clear" beside the site's genuine list that revokes
    forged = bodies.site.status_list({}, key=bodies.a)
    genuine = bodies.site.status_list({INDEX: REVOKED})
    token = bodies.token(BODY_A, bodies.a)
    # when
    result = bodies.verify(token, status_lists=[forged, genuine])
    # then
    assert result.status == "revoked"


def test_keys_without_iss_keep_verifying_any_issuer(bodies: Bodies) -> None:
    # given: another platform's key set, which binds nothing
    unbound = {
        "keys": [
            {k: v for k, v in jwk.items() if k != "iss"} for jwk in bodies.jwks["keys"]
        ]
    }
    token = bodies.token(BODY_B, bodies.a)
    status_list = bodies.site.status_list(key=bodies.a)
    # when
    result = bodies.verify(token, jwks=unbound, status_lists=[status_list])
    # then
    assert result.status == "valid"


def test_jwks_signing_keys_gives_the_jwks_with_their_issuer(bodies: Bodies) -> None:
    # given
    a = _jwk(bodies.a)
    jwks = {
        "keys": [
            *bodies.jwks["keys"],
            {
                **_jwk(Ed25519PrivateKey.generate()),
                "kid": "bound-to-a-number",
                "iss": 7,
            },
            {**a, "kid": "two-issuers", "iss": BODY_A},
            {**a, "kid": "two-issuers", "iss": BODY_B},
            {**a, "kid": "bound-and-not", "iss": BODY_A},
            {**a, "kid": "bound-and-not"},
        ]
    }
    # when
    found = credentials.jwks_signing_keys(jwks)
    # then
    assert found == {jwk["kid"]: jwk for jwk in bodies.jwks["keys"]}
    assert credentials.jwks_public_keys(jwks) == {
        _jwk(key)["kid"]: _public_raw(key)
        for key in (bodies.site.key, bodies.a, bodies.b)
    }


# -- Work per request ------------------------------------------------------------


def _entries(count: int, url: str = STATUS_URL) -> list[dict[str, Any]]:
    return [
        credentials.status_entry(list_url=url, index=INDEX + number)
        for number in range(count)
    ]


class _Counter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.calls = 0
        original = getattr(credentials, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(credentials, name, counted)


def test_more_than_four_status_entries_are_refused_unread(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    decodes = _Counter(monkeypatch, "status_list_decode")
    proofs = _Counter(monkeypatch, "data_integrity_verify")
    token = site.token_with_status(_entries(5))
    # when
    result = site.verify(token)
    # then
    assert result.status == "invalid"
    assert result.reasons == [
        "The credential has too many status entries (5; at most 4 are read)."
    ]
    assert decodes.calls == proofs.calls == 0


def test_entries_naming_one_list_check_and_decode_it_once(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: four entries in one list, the second of them revoked
    decodes = _Counter(monkeypatch, "status_list_decode")
    proofs = _Counter(monkeypatch, "data_integrity_verify")
    token = site.token_with_status(_entries(4))
    # when
    result = site.verify(token, status_lists=[site.status_list({INDEX + 1: REVOKED})])
    # then
    assert result.status == "revoked"
    assert decodes.calls == 1
    assert proofs.calls == 1


def test_entries_naming_two_lists_decode_each_once(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: two entries in the message list, two in a revocation list
    decodes = _Counter(monkeypatch, "status_list_decode")
    revocation_url = f"{SITE}/certificates/status/revocation.json"
    entries = _entries(2) + [
        {
            "id": f"{revocation_url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(index),
            "statusListCredential": revocation_url,
        }
        for index in (INDEX, INDEX + 1)
    ]
    token = site.token_with_status(entries)
    lists = [site.status_list(), site.one_bit_list("revocation", (INDEX + 1,))]
    # when
    result = site.verify(token, status_lists=lists)
    # then
    assert result.status == "revoked"
    assert decodes.calls == 2


# -- Status lists that expire ----------------------------------------------------


def _list(
    site: Site,
    values: dict[int, int] | None = None,
    *,
    valid_from: Any,
    valid_until: Any,
) -> dict[str, Any]:
    return credentials.status_list_credential(
        list_url=STATUS_URL,
        issuer_id=SITE,
        values=values or {},
        valid_from=valid_from,
        valid_until=valid_until,
        key=site.key,
        verification_method=f"{JWKS_URL}#{site.kid}",
    )


def test_a_status_list_may_carry_valid_until_under_its_proof(site: Site) -> None:
    # when
    status_list = _list(site, valid_from=NOW, valid_until=NOW + timedelta(days=7))
    # then
    assert status_list["validFrom"] == "2026-06-01T00:00:00Z"
    assert status_list["validUntil"] == "2026-06-08T00:00:00Z"
    assert credentials.data_integrity_verify(
        document=status_list, public_keys=credentials.jwks_public_keys(site.jwks)
    )
    assert "validUntil" not in site.status_list()


@pytest.mark.parametrize(
    "valid_until",
    [NOW, NOW - timedelta(days=1), NOW + timedelta(microseconds=1)],
)
def test_a_status_list_must_end_after_it_starts(site: Site, valid_until: Any) -> None:
    with pytest.raises(ValueError, match="after"):
        _list(site, valid_from=NOW, valid_until=valid_until)


def test_a_status_list_is_read_only_until_it_ends(site: Site) -> None:
    # given: a list signed a day ago for a week
    status_list = _list(
        site, valid_from=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=6)
    )
    token = site.token()
    # when
    during = site.verify(token, status_lists=[status_list])
    at_the_end = site.verify(
        token, status_lists=[status_list], now=NOW + timedelta(days=6)
    )
    # then
    assert during.status == "valid"
    assert at_the_end.status == "unknown"
    assert at_the_end.reasons == [
        f'The status list "{STATUS_URL}" is not valid at the time checked.'
    ]


def test_an_old_list_replayed_after_a_revocation_is_not_believed(site: Site) -> None:
    # given: last month's genuine list, from before the certificate was revoked
    old = _list(
        site, valid_from=NOW - timedelta(days=30), valid_until=NOW - timedelta(days=23)
    )
    current = _list(
        site,
        {INDEX: REVOKED},
        valid_from=NOW - timedelta(hours=1),
        valid_until=NOW + timedelta(days=7) - timedelta(hours=1),
    )
    token = site.token()
    # then
    assert site.verify(token, status_lists=[old]).status == "unknown"
    assert site.verify(token, status_lists=[old, current]).status == "revoked"


# -- What the site publishes -----------------------------------------------------


def _published() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    jwks = json.loads(json.dumps(credential_services.jwks()))
    lists = [json.loads(json.dumps(credential_services.status_list_document()))]
    return jwks, lists


@pytest.mark.django_db
def test_the_published_keys_name_their_issuers() -> None:
    # given
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    # when
    jwks, _lists = _published()
    # then
    by_kid = {jwk["kid"]: jwk for jwk in jwks["keys"]}
    site_kid = keys.public_jwk()["kid"]
    assert by_kid[site_kid]["iss"] == credential_services.site_issuer_id()
    assert by_kid[certificate.kid]["iss"] == credential_services.issuer_profile_url(
        body.organization
    )


@pytest.mark.django_db
def test_a_body_s_real_key_does_not_verify_another_body_s_certificate() -> None:
    # given: body B's certificate, signed again with body A's key
    body_a, body_b = make_body(), make_body()
    make_certificate(body_a, make_scheme(body_a))
    certificate = make_certificate(body_b, make_scheme(body_b))
    with transaction.atomic():
        key_a = credential_services.issuer_key_current(organization=body_a.organization)
    payload = _payload(certificate.credential)
    token = credentials.vc_jwt_sign(
        credential={
            name: value
            for name, value in payload.items()
            if name not in ("iss", "jti", "sub", "nbf", "exp")
        },
        key=credential_services.issuer_private_key(key_a),
        kid=key_a.kid,
    )
    jwks, lists = _published()
    # when
    forged = credentials.verify_credential(
        token=token, jwks=jwks, status_lists=lists, now=timezone.now()
    )
    genuine = credentials.verify_credential(
        token=certificate.credential, jwks=jwks, status_lists=lists, now=timezone.now()
    )
    # then
    assert forged.status == "invalid"
    assert "belongs to the issuer" in forged.reasons[0]
    assert genuine.status == "valid"


@pytest.mark.django_db
def test_the_published_list_stands_for_a_week() -> None:
    # given
    body = make_body()
    certificate = make_certificate(body, make_scheme(body))
    # when
    jwks, lists = _published()
    # then
    assert timedelta(days=7) == credential_services.STATUS_LIST_VALIDITY
    valid_from = datetime.fromisoformat(lists[0]["validFrom"])
    valid_until = datetime.fromisoformat(lists[0]["validUntil"])
    assert valid_until - valid_from == timedelta(days=7)

    def verify(at: Any) -> str:
        return credentials.verify_credential(
            token=certificate.credential, jwks=jwks, status_lists=lists, now=at
        ).status

    assert verify(valid_until - timedelta(seconds=1)) == "valid"
    assert verify(valid_until) == "unknown"
