"""Certificates as verifiable credentials, and their status list.

A certificate is an Open Badges 3.0 ``OpenBadgeCredential`` (a W3C Verifiable
Credentials Data Model 2.0 credential) about one agent version, signed as a VC-JWT
(Open Badges 3.0 §8.2) with Ed25519, ``alg`` ``EdDSA``. Its status is one entry of
a W3C Bitstring Status List with the ``message`` purpose: two bits per certificate,
0 valid, 1 suspended, 2 revoked, as the certificate's own ``statusMessage`` says.
The list is a credential with an embedded Data Integrity proof (cryptosuite
``eddsa-jcs-2022``: RFC 8785 canonical JSON instead of RDF).

Anyone can check a certificate offline from three things: the VC-JWT, the issuer's
JWKS and the status list credential that the certificate names
(``verify_credential``). Nothing here touches the database or the network: the
services build the values, this module only formats, signs and checks them.

The certificate validates against Open Badges 3.0's JSON Schema as published, which
allows one ``credentialStatus`` object: hence one multi-bit entry rather than a
revocation entry and a suspension entry. The verifier still reads one-bit
``revocation`` and ``suspension`` entries, alone or in a list, as other issuers
write them. The agent version is named by ``credentialSubject.identifier``:
IdentityObjects carrying the version's SHA-256 digest (``ext:AgentVersionDigest``),
its version string (``ext:AgentVersion``) and the agent's name (``name``).

Verification treats its inputs as hostile: the token's length is capped before any
work, the header is checked before the signature, the signature before the payload
is parsed, and no input makes it raise; what it finds is told in plain words.
One JWKS may hold several issuers' keys: a key with an ``iss`` member signs only
for that issuer, credentials and status lists alike. A credential's status entries
are few, and each list it names is checked and decoded once.
"""

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.utils.translation import gettext as _

from config.keys import b64url, b64url_decode, canonical_json

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]
STATUS_LIST_CREDENTIAL_TYPES = ["VerifiableCredential", "BitstringStatusListCredential"]
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
STATUS_PURPOSE_MESSAGE = "message"
# One-bit lists, still read and still written for whoever needs them.
STATUS_PURPOSES = ("revocation", "suspension")
ALGORITHM = "EdDSA"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_TYPE = "DataIntegrityProof"
PROOF_PURPOSE = "assertionMethod"
DIGEST_IDENTITY_TYPE = "ext:AgentVersionDigest"
VERSION_IDENTITY_TYPE = "ext:AgentVersion"

# Entries in a status list: the least the Bitstring Status List allows, so that one
# credential's index hides among 131,072 others. At one bit each that is 16 KiB.
STATUS_LIST_SIZE = 131_072
# A certificate's entry: two bits, read as a big-endian number.
STATUS_SIZE = 2
STATUS_VALID = 0
STATUS_SUSPENDED = 1
STATUS_REVOKED = 2
# The spec allows any size above zero; eight bits (256 messages) is plenty.
MAX_STATUS_SIZE = 8


class StatusMessage(TypedDict):
    """What one value of a multi-bit entry means: ``status`` is the value in
    hexadecimal with ``0x``, ``message`` its meaning."""

    status: str
    message: str


# The messages every certificate commits to. The spec wants one per possible value
# (four for two bits) and names "undefined" for a value not in use yet.
STATUS_MESSAGES: tuple[StatusMessage, ...] = (
    {"status": "0x0", "message": "valid"},
    {"status": "0x1", "message": "suspended"},
    {"status": "0x2", "message": "revoked"},
    {"status": "0x3", "message": "undefined"},
)
# A certificate is a few kilobytes; anything longer is refused before any work.
MAX_CREDENTIAL_LENGTH = 64 * 1024
# A status list expands to no more than this (a compressed list is small, so a
# larger one is a decompression bomb), and its encoded form is no longer than it.
MAX_STATUS_LIST_BYTES = 16 * 1024 * 1024
_MIN_STATUS_LIST_BYTES = STATUS_LIST_SIZE // 8
_INFLATE_CHUNK = 64 * 1024

# Status entries read from one credential. A certificate has one; a credential
# naming both one-bit lists and a message list has three. More is refused before
# any list is read, so that a credential cannot make the verifier work per entry.
MAX_STATUS_ENTRIES = 4

# The JWT claims that OB 3.0 §8.2 adds to the credential in a VC-JWT's payload.
_JWT_CLAIMS = ("iss", "jti", "sub", "nbf", "exp")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,9}")
_HEX_STATUS = re.compile(r"0x[0-9a-fA-F]{1,2}")
_BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {char: value for value, char in enumerate(_BASE58_ALPHABET)}


class VerificationStatus(StrEnum):
    """What a verification concludes, from the worst to the best."""

    INVALID = "invalid"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    VALID = "valid"


# When several findings apply, the first of these in the list wins.
_PRECEDENCE = list(VerificationStatus)


@dataclass(frozen=True)
class Verification:
    """The outcome of ``verify_credential``: a ``VerificationStatus`` value, every
    finding in plain words (none when valid), the credential when the signature
    holds, and the key id the token named."""

    status: str
    reasons: list[str] = field(default_factory=list)
    credential: dict[str, Any] | None = None
    kid: str | None = None


# -- Encodings ---------------------------------------------------------------------


