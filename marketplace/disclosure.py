"""Disclosure completeness of one listing: which of the fields and documents a
listing must disclose are there, and whether what it says about its prices holds
together.

The publisher reads it as a checklist in the console and through the API; the
credit rating's transparency indicator (``ratings.evidence``, source
``disclosure``) reads the same items, over all of a publisher's listings, but for
``publisher_verified``: the rating's ``verification`` source scores that.

The items, each with whether it applies to the listing, whether it is present and
whether it is consistent:

=====================  =====================================  =======================
key                    applies                                present / consistent
=====================  =====================================  =======================
privacy_policy         always                                 a privacy policy URL
terms                  always                                 a terms of service URL
homepage               always                                 a homepage
description            always                                 a description
pricing_declared       always                                 the version declares
                                                              ``pricing``
pricing_consistent     when pricing is declared               none of the problems
                                                              of ``pricing_problems``
filing_number          the domain requires a filing number    a filing number
anti_addiction         minors may use it (not rated 18+)      anti-addiction measures
companion_safeguards   the version declares a companion       every safeguard of
                       agent                                  ``COMPANION_SAFEGUARDS``
ai_bill_of_materials   always                                 at least one model
                                                              among the dependencies
publisher_verified     always                                 the operator verified
                                                              the registration
=====================  =====================================  =======================

The share is the items present and consistent over the items that apply.

Everything here but ``agent_disclosure`` and ``disclosure_get`` is a pure function
over plain values (``ListingFacts``), so that a bulk reader builds the facts from
one query's rows and gets the same answer as the page. Labels and hints are message
ids, translated when read (``Item.label``, ``Item.hint``), into the reader's
language, as the automated checks' reasons are.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from django.utils.translation import gettext, gettext_noop

from marketplace.declarations import is_companion
from marketplace.exceptions import PermissionDenied
from marketplace.messages import render_message
from marketplace.models import Agent, AgentVersion, User
from marketplace.pricing import (
    DECLARE_PRICING,
    FREE,
    mentions_price,
    pricing_errors,
)
from marketplace.selectors.agents import is_publisher_member
from marketplace.selectors.organizations import is_operator
from marketplace.services.publishing import (
    COMPANION_SAFEGUARDS,
    missing_companion_safeguards,
)

SHARE_PLACES: Final = Decimal("0.0001")

# Why a listing's pricing does not hold together.
PRICING_PROBLEMS: Final[Mapping[str, str]] = {
    # Stored before the rules of ``marketplace.pricing.pricing_errors`` held: a new
    # version that breaks them is refused.
    "breaks_pricing_rules": gettext_noop(
        "its pricing breaks the rules new versions are held to (for example a "
        "free agent that gives a price or a free trial)"
    ),
    "prices_in_texts": gettext_noop(
        "it is free and sells nothing inside the agent, yet its description or "
        "skills mention prices"
    ),
}


@dataclass(frozen=True, slots=True)
class ListingFacts:
    """What the checklist reads of one listing and one of its versions (its
    declaration; None when the listing has no version to read)."""

    privacy_policy_url: str = ""
    terms_url: str = ""
    homepage: str = ""
    summary: str = ""
    description: str = ""
    filing_number: str = ""
    requires_filing: bool = False
    for_minors: bool = False
    anti_addiction_measures: str = ""
    publisher_verified: bool = False
    declaration: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the checklist. ``label_id`` and ``hint_id`` are message ids;
    ``hint_params`` fill the hint's placeholders (a list holds message ids of its
    own, joined when read)."""

    key: str
    label_id: str
    applies: bool
    present: bool
    consistent: bool
    hint_id: str
    hint_params: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        """Counts towards the share: it applies, is present and is consistent."""
        return self.applies and self.present and self.consistent

    @property
    def label(self) -> str:
        return gettext(self.label_id)

    @property
    def hint(self) -> str:
        """What to do about it, in the active language ("" once it is done)."""
        if self.done or not self.applies:
            return ""
        return render_message(self.hint_id, self.hint_params)


@dataclass(frozen=True, slots=True)
class Disclosure:
    items: tuple[Item, ...]
    # The version read (None when the listing has none), for the reader's sake.
    version: str | None = None
    version_state: str | None = None

    @property
    def applicable(self) -> int:
        return sum(item.applies for item in self.items)

    @property
    def done(self) -> int:
        return sum(item.done for item in self.items)

    @property
    def share(self) -> Decimal | None:
        """Items done over items that apply, to 4 places; None when none applies."""
        return share(self.done, self.applicable)

    @property
    def percent(self) -> int | None:
        value = self.share
        return None if value is None else round(value * 100)


def share(done: int, applicable: int) -> Decimal | None:
    if not applicable:
        return None
    return (Decimal(done) / Decimal(applicable)).quantize(
        SHARE_PLACES, rounding=ROUND_HALF_EVEN
    )


def _filled(value: str) -> bool:
    return bool(value.strip())


def _texts(facts: ListingFacts, declaration: Mapping[str, Any]) -> str:
    skills = declaration.get("skills")
    parts = [facts.summary, facts.description]
    if isinstance(skills, list):
        for skill in skills:
            if isinstance(skill, dict):
                parts += [str(skill.get("name", "")), str(skill.get("description", ""))]
                examples = skill.get("examples")
                if isinstance(examples, list):
                    parts += [str(example) for example in examples]
    return "\n".join(parts)


