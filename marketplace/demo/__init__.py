"""The demo store: a few dozen publishers in several cities, each with agents that fit
its speciality, in both languages, published through the same services as real
listings.

Agents are made from templates grouped in product lines (office tools, health,
government services...). A publisher lists templates from its own lines; when several
publishers share a line they take turns through it, so that they list different agents
and only the generic kinds (a mail assistant, a news digest) appear at more than one.
Ratings and installs are left alone: they come from real reviews. Certification
bodies, their schemes and certificates are loaded afterwards by
``marketplace/demo/certification.py``.
"""

import re
import zlib
from typing import Any

from marketplace.domains import ensure_standard_domains
from marketplace.models import (
    AgentVersion,
    Domain,
    Membership,
    Organization,
    User,
)
from marketplace.services import agents as agent_services
from marketplace.services import publishing
from marketplace.services.organizations import organization_create

from .publishers import CITIES, MODELS, ON_DEVICE_MODEL, PUBLISHERS
from .templates import ANTI_ADDICTION, INPUT_MODES, LINES, SCOPES, Template

__all__ = [
    "CATALOGUE",
    "CITIES",
    "LINES",
    "PUBLISHERS",
    "SCOPES",
    "load_catalogue",
]


def _catalogue() -> dict[str, tuple[Template, ...]]:
    """Each publisher's templates, in order. A publisher takes turns between its
    lines; publishers that share a line continue where the previous one stopped,
    so they list different agents until the line wraps around."""
    cursors = dict.fromkeys(LINES, 0)
    catalogue: dict[str, tuple[Template, ...]] = {}
    for publisher in PUBLISHERS:
        chosen: list[Template] = []
        turn = 0
        while len(chosen) < publisher.size and turn < 10 * publisher.size:
            line = publisher.lines[turn % len(publisher.lines)]
            turn += 1
            templates = LINES[line]
            for _ in templates:
                template = templates[cursors[line] % len(templates)]
                cursors[line] += 1
                if template not in chosen:
                    chosen.append(template)
                    break
        catalogue[publisher.slug] = tuple(chosen)
    return catalogue


CATALOGUE = _catalogue()


def load_catalogue(
    *, owner: User, reviewer: User, agents_per_publisher: int | None = None
) -> int:
    """Publish the demo store; idempotent. ``agents_per_publisher`` keeps only the
    first agents of each publisher (all of them by default). Returns how many
    agents were created."""
    created = 0
    ensure_standard_domains()
    domains = {domain.code: domain for domain in Domain.objects.all()}
    for index, spec in enumerate(PUBLISHERS):
        publisher = Organization.objects.filter(slug=spec.slug).first()
        if publisher is None:
            city_en, _province = CITIES[spec.city]
            publisher = organization_create(
                actor=owner,
                name=spec.name_en,
                slug=spec.slug,
                kind=Organization.Kind.PUBLISHER,
                description=(
                    f"{spec.name_zh}，总部位于{spec.city}，专注{spec.about_zh}。\n\n"
                    f"{spec.name_en}, based in {city_en}: {spec.about_en}."
                ),
                website=f"https://{spec.slug}.example.com",
                contact_email=f"contact@{spec.slug}.example.com",
            )
        elif not Membership.objects.filter(user=owner, organization=publisher).exists():
            continue  # someone else's organisation with the same slug
        existing = set(publisher.agents.values_list("slug", flat=True))
        for template in CATALOGUE[spec.slug][:agents_per_publisher]:
            if template.slug in existing:
                continue
            _publish(owner, reviewer, publisher, index, domains, template)
            created += 1
    return created


def _filing_number(index: int) -> str:
    """A demo ICP filing number for the publisher, from its province."""
    _city_en, province = CITIES[PUBLISHERS[index].city]
    return f"{province}ICP备2026{index + 1:06d}号-1"