def base58btc_encode(data: bytes) -> str:
    """Base58 with the Bitcoin alphabet, as multibase ``z`` uses it."""
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, digit = divmod(number, 58)
        digits.append(_BASE58_ALPHABET[digit])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def base58btc_decode(text: str) -> bytes:
    """The bytes of a base58btc string; ValueError when it is not one."""
    number = 0
    for char in text:
        if char not in _BASE58_INDEX:
            raise ValueError("not a base58btc string")
        number = number * 58 + _BASE58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\0" * zeros + body


def _timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, the form VC 2.0 and OB 3.0 show."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_timestamp(value: Any) -> datetime | None:
    """An XML Schema dateTime with a time zone, or None."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate member")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(data: bytes) -> Any:
    """Strict JSON: no duplicate members, no NaN or Infinity, and no string that
    UTF-8 cannot write (ValueError for each)."""
    value = json.loads(
        data.decode("utf-8"),
        object_pairs_hook=_strict_object,
        parse_constant=_refuse_constant,
    )
    if not _utf8_only(value):
        raise ValueError("a string holds a lone surrogate")
    return value


def _utf8_only(value: Any) -> bool:
    """Whether every string in a JSON value, member names included, can be written
    as UTF-8. A ``\\ud800`` escape parses to a lone surrogate, which no encoder
    writes: such a value would break whatever shows it later."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _shown(value: Any) -> str:
    """An untrusted value as it may appear in a reason: JSON-quoted (so no control
    characters reach a terminal) and short."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


# -- JWS ---------------------------------------------------------------------------


def jws_sign(
    *, header: Mapping[str, Any], payload: bytes, key: Ed25519PrivateKey
) -> str:
    """A compact JWS (RFC 7515) of ``payload``, signed with Ed25519; the header is
    written compactly, in its own member order."""
    protected = b64url(json.dumps(dict(header), separators=(",", ":")).encode())
    signing_input = f"{protected}.{b64url(payload)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


class _SigningKey(NamedTuple):
    """A usable key of a JWKS: the raw public key, the issuer its ``iss`` member
    binds it to (None when it has none) and the JWK itself."""

    public_key: bytes
    issuer: str | None
    jwk: dict[str, Any]


def _signing_keys(jwks: Any) -> dict[str, _SigningKey]:
    keys: dict[str, _SigningKey] = {}
    ambiguous: set[str] = set()
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict):
            continue
        kid, x, issuer = jwk.get("kid"), jwk.get("x"), jwk.get("iss")
        if (
            jwk.get("kty") != "OKP"
            or jwk.get("crv") != "Ed25519"
            or jwk.get("use", "sig") != "sig"
            or jwk.get("alg", ALGORITHM) != ALGORITHM
            or not isinstance(kid, str)
            or not isinstance(x, str)
            or not _BASE64URL.fullmatch(x)
            # A binding that names no issuer binds the key to nobody.
            or not isinstance(issuer, str | None)
        ):
            continue
        try:
            raw = b64url_decode(x)
        except ValueError:
            continue
        if len(raw) != 32:
            continue
        found = _SigningKey(raw, issuer, jwk)
        if kid in keys and keys[kid][:2] != found[:2]:
            ambiguous.add(kid)
        keys.setdefault(kid, found)
    return {kid: key for kid, key in keys.items() if kid not in ambiguous}


def jwks_signing_keys(jwks: Any) -> dict[str, dict[str, Any]]:
    """The Ed25519 signing keys of a JWKS, by ``kid``, as their JWKs. Other keys
    are skipped; so is a ``kid`` that names two different keys (or one key bound
    to two issuers), and a key whose ``iss`` member is not a string."""
    return {kid: dict(key.jwk) for kid, key in _signing_keys(jwks).items()}


def jwks_public_keys(jwks: Any) -> dict[str, bytes]:
    """The keys of ``jwks_signing_keys`` as raw 32-byte public keys."""
    return {kid: key.public_key for kid, key in _signing_keys(jwks).items()}


def _verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# -- Certificates ------------------------------------------------------------------


def achievement(
    *,
    achievement_id: str,
    name: str,
    description: str,
    criteria: str,
    level: int,
    dimension: str,
    criteria_url: str | None = None,
    creator: Mapping[str, Any] | None = None,
    human_code: str | None = None,
) -> dict[str, Any]:
    """An OB 3.0 Achievement of type Certification: a scheme's level in one
    dimension (security, privacy, …). ``criteria`` is the narrative (Markdown);
    the dimension and level are also given as tags, ``L<level>``."""
    result: dict[str, Any] = {
        "id": achievement_id,
        "type": ["Achievement"],
        "achievementType": "Certification",
        "name": name,
        "description": description,
        "criteria": {"narrative": criteria},
        "tag": [dimension, f"L{level}"],
    }
    if criteria_url:
        result["criteria"] = {"id": criteria_url, "narrative": criteria}
    if human_code:
        result["humanCode"] = human_code
    if creator is not None:
        result["creator"] = dict(creator)
    return result


def status_entry(*, list_url: str, index: int) -> dict[str, Any]:
    """A certificate's ``credentialStatus``: entry ``index`` of the two-bit status
    list at ``list_url``, with the messages its values stand for."""
    if not 0 <= index < STATUS_LIST_SIZE:
        raise ValueError("the index is outside the status list")
    return {
        "id": f"{list_url}#{index}",
        "type": STATUS_ENTRY_TYPE,
        "statusPurpose": STATUS_PURPOSE_MESSAGE,
        "statusListIndex": str(index),
        "statusSize": STATUS_SIZE,
        "statusMessage": [dict(message) for message in STATUS_MESSAGES],
        "statusListCredential": list_url,
    }


def certificate_credential(
    *,
    credential_id: str,
    name: str,
    issuer: Mapping[str, Any],
    achievement: Mapping[str, Any],
    subject_id: str,
    subject_name: str,
    version: str,
    digest_hex: str,
    valid_from: datetime,
    valid_until: datetime,
    status_index: int,
    status_list_url: str,
    evidence: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential`` certifying that version ``version`` of
    the agent ``subject_id`` (its did:web), whose artifact has SHA-256
    ``digest_hex``, achieved ``achievement``. ``name`` names the credential (as
    wallets list it); ``status_index`` is the certificate's entry in the status
    list at ``status_list_url``."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digest_hex):
        raise ValueError("digest_hex must be a SHA-256 digest in hexadecimal")
    if not 0 <= status_index < STATUS_LIST_SIZE:
        raise ValueError("status_index is outside the status list")
    valid_from_text, valid_until_text = _timestamp(valid_from), _timestamp(valid_until)
    if valid_until <= valid_from:
        raise ValueError("valid_until must come after valid_from")
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": credential_id,
        "type": list(CREDENTIAL_TYPES),
        "name": name,
        "issuer": dict(issuer),
        "validFrom": valid_from_text,
        "validUntil": valid_until_text,
        "credentialSubject": {
            "id": subject_id,
            "type": ["AchievementSubject"],
            "achievement": dict(achievement),
            "identifier": [
                {
                    "type": "IdentityObject",
                    "hashed": False,
                    "identityHash": f"sha256${digest_hex.lower()}",
                    "identityType": DIGEST_IDENTITY_TYPE,
                },
                {
                    "type": "IdentityObject",
                    "hashed": False,
                    "identityHash": version,
                    "identityType": VERSION_IDENTITY_TYPE,
                },
                {
                    "type": "IdentityObject",
                    "hashed": False,
                    "identityHash": subject_name,
                    "identityType": "name",
                },
            ],
        },
        "credentialStatus": status_entry(list_url=status_list_url, index=status_index),
    }
    if evidence:
        credential["evidence"] = [dict(item) for item in evidence]
    return credential


def _issuer_id(issuer: Any) -> str | None:
    if isinstance(issuer, str):
        return issuer
    if isinstance(issuer, dict) and isinstance(issuer.get("id"), str):
        return str(issuer["id"])
    return None


def vc_jwt_sign(
    *, credential: Mapping[str, Any], key: Ed25519PrivateKey, kid: str
) -> str:
    """The credential as a VC-JWT (OB 3.0 §8.2): header
    ``{"alg":"EdDSA","kid":kid,"typ":"JWT"}``; payload the credential plus ``iss``,
    ``jti``, ``sub``, ``nbf`` and ``exp`` (when it has ``validUntil``), in RFC 8785
    canonical form."""
    valid_from = _parse_timestamp(credential.get("validFrom"))
    issuer_id = _issuer_id(credential.get("issuer"))
    if valid_from is None or issuer_id is None or "id" not in credential:
        raise ValueError("the credential needs an id, an issuer and validFrom")
    claims: dict[str, Any] = {
        "iss": issuer_id,
        "jti": credential["id"],
        "nbf": int(valid_from.timestamp()),
    }
    subject = credential.get("credentialSubject")
    if isinstance(subject, dict) and "id" in subject:
        claims["sub"] = subject["id"]
    if "validUntil" in credential:
        valid_until = _parse_timestamp(credential["validUntil"])
        if valid_until is None:
            raise ValueError("validUntil is not a date-time with a time zone")
        claims["exp"] = int(valid_until.timestamp())
    return jws_sign(
        header={"alg": ALGORITHM, "kid": kid, "typ": "JWT"},
        payload=canonical_json({**credential, **claims}),
        key=key,
    )


# -- Bitstring status lists --------------------------------------------------------


def status_list_encode(indices: Iterable[int], *, size: int = STATUS_LIST_SIZE) -> str:
    """A one-bit Bitstring Status List's ``encodedList`` with the bits at
    ``indices`` set (``size`` bits in all); see ``status_values_encode``."""
    return status_values_encode(dict.fromkeys(indices, 1), status_size=1, entries=size)


def _check_status_size(status_size: int) -> None:
    if (
        isinstance(status_size, bool)
        or not isinstance(status_size, int)
        or not 1 <= status_size <= MAX_STATUS_SIZE
    ):
        raise ValueError(f"a status size is 1 to {MAX_STATUS_SIZE} bits")


def status_values_encode(
    values: Mapping[int, int],
    *,
    status_size: int = STATUS_SIZE,
    entries: int = STATUS_LIST_SIZE,
) -> str:
    """A Bitstring Status List's ``encodedList`` of ``entries`` entries of
    ``status_size`` bits, entry ``index`` holding ``values[index]`` and every other
    entry 0: "u" + base64url (no padding) of the GZIP-compressed bitstring. Entry
    ``i`` is bits ``[i * status_size, (i + 1) * status_size)``, bit 0 being the
    most significant bit of byte 0, its value written most significant bit first.
    The same values always give the same string."""
    _check_status_size(status_size)
    if entries < STATUS_LIST_SIZE or entries * status_size % 8:
        raise ValueError(
            "a status list has at least 131,072 entries, filling whole bytes"
        )
    bits = bytearray(entries * status_size // 8)
    for index, value in values.items():
        if not 0 <= index < entries:
            raise ValueError(f"index {index} is outside the status list")
        if isinstance(value, bool) or not 0 <= value < 1 << status_size:
            raise ValueError(f"value {value!r} does not fit in {status_size} bits")
        start = index * status_size
        for offset in range(status_size):
            if value >> (status_size - 1 - offset) & 1:
                position = start + offset
                bits[position // 8] |= 0x80 >> (position % 8)
    return "u" + b64url(gzip.compress(bytes(bits), mtime=0))


def status_list_decode(encoded: str) -> bytes:
    """The bitstring of an ``encodedList``; ValueError when it is not a
    well-formed list of 16 KiB to 16 MiB."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("an encoded status list starts with 'u' (base64url)")
    body = encoded[1:]
    if len(body) > MAX_STATUS_LIST_BYTES or not _BASE64URL.fullmatch(body):
        raise ValueError("the encoded status list is not base64url")
    try:
        compressed = b64url_decode(body)
    except ValueError as error:
        raise ValueError("the encoded status list is not base64url") from error
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # GZIP only
    parts: list[bytes] = []
    total = 0
    pending = compressed
    try:
        while pending and not inflater.eof:
            chunk = inflater.decompress(pending, _INFLATE_CHUNK)
            total += len(chunk)
            if total > MAX_STATUS_LIST_BYTES:
                raise ValueError("the status list expands beyond 16 MiB")
            parts.append(chunk)
            pending = inflater.unconsumed_tail
    except zlib.error as error:
        raise ValueError("the status list is not GZIP data") from error
    if not inflater.eof or inflater.unused_data:
        raise ValueError("the status list is not a single, whole GZIP member")
    bitstring = b"".join(parts)
    if len(bitstring) < _MIN_STATUS_LIST_BYTES:
        raise ValueError("a status list has at least 131,072 bits")
    return bitstring


