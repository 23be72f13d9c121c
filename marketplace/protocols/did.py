"""The DID document that resolves an agent's did:web identifier, and the public
lookup record of an agent."""

from typing import Any

from django.urls import reverse

from config.keys import public_jwk
from config.site import absolute_url
from marketplace.models import Agent


def did_document(agent: Agent) -> dict[str, Any]:
    did = agent.identifier
    key = public_jwk()
    card = reverse("agent-card", args=[agent.publisher.slug, agent.slug])
    page = reverse("agent-detail", args=[agent.publisher.slug, agent.slug])
    return {
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/jws-2020/v1",
        ],
        "id": did,
        # The ACPs identity code, when the site gave one, as a urn:oid: name. Its
        # levels may hold base-36 letters (see protocols/acps.py), which a strict
        # RFC 3061 reader of OID URNs would not take.
        "alsoKnownAs": [absolute_url(page)]
        + ([f"urn:oid:{agent.aic}"] if agent.aic else []),
        # The registry vouches for the listing: its key signs the agent's cards.
        "verificationMethod": [
            {
                "id": f"{did}#{key['kid']}",
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": {k: key[k] for k in ("kty", "crv", "x")},
            }
        ],
        "assertionMethod": [f"{did}#{key['kid']}"],
        "service": [
            {
                "id": f"{did}#agent-card",
                "type": "A2AAgentCard",
                "serviceEndpoint": absolute_url(card),
            }
        ],
    }


def _certificates(agent: Agent) -> list[dict[str, Any]]:
    """The certificates of the latest published version, with where to verify
    them (the state here is the registry's; the credential's status list says the
    same to an offline verifier)."""
    from marketplace.selectors.certification import agent_certificates

    return [
        {
            "serial": certificate.serial,
            "scheme": certificate.scheme.code,
            "dimension": certificate.scheme.dimension,
            "level": certificate.level,
            "body": certificate.body.name,
            "state": certificate.state,
            "valid_from": certificate.valid_from.isoformat(),
            "valid_until": certificate.valid_until.isoformat(),
            "url": absolute_url(
                reverse("certificate-detail", args=[certificate.serial])
            ),
            "credential": absolute_url(
                reverse("certificate-credential", args=[certificate.serial])
            ),
        }
        for certificate in agent_certificates(agent=agent)
    ]


def lookup_record(agent: Agent) -> dict[str, Any]:
    """Who built the agent, how it is deployed, which protocols it speaks and what
    stands against it: the public answer to "what is this identifier?"."""
    version = agent.latest_version
    declaration = version.declaration if version else {}
    publisher = agent.publisher
    return {
        "id": agent.identifier,
        "name": agent.name,
        "status": agent.status,
        "developer": {
            "name": publisher.name,
            "slug": publisher.slug,
            "website": publisher.website,
            "profile": absolute_url(reverse("publisher-detail", args=[publisher.slug])),
            "verified": publisher.is_verified,
            "domain": publisher.verified_domain,
            "credit_grade": publisher.credit_grade or None,
            "credit_suspended": publisher.credit_suspended,
            "dishonesty_listed": publisher.dishonesty_listed,
        },
        "domain": {"code": agent.domain.code, "risk_tier": agent.domain.risk_tier},
        "filing_number": agent.filing_number,
        "aic": agent.aic,
        "latest_version": version.version if version else None,
        "deployment": declaration.get("deployment"),
        "protocols": declaration.get("protocols", []),
        "endpoint": declaration.get("endpoint"),
        "ipv6_ready": agent.ipv6_ready,
        "declaration_digest": version.declaration_digest if version else None,
        "certificates": _certificates(agent),
        "recalls": [],
        "sanctions": [],
    }
