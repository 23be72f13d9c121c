"""Certificates as verifiable credentials: the standards' known answers reproduced,
the Open Badges 3.0 schema, Bitstring Status Lists (the two-bit message list and
the one-bit revocation and suspension lists), and verification of genuine,
revoked, suspended, expired and forged certificates, offline and through the
``verify_credential`` command."""

import copy
import gzip
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import cache
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from jsonschema.protocols import Validator

from config.keys import b64url, b64url_decode, canonical_json, okp_thumbprint
from marketplace import credentials
from marketplace.management.commands.verify_credential import Command as VerifyCommand

VECTORS = Path(__file__).parent / "vectors"
VECTOR_FILES = (
    "credential-vectors.json",
    "ob_v3p0_achievementcredential_schema.json",
    "ob_v3p0_minimal_valid.json",
)

SITE = "https://market.example"
JWKS_URL = f"{SITE}/.well-known/jwks.json"
STATUS_URL = f"{SITE}/certificates/status-list.json"
# One-bit lists, as other issuers publish them.
REVOCATION_URL = f"{SITE}/certificates/status/revocation.json"
SUSPENSION_URL = f"{SITE}/certificates/status/suspension.json"
VALID_FROM = datetime(2026, 1, 1, tzinfo=UTC)
VALID_UNTIL = datetime(2027, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
INDEX = 4242
SUSPENDED = credentials.STATUS_SUSPENDED
REVOKED = credentials.STATUS_REVOKED
SCHEMA_SHA256 = "859e405b592d93c3261fe899362f4128801140d4d20c01502a066b3540483d95"
DIGEST = hashlib.sha256(b"mail-helper 1.2.0").hexdigest()


@cache
def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (VECTORS / "credential-vectors.json").read_text(encoding="utf-8")
    )
    return data


@cache
def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (VECTORS / "ob_v3p0_achievementcredential_schema.json").read_text(
            encoding="utf-8"
        )
    )
    return data


def _ob_validator() -> Validator:
    """A validator of the Open Badges 3.0 schema exactly as published."""
    return jsonschema.Draft201909Validator(
        _schema(),
        format_checker=jsonschema.Draft201909Validator.FORMAT_CHECKER,
    )


def _public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    x = b64url(_public_raw(key))
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": okp_thumbprint(x),
        "use": "sig",
        "alg": "EdDSA",
    }