def status_list_bit(bitstring: bytes, index: int) -> bool:
    """Whether bit ``index`` is set (bit 0 is the most significant bit of byte 0);
    IndexError when the list is shorter."""
    return status_list_value(bitstring, index, 1) == 1


def status_list_value(bitstring: bytes, index: int, status_size: int) -> int:
    """The value of entry ``index`` of a list of ``status_size``-bit entries (see
    ``status_values_encode``); IndexError when the list is shorter."""
    _check_status_size(status_size)
    start, end = index * status_size, (index + 1) * status_size
    if index < 0 or end > len(bitstring) * 8:
        raise IndexError("index outside the status list")
    # At most eight bits, so at most two bytes hold the entry.
    first, last = start // 8, (end - 1) // 8
    window = int.from_bytes(bitstring[first : last + 1], "big")
    return window >> ((last + 1) * 8 - end) & ((1 << status_size) - 1)


def status_list_credential(
    *,
    list_url: str,
    issuer_id: str,
    valid_from: datetime,
    key: Ed25519PrivateKey,
    verification_method: str,
    purpose: str = STATUS_PURPOSE_MESSAGE,
    values: Mapping[int, int] | None = None,
    indices: Iterable[int] = (),
    valid_until: datetime | None = None,
) -> dict[str, Any]:
    """A ``BitstringStatusListCredential`` served at ``list_url``, with an
    ``eddsa-jcs-2022`` proof by ``key`` (``verification_method`` is
    ``<jwks url>#<kid>``). With ``valid_until`` it is valid until then
    (``validUntil``): a verifier then refuses it once a newer one should have
    replaced it, so that an old list cannot be replayed.

    For the ``message`` purpose, the certificates' list: entry ``index`` holds
    ``values[index]`` (``STATUS_SUSPENDED``, ``STATUS_REVOKED``; any other entry
    is ``STATUS_VALID``), in ``STATUS_SIZE`` bits, and the subject repeats the
    size and the messages as the spec asks of a message list. For ``revocation``
    or ``suspension``, a one-bit list with the bits at ``indices`` set."""
    if purpose == STATUS_PURPOSE_MESSAGE:
        if tuple(indices):
            raise ValueError("a message list takes values, not indices")
        subject: dict[str, Any] = {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": STATUS_PURPOSE_MESSAGE,
            "statusSize": STATUS_SIZE,
            "statusMessages": [dict(message) for message in STATUS_MESSAGES],
            "encodedList": status_values_encode(values or {}),
        }
    elif purpose in STATUS_PURPOSES:
        if values is not None:
            raise ValueError(f"a {purpose} list takes indices, not values")
        subject = {
            "id": f"{list_url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": str(purpose),
            "encodedList": status_list_encode(indices),
        }
    else:
        raise ValueError(f"unknown status purpose {purpose!r}")
    issued = _timestamp(valid_from)
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": list_url,
        "type": list(STATUS_LIST_CREDENTIAL_TYPES),
        "issuer": issuer_id,
        "validFrom": issued,
    }
    if valid_until is not None:
        until = _timestamp(valid_until)
        # Compared as written, to the second.
        if valid_until.replace(microsecond=0) <= valid_from.replace(microsecond=0):
            raise ValueError("valid_until must come after valid_from")
        document["validUntil"] = until
    document["credentialSubject"] = subject
    return data_integrity_sign(
        document=document,
        key=key,
        verification_method=verification_method,
        created=issued,
    )


