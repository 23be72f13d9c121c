"""The evidence a rating reads: for a chunk of entities (publisher organisations),
what the marketplace knew about each of them at a moment ``as_of``.

``gather(entity_ids=..., as_of=...)`` returns, per entity id, a dict keyed by the
``Indicator.Source`` values, in the format ``ratings.scoring`` expects for the
normalisation each source is meant to be paired with. The pairings a methodology
should use (another normalisation raises ``ScoringError`` or scores nonsense):

===================  ==============  ===================  ==========================
source               normalisation   direction            value
===================  ==============  ===================  ==========================
review_score         rate_shrunk     higher_is_better     ``{"mean", "count",
                                                          "population_mean"}``: the
                                                          stars of its visible
                                                          reviews; None without any
review_signals       wilson_lower    higher_is_better     ``{"successes", "trials",
                                                          "flagged"}``: its reviewed
                                                          agents without a raised
                                                          sign of manipulation, of
                                                          all with signals computed
findings             penalty_decay   lower_is_better      a list of ``{"severity",
                                                          "occurred_at", "repaired",
                                                          "category"}`` (empty: a
                                                          clean record)
certificates_held    linear          higher_is_better     how many (agent, scheme)
                                                          certificates hold
certificates_lost    wilson_lower    higher_is_better     ``{"successes", "trials",
                                                          "lost"}``: certificates
                                                          NOT suspended or revoked,
                                                          of all issued; None when
                                                          none was issued
disclosure           linear          higher_is_better     completeness share, 0..1,
                     (lower 0,                            of its listings'
                     upper 1)                             checklist items; None
                                                          without listings
review_reply_time    linear          lower_is_better      median hours to answer a
                                                          review; None without any
report_reply_time    (any)           --                   None: no data source yet
recalls, advisories  (any)           --                   None: not built yet
verification         boolean         higher_is_better     registration and domain
                                                          both verified
===================  ==============  ===================  ==========================

Both ``wilson_lower`` items count the good outcomes as ``successes``, so they pair
with ``higher_is_better``; paired with ``lower_is_better`` (which reads
``successes`` as the bad events) they would score the opposite. ``flagged`` and
``lost`` are there for the explanation; scoring does not read them.

"None" is "no data": scoring leaves the indicator out and the entity's coverage
drops, which is the honest answer when the marketplace does not know.

The items the override rules read (``scoring.FlagCondition`` and
``GateCondition``):

- ``dishonesty_listed``: False (no source yet for the legal dishonesty lists).
- ``risk_tier``: the highest risk tier of its listings (``low``, ``medium``,
  ``high``), None without listings.
- ``filing_held``: every listing whose domain requires a filing number has one.
- ``required_certificates_held``: every listing's latest version holds the
  certificates its domain requires (as ``selectors.certification.
  missing_requirements`` judges, at ``as_of``).
- ``high_risk_gate_missing``: some high-tier listing lacks its filing number or a
  required certificate.

How each item is made:

- Only what happened at or before ``as_of`` counts: reviews and replies written,
  reports substantiated, certificates issued and their state changes (read from
  their events), signals computed, listings first published, verifications made.
  What has no history (the listing's current texts and domain, whether a review is
  hidden now, its current stars) is read as it is now.
- Listings are the agents listed in the store (published, not quarantined) first
  published at or before ``as_of``.
- ``review_score``: visible reviews of its agents; ``population_mean`` is the mean
  of every visible review in the store at ``as_of`` (one aggregate query), so all
  chunks of a cycle get the same value. Means are rounded to 4 places.
- ``review_reply_time``: per visible review, the time from the review to the
  publisher's reply; a review not answered by ``as_of`` counts the time it has
  waited so far, so leaving the hard ones unanswered does not help. The median, in
  hours rounded to 2 places.
- ``findings``: its ``Finding`` rows (the substantiated misconduct reports about it
  or one of its agents) decided at or before ``as_of``, oldest decision first;
  ``severity``, ``category`` and ``occurred_at`` are the finding's, ``repaired`` is
  whether a credit repair marked it repaired at or before ``as_of``.
- ``certificates_held``: distinct (agent, scheme) pairs with a certificate valid at
  ``as_of`` (its state then valid, within its dates); an extension to a new version
  is not counted twice.
- ``disclosure``: over all its listings, the checklist items present and
  consistent of those that apply, as ``marketplace.disclosure`` computes them for
  the publisher's checklist (each listing with its latest published version):
  privacy policy, terms, homepage, description, pricing declared, pricing
  consistent (where declared), the filing number where the domain requires one,
  anti-addiction measures where minors may use the agent, companion safeguards
  where the version declares a companion agent, an AI bill of materials (at least
  one model dependency). The checklist's "publisher verified" item is left out
  (``NOT_IN_RATING``): the ``verification`` source scores the verification, and
  the share would count it a second time. The share is rounded to 4 places. Only
  the parts of each declaration the items read are loaded (``pricing``,
  ``wellbeing``, ``dependencies``, ``skills``).
- ``verification``: the operator verified its registration and it proved control
  of its web domain, both at or before ``as_of``.

Performance: a constant number of queries per call (nine, or eight when the caller
passes ``population_mean``; none for an empty chunk), whatever the number of
entities, each filtered or grouped by publisher, with one pass in Python over the
rows. The population mean scans every review of the store: a cycle should compute
it once (``review_population_mean``) and pass it to each chunk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import Any, Final

from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from marketplace.disclosure import ListingFacts, disclosure_items
from marketplace.disclosure import share as disclosure_share
from marketplace.models import (
    Agent,
    Certificate,
    CertificationEvent,
    Domain,
    Organization,
    Review,
    ReviewSignal,
)
from ratings.models import Finding, Indicator, MisconductReport

Source = Indicator.Source
Category = MisconductReport.Category
CertState = Certificate.State
RiskTier = Domain.RiskTier

# The severity proposed for a finding by the report's category (the body decides
# each finding's own): harm hidden from users or technology turned against them is
# serious; misleading or careless conduct is general; anything else is minor.
SEVERITY_BY_CATEGORY: Final[Mapping[str, str]] = MappingProxyType(
    {
        Category.CONCEALING_DEFECTS: "serious",
        Category.TECHNOLOGY_ABUSE: "serious",
        Category.FALSE_ADVERTISING: "general",
        Category.INDUCING_CONSUMPTION: "general",
        Category.PRIVACY_VIOLATION: "general",
        Category.SECURITY_PROBLEM: "general",
        Category.OTHER: "minor",
    }
)

# Checklist items the ``disclosure`` share leaves out: the publisher's verification
# is the ``verification`` source's to score, and counting it here too would weigh
# it twice. The publisher's checklist keeps it.
NOT_IN_RATING: Final = frozenset({"publisher_verified"})

# Certificate states that count as lost (expiry is the natural end of one).
LOST_STATES: Final = frozenset({CertState.SUSPENDED, CertState.REVOKED})

_TIER_ORDER: Final[Mapping[str, int]] = MappingProxyType(
    {RiskTier.LOW: 0, RiskTier.MEDIUM: 1, RiskTier.HIGH: 2}
)
_MEAN_PLACES: Final = Decimal("0.0001")
_HOUR_PLACES: Final = Decimal("0.01")
_MICROSECONDS_PER_HOUR: Final = Decimal(3_600_000_000)
_MICROSECOND: Final = timedelta(microseconds=1)


def gather(
    *,
    entity_ids: Sequence[int],
    as_of: datetime,
    population_mean: Decimal | None = None,
) -> dict[int, dict[str, Any]]:
    """The evidence of each entity in ``entity_ids`` at ``as_of`` (see the module
    docstring), keyed by entity id; every id asked for gets an entry.

    ``population_mean`` (the mean stars of the whole store at ``as_of``) is
    computed when not given; a cycle may compute it once with
    ``review_population_mean`` and pass it to every chunk to save one query each.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware.")
    ids = sorted(set(entity_ids))
    if not ids:
        return {}
    if population_mean is None:
        population_mean = review_population_mean(as_of=as_of)

    verified = _verification(ids, as_of)
    reviews = _reviews(ids, as_of)
    signals = _review_signals(ids, as_of)
    findings = _findings(ids, as_of)
    certificates = _certificates(ids, as_of)
    listings = _listings(ids, as_of, certificates)

    result: dict[int, dict[str, Any]] = {}
    for entity_id in ids:
        stars = reviews.get(entity_id)
        score = stars.score(population_mean) if stars else None
        reply_hours = stars.median_reply_hours() if stars else None
        held, lost, trials = certificates.totals(entity_id)
        listed = listings.get(entity_id, _ListingSummary())
        result[entity_id] = {
            Source.REVIEW_SCORE.value: score,
            Source.REVIEW_SIGNALS.value: signals.get(entity_id),
            Source.FINDINGS.value: findings.get(entity_id, []),
            Source.CERTIFICATES_HELD.value: held,
            Source.CERTIFICATES_LOST.value: (
                {"successes": trials - lost, "trials": trials, "lost": lost}
                if trials
                else None
            ),
            Source.RECALLS.value: None,
            Source.ADVISORIES.value: None,
            Source.DISCLOSURE.value: listed.disclosure(),
            Source.REVIEW_REPLY_TIME.value: reply_hours,
            Source.REPORT_REPLY_TIME.value: None,
            Source.VERIFICATION.value: verified.get(entity_id),
            "dishonesty_listed": False,
            "risk_tier": listed.risk_tier,
            "filing_held": listed.filing_held,
            "required_certificates_held": listed.certificates_held,
            "high_risk_gate_missing": listed.high_risk_gate_missing,
        }
    return result