class Site:
    """An issuer with its key, JWKS and the builders of its documents."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        self.kid = _jwk(self.key)["kid"]
        self.jwks = {"keys": [_jwk(self.key)]}

    def credential(self, **overrides: Any) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "credential_id": f"{SITE}/certificates/C-2026-000042/",
            "name": "Security certification, level 2",
            "issuer": {
                "id": f"{SITE}/bodies/cnas-lab/",
                "type": ["Profile"],
                "name": "CNAS Lab",
                "url": "https://lab.example",
            },
            "achievement": credentials.achievement(
                achievement_id=f"{SITE}/schemes/security/levels/2",
                name="Security, level 2",
                description="The agent passed the level 2 security assessment.",
                criteria="Static analysis, dependency audit and a penetration test.",
                level=2,
                dimension="security",
            ),
            "subject_id": "did:web:market.example:agents:mingde-ai:mail-helper",
            "subject_name": "Mail helper",
            "version": "1.2.0",
            "digest_hex": DIGEST,
            "valid_from": VALID_FROM,
            "valid_until": VALID_UNTIL,
            "status_index": INDEX,
            "status_list_url": STATUS_URL,
        }
        arguments.update(overrides)
        return credentials.certificate_credential(**arguments)

    def token(self, **overrides: Any) -> str:
        return credentials.vc_jwt_sign(
            credential=self.credential(**overrides), key=self.key, kid=self.kid
        )

    def token_with_status(self, status: Any) -> str:
        """A genuine certificate whose ``credentialStatus`` is ``status``."""
        credential = self.credential()
        credential["credentialStatus"] = status
        return credentials.vc_jwt_sign(
            credential=credential, key=self.key, kid=self.kid
        )

    def status_list(
        self,
        values: dict[int, int] | None = None,
        *,
        key: Ed25519PrivateKey | None = None,
        url: str = STATUS_URL,
        valid_from: datetime = VALID_FROM,
    ) -> dict[str, Any]:
        """The two-bit message list, as the site publishes it."""
        signer = key or self.key
        return credentials.status_list_credential(
            list_url=url,
            issuer_id=SITE,
            values=values or {},
            valid_from=valid_from,
            key=signer,
            verification_method=f"{JWKS_URL}#{_jwk(signer)['kid']}",
        )

    def one_bit_list(
        self,
        purpose: str,
        indices: tuple[int, ...] = (),
        *,
        key: Ed25519PrivateKey | None = None,
        url: str | None = None,
    ) -> dict[str, Any]:
        """A one-bit revocation or suspension list."""
        signer = key or self.key
        return credentials.status_list_credential(
            list_url=url
            or (REVOCATION_URL if purpose == "revocation" else SUSPENSION_URL),
            issuer_id=SITE,
            purpose=purpose,
            indices=indices,
            valid_from=VALID_FROM,
            key=signer,
            verification_method=f"{JWKS_URL}#{_jwk(signer)['kid']}",
        )

    def signed_list(
        self, subject: dict[str, Any], url: str = STATUS_URL
    ) -> dict[str, Any]:
        """A list credential with ``subject``, genuinely signed by the site."""
        return credentials.data_integrity_sign(
            document={
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": url,
                "type": ["VerifiableCredential", "BitstringStatusListCredential"],
                "issuer": SITE,
                "validFrom": "2026-01-01T00:00:00Z",
                "credentialSubject": {
                    "id": f"{url}#list",
                    "type": "BitstringStatusList",
                    **subject,
                },
            },
            key=self.key,
            verification_method=f"{JWKS_URL}#{self.kid}",
            created="2026-01-01T00:00:00Z",
        )

    def lists(
        self, *, revoked: tuple[int, ...] = (), suspended: tuple[int, ...] = ()
    ) -> list[dict[str, Any]]:
        values = dict.fromkeys(suspended, SUSPENDED) | dict.fromkeys(revoked, REVOKED)
        return [self.status_list(values)]

    def verify(
        self,
        token: Any,
        *,
        status_lists: list[Any] | None = None,
        now: datetime = NOW,
        jwks: Any = None,
    ) -> credentials.Verification:
        return credentials.verify_credential(
            token=token,
            jwks=self.jwks if jwks is None else jwks,
            status_lists=self.lists() if status_lists is None else status_lists,
            now=now,
        )


@pytest.fixture
def site() -> Site:
    return Site()


def _resign(
    token: str, key: Ed25519PrivateKey, *, header: Any = None, payload: Any = None
) -> str:
    """``token`` with its header or payload replaced, signed again by ``key``."""
    protected, encoded, _signature = token.split(".")
    if header is not None:
        protected = b64url(json.dumps(header).encode())
    if payload is not None:
        encoded = b64url(canonical_json(payload))
    signature = key.sign(f"{protected}.{encoded}".encode())
    return f"{protected}.{encoded}.{b64url(signature)}"


def _payload(token: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return data


# -- The vectors ---------------------------------------------------------------------


def test_the_vector_copies_equal_the_shared_conformance_set() -> None:
    shared = settings.BASE_DIR.parent / "shared" / "conformance"
    if not shared.is_dir():
        pytest.skip("../shared is not beside this checkout; the copies are used alone")
    for name in VECTOR_FILES:
        assert (VECTORS / name).read_bytes() == (shared / name).read_bytes(), name


def test_rfc8032_test1_signature_is_reproduced() -> None:
    # given
    vector = _vectors()["rfc8032_ed25519_test1"]
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vector["secret_key_hex"]))
    # when
    signature = key.sign(bytes.fromhex(vector["message_hex"]))
    # then
    assert _public_raw(key).hex() == vector["public_key_hex"]
    assert signature.hex() == vector["signature_hex"]


def test_rfc8037_compact_jws_is_reproduced() -> None:
    # given
    vector = _vectors()["rfc8037_jws_eddsa"]
    key = Ed25519PrivateKey.from_private_bytes(
        b64url_decode(vector["private_jwk"]["d"])
    )
    # when
    token = credentials.jws_sign(
        header=vector["protected_header"],
        payload=vector["payload_utf8"].encode(),
        key=key,
    )
    # then
    assert b64url(_public_raw(key)) == vector["private_jwk"]["x"]
    assert token == vector["compact_jws"]


def test_eddsa_jcs_2022_vector_is_reproduced_byte_for_byte() -> None:
    # given
    vector = _vectors()["w3c_eddsa_jcs_2022"]
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(vector["ed25519_seed_hex"])
    )
    proof_config = vector["proofConfig"]
    # when
    hash_data = credentials.data_integrity_hash_data(
        document=vector["unsigned"], proof_config=proof_config
    )
    signed = credentials.data_integrity_sign(
        document=vector["unsigned"],
        key=key,
        verification_method=proof_config["verificationMethod"],
        created=proof_config["created"],
    )
    # then
    assert canonical_json(vector["unsigned"]).decode() == vector["canonicalDocument"]
    assert canonical_json(proof_config).decode() == vector["canonicalProofConfig"]
    assert hash_data.hex() == vector["combinedHash_hex"]
    assert key.sign(hash_data).hex() == vector["signature_hex"]
    assert json.dumps(signed) == json.dumps(vector["signed"])  # members in order too
    # and the multikey is the same key: 0xed01 then the raw public key
    multikey = credentials.base58btc_decode(
        vector["keyPair"]["publicKeyMultibase"].removeprefix("z")
    )
    assert multikey == bytes.fromhex("ed01" + vector["ed25519_public_hex"])


def test_the_w3c_signed_document_verifies_and_any_change_does_not() -> None:
    # given
    vector = _vectors()["w3c_eddsa_jcs_2022"]
    method = vector["proofConfig"]["verificationMethod"]
    keys = {method.split("#")[1]: bytes.fromhex(vector["ed25519_public_hex"])}
    signed = vector["signed"]
    altered = copy.deepcopy(signed)
    altered["credentialSubject"]["alumniOf"] = "Another School"
    other_context = copy.deepcopy(signed)
    other_context["proof"]["@context"] = ["https://www.w3.org/ns/credentials/v2"]
    other_purpose = copy.deepcopy(signed)
    other_purpose["proof"]["proofPurpose"] = "authentication"
    garbled = copy.deepcopy(signed)
    garbled["proof"]["proofValue"] = "z0OIl"
    # then
    assert credentials.data_integrity_verify(document=signed, public_keys=keys)
    for document in (altered, other_context, other_purpose, garbled):
        assert not credentials.data_integrity_verify(
            document=document, public_keys=keys
        )
    assert not credentials.data_integrity_verify(
        document=signed, public_keys={"another": bytes(32)}
    )
    assert not credentials.data_integrity_verify(
        document=vector["unsigned"], public_keys=keys
    )


def _proof_over(
    document: dict[str, Any], context: list[str], key: Ed25519PrivateKey, kid: str
) -> dict[str, Any]:
    """``document`` with an eddsa-jcs-2022 proof whose configuration carries
    ``context``, genuinely signed over that pair."""
    proof_config = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": f"{JWKS_URL}#{kid}",
        "proofPurpose": "assertionMethod",
        "@context": context,
    }
    signature = key.sign(
        credentials.data_integrity_hash_data(
            document=document, proof_config=proof_config
        )
    )
    value = "z" + credentials.base58btc_encode(signature)
    return {**document, "proof": {**proof_config, "proofValue": value}}


def test_a_proof_made_under_another_context_is_refused(site: Site) -> None:
    # given: signatures that hold over their proof configuration and document
    document = {k: v for k, v in site.status_list().items() if k != "proof"}
    keys = credentials.jwks_public_keys(site.jwks)
    other = ["https://www.w3.org/ns/credentials/v2", "https://x.example/"]
    # then: only the one whose proof has the document's context is accepted
    assert credentials.data_integrity_verify(
        document=_proof_over(document, document["@context"], site.key, site.kid),
        public_keys=keys,
    )
    assert not credentials.data_integrity_verify(
        document=_proof_over(document, other, site.key, site.kid), public_keys=keys
    )


@pytest.mark.parametrize(
    "data", [b"", b"\0", b"\0\0\x01", b"hello", bytes(range(256)), b"\xff" * 64]
)
def test_base58btc_round_trips(data: bytes) -> None:
    assert credentials.base58btc_decode(credentials.base58btc_encode(data)) == data


def test_base58btc_refuses_characters_outside_its_alphabet() -> None:
    for text in ("0", "O", "I", "l", "z+"):
        with pytest.raises(ValueError, match="base58btc"):
            credentials.base58btc_decode(text)


# -- Status lists --------------------------------------------------------------------


def test_the_w3c_example_list_decodes_to_131072_clear_bits() -> None:
    # when
    bits = credentials.status_list_decode(
        _vectors()["bitstring_status_list_example"]["encodedList"]
    )
    # then
    assert len(bits) * 8 == credentials.STATUS_LIST_SIZE == 131_072
    assert not any(bits)


def test_status_lists_round_trip_with_bit_0_the_high_bit_of_byte_0() -> None:
    # given
    indices = {0, 7, 8, 4242, credentials.STATUS_LIST_SIZE - 1}
    # when
    encoded = credentials.status_list_encode(indices)
    bits = credentials.status_list_decode(encoded)
    # then
    assert encoded.startswith("u")
    assert encoded == credentials.status_list_encode(sorted(indices))  # deterministic
    assert bits[:2] == bytes([0b1000_0001, 0b1000_0000])
    assert {
        i
        for i in range(credentials.STATUS_LIST_SIZE)
        if credentials.status_list_bit(bits, i)
    } == indices
    with pytest.raises(IndexError):
        credentials.status_list_bit(bits, credentials.STATUS_LIST_SIZE)


def test_encoding_refuses_indices_outside_the_list_and_short_lists() -> None:
    with pytest.raises(ValueError, match="outside"):
        credentials.status_list_encode([credentials.STATUS_LIST_SIZE])
    with pytest.raises(ValueError, match="outside"):
        credentials.status_list_encode([-1])
    with pytest.raises(ValueError, match="at least"):
        credentials.status_list_encode([], size=8)


def test_two_bit_values_round_trip_at_0_1_4_and_the_last_entry() -> None:
    # given
    last = credentials.STATUS_LIST_SIZE - 1
    values = {0: 1, 1: 2, 4: 3, last: 2}
    # when
    encoded = credentials.status_values_encode(values)
    bits = credentials.status_list_decode(encoded)
    # then: 262,144 bits, entry i at bits [2i, 2i + 2), high bit first
    assert len(bits) == 2 * credentials.STATUS_LIST_SIZE // 8 == 32 * 1024
    assert bits[0] == 0b01_10_00_00  # entries 0 to 3: 1, 2, 0, 0
    assert bits[1] == 0b11_00_00_00  # entry 4: 3
    assert bits[-1] == 0b00_00_00_10  # the last entry: 2
    assert encoded == credentials.status_values_encode(dict(reversed(values.items())))
    assert {
        index: value
        for index in range(credentials.STATUS_LIST_SIZE)
        if (value := credentials.status_list_value(bits, index, 2))
    } == values
    for outside in (credentials.STATUS_LIST_SIZE, -1):
        with pytest.raises(IndexError):
            credentials.status_list_value(bits, outside, 2)


@hypothesis_settings(max_examples=20, deadline=None)
@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda size: st.tuples(
            st.just(size),
            st.dictionaries(
                st.integers(min_value=0, max_value=credentials.STATUS_LIST_SIZE - 1),
                st.integers(min_value=0, max_value=(1 << size) - 1),
                max_size=20,
            ),
        )
    )
)
def test_values_of_any_size_round_trip(case: tuple[int, dict[int, int]]) -> None:
    # given: entries that straddle byte boundaries when the size is 3, 5, 6 or 7
    size, values = case
    # when
    bits = credentials.status_list_decode(
        credentials.status_values_encode(values, status_size=size)
    )
    # then
    assert len(bits) * 8 == size * credentials.STATUS_LIST_SIZE
    for index, value in values.items():
        assert credentials.status_list_value(bits, index, size) == value
        for neighbour in (index - 1, index + 1):
            if 0 <= neighbour < credentials.STATUS_LIST_SIZE:
                expected = values.get(neighbour, 0)
                assert credentials.status_list_value(bits, neighbour, size) == expected


def test_a_one_bit_list_is_a_list_of_one_bit_values() -> None:
    assert credentials.status_list_encode([3, 9]) == (
        credentials.status_values_encode({3: 1, 9: 1}, status_size=1)
    )


@pytest.mark.parametrize(
    ("arguments", "why"),
    [
        pytest.param({"values": {0: 4}}, "does not fit", id="value too big"),
        pytest.param({"values": {0: -1}}, "does not fit", id="negative value"),
        pytest.param({"values": {0: True}}, "does not fit", id="boolean value"),
        pytest.param(
            {"values": {credentials.STATUS_LIST_SIZE: 1}}, "outside", id="index"
        ),
        pytest.param({"values": {}, "status_size": 0}, "status size", id="size 0"),
        pytest.param({"values": {}, "status_size": 9}, "status size", id="size 9"),
        pytest.param({"values": {}, "entries": 1024}, "at least", id="short"),
        pytest.param(
            {"values": {}, "status_size": 3, "entries": 131_073},
            "whole bytes",
            id="partial byte",
        ),
    ],
)
def test_value_encoding_refuses_what_does_not_fit(
    arguments: dict[str, Any], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        credentials.status_values_encode(**arguments)


def test_reading_a_value_needs_a_size_of_1_to_8_bits() -> None:
    bits = bytes(credentials.STATUS_LIST_SIZE // 8)
    for size in (0, 9):
        with pytest.raises(ValueError, match="status size"):
            credentials.status_list_value(bits, 0, size)


def _encoded(raw: bytes) -> str:
    return "u" + b64url(raw)


@pytest.mark.parametrize(
    ("encoded", "why"),
    [
        pytest.param("", "no multibase prefix", id="empty"),
        pytest.param("z" + b64url(gzip.compress(bytes(16384))), "base58", id="prefix"),
        pytest.param("u!!!!", "not base64url", id="alphabet"),
        pytest.param(_encoded(gzip.compress(bytes(16384))) + "==", "padding", id="pad"),
        pytest.param(_encoded(bytes(16384)), "not gzip", id="raw"),
        pytest.param(
            _encoded(gzip.compress(bytes(16384))[:-12]), "cut", id="truncated"
        ),
        pytest.param(
            _encoded(gzip.compress(bytes(16384)) + b"tail"), "trailing", id="trailing"
        ),
        pytest.param(_encoded(gzip.compress(bytes(16383))), "short", id="short"),
        pytest.param(
            _encoded(gzip.compress(bytes(17 * 1024 * 1024), mtime=0)), "bomb", id="bomb"
        ),
    ],
)
def test_malformed_lists_are_refused(encoded: str, why: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # each case has its own message
        credentials.status_list_decode(encoded)


def test_a_bomb_is_stopped_after_inflating_no_more_than_the_cap() -> None:
    # given: 64 MiB of zeros, compressed to some 64 KB
    inflater_input = gzip.compress(bytes(64 * 1024 * 1024), mtime=0)
    # when / then: refused without building the 64 MiB
    with pytest.raises(ValueError, match="16 MiB"):
        credentials.status_list_decode(_encoded(inflater_input))


STATUS_MESSAGES = [
    {"status": "0x0", "message": "valid"},
    {"status": "0x1", "message": "suspended"},
    {"status": "0x2", "message": "revoked"},
    {"status": "0x3", "message": "undefined"},
]


def test_the_status_list_credential_carries_two_bit_values_and_a_proof(
    site: Site,
) -> None:
    # when
    document = site.status_list({INDEX: REVOKED, 7: SUSPENDED})
    # then
    assert document["id"] == STATUS_URL
    assert document["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert document["credentialSubject"] == {
        "id": f"{STATUS_URL}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "message",
        "statusSize": 2,
        "statusMessages": STATUS_MESSAGES,
        "encodedList": credentials.status_values_encode({INDEX: 2, 7: 1}),
    }
    assert document["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert document["proof"]["verificationMethod"] == f"{JWKS_URL}#{site.kid}"
    keys = credentials.jwks_public_keys(site.jwks)
    assert credentials.data_integrity_verify(document=document, public_keys=keys)
    bits = credentials.status_list_decode(document["credentialSubject"]["encodedList"])
    assert credentials.status_list_value(bits, INDEX, 2) == REVOKED
    assert credentials.status_list_value(bits, 7, 2) == SUSPENDED
    assert credentials.status_list_value(bits, 8, 2) == credentials.STATUS_VALID


def test_one_bit_list_credentials_are_still_made(site: Site) -> None:
    # when
    document = site.one_bit_list("revocation", (INDEX,))
    # then
    assert document["credentialSubject"] == {
        "id": f"{REVOCATION_URL}#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": credentials.status_list_encode([INDEX]),
    }
    keys = credentials.jwks_public_keys(site.jwks)
    assert credentials.data_integrity_verify(document=document, public_keys=keys)


def test_a_status_list_credential_refuses_mixed_up_arguments(site: Site) -> None:
    common: dict[str, Any] = {
        "list_url": STATUS_URL,
        "issuer_id": SITE,
        "valid_from": VALID_FROM,
        "key": site.key,
        "verification_method": f"{JWKS_URL}#{site.kid}",
    }
    with pytest.raises(ValueError, match="purpose"):
        credentials.status_list_credential(**common, purpose="refresh")
    with pytest.raises(ValueError, match="not indices"):
        credentials.status_list_credential(**common, indices=[INDEX])
    with pytest.raises(ValueError, match="not values"):
        credentials.status_list_credential(
            **common, purpose="revocation", values={INDEX: 1}
        )
    with pytest.raises(ValueError, match="does not fit"):
        credentials.status_list_credential(**common, values={INDEX: 4})


# -- The credential and the Open Badges 3.0 schema -----------------------------------


def test_a_certificate_has_the_agreed_shape(site: Site) -> None:
    # when
    credential = site.credential(evidence=[{"type": ["Evidence"], "name": "Report"}])
    # then
    assert credential["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert credential["validFrom"] == "2026-01-01T00:00:00Z"
    assert credential["validUntil"] == "2027-01-01T00:00:00Z"
    subject = credential["credentialSubject"]
    assert subject["achievement"]["achievementType"] == "Certification"
    assert subject["identifier"][0] == {
        "type": "IdentityObject",
        "hashed": False,
        "identityHash": f"sha256${DIGEST}",
        "identityType": "ext:AgentVersionDigest",
    }
    assert {
        i["identityType"]: i["identityHash"] for i in subject["identifier"][1:]
    } == {
        "ext:AgentVersion": "1.2.0",
        "name": "Mail helper",
    }
    assert credential["credentialStatus"] == {
        "id": f"{STATUS_URL}#{INDEX}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": str(INDEX),
        "statusSize": 2,
        "statusMessage": STATUS_MESSAGES,
        "statusListCredential": STATUS_URL,
    }
    assert credential["credentialStatus"] == credentials.status_entry(
        list_url=STATUS_URL, index=INDEX
    )
    assert credential["evidence"] == [{"type": ["Evidence"], "name": "Report"}]


def test_a_certificate_refuses_bad_times_a_bad_digest_and_an_index_off_the_list(
    site: Site,
) -> None:
    with pytest.raises(ValueError, match="aware"):
        site.credential(valid_from=datetime(2026, 1, 1))  # noqa: DTZ001  # the point
    with pytest.raises(ValueError, match="SHA-256"):
        site.credential(digest_hex="abc")
    with pytest.raises(ValueError, match="status_index"):
        site.credential(status_index=credentials.STATUS_LIST_SIZE)
    with pytest.raises(ValueError, match="after"):
        site.credential(valid_until=VALID_FROM)
    with pytest.raises(ValueError, match="outside"):
        credentials.status_entry(list_url=STATUS_URL, index=-1)


def test_the_schema_is_the_published_one_unmodified() -> None:
    data = (VECTORS / "ob_v3p0_achievementcredential_schema.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SCHEMA_SHA256
    assert _schema()["properties"]["credentialStatus"] == {
        "$ref": "#/$defs/CredentialStatus"
    }


@pytest.mark.parametrize("evidence", [None, [{"type": ["Evidence"], "name": "Report"}]])
def test_a_certificate_validates_against_the_open_badges_schema(
    site: Site, evidence: list[dict[str, Any]] | None
) -> None:
    # given
    credential = site.credential(evidence=evidence)
    # when
    errors = list(_ob_validator().iter_errors(credential))
    # then: no error at all, against the schema as published
    assert [error.message for error in errors] == []
    # and so is the signed payload, JWT claims and all
    payload = _payload(
        credentials.vc_jwt_sign(credential=credential, key=site.key, kid=site.kid)
    )
    assert list(_ob_validator().iter_errors(payload)) == []


def test_the_schema_would_refuse_the_two_entry_form(site: Site) -> None:
    # given: what a certificate carried before, a revocation and a suspension entry
    credential = site.credential()
    entry = credential["credentialStatus"]
    credential["credentialStatus"] = [entry, {**entry, "id": f"{entry['id']}-2"}]
    # then: Open Badges 3.0 takes one status object, not a list
    assert not _ob_validator().is_valid(credential)


def _minimal() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (VECTORS / "ob_v3p0_minimal_valid.json").read_text(encoding="utf-8")
    )
    return data


def test_the_minimal_open_badges_example_validates() -> None:
    # given
    minimal = _minimal()
    # then
    assert minimal == _vectors()["open_badges_3_minimal_credential"]["credential"]
    _ob_validator().validate(minimal)


def _without(member: str) -> dict[str, Any]:
    document = _minimal()
    del document[member]
    return document


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_without("validFrom"), id="no validFrom"),
        pytest.param(_without("issuer"), id="no issuer"),
        pytest.param(_without("credentialSubject"), id="no credentialSubject"),
        pytest.param(
            {**_minimal(), "type": ["VerifiableCredential"]},
            id="no OpenBadgeCredential",
        ),
    ],
)
def test_the_schema_refuses_what_open_badges_requires(document: dict[str, Any]) -> None:
    assert not _ob_validator().is_valid(document)


@pytest.mark.parametrize("member", ["validFrom", "issuer", "credentialSubject"])
def test_a_certificate_missing_a_required_member_is_refused_by_the_schema(
    site: Site, member: str
) -> None:
    credential = site.credential()
    del credential[member]
    assert not _ob_validator().is_valid(credential)


# -- VC-JWT --------------------------------------------------------------------------


def test_a_vc_jwt_has_the_open_badges_header_and_claims(site: Site) -> None:
    # given
    credential = site.credential()
    # when
    token = credentials.vc_jwt_sign(credential=credential, key=site.key, kid=site.kid)
    # then
    protected, encoded, _signature = token.split(".")
    assert (
        b64url_decode(protected)
        == json.dumps(
            {"alg": "EdDSA", "kid": site.kid, "typ": "JWT"}, separators=(",", ":")
        ).encode()
    )
    payload = _payload(token)
    assert b64url_decode(encoded) == canonical_json(payload)
    assert payload == {
        **credential,
        "iss": f"{SITE}/bodies/cnas-lab/",
        "jti": f"{SITE}/certificates/C-2026-000042/",
        "sub": "did:web:market.example:agents:mingde-ai:mail-helper",
        "nbf": int(VALID_FROM.timestamp()),
        "exp": int(VALID_UNTIL.timestamp()),
    }


def test_a_vc_jwt_verifies_with_a_jwt_library_of_its_own(site: Site) -> None:
    # given
    token = site.token()
    # when: another implementation checks it with the JWKS alone
    key = jwt.PyJWKSet.from_dict(site.jwks)[site.kid]
    claims = jwt.decode(
        token,
        key=key.key,
        algorithms=["EdDSA"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    # then
    assert claims["jti"] == f"{SITE}/certificates/C-2026-000042/"
    assert claims["credentialSubject"]["identifier"][0]["identityHash"] == (
        f"sha256${DIGEST}"
    )


def test_jwks_public_keys_keeps_only_unambiguous_ed25519_signing_keys(
    site: Site,
) -> None:
    # given
    other = _jwk(Ed25519PrivateKey.generate())
    jwks = {
        "keys": [
            site.jwks["keys"][0],
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {**other, "kid": "x25519", "crv": "X25519"},
            {**other, "kid": "short", "x": b64url(bytes(31))},
            {**other, "kid": "enc", "use": "enc"},
            {**other, "kid": "twice"},
            {**other, "kid": "twice", "x": site.jwks["keys"][0]["x"]},
            "not a key",
        ]
    }
    # when
    keys = credentials.jwks_public_keys(jwks)
    # then
    assert keys == {site.kid: _public_raw(site.key)}
    assert credentials.jwks_public_keys(None) == {}
    assert credentials.jwks_public_keys({"keys": "x"}) == {}


# -- Verification --------------------------------------------------------------------


def test_a_genuine_certificate_is_valid(site: Site) -> None:
    # when
    result = site.verify(site.token())
    # then
    assert result == credentials.Verification(
        status="valid", reasons=[], credential=site.credential(), kid=site.kid
    )


def test_a_certificate_without_status_entries_needs_no_lists(site: Site) -> None:
    # given
    credential = site.credential()
    del credential["credentialStatus"]
    token = credentials.vc_jwt_sign(credential=credential, key=site.key, kid=site.kid)
    # then
    assert site.verify(token, status_lists=[]).status == "valid"


def test_a_revoked_certificate_is_revoked(site: Site) -> None:
    # when
    result = site.verify(site.token(), status_lists=site.lists(revoked=(INDEX,)))
    # then
    assert result.status == "revoked"
    assert result.reasons == [
        f'The credential has been revoked (list "{STATUS_URL}", entry {INDEX}).'
    ]


def test_a_suspended_certificate_is_suspended(site: Site) -> None:
    # when
    result = site.verify(site.token(), status_lists=site.lists(suspended=(INDEX,)))
    # then
    assert result.status == "suspended"
    assert result.reasons == [
        f'The credential is suspended (list "{STATUS_URL}", entry {INDEX}).'
    ]


def test_a_certificate_goes_through_its_life_with_only_the_jwks_and_the_list(
    site: Site,
) -> None:
    # given: one certificate, and the one list as it is republished over time
    token = site.token()
    issued, suspended, reinstated, revoked = (
        site.status_list(values)
        for values in ({}, {INDEX: SUSPENDED}, {}, {INDEX: REVOKED})
    )
    # then
    assert [
        site.verify(token, status_lists=[document]).status
        for document in (issued, suspended, reinstated, revoked)
    ] == ["valid", "suspended", "valid", "revoked"]


def test_other_certificates_entries_do_not_matter(site: Site) -> None:
    values = {INDEX - 1: REVOKED, INDEX + 1: SUSPENDED, 0: 3}
    result = site.verify(site.token(), status_lists=[site.status_list(values)])
    assert result.status == "valid"


def test_the_value_3_is_not_understood_so_the_status_is_unknown(site: Site) -> None:
    # when: 0x3 is "undefined" in the certificate's messages
    result = site.verify(site.token(), status_lists=[site.status_list({INDEX: 3})])
    # then
    assert result.status == "unknown"
    assert result.reasons == [
        f'The status list "{STATUS_URL}" gives entry {INDEX} the value 0x3, '
        '"undefined", which is not understood, so the status is unknown.'
    ]


def _message_entry(**changes: Any) -> dict[str, Any]:
    entry = credentials.status_entry(list_url=STATUS_URL, index=INDEX)
    entry.update(changes)
    return {name: value for name, value in entry.items() if value is not None}


def test_a_value_without_a_message_is_unknown_and_0_without_one_is_valid(
    site: Site,
) -> None:
    # given: a one-bit message entry with no statusMessage, as the spec allows
    token = site.token_with_status(_message_entry(statusSize=1, statusMessage=None))

    def one_bit_message_list(indices: list[int]) -> dict[str, Any]:
        return site.signed_list(
            {
                "statusPurpose": "message",
                "statusSize": 1,
                "encodedList": credentials.status_list_encode(indices),
            }
        )

    # when
    unset = site.verify(token, status_lists=[one_bit_message_list([])])
    set_ = site.verify(token, status_lists=[one_bit_message_list([INDEX])])
    # then
    assert unset.status == "valid"
    assert set_.status == "unknown"
    assert set_.reasons == [
        f'The status list "{STATUS_URL}" gives entry {INDEX} the value 0x1, for '
        "which the credential has no message, so its status is unknown."
    ]


def test_the_messages_the_signed_credential_gives_are_honoured(site: Site) -> None:
    # given: a certificate whose own messages give 0x1 "revoked", 0x2 "suspended"
    messages = [
        {"status": "0x0", "message": "valid"},
        {"status": "0x1", "message": "revoked"},
        {"status": "0x2", "message": "suspended"},
        {"status": "0x3", "message": "undefined"},
    ]
    token = site.token_with_status(_message_entry(statusMessage=messages))
    # when
    one = site.verify(token, status_lists=[site.status_list({INDEX: 1})])
    two = site.verify(token, status_lists=[site.status_list({INDEX: 2})])
    # then
    assert (one.status, two.status) == ("revoked", "suspended")


def test_a_message_other_than_ours_is_not_understood(site: Site) -> None:
    # given: the spec's own example messages
    messages = [
        {"status": "0x0", "message": "pending_review"},
        {"status": "0x1", "message": "accepted"},
        {"status": "0x2", "message": "rejected"},
        {"status": "0x3", "message": "undefined"},
    ]
    token = site.token_with_status(_message_entry(statusMessage=messages))
    # when
    result = site.verify(token, status_lists=[site.status_list()])
    # then: even at 0, a message that is not "valid" is not taken for valid
    assert result.status == "unknown"
    assert '"pending_review"' in result.reasons[0]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({"statusSize": 0}, "statusSize", id="size 0"),
        pytest.param({"statusSize": 9}, "statusSize", id="size 9"),
        pytest.param({"statusSize": "2"}, "statusSize", id="size a string"),
        pytest.param({"statusSize": 1.5}, "statusSize", id="size a fraction"),
        pytest.param({"statusSize": True}, "statusSize", id="size true"),
        pytest.param({"statusSize": None}, "list of 2 messages", id="size missing"),
        pytest.param({"statusMessage": None}, "no statusMessage", id="no messages"),
        pytest.param(
            {"statusMessage": STATUS_MESSAGES[:3]}, "list of 4", id="three messages"
        ),
        pytest.param(
            {"statusMessage": {"0x0": "valid"}}, "list of 4", id="messages an object"
        ),
        pytest.param(
            {"statusMessage": [*STATUS_MESSAGES[:3], STATUS_MESSAGES[0]]},
            "one message to each value",
            id="a value twice",
        ),
        pytest.param(
            {"statusMessage": [*STATUS_MESSAGES[:3], {"status": "0x4", "message": ""}]},
            "one message to each value",
            id="a value too big",
        ),
        pytest.param(
            {"statusMessage": [*STATUS_MESSAGES[:3], {"status": "3", "message": "x"}]},
            "0x and hexadecimal",
            id="no 0x",
        ),
        pytest.param(
            {"statusMessage": [*STATUS_MESSAGES[:3], {"status": "0x3"}]},
            "0x and hexadecimal",
            id="no message",
        ),
        pytest.param(
            {"statusMessage": [*STATUS_MESSAGES[:3], {"status": 3, "message": "x"}]},
            "0x and hexadecimal",
            id="a number",
        ),
        pytest.param(
            {"statusMessage": [*STATUS_MESSAGES[:3], "0x3"]},
            "0x and hexadecimal",
            id="not an object",
        ),
    ],
)
def test_a_malformed_size_or_messages_make_the_entry_invalid(
    site: Site, changes: dict[str, Any], problem: str
) -> None:
    # given: signed by the issuer, but not a conforming entry
    token = site.token_with_status(_message_entry(**changes))
    # when
    result = site.verify(token)
    # then
    assert result.status == "invalid"
    assert result.reasons[0].startswith(
        "A status entry of the credential is malformed: "
    )
    assert problem in result.reasons[0]


def test_one_bit_revocation_and_suspension_entries_still_verify(site: Site) -> None:
    # given: a credential with the two one-bit entries other issuers write
    token = site.token_with_status(
        [
            {
                "id": f"{REVOCATION_URL}#{INDEX}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": str(INDEX),
                "statusListCredential": REVOCATION_URL,
            },
            {
                "id": f"{SUSPENSION_URL}#{INDEX}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "suspension",
                "statusListIndex": str(INDEX),
                "statusListCredential": SUSPENSION_URL,
            },
        ]
    )

    def lists(
        revoked: tuple[int, ...] = (), suspended: tuple[int, ...] = ()
    ) -> list[dict[str, Any]]:
        return [
            site.one_bit_list("revocation", revoked),
            site.one_bit_list("suspension", suspended),
        ]

    # when
    valid = site.verify(token, status_lists=lists(revoked=(INDEX - 1, INDEX + 1)))
    revoked = site.verify(token, status_lists=lists(revoked=(INDEX,)))
    suspended = site.verify(token, status_lists=lists(suspended=(INDEX,)))
    both = site.verify(token, status_lists=lists((INDEX,), (INDEX,)), now=VALID_UNTIL)
    half = site.verify(token, status_lists=lists()[:1])
    # then
    assert valid.status == "valid"
    assert revoked.reasons == [
        f'The credential has been revoked (list "{REVOCATION_URL}", entry {INDEX}).'
    ]
    assert suspended.status == "suspended"
    assert both.status == "revoked"
    assert len(both.reasons) == 3  # revoked, suspended, expired
    assert half.status == "unknown"
    assert half.reasons == [
        f'The status list "{SUSPENSION_URL}" was not given, so that status is unknown.'
    ]


def test_an_expired_certificate_is_expired_from_valid_until_on(site: Site) -> None:
    # when
    at_the_end = site.verify(site.token(), now=VALID_UNTIL)
    just_before = site.verify(site.token(), now=VALID_UNTIL - timedelta(seconds=1))
    # then
    assert at_the_end.status == "expired"
    assert at_the_end.reasons == ['The credential expired at "2027-01-01T00:00:00Z".']
    assert just_before.status == "valid"


def test_a_certificate_not_yet_valid_is_invalid(site: Site) -> None:
    result = site.verify(site.token(), now=VALID_FROM - timedelta(seconds=1))
    assert result.status == "invalid"
    assert "not valid before" in result.reasons[0]


def test_precedence_puts_the_worst_first_and_lists_every_finding(site: Site) -> None:
    # given: revoked and expired at once
    lists = site.lists(revoked=(INDEX,))
    # when
    result = site.verify(site.token(), status_lists=lists, now=VALID_UNTIL)
    # then
    assert result.status == "revoked"
    assert len(result.reasons) == 2
    assert "revoked" in result.reasons[0]
    # and suspended and unknown come before expired
    suspended = site.verify(
        site.token(), status_lists=site.lists(suspended=(INDEX,)), now=VALID_UNTIL
    )
    assert suspended.status == "suspended"
    assert len(suspended.reasons) == 2
    unknown = site.verify(site.token(), status_lists=[], now=VALID_UNTIL)
    assert unknown.status == "unknown"
    assert len(unknown.reasons) == 2


def test_a_missing_status_list_makes_the_status_unknown(site: Site) -> None:
    # when: the list given is another one
    other = site.status_list(url=f"{SITE}/certificates/other-list.json")
    result = site.verify(site.token(), status_lists=[other])
    # then
    assert result.status == "unknown"
    assert result.reasons == [
        f'The status list "{STATUS_URL}" was not given, so that status is unknown.'
    ]


def test_a_status_list_with_a_forged_proof_makes_the_status_unknown(site: Site) -> None:
    # given: the list altered to clear an entry, its proof kept
    genuine = site.status_list({INDEX: REVOKED})
    forged = copy.deepcopy(genuine)
    forged["credentialSubject"]["encodedList"] = credentials.status_values_encode({})
    # and another signed by a key the JWKS does not hold
    stranger = site.status_list(key=Ed25519PrivateKey.generate())
    # then
    for document in (forged, stranger):
        result = site.verify(site.token(), status_lists=[document])
        assert result.status == "unknown"
        assert "no valid proof" in result.reasons[0]


def test_a_genuine_list_beside_a_forged_copy_still_counts(site: Site) -> None:
    genuine = site.status_list({INDEX: REVOKED})
    forged = copy.deepcopy(genuine)
    forged["credentialSubject"]["encodedList"] = credentials.status_values_encode({})
    lists = [forged, genuine]
    assert site.verify(site.token(), status_lists=lists).status == "revoked"


def test_of_two_genuine_lists_the_latest_counts(site: Site) -> None:
    # given: suspended in January, reinstated in March
    january = site.status_list({INDEX: SUSPENDED})
    march = site.status_list(valid_from=datetime(2026, 3, 1, tzinfo=UTC))
    # then
    assert site.verify(site.token(), status_lists=[march, january]).status == "valid"
    assert site.verify(site.token(), status_lists=[january]).status == "suspended"


def test_a_list_for_another_purpose_makes_the_status_unknown(site: Site) -> None:
    # given: a one-bit revocation list served where the message list should be
    swapped = site.one_bit_list("revocation", (INDEX,), url=STATUS_URL)
    # when
    result = site.verify(site.token(), status_lists=[swapped])
    # then
    assert result.status == "unknown"
    assert result.reasons == [
        f'The status list "{STATUS_URL}" is not for message, so that status is unknown.'
    ]


def test_a_list_of_another_entry_size_makes_the_status_unknown(site: Site) -> None:
    # given: a message list that says its entries have one bit
    one_bit = site.signed_list(
        {
            "statusPurpose": "message",
            "statusSize": 1,
            "encodedList": credentials.status_values_encode({}),
        }
    )
    # when
    result = site.verify(site.token(), status_lists=[one_bit])
    # then
    assert result.status == "unknown"
    assert "holds entries of 1 bits, not the 2 bits" in result.reasons[0]


def test_a_message_list_without_a_size_is_read_with_the_entry_size(
    site: Site,
) -> None:
    # given: a list that leaves out its size and messages
    bare = site.signed_list(
        {
            "statusPurpose": ["message"],
            "encodedList": credentials.status_values_encode({INDEX: REVOKED}),
        }
    )
    # then
    assert site.verify(site.token(), status_lists=[bare]).status == "revoked"


def test_a_list_too_short_for_two_bit_entries_makes_the_status_unknown(
    site: Site,
) -> None:
    # given: 131,072 bits, enough for one-bit entries, half enough for two-bit ones
    short = site.signed_list(
        {
            "statusPurpose": "message",
            "encodedList": credentials.status_list_encode([]),
        }
    )
    # when
    result = site.verify(site.token(), status_lists=[short])
    # then
    assert result.status == "unknown"
    assert result.reasons == [
        f'The status list "{STATUS_URL}" has fewer than 131072 entries of 2 bits, '
        "so that status is unknown."
    ]


def test_a_status_list_with_a_malformed_bitstring_makes_the_status_unknown(
    site: Site,
) -> None:
    # given: a list of 100 bytes, properly signed
    short = site.signed_list(
        {
            "statusPurpose": "message",
            "statusSize": 2,
            "encodedList": _encoded(gzip.compress(bytes(100))),
        }
    )
    # when
    result = site.verify(site.token(), status_lists=[short])
    # then
    assert result.status == "unknown"
    assert "malformed" in result.reasons[0]


def test_a_list_not_valid_at_the_time_checked_makes_the_status_unknown(
    site: Site,
) -> None:
    later = site.status_list(valid_from=NOW + timedelta(days=1))
    result = site.verify(site.token(), status_lists=[later])
    assert result.status == "unknown"
    assert "not valid at the time checked" in result.reasons[0]


def test_an_entry_index_beyond_a_long_list_is_unknown(site: Site) -> None:
    # given: an index past the 131,072 entries of the list
    beyond = credentials.STATUS_LIST_SIZE
    token = site.token_with_status(
        _message_entry(id=f"{STATUS_URL}#{beyond}", statusListIndex=str(beyond))
    )
    # when
    result = site.verify(token)
    # then
    assert result.status == "unknown"
    assert result.reasons == [f'The status list "{STATUS_URL}" has no entry {beyond}.']


def test_one_altered_byte_of_the_payload_makes_it_invalid(site: Site) -> None:
    # given: "level 2" becomes "level 3" without signing again
    protected, encoded, signature = site.token().split(".")
    payload = b64url_decode(encoded).replace(b"level 2", b"level 3", 1)
    tampered = f"{protected}.{b64url(payload)}.{signature}"
    # when
    result = site.verify(tampered)
    # then
    assert result.status == "invalid"
    assert result.credential is None
    assert "signature does not match" in result.reasons[0]


def test_every_single_character_change_is_caught(site: Site) -> None:
    # given
    token = site.token()
    # when: each character in turn replaced by another base64url character
    statuses = set()
    for position, char in enumerate(token):
        if char == ".":
            continue
        replacement = "A" if char != "A" else "B"
        mutated = token[:position] + replacement + token[position + 1 :]
        statuses.add(site.verify(mutated).status)
    # then
    assert statuses == {"invalid"}


def test_a_signature_spelled_non_canonically_is_refused(site: Site) -> None:
    # given: the last character's unused low bits set
    token = site.token()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    variant = token[:-1] + alphabet[last | 0b11]
    assert variant != token
    assert b64url_decode(variant.split(".")[2]) == b64url_decode(token.split(".")[2])
    # then
    assert site.verify(variant).status == "invalid"


def test_a_kid_the_jwks_does_not_hold_is_invalid(site: Site) -> None:
    # given: a certificate signed by a stranger, under a kid of its own
    stranger = Site()
    result = site.verify(stranger.token())
    # then
    assert result.status == "invalid"
    assert result.kid == stranger.kid
    assert "no Ed25519 key with id" in result.reasons[0]


def test_a_certificate_signed_by_another_key_under_our_kid_is_invalid(
    site: Site,
) -> None:
    # given
    stranger = Ed25519PrivateKey.generate()
    token = credentials.vc_jwt_sign(
        credential=site.credential(), key=stranger, kid=site.kid
    )
    # then
    assert site.verify(token).status == "invalid"


@pytest.mark.parametrize(
    "header",
    [
        pytest.param({"alg": "none", "kid": "K", "typ": "JWT"}, id="none"),
        pytest.param({"alg": "HS256", "kid": "K", "typ": "JWT"}, id="HS256"),
        pytest.param(
            {"alg": "EdDSA", "kid": "K", "crit": ["exp"], "exp": 1}, id="crit"
        ),
        pytest.param({"alg": "EdDSA", "kid": "K", "b64": False}, id="b64"),
        pytest.param({"alg": "EdDSA"}, id="no kid"),
        pytest.param({"alg": "EdDSA", "kid": 7}, id="kid not a string"),
        pytest.param(["EdDSA"], id="not an object"),
    ],
)
def test_headers_other_than_eddsa_with_a_kid_are_invalid(
    site: Site, header: Any
) -> None:
    # given: our own key signs, so only the header is wrong
    if isinstance(header, dict) and header.get("kid") == "K":
        header = {**header, "kid": site.kid}
    token = _resign(site.token(), site.key, header=header)
    # when
    result = site.verify(token)
    # then
    assert result.status == "invalid"
    assert result.credential is None


def test_alg_none_with_an_empty_signature_is_invalid(site: Site) -> None:
    protected = b64url(json.dumps({"alg": "none", "kid": site.kid}).encode())
    token = f"{protected}.{site.token().split('.')[1]}."
    assert site.verify(token).status == "invalid"


def test_an_hs256_token_keyed_with_the_public_key_is_invalid(site: Site) -> None:
    # given: the classic confusion, the public key used as an HMAC secret
    token = jwt.encode(
        _payload(site.token()),
        _public_raw(site.key),
        algorithm="HS256",
        headers={"kid": site.kid},
    )
    # then
    assert site.verify(token).status == "invalid"


def test_a_header_with_a_member_twice_is_invalid(site: Site) -> None:
    protected = b64url(f'{{"alg":"EdDSA","kid":"{site.kid}","alg":"none"}}'.encode())
    token = site.token().split(".")
    forged = f"{protected}.{token[1]}"
    signature = b64url(site.key.sign(forged.encode()))
    assert site.verify(f"{forged}.{signature}").status == "invalid"


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("iss", "https://another.example/"),
        ("jti", "https://market.example/certificates/C-2026-000043/"),
        ("sub", "did:web:market.example:agents:other:agent"),
        ("nbf", 0),
        ("exp", 4_102_444_800),
        ("exp", None),
        ("nbf", True),
    ],
)
def test_claims_that_disagree_with_the_credential_are_invalid(
    site: Site, claim: str, value: Any
) -> None:
    # given: signed by our key, but a claim says something else
    payload = _payload(site.token())
    if value is None:
        del payload[claim]
    else:
        payload[claim] = value
    token = _resign(site.token(), site.key, payload=payload)
    # when
    result = site.verify(token)
    # then
    assert result.status == "invalid"
    assert result.reasons == [
        f"The JWT claim {claim} does not agree with the credential."
    ]


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("type", ["VerifiableCredential"]),
        ("@context", ["https://www.w3.org/2018/credentials/v1"]),
        ("validFrom", "yesterday"),
        ("validFrom", "2026-01-01T00:00:00"),
        ("credentialStatus", "revoked?"),
        ("credentialStatus", [{"type": "BitstringStatusListEntry"}]),
    ],
)
def test_malformed_credentials_are_invalid_even_when_signed(
    site: Site, member: str, value: Any
) -> None:
    payload = _payload(site.token())
    payload[member] = value
    token = _resign(site.token(), site.key, payload=payload)
    assert site.verify(token).status == "invalid"


def test_a_status_method_we_do_not_know_makes_the_status_unknown(site: Site) -> None:
    payload = _payload(site.token())
    payload["credentialStatus"] = {
        "id": "https://x.example/1",
        "type": "1EdTechRevocationList",
    }
    token = _resign(site.token(), site.key, payload=payload)
    result = site.verify(token)
    assert result.status == "unknown"
    assert result.reasons == [
        'The status method "1EdTechRevocationList" is not supported.'
    ]


GARBAGE = [
    None,
    b"bytes",
    "",
    ".",
    "..",
    "...",
    "a.b.c",
    "a.b",
    "a.b.c.d",
    "x" * (credentials.MAX_CREDENTIAL_LENGTH + 1),
    "eyJhbGciOiJFZERTQSJ9" + "." * 2,
    b64url(b"not json") + ".e30.AAAA",
    b64url(b'{"alg":"EdDSA","kid":"k"') + ".e30.AAAA",
    b64url(b'{"alg":"EdDSA","kid":NaN}') + ".e30.AAAA",
    b64url(b"[" * 5000 + b"]" * 5000) + ".e30.AAAA",
    b64url(b"\xff\xfe") + ".e30.AAAA",
    "A.B.C",
    "=.=.=",
    " eyJ. eyJ. x",
    "\u00e9.\u00e9.\u00e9",
]


@pytest.mark.parametrize("token", GARBAGE)
def test_garbage_is_invalid_without_raising(site: Site, token: Any) -> None:
    result = site.verify(token)
    assert result.status == "invalid"
    assert result.reasons
    assert result.credential is None


@given(st.text(max_size=300))
def test_no_text_makes_verification_raise(token: str) -> None:
    result = credentials.verify_credential(
        token=token, jwks={"keys": []}, status_lists=[], now=NOW
    )
    assert result.status == "invalid"


def test_garbage_key_sets_and_lists_do_not_raise(site: Site) -> None:
    token = site.token()
    key_sets: list[Any] = [[], "x", {"keys": [None, 1, {"kty": "OKP", "x": "!!"}]}]
    for jwks in key_sets:
        assert site.verify(token, jwks=jwks).status == "invalid"
    lists: list[Any] = [
        None,
        "x",
        3,
        {"id": STATUS_URL},
        {"id": STATUS_URL, "proof": 1},
    ]
    assert site.verify(token, status_lists=lists).status == "unknown"


_FUZZ_SITE = Site()
_JSON = st.recursive(
    # integers JSON can carry exactly, so that RFC 8785 can sign them
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=12,
)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "statusPurpose": st.sampled_from(["message", "revocation"]) | _JSON,
            "statusListIndex": st.sampled_from(["0", str(INDEX), "131072"]) | _JSON,
            "statusSize": st.integers(min_value=-1, max_value=10) | _JSON,
            "statusMessage": st.lists(
                st.fixed_dictionaries(
                    {"status": st.sampled_from(["0x0", "0x1", "0x2", "0x3"]) | _JSON},
                    optional={"message": st.sampled_from(["valid", "revoked"]) | _JSON},
                ),
                max_size=5,
            )
            | _JSON,
        },
    )
)
def test_no_status_entry_makes_verification_raise(changes: dict[str, Any]) -> None:
    # given: a genuine signature over whatever the status entry holds
    site = _FUZZ_SITE
    entry = {**credentials.status_entry(list_url=STATUS_URL, index=INDEX), **changes}
    token = site.token_with_status(entry)
    # when
    result = site.verify(token, status_lists=[site.status_list({INDEX: REVOKED})])
    # then
    assert result.status in set(credentials.VerificationStatus)
    assert result.status == "valid" or result.reasons


def test_a_naive_now_is_a_programming_error(site: Site) -> None:
    with pytest.raises(ValueError, match="aware"):
        site.verify(site.token(), now=datetime(2026, 6, 1))  # noqa: DTZ001  # the point


# -- The command ---------------------------------------------------------------------


def _files(
    tmp_path: Path, site: Site, token: str, lists: list[dict[str, Any]]
) -> dict[str, Any]:
    credential = tmp_path / "credential.jwt"
    credential.write_text(token + "\n", encoding="ascii")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(site.jwks), encoding="utf-8")
    names = []
    for number, document in enumerate(lists):
        path = tmp_path / f"list-{number}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        names.append(str(path))
    return {"credential": str(credential), "jwks": str(jwks), "status_lists": names}


def _run(files: dict[str, Any], **options: Any) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command(
            "verify_credential",
            files["credential"],
            jwks=files["jwks"],
            status_lists=files["status_lists"],
            stdout=out,
            **options,
        )
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_the_command_says_valid_and_exits_0(site: Site, tmp_path: Path) -> None:
    # given
    files = _files(tmp_path, site, site.token(), site.lists())
    # when
    code, output = _run(files, at="2026-06-01T00:00:00Z")
    # then
    assert code == 0
    lines = output.splitlines()
    assert lines[0].endswith("valid")
    assert 'issuer: "CNAS Lab"' in lines
    assert 'subject: "did:web:market.example:agents:mingde-ai:mail-helper"' in lines
    assert f'key: "{site.kid}"' in lines


def test_the_command_gives_the_reasons_and_exits_1(site: Site, tmp_path: Path) -> None:
    # given
    files = _files(tmp_path, site, site.token(), site.lists(revoked=(INDEX,)))
    # when
    code, output = _run(files, at="2026-06-01T00:00:00Z")
    expired_code, expired = _run(files, at="2027-01-01T00:00:00+00:00")
    # then
    assert code == expired_code == 1
    assert "revoked" in output.splitlines()[0]
    assert f'- The credential has been revoked (list "{STATUS_URL}"' in output
    assert "expired at" in expired


def test_the_command_prints_json(site: Site, tmp_path: Path) -> None:
    # given
    files = _files(tmp_path, site, site.token(), site.lists(suspended=(INDEX,)))
    # when
    code, output = _run(files, at="2026-06-01T00:00:00Z", json=True)
    # then
    assert code == 1
    result = json.loads(output)
    assert result["status"] == "suspended"
    assert result["kid"] == site.kid
    assert result["credential"] == site.credential()
    assert len(result["reasons"]) == 1


def test_the_command_calls_a_garbage_file_invalid(site: Site, tmp_path: Path) -> None:
    files = _files(tmp_path, site, "not a credential", [])
    code, output = _run(files, json=True)
    assert code == 1
    assert json.loads(output)["status"] == "invalid"


@pytest.mark.parametrize(
    "problem",
    ["missing credential", "missing jwks", "jwks not json", "bad at", "naive at"],
)
def test_the_command_exits_2_on_unreadable_input(
    site: Site, tmp_path: Path, problem: str
) -> None:
    # given
    files = _files(tmp_path, site, site.token(), site.lists())
    options: dict[str, Any] = {}
    if problem == "missing credential":
        files["credential"] = str(tmp_path / "nowhere.jwt")
    elif problem == "missing jwks":
        files["jwks"] = str(tmp_path / "nowhere.json")
    elif problem == "jwks not json":
        Path(files["jwks"]).write_text("{", encoding="utf-8")
    elif problem == "bad at":
        options["at"] = "next tuesday"
    else:
        options["at"] = "2026-06-01T00:00:00"
    # when
    with pytest.raises(CommandError) as raised:
        _run(files, **options)
    # then
    assert raised.value.returncode == 2


def test_the_command_exits_with_its_codes_from_the_shell(
    site: Site, tmp_path: Path
) -> None:
    # given
    files = _files(tmp_path, site, site.token(), site.lists())
    base = [sys.executable, "manage.py", "verify_credential", files["credential"]]
    lists = [arg for name in files["status_lists"] for arg in ("--status-list", name)]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *arguments],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # when
    expired = run("--jwks", files["jwks"], *lists, "--at", "2030-01-01T00:00:00Z")
    unreadable = run("--jwks", str(tmp_path / "nowhere.json"))
    # then
    assert expired.returncode == 1, expired.stderr
    assert "expired" in expired.stdout
    assert unreadable.returncode == 2
    assert "Cannot read" in unreadable.stderr


def test_the_command_help_is_written_for_an_outside_verifier() -> None:
    # when
    parser = VerifyCommand().create_parser("manage.py", "verify_credential")
    text = parser.format_help()
    # then
    assert "makes no network requests" in text
    assert "/.well-known/jwks.json" in text
    assert "Exit codes: 0 valid; 1 any other status; 2 a file could not be read" in text
    assert "--status-list FILE" in text
    assert "/certificates/status-list.json" in text
    assert "(statusSize 2): 0 valid, 1 suspended, 2 revoked" in text