# -- Data Integrity, eddsa-jcs-2022 ------------------------------------------------


def data_integrity_hash_data(
    *, document: Mapping[str, Any], proof_config: Mapping[str, Any]
) -> bytes:
    """What eddsa-jcs-2022 signs: SHA-256 of the canonical proof configuration
    followed by SHA-256 of the canonical document (without its proof)."""
    unsecured = {name: value for name, value in document.items() if name != "proof"}
    return (
        hashlib.sha256(canonical_json(dict(proof_config))).digest()
        + hashlib.sha256(canonical_json(unsecured)).digest()
    )


def data_integrity_sign(
    *,
    document: Mapping[str, Any],
    key: Ed25519PrivateKey,
    verification_method: str,
    created: str,
) -> dict[str, Any]:
    """``document`` with a ``DataIntegrityProof`` (cryptosuite eddsa-jcs-2022,
    purpose assertionMethod) by ``key``, created at ``created``."""
    unsecured = {name: value for name, value in document.items() if name != "proof"}
    proof_config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": PROOF_PURPOSE,
    }
    if "@context" in unsecured:
        proof_config["@context"] = unsecured["@context"]
    signature = key.sign(
        data_integrity_hash_data(document=unsecured, proof_config=proof_config)
    )
    return {
        **unsecured,
        "proof": {**proof_config, "proofValue": "z" + base58btc_encode(signature)},
    }