def pricing_problems(facts: ListingFacts) -> list[str]:
    """The keys of ``PRICING_PROBLEMS`` that the listing's pricing has (none when
    it declares no pricing): rules of ``pricing_errors`` it breaks (only a version
    stored before they held can), and prices named in the texts of a listing that
    is free and sells nothing inside the agent."""
    declaration = facts.declaration or {}
    pricing = declaration.get("pricing")
    if not isinstance(pricing, dict):
        return []
    problems = []
    if pricing_errors(pricing):
        problems.append("breaks_pricing_rules")
    free = pricing.get("model") == FREE
    offered = (pricing.get("inAppPurchases") or {}).get("offered") is True
    if free and not offered and mentions_price(_texts(facts, declaration)):
        problems.append("prices_in_texts")
    return problems


def _has_model_dependency(declaration: Mapping[str, Any]) -> bool:
    dependencies = declaration.get("dependencies")
    models = dependencies.get("models") if isinstance(dependencies, dict) else None
    return isinstance(models, list) and any(
        isinstance(model, dict) and str(model.get("name", "")).strip()
        for model in models
    )


_ADD_VERSION: Final = gettext_noop(
    "Add a version whose capability declaration declares the pricing."
)


def _field(key: str, label: str, value: str, hint: str) -> Item:
    return Item(key, label, True, _filled(value), True, hint)


def disclosure_items(facts: ListingFacts) -> tuple[Item, ...]:
    """The checklist of one listing, in the order the publisher reads it."""
    declaration = facts.declaration or {}
    has_version = facts.declaration is not None
    pricing_declared = isinstance(declaration.get("pricing"), dict)
    problems = pricing_problems(facts)
    companion = is_companion(declaration)
    missing = missing_companion_safeguards(declaration)
    return (
        _field(
            "privacy_policy",
            gettext_noop("Privacy policy"),
            facts.privacy_policy_url,
            gettext_noop("Add the address of the privacy policy to the listing."),
        ),
        _field(
            "terms",
            gettext_noop("Terms of service"),
            facts.terms_url,
            gettext_noop("Add the address of the terms of service to the listing."),
        ),
        _field(
            "homepage",
            gettext_noop("Homepage"),
            facts.homepage,
            gettext_noop("Add the agent's homepage to the listing."),
        ),
        _field(
            "description",
            gettext_noop("Description"),
            facts.description,
            gettext_noop(
                "Describe in the listing what the agent does, for whom, and its limits."
            ),
        ),
        Item(
            "pricing_declared",
            gettext_noop("Pricing declared"),
            True,
            pricing_declared,
            True,
            DECLARE_PRICING if has_version else _ADD_VERSION,
        ),
        Item(
            "pricing_consistent",
            gettext_noop("Pricing consistent"),
            pricing_declared,
            pricing_declared,
            not problems,
            gettext_noop("The pricing does not hold together: %(problems)s."),
            {"problems": [PRICING_PROBLEMS[key] for key in problems]},
        ),
        Item(
            "filing_number",
            gettext_noop("Filing number"),
            facts.requires_filing,
            _filled(facts.filing_number),
            True,
            gettext_noop(
                "Agents in this domain need a filing number: add it to the listing."
            ),
        ),
        Item(
            "anti_addiction",
            gettext_noop("Anti-addiction measures"),
            facts.for_minors,
            _filled(facts.anti_addiction_measures),
            True,
            gettext_noop(
                "Minors may use the agent: describe its anti-addiction measures in "
                "the listing, or rate it 18+."
            ),
        ),
        Item(
            "companion_safeguards",
            gettext_noop("Companion safeguards"),
            companion,
            not missing,
            True,
            gettext_noop(
                "A companion or emotional-support agent declares its safeguards "
                "against dependence; missing: %(missing)s."
            ),
            {"missing": [COMPANION_SAFEGUARDS[key] for key in missing]},
        ),
        Item(
            "ai_bill_of_materials",
            gettext_noop("AI bill of materials"),
            True,
            _has_model_dependency(declaration),
            True,
            gettext_noop(
                "Name at least one model the agent depends on in the version's "
                "declared dependencies."
            ),
        ),
        Item(
            "publisher_verified",
            gettext_noop("Publisher verified"),
            True,
            facts.publisher_verified,
            True,
            gettext_noop(
                "Ask the platform operator to verify the publisher's business "
                "registration."
            ),
        ),
    )


def listing_facts(agent: Agent, version: AgentVersion | None) -> ListingFacts:
    """The facts of a listing from its rows (the agent with its domain and
    publisher, and the version to read)."""
    return ListingFacts(
        privacy_policy_url=agent.privacy_policy_url,
        terms_url=agent.terms_url,
        homepage=agent.homepage,
        summary=agent.summary,
        description=agent.description,
        filing_number=agent.filing_number,
        requires_filing=agent.domain.requires_filing,
        for_minors=agent.for_minors,
        anti_addiction_measures=agent.anti_addiction_measures,
        publisher_verified=agent.publisher.is_verified,
        declaration=version.declaration if version is not None else None,
    )


def agent_disclosure(*, agent: Agent) -> Disclosure:
    """The checklist of the listing with its latest published version or, when none
    is published, its newest version of any state (what the publisher is working
    on)."""
    version = agent.latest_version
    if version is None:
        version = agent.versions.order_by("-created_at", "-pk").first()
    return Disclosure(
        items=disclosure_items(listing_facts(agent, version)),
        version=version.version if version is not None else None,
        version_state=version.state if version is not None else None,
    )


def disclosure_get(*, actor: User, agent: Agent) -> Disclosure:
    """The checklist, for the publisher's members and the platform operator only."""
    if not (is_publisher_member(user=actor, agent=agent) or is_operator(actor)):
        raise PermissionDenied()
    return agent_disclosure(agent=agent)