# The demo's paid listings, by what they charge; the others (most) are free.
_PAID_PRICING: dict[int, dict[str, Any]] = {
    6: {
        "model": "subscription",
        "currency": "CNY",
        "price": "19.90",
        "period": "month",
        "inAppPurchases": {"offered": False},
        "freeTrial": {"days": 7, "afterTrial": "converts"},
    },
    7: {
        "model": "usage",
        "currency": "CNY",
        "price": "0.05",
        "unit": "1,000 tokens",
        "inAppPurchases": {"offered": False},
    },
    8: {
        "model": "one_time",
        "currency": "CNY",
        "price": "68.00",
        "inAppPurchases": {"offered": False},
    },
    9: {
        "model": "free",
        "currency": "CNY",
        "inAppPurchases": {"offered": True, "minPrice": "6.00", "maxPrice": "128.00"},
    },
}


def demo_pricing(slug: str) -> dict[str, Any]:
    """The pricing of a demo agent, the same on every run: six in ten are free,
    the rest a subscription with a trial that converts, usage-based, a one-time
    price, or free with in-agent purchases."""
    kind = zlib.crc32(slug.encode()) % 10
    pricing = _PAID_PRICING.get(
        kind, {"model": "free", "inAppPurchases": {"offered": False}}
    )
    return {**pricing, "inAppPurchases": dict(pricing["inAppPurchases"])}


def _skill_id(skill: str) -> str:
    """The skill's id, from the English words of its name ("起草回复 Draft replies"
    gives draft-replies)."""
    return "-".join(re.findall(r"[a-z0-9]+", skill.lower()))


def _publish(
    owner: User,
    reviewer: User,
    publisher: Organization,
    index: int,
    domains: dict[str, Domain],
    template: Template,
) -> None:
    domain = domains[template.domain]
    protocols = template.protocols.split()
    purpose, authority = SCOPES[template.scope]
    agent = agent_services.agent_create(
        actor=owner,
        publisher=publisher,
        slug=template.slug,
        name=template.name,
        summary=template.summary,
        domain=domain,
        description=(
            f"**{template.name}**\n\n{template.summary}.\n\n"
            f"- {template.skill}: {template.skill_description}."
        ),
        tags=[template.domain, *protocols],
        homepage=f"https://{publisher.slug}.example.com/{template.slug}",
        privacy_policy_url=f"https://{publisher.slug}.example.com/privacy",
        terms_url=f"https://{publisher.slug}.example.com/terms",
        age_rating=template.age,
        anti_addiction_measures=ANTI_ADDICTION.get(template.age, ""),
        filing_number=_filing_number(index) if domain.requires_filing else "",
    )
    model, provider = (
        ON_DEVICE_MODEL
        if template.deployment == "on_device"
        else MODELS[index % len(MODELS)]
    )
    declaration: dict[str, Any] = {
        "skills": [
            {
                "id": _skill_id(template.skill),
                "name": template.skill,
                "description": template.skill_description,
                "tags": [template.domain],
                "permissions": [template.scope],
            }
        ],
        "inputModes": ["text/plain"]
        + ([INPUT_MODES[template.scope]] if template.scope in INPUT_MODES else []),
        "outputModes": ["text/plain"],
        "protocols": [{"type": p, "version": "1.0"} for p in protocols],
        "endpoint": f"https://{publisher.slug}.example.com/agents/{template.slug}",
        "deployment": template.deployment,
        "permissions": [
            {"scope": template.scope, "purpose": purpose, "authority": authority}
        ],
        "dependencies": {"models": [{"name": model, "provider": provider}]},
        "pricing": demo_pricing(template.slug),
    }
    version = agent_services.version_create(
        actor=owner, agent=agent, version="1.0.0", declaration=declaration
    )
    publishing.version_submit(actor=owner, version=version)
    state = publishing.version_run_checks(version_id=version.pk)
    if state != AgentVersion.State.IN_REVIEW:
        raise RuntimeError(
            f"The demo agent {publisher.slug}/{template.slug} failed its checks."
        )
    publishing.version_review(actor=reviewer, version=version, verdict="approve")