def data_integrity_verify(
    *, document: Mapping[str, Any], public_keys: Mapping[str, bytes]
) -> bool:
    """Whether ``document`` carries one eddsa-jcs-2022 proof for assertionMethod
    by one of ``public_keys``, chosen by the fragment of the proof's
    ``verificationMethod``. Never raises."""
    try:
        return _data_integrity_verify(document, public_keys)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return False


def _data_integrity_verify(
    document: Mapping[str, Any], public_keys: Mapping[str, bytes]
) -> bool:
    proof = document.get("proof") if isinstance(document, Mapping) else None
    if not isinstance(proof, dict):
        return False
    proof_value = proof.get("proofValue")
    method = proof.get("verificationMethod")
    if (
        proof.get("type") != PROOF_TYPE
        or proof.get("cryptosuite") != CRYPTOSUITE
        or proof.get("proofPurpose") != PROOF_PURPOSE
        or not isinstance(proof_value, str)
        or not proof_value.startswith("z")
        or len(proof_value) > 128
        or not isinstance(method, str)
        or "#" not in method
    ):
        return False
    # The proof's context, when it has one, is the document's (vc-di-eddsa §3.3.2).
    if "@context" in proof and proof["@context"] != document.get("@context"):
        return False
    public_key = public_keys.get(method.rsplit("#", 1)[1])
    signature = base58btc_decode(proof_value[1:])
    if public_key is None or len(signature) != 64:
        return False
    proof_config = {
        name: value for name, value in proof.items() if name != "proofValue"
    }
    hash_data = data_integrity_hash_data(document=document, proof_config=proof_config)
    return _verify_signature(public_key, signature, hash_data)


# -- Verification ------------------------------------------------------------------


class _Findings:
    """What a verification found, each with the status it calls for."""

    def __init__(self) -> None:
        self._found: list[tuple[VerificationStatus, str]] = []

    def add(self, status: VerificationStatus, reason: str) -> None:
        self._found.append((status, reason))

    def status(self) -> VerificationStatus:
        statuses = {status for status, _reason in self._found}
        return next(
            (status for status in _PRECEDENCE if status in statuses),
            VerificationStatus.VALID,
        )

    def reasons(self) -> list[str]:
        """The reasons, the gravest first (in the order found among equals)."""
        ordered = sorted(self._found, key=lambda found: _PRECEDENCE.index(found[0]))
        return [reason for _status, reason in ordered]


def _invalid(reason: str, *, kid: str | None = None) -> Verification:
    return Verification(status=VerificationStatus.INVALID, reasons=[reason], kid=kid)