def review_population_mean(*, as_of: datetime) -> Decimal | None:
    """The mean stars of every visible review in the store written at or before
    ``as_of`` (the prior of the Bayesian average), or None when there is none."""
    totals = Review.objects.filter(
        state=Review.State.VISIBLE, created_at__lte=as_of
    ).aggregate(stars=Sum("stars"), count=Count("pk"))
    if not totals["count"]:
        return None
    return _mean(totals["stars"], totals["count"])


# --------------------------------------------------------------------------
# Verification


def _verification(ids: list[int], as_of: datetime) -> dict[int, bool]:
    rows = Organization.objects.filter(pk__in=ids).values_list(
        "pk", "verified_at", "domain_verified_at"
    )
    return {
        pk: (
            verified_at is not None
            and verified_at <= as_of
            and domain_verified_at is not None
            and domain_verified_at <= as_of
        )
        for pk, verified_at, domain_verified_at in rows
    }


# --------------------------------------------------------------------------
# Reviews: score and time to reply


@dataclass(slots=True)
class _Reviews:
    count: int = 0
    stars: int = 0
    waits: list[int] = field(default_factory=list)  # microseconds

    def score(self, population_mean: Decimal | None) -> dict[str, Any]:
        return {
            "mean": _mean(self.stars, self.count),
            "count": self.count,
            "population_mean": population_mean,
        }

    def median_reply_hours(self) -> Decimal:
        waits = sorted(self.waits)
        middle = len(waits) // 2
        if len(waits) % 2:
            median = Decimal(waits[middle])
        else:
            median = Decimal(waits[middle - 1] + waits[middle]) / 2
        hours = median / _MICROSECONDS_PER_HOUR
        return hours.quantize(_HOUR_PLACES, rounding=ROUND_HALF_EVEN)