def verify_credential(
    *,
    token: Any,
    jwks: Any,
    status_lists: Iterable[Any],
    now: datetime,
) -> Verification:
    """Check a certificate's VC-JWT offline: its form, its signature by a key of
    ``jwks``, its claims against the credential, its validity period at ``now``,
    and each status entry against the matching list among ``status_lists``.
    Never raises for what the inputs contain."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not isinstance(token, str) or not token:
        return _invalid(_("The credential is empty."))
    if len(token) > MAX_CREDENTIAL_LENGTH:
        return _invalid(
            _("The credential is longer than %(limit)d characters.")
            % {"limit": MAX_CREDENTIAL_LENGTH}
        )
    parts = token.split(".")
    if (
        len(parts) != 3
        or not all(_BASE64URL.fullmatch(part) for part in parts)
        or not parts[0]
        or not parts[2]
    ):
        return _invalid(
            _(
                "The credential is not a compact JWS "
                "(three base64url parts separated by dots)."
            )
        )
    protected, encoded_payload, encoded_signature = parts
    header = _header(protected)
    if isinstance(header, str):
        return _invalid(header)
    kid: str = header["kid"]
    signing_keys = _signing_keys(jwks)
    signing_key = signing_keys.get(kid)
    if signing_key is None:
        return _invalid(
            _("The key set has no Ed25519 key with id %(kid)s.") % {"kid": _shown(kid)},
            kid=kid,
        )
    try:
        signature = b64url_decode(encoded_signature)
    except ValueError:
        signature = b""
    if b64url(signature) != encoded_signature:
        # Unused low bits in the last character would let one signature be
        # written several ways; only the canonical spelling is accepted.
        signature = b""
    signing_input = f"{protected}.{encoded_payload}".encode("ascii")
    if len(signature) != 64 or not _verify_signature(
        signing_key.public_key, signature, signing_input
    ):
        return _invalid(
            _("The signature does not match the credential and key %(kid)s.")
            % {"kid": _shown(kid)},
            kid=kid,
        )
    # Signed by a trusted key: from here on the payload is the issuer's own words,
    # still checked as carefully as a stranger's.
    try:
        payload = _loads(b64url_decode(encoded_payload))
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return _invalid(_("The signed payload is not a JSON object."), kid=kid)
    credential = {
        name: value for name, value in payload.items() if name not in _JWT_CLAIMS
    }
    issuer_id = _issuer_id(credential.get("issuer"))
    if signing_key.issuer is not None and issuer_id != signing_key.issuer:
        # One key set may publish the keys of several issuers; a key bound to one
        # of them speaks for that issuer only.
        return _invalid(
            _(
                "The key %(kid)s belongs to the issuer %(owner)s, not to the "
                "credential's issuer %(issuer)s."
            )
            % {
                "kid": _shown(kid),
                "owner": _shown(signing_key.issuer),
                "issuer": _shown(issuer_id),
            },
            kid=kid,
        )
    findings = _Findings()
    window = _check_credential(payload, credential, findings)
    if window is not None:
        valid_from, valid_until = window
        if now < valid_from:
            findings.add(
                VerificationStatus.INVALID,
                _("The credential is not valid before %(time)s.")
                % {"time": _shown(credential["validFrom"])},
            )
        if valid_until is not None and now >= valid_until:
            findings.add(
                VerificationStatus.EXPIRED,
                _("The credential expired at %(time)s.")
                % {"time": _shown(credential["validUntil"])},
            )
        lists = _StatusLists(status_lists, signing_keys)
        _check_status(credential, lists, now, findings)
    return Verification(
        status=findings.status(),
        reasons=findings.reasons(),
        credential=credential,
        kid=kid,
    )


def _header(protected: str) -> dict[str, Any] | str:
    """The protected header, or the reason it is refused."""
    try:
        header = _loads(b64url_decode(protected))
    except (ValueError, RecursionError):
        header = None
    if not isinstance(header, dict):
        return _("The JWS header is not a JSON object.")
    if header.get("alg") != ALGORITHM:
        return _("The JWS header names algorithm %(alg)s; only EdDSA is accepted.") % {
            "alg": _shown(header.get("alg"))
        }
    if "crit" in header or "b64" in header:
        return _("The JWS header asks for extensions (crit); none are accepted.")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        return _("The JWS header names no key (kid).")
    return header


def _check_credential(
    payload: dict[str, Any], credential: dict[str, Any], findings: _Findings
) -> tuple[datetime, datetime | None] | None:
    """Check the credential's form and that the JWT claims agree with it; its
    validity period when both hold enough to use it."""
    problems: list[str] = []
    context = credential.get("@context")
    if not isinstance(context, list) or not context or context[0] != VC_CONTEXT:
        problems.append(_("its @context does not start with the VC 2.0 context"))
    types = credential.get("type")
    if (
        not isinstance(types, list)
        or "VerifiableCredential" not in types
        or not any(
            item in ("OpenBadgeCredential", "AchievementCredential") for item in types
        )
    ):
        problems.append(_("its type is not an Open Badges credential"))
    if not isinstance(credential.get("id"), str):
        problems.append(_("it has no id"))
    issuer_id = _issuer_id(credential.get("issuer"))
    if issuer_id is None:
        problems.append(_("it names no issuer"))
    subject = credential.get("credentialSubject")
    if not isinstance(subject, dict):
        problems.append(_("it has no credential subject"))
        subject = {}
    valid_from = _parse_timestamp(credential.get("validFrom"))
    if valid_from is None:
        problems.append(_("its validFrom is not a date-time with a time zone"))
    valid_until = None
    if "validUntil" in credential:
        valid_until = _parse_timestamp(credential["validUntil"])
        if valid_until is None:
            problems.append(_("its validUntil is not a date-time with a time zone"))
    for problem in problems:
        findings.add(
            VerificationStatus.INVALID,
            _("The credential is malformed: %(problem)s.") % {"problem": problem},
        )
    if problems or valid_from is None:
        return None
    expected: dict[str, Any] = {
        "iss": issuer_id,
        "jti": credential["id"],
        "sub": subject.get("id"),
        "nbf": int(valid_from.timestamp()),
        "exp": int(valid_until.timestamp()) if valid_until is not None else None,
    }
    agreed = True
    for claim, value in expected.items():
        given = payload.get(claim)
        if isinstance(given, bool) or given != value:
            agreed = False
            findings.add(
                VerificationStatus.INVALID,
                _("The JWT claim %(claim)s does not agree with the credential.")
                % {"claim": claim},
            )
    return (valid_from, valid_until) if agreed else None


class _ListFound(NamedTuple):
    """What the status lists given say about one list URL: the copy to read
    (None when no copy is genuine), whether any copy was given at all, and the
    ``(kid, issuer)`` of a key that signed a copy for an issuer not the list's."""

    document: dict[str, Any] | None
    given: bool
    foreign_key: tuple[str, str] | None


class _StatusLists:
    """The status lists given to one verification. Each list is verified, and its
    bits decoded, at most once however many entries name it."""

    def __init__(
        self, documents: Iterable[Any], signing_keys: Mapping[str, _SigningKey]
    ) -> None:
        self._documents = [d for d in documents if isinstance(d, dict)]
        self._keys = signing_keys
        self._found: dict[str, _ListFound] = {}
        self._bits: dict[str, bytes | None] = {}

    def find(self, url: str) -> _ListFound:
        if url not in self._found:
            self._found[url] = self._find(url)
        return self._found[url]

    def _find(self, url: str) -> _ListFound:
        candidates = [d for d in self._documents if d.get("id") == url]
        verified: list[dict[str, Any]] = []
        foreign_key = None
        for document in candidates:
            # A lone surrogate cannot be signed, nor shown: such a copy is not
            # genuine.
            if not _utf8_only(document):
                continue
            issuer = _issuer_id(document.get("issuer"))
            own = {
                kid: key.public_key
                for kid, key in self._keys.items()
                if key.issuer is None or key.issuer == issuer
            }
            if data_integrity_verify(document=document, public_keys=own):
                verified.append(document)
                continue
            others = {
                kid: key.public_key
                for kid, key in self._keys.items()
                if key.issuer is not None and key.issuer != issuer
            }
            if foreign_key is None and data_integrity_verify(
                document=document, public_keys=others
            ):
                kid = str(document["proof"]["verificationMethod"]).rsplit("#", 1)[1]
                foreign_key = (kid, str(self._keys[kid].issuer))
        if not verified:
            return _ListFound(None, bool(candidates), foreign_key)
        # Of several genuine copies of one list, the latest tells the current
        # status.
        latest = max(
            verified,
            key=lambda d: (
                _parse_timestamp(d.get("validFrom")) or datetime.min.replace(tzinfo=UTC)
            ),
        )
        return _ListFound(latest, True, None)

    def bits(self, url: str, encoded: Any) -> bytes | None:
        """The decoded ``encodedList`` of the list at ``url`` (always the same
        document's), or None when it is malformed."""
        if url not in self._bits:
            try:
                if not isinstance(encoded, str):
                    raise ValueError("no encodedList")
                self._bits[url] = status_list_decode(encoded)
            except ValueError:
                self._bits[url] = None
        return self._bits[url]


def _check_status(
    credential: dict[str, Any],
    status_lists: _StatusLists,
    now: datetime,
    findings: _Findings,
) -> None:
    entries = credential.get("credentialStatus")
    if entries is None:
        return
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        findings.add(
            VerificationStatus.INVALID,
            _("The credential's status entries are malformed."),
        )
        return
    if len(entries) > MAX_STATUS_ENTRIES:
        findings.add(
            VerificationStatus.INVALID,
            _(
                "The credential has too many status entries (%(count)d; at most "
                "%(most)d are read)."
            )
            % {"count": len(entries), "most": MAX_STATUS_ENTRIES},
        )
        return
    for entry in entries:
        _check_status_entry(entry, status_lists, now, findings)


def _check_status_entry(
    entry: dict[str, Any],
    status_lists: _StatusLists,
    now: datetime,
    findings: _Findings,
) -> None:
    purpose = entry.get("statusPurpose")
    index_text = entry.get("statusListIndex")
    url = entry.get("statusListCredential")
    if entry.get("type") != STATUS_ENTRY_TYPE:
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status method %(type)s is not supported.")
            % {"type": _shown(entry.get("type"))},
        )
        return
    if (
        not isinstance(purpose, str)
        or not isinstance(url, str)
        or not isinstance(index_text, str)
        or not _DECIMAL.fullmatch(index_text)
    ):
        findings.add(
            VerificationStatus.INVALID,
            _("A status entry of the credential is malformed."),
        )
        return
    shape = _entry_shape(entry)
    if isinstance(shape, str):
        findings.add(
            VerificationStatus.INVALID,
            _("A status entry of the credential is malformed: %(problem)s.")
            % {"problem": shape},
        )
        return
    size, messages = shape
    if purpose != STATUS_PURPOSE_MESSAGE and purpose not in STATUS_PURPOSES:
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status purpose %(purpose)s is not supported.")
            % {"purpose": _shown(purpose)},
        )
        return
    named = {"url": _shown(url), "purpose": purpose, "index": index_text}
    found = status_lists.find(url)
    if not found.given:
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status list %(url)s was not given, so that status is unknown.")
            % named,
        )
        return
    if found.foreign_key is not None:
        kid, owner = found.foreign_key
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s is signed with the key %(kid)s, which "
                "belongs to the issuer %(owner)s, not to the list's issuer, so that "
                "status is unknown."
            )
            % {**named, "kid": _shown(kid), "owner": _shown(owner)},
        )
        return
    if found.document is None:
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s has no valid proof by a key of the key set, "
                "so that status is unknown."
            )
            % named,
        )
        return
    bitstring = _status_bitstring(
        found.document, purpose, size, now, named, findings, status_lists
    )
    if bitstring is None:
        return
    try:
        value = status_list_value(bitstring, int(index_text), size)
    except IndexError:
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status list %(url)s has no entry %(index)s.") % named,
        )
        return
    meaning = _status_meaning(purpose, value, messages)
    if meaning == "revoked":
        findings.add(
            VerificationStatus.REVOKED,
            _("The credential has been revoked (list %(url)s, entry %(index)s).")
            % named,
        )
    elif meaning == "suspended":
        findings.add(
            VerificationStatus.SUSPENDED,
            _("The credential is suspended (list %(url)s, entry %(index)s).") % named,
        )
    elif meaning is None:
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s gives entry %(index)s the value %(value)s, "
                "for which the credential has no message, so its status is unknown."
            )
            % {**named, "value": f"0x{value:x}"},
        )
    elif meaning != "valid":
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s gives entry %(index)s the value %(value)s, "
                "%(message)s, which is not understood, so the status is unknown."
            )
            % {**named, "value": f"0x{value:x}", "message": _shown(meaning)},
        )