def _reviews(ids: list[int], as_of: datetime) -> dict[int, _Reviews]:
    rows = (
        Review.objects.filter(
            agent__publisher_id__in=ids,
            state=Review.State.VISIBLE,
            created_at__lte=as_of,
        )
        # The wait for a reply, or the wait so far (one interval, not two
        # datetimes, to load per row).
        .annotate(
            waited=ExpressionWrapper(
                Coalesce(
                    Case(
                        When(reply__created_at__lte=as_of, then=F("reply__created_at"))
                    ),
                    Value(as_of, output_field=DateTimeField()),
                )
                - F("created_at"),
                output_field=DurationField(),
            )
        )
        .order_by()
        .values_list("agent__publisher_id", "stars", "waited")
    )
    result: dict[int, _Reviews] = defaultdict(_Reviews)
    for publisher_id, stars, waited in rows:
        summary = result[publisher_id]
        summary.count += 1
        summary.stars += stars
        summary.waits.append(waited // _MICROSECOND)
    return result


def _review_signals(ids: list[int], as_of: datetime) -> dict[int, dict[str, int]]:
    rows = (
        ReviewSignal.objects.filter(agent__publisher_id__in=ids, computed_at__lte=as_of)
        .values("agent__publisher_id")
        .annotate(
            agents=Count("agent_id", distinct=True),
            flagged=Count("agent_id", distinct=True, filter=Q(details__raised=True)),
        )
        .order_by()
        .values_list("agent__publisher_id", "agents", "flagged")
    )
    return {
        publisher_id: {
            "successes": agents - flagged,
            "trials": agents,
            "flagged": flagged,
        }
        for publisher_id, agents, flagged in rows
        if agents
    }


# --------------------------------------------------------------------------
# Findings


def _findings(ids: list[int], as_of: datetime) -> dict[int, list[dict[str, Any]]]:
    rows = (
        Finding.objects.filter(entity_id__in=ids, decided_at__lte=as_of)
        .order_by("decided_at", "pk")
        .values_list("entity_id", "severity", "occurred_at", "repaired_at", "category")
    )
    result: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entity_id, severity, occurred_at, repaired_at, category in rows:
        result[entity_id].append(
            {
                "severity": severity,
                "occurred_at": occurred_at,
                "repaired": repaired_at is not None and repaired_at <= as_of,
                "category": category,
            }
        )
    return result


# --------------------------------------------------------------------------
# Certificates


@dataclass(frozen=True, slots=True)
class _Certificate:
    agent_id: int
    scheme_id: int
    dimension: str
    version_id: int
    digest: str
    live: bool  # valid at as_of: its state then valid, within its dates


@dataclass(slots=True)
class _Certificates:
    by_publisher: dict[int, list[_Certificate]] = field(
        default_factory=lambda: defaultdict(list)
    )
    lost: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def totals(self, publisher_id: int) -> tuple[int, int, int]:
        """(agent-scheme pairs held, certificates lost, certificates issued)."""
        certificates = self.by_publisher.get(publisher_id, [])
        held = {(c.agent_id, c.scheme_id) for c in certificates if c.live}
        return len(held), self.lost.get(publisher_id, 0), len(certificates)

    def live_on(
        self, publisher_id: int, version_id: int, digest: str
    ) -> list[_Certificate]:
        """The certificates that hold on this version as it is declared now."""
        return [
            c
            for c in self.by_publisher.get(publisher_id, [])
            if c.live and c.version_id == version_id and c.digest == digest
        ]


def _certificates(ids: list[int], as_of: datetime) -> _Certificates:
    # The state at as_of: the current one when nothing changed since, otherwise
    # the state the last event at or before as_of moved it to.
    last_state = (
        CertificationEvent.objects.filter(
            certificate_id=OuterRef("pk"), created_at__lte=as_of
        )
        .exclude(to_state="")
        .order_by("-created_at", "-pk")
        .values("to_state")[:1]
    )
    state_then = Case(
        When(updated_at__lte=as_of, then=F("state")),
        default=Coalesce(Subquery(last_state), Value(CertState.VALID)),
        output_field=CharField(),
    )
    rows = (
        Certificate.objects.filter(agent__publisher_id__in=ids, created_at__lte=as_of)
        .annotate(state_then=state_then)
        .order_by()
        .values_list(
            "agent__publisher_id",
            "agent_id",
            "scheme_id",
            "scheme__dimension",
            "version_id",
            "digest",
            "valid_from",
            "valid_until",
            "state_then",
        )
    )
    result = _Certificates()
    for (
        publisher_id,
        agent_id,
        scheme_id,
        dimension,
        version_id,
        digest,
        valid_from,
        valid_until,
        state,
    ) in rows:
        result.by_publisher[publisher_id].append(
            _Certificate(
                agent_id=agent_id,
                scheme_id=scheme_id,
                dimension=dimension,
                version_id=version_id,
                digest=digest,
                live=state == CertState.VALID and valid_from <= as_of < valid_until,
            )
        )
        if state in LOST_STATES:
            result.lost[publisher_id] += 1
    return result


# --------------------------------------------------------------------------
# Listings: disclosure and the high-risk gate


@dataclass(frozen=True, slots=True)
class _Domain:
    risk_tier: str
    requires_filing: bool
    schemes: frozenset[int]
    dimensions: frozenset[str]


@dataclass(slots=True)
class _ListingSummary:
    required: int = 0
    filled: int = 0
    risk_tier: str | None = None
    filing_held: bool = True
    certificates_held: bool = True
    high_risk_gate_missing: bool = False

    def disclosure(self) -> Decimal | None:
        return disclosure_share(self.filled, self.required)


def _domains() -> dict[int, _Domain]:
    """Every domain with what it requires (a short list, read whole)."""
    schemes: dict[int, set[int]] = defaultdict(set)
    through = Domain.required_schemes.through
    for domain_id, scheme_id in through.objects.values_list("domain_id", "scheme_id"):
        schemes[domain_id].add(scheme_id)
    return {
        pk: _Domain(
            risk_tier=risk_tier,
            requires_filing=needs_filing or risk_tier == RiskTier.HIGH,
            schemes=frozenset(schemes.get(pk, ())),
            dimensions=frozenset(dimensions or ()),
        )
        for pk, risk_tier, needs_filing, dimensions in Domain.objects.values_list(
            "pk", "risk_tier", "needs_filing", "required_dimensions"
        )
    }


# The parts of a declaration that ``disclosure_items`` reads.
_DECLARATION_KEYS: Final = ("pricing", "wellbeing", "dependencies", "skills")


def _listings(
    ids: list[int], as_of: datetime, certificates: _Certificates
) -> dict[int, _ListingSummary]:
    domains = _domains()
    rows = (
        Agent.objects.filter(
            publisher_id__in=ids,
            latest_version__isnull=False,
            published_at__lte=as_of,
        )
        .exclude(status=Agent.Status.QUARANTINED)
        .order_by()
        .values_list(
            "publisher_id",
            "domain_id",
            "latest_version_id",
            "latest_version__declaration_digest",
            # Only the parts of the declaration the checklist reads, not the whole
            # document per listing (key transforms: SQLite and PostgreSQL alike).
            *(f"latest_version__declaration__{key}" for key in _DECLARATION_KEYS),
            "privacy_policy_url",
            "terms_url",
            "homepage",
            "summary",
            "description",
            "filing_number",
            "age_rating",
            "anti_addiction_measures",
        )
    )
    result: dict[int, _ListingSummary] = defaultdict(_ListingSummary)
    for (
        publisher_id,
        domain_id,
        version_id,
        digest,
        *parts,
        privacy_policy_url,
        terms_url,
        homepage,
        summary_text,
        description,
        filing_number,
        age_rating,
        anti_addiction_measures,
    ) in rows:
        domain = domains[domain_id]
        summary = result[publisher_id]
        declaration = {
            key: value
            for key, value in zip(_DECLARATION_KEYS, parts, strict=True)
            if value is not None
        }
        items = [
            item
            for item in disclosure_items(
                ListingFacts(
                    privacy_policy_url=privacy_policy_url,
                    terms_url=terms_url,
                    homepage=homepage,
                    summary=summary_text,
                    description=description,
                    filing_number=filing_number,
                    requires_filing=domain.requires_filing,
                    for_minors=Agent.rated_for_minors(age_rating),
                    anti_addiction_measures=anti_addiction_measures,
                    declaration=declaration,
                )
            )
            if item.key not in NOT_IN_RATING
        ]
        summary.required += sum(item.applies for item in items)
        summary.filled += sum(item.done for item in items)

        filing_ok = bool(filing_number.strip()) or not domain.requires_filing
        certificates_ok = _holds_requirements(
            domain, certificates.live_on(publisher_id, version_id, digest)
        )
        summary.filing_held &= filing_ok
        summary.certificates_held &= certificates_ok
        if domain.risk_tier == RiskTier.HIGH and not (filing_ok and certificates_ok):
            summary.high_risk_gate_missing = True
        if summary.risk_tier is None or (
            _TIER_ORDER.get(domain.risk_tier, 0) > _TIER_ORDER.get(summary.risk_tier, 0)
        ):
            summary.risk_tier = domain.risk_tier
    return result


def _holds_requirements(domain: _Domain, live: Iterable[_Certificate]) -> bool:
    """What ``selectors.certification.missing_requirements`` asks: a live
    certificate of each required scheme and of some scheme of each required
    dimension."""
    if not domain.schemes and not domain.dimensions:
        return True
    live = list(live)
    return domain.schemes <= {c.scheme_id for c in live} and domain.dimensions <= {
        c.dimension for c in live
    }


# --------------------------------------------------------------------------


def _mean(total: int, count: int) -> Decimal:
    return (Decimal(total) / Decimal(count)).quantize(
        _MEAN_PLACES, rounding=ROUND_HALF_EVEN
    )