def _entry_shape(entry: dict[str, Any]) -> tuple[int, dict[int, str]] | str:
    """The entry's size in bits and its messages by value, or what is wrong with
    them. Without ``statusSize`` an entry has one bit; above one bit the spec asks
    for ``statusMessage`` with exactly one message for each possible value."""
    size = entry.get("statusSize", 1)
    if type(size) is not int or not 1 <= size <= MAX_STATUS_SIZE:
        return _("its statusSize is not a number of bits from 1 to %(most)d") % {
            "most": MAX_STATUS_SIZE
        }
    listed = entry.get("statusMessage")
    if listed is None:
        if size > 1:
            return _("it has a statusSize above 1 but no statusMessage")
        return size, {}
    count = 1 << size
    if not isinstance(listed, list) or len(listed) != count:
        return _("its statusMessage is not a list of %(count)d messages") % {
            "count": count
        }
    messages: dict[int, str] = {}
    for item in listed:
        status = item.get("status") if isinstance(item, dict) else None
        message = item.get("message") if isinstance(item, dict) else None
        if (
            not isinstance(status, str)
            or not _HEX_STATUS.fullmatch(status)
            or not isinstance(message, str)
        ):
            return _(
                "its statusMessage has an element that is not a status "
                "(0x and hexadecimal digits) with a message"
            )
        messages[int(status[2:], 16)] = message
    if set(messages) != set(range(count)):
        return _("its statusMessage does not give one message to each value")
    return size, messages


_STATUS_OF_PURPOSE = {"revocation": "revoked", "suspension": "suspended"}


def _status_meaning(purpose: str, value: int, messages: dict[int, str]) -> str | None:
    """What ``value`` says: "valid", "suspended", "revoked", another message of
    the credential's, or None when the credential gives that value no message."""
    if purpose in STATUS_PURPOSES:
        # A one-purpose list: any value but 0 means the status holds.
        return "valid" if value == 0 else _STATUS_OF_PURPOSE[purpose]
    if value in messages:
        return messages[value]
    return "valid" if value == 0 else None


def _status_bitstring(
    document: dict[str, Any],
    purpose: str,
    size: int,
    now: datetime,
    named: dict[str, str],
    findings: _Findings,
    status_lists: _StatusLists,
) -> bytes | None:
    """The bitstring of a verified status list credential that answers for
    ``purpose`` in entries of ``size`` bits at ``now``, else None with the finding
    recorded."""
    subject = document.get("credentialSubject")
    types = document.get("type")
    if (
        not isinstance(subject, dict)
        or not isinstance(types, list)
        or "BitstringStatusListCredential" not in types
        or subject.get("type") != "BitstringStatusList"
    ):
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status list %(url)s is not a Bitstring Status List.") % named,
        )
        return None
    listed = subject.get("statusPurpose")
    purposes = listed if isinstance(listed, list) else [listed]
    if purpose not in purposes:
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s is not for %(purpose)s, so that status is "
                "unknown."
            )
            % named,
        )
        return None
    # The spec asks a message list to state its entries' size too. Some lists
    # leave it out (the spec's own wording of the list's members is unsettled), so
    # only a size that contradicts the credential's is refused.
    listed_size = subject.get("statusSize", size)
    if type(listed_size) is not int or listed_size != size:
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s holds entries of %(listed)s bits, not the "
                "%(size)d bits the credential names, so that status is unknown."
            )
            % {**named, "listed": _shown(listed_size), "size": size},
        )
        return None
    valid_from = _parse_timestamp(document.get("validFrom"))
    valid_until = _parse_timestamp(document.get("validUntil"))
    if (valid_from is not None and now < valid_from) or (
        valid_until is not None and now >= valid_until
    ):
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status list %(url)s is not valid at the time checked.") % named,
        )
        return None
    bitstring = status_lists.bits(str(document["id"]), subject.get("encodedList"))
    if bitstring is None:
        findings.add(
            VerificationStatus.UNKNOWN,
            _("The status list %(url)s is malformed.") % named,
        )
        return None
    if len(bitstring) * 8 // size < STATUS_LIST_SIZE:
        findings.add(
            VerificationStatus.UNKNOWN,
            _(
                "The status list %(url)s has fewer than %(entries)d entries of "
                "%(size)d bits, so that status is unknown."
            )
            % {**named, "entries": STATUS_LIST_SIZE, "size": size},
        )
        return None
    return bitstring
