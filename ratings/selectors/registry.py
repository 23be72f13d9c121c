"""Reads of the public credit registry: the rated entities, an entity's credit
profile (per industry body: the current rating, its indicator breakdown, its
history, watch and withdrawal), its findings and sanctions, the dishonesty list,
and the stable JSON document of a profile.

A rating is *current* when it is the body's latest published rating of the
entity and it has not lapsed (``valid_until`` empty, for older rows, or in the
future). Superseded and withdrawn ratings stay public as history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypedDict

from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from config.site import absolute_url
from marketplace.credit import GRADES, grade_rank
from marketplace.models import Organization
from ratings.models import (
    Enrolment,
    Finding,
    GradeBand,
    GradeMeasure,
    Indicator,
    Rating,
    Sanction,
    Watch,
)
from ratings.selectors.sanctions import dishonesty_list

State = Rating.State

# What the public sees of an entity's ratings: the one in force and the ones
# before it.
HISTORY_STATES = (State.PUBLISHED, State.SUPERSEDED, State.WITHDRAWN)
# A profile shows this many of the latest findings and sanctions.
PROFILE_ROWS = 100

# How a grade filter compares: that grade or better, or that grade alone.
MATCH_AT_LEAST = "at_least"
MATCH_EXACTLY = "exactly"
MATCH_CHOICES = [
    (MATCH_AT_LEAST, gettext_lazy("at least")),
    (MATCH_EXACTLY, gettext_lazy("exactly")),
]

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


# --- Current ratings and the registry list --------------------------------------


def _not_lapsed(now: datetime) -> Q:
    return Q(valid_until__isnull=True) | Q(valid_until__gt=now)


def _newer_publication() -> Exists:
    """A later published rating of the same entity by the same body."""
    return Exists(
        Rating.objects.filter(
            entity_id=OuterRef("entity_id"),
            cycle__body_id=OuterRef("cycle__body_id"),
            state=State.PUBLISHED,
        ).filter(
            Q(published_at__gt=OuterRef("published_at"))
            | Q(published_at=OuterRef("published_at"), pk__gt=OuterRef("pk"))
        )
    )


def current_ratings(*, now: datetime | None = None) -> QuerySet[Rating]:
    """Every entity's current rating per body (at most one per entity and
    body)."""
    now = now or timezone.now()
    return (
        Rating.objects.filter(state=State.PUBLISHED, published_at__isnull=False)
        .filter(_not_lapsed(now))
        .exclude(_newer_publication())
    )


def _grade_rank_expression() -> Case:
    return Case(
        *(When(grade=grade, then=Value(grade_rank(grade))) for grade in GRADES),
        default=Value(None),
        output_field=IntegerField(),
    )


def _dishonesty_listed(now: datetime, entity_ref: str = "entity_id") -> Exists:
    return Exists(
        Sanction.objects.filter(
            entity_id=OuterRef(entity_ref),
            state=Sanction.State.ACTIVE,
            kind=GradeMeasure.Kind.DISHONESTY_LIST,
            ends_at__gt=now,
        )
    )


def registry_list(
    *,
    grade: str | None = None,
    min_grade: str | None = None,
    body: Organization | None = None,
    q: str | None = None,
    now: datetime | None = None,
) -> QuerySet[Rating]:
    """The rated entities: one row per current rating, by entity name, with the
    entity, the body and the methodology, and the annotations ``rank`` (of the
    grade on the store's scale; none for a provisional grade), ``on_watch`` and
    ``listed`` (on the dishonesty list).

    ``grade`` keeps that grade exactly; ``min_grade`` that grade or better;
    ``body`` one body's ratings; ``q`` entities whose name or short name
    contains it."""
    now = now or timezone.now()
    ratings = (
        current_ratings(now=now)
        .select_related("entity", "cycle__body", "cycle__methodology")
        .annotate(
            rank=_grade_rank_expression(),
            on_watch=Exists(
                Watch.objects.filter(
                    entity_id=OuterRef("entity_id"),
                    body_id=OuterRef("cycle__body_id"),
                    resolved_at__isnull=True,
                )
            ),
            listed=_dishonesty_listed(now),
        )
    )
    if grade:
        ratings = ratings.filter(grade=grade)
    if min_grade:
        ratings = ratings.filter(rank__gte=grade_rank(min_grade))
    if body is not None:
        ratings = ratings.filter(cycle__body=body)
    if q:
        ratings = ratings.filter(
            Q(entity__name__icontains=q) | Q(entity__slug__icontains=q)
        )
    return ratings.order_by("entity__name", "entity_id", "cycle__body__name", "pk")


def rating_bodies() -> QuerySet[Organization]:
    """The industry bodies, by name, for the registry's filter."""
    return Organization.objects.filter(kind=Organization.Kind.INDUSTRY_BODY).order_by(
        "name", "pk"
    )


def industry_body_by_slug(*, slug: str) -> Organization | None:
    return Organization.objects.filter(
        slug=slug, kind=Organization.Kind.INDUSTRY_BODY
    ).first()


def registry_dishonesty_list(*, now: datetime | None = None) -> QuerySet[Sanction]:
    """The dishonesty list in force: active dishonesty-list sanctions that have
    not run out (the nightly job may not have marked them expired yet)."""
    now = now or timezone.now()
    return dishonesty_list().filter(ends_at__gt=now)


def registry_entity_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(slug=slug).first()


# --- An entity's profile ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndicatorRow:
    """One indicator of a rating as the public reads it: ``value`` is the
    normalised value (``None`` without data), ``maximum`` the most it could
    have contributed (its weight's share of 100 points among the indicators
    with data)."""

    code: str
    name_en: str
    name_zh: str
    category: str
    weight: Decimal
    value: Decimal | None
    contribution: Decimal
    maximum: Decimal


@dataclass(slots=True)
class BodyRating:
    """What one industry body says of the entity. ``current`` is ``None`` when
    its latest rating lapsed or was withdrawn; ``history`` holds every public
    rating of the body, newest first; ``withdrawn_at`` is set when the entity
    left the body's rating and has not enrolled again."""

    body: Organization
    current: Rating | None
    band: GradeBand | None
    indicators: list[IndicatorRow]
    history: list[Rating]
    watch: Watch | None
    withdrawn_at: datetime | None
    scale: list[str]

    @property
    def latest(self) -> Rating:
        return self.history[0]


@dataclass(slots=True)
class CreditProfile:
    entity: Organization
    bodies: list[BodyRating]
    findings: list[Finding]
    sanctions: list[Sanction]
    dishonesty_listed: bool
    generated_at: datetime

    @property
    def rated(self) -> bool:
        return bool(self.bodies)


def _is_current(rating: Rating, now: datetime) -> bool:
    return rating.state == State.PUBLISHED and (
        rating.valid_until is None or rating.valid_until > now
    )


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def indicator_rows(
    rating: Rating, indicators: dict[str, Indicator]
) -> list[IndicatorRow]:
    """The rating's stored contributions (they add up to its score), named from
    the methodology's indicators, in the methodology's order."""
    contributions = [c for c in rating.contributions if isinstance(c, dict)]
    weights = [
        _decimal(c.get("weight")) or Decimal(0)
        for c in contributions
        if c.get("normalised") is not None
    ]
    with_data = sum(weights, Decimal(0))
    order = list(indicators)
    rows = []
    for item in contributions:
        code = str(item.get("code", ""))
        indicator = indicators.get(code)
        weight = _decimal(item.get("weight")) or Decimal(0)
        value = _decimal(item.get("normalised"))
        maximum = (
            (weight * _HUNDRED / with_data).quantize(_CENT, rounding=ROUND_HALF_EVEN)
            if value is not None and with_data > 0
            else Decimal("0.00")
        )
        rows.append(
            IndicatorRow(
                code=code,
                name_en=indicator.name_en if indicator else code,
                name_zh=indicator.name_zh if indicator else "",
                category=str(item.get("category", "")),
                weight=weight,
                value=value,
                contribution=_decimal(item.get("contribution")) or Decimal("0.00"),
                maximum=maximum,
            )
        )
    rows.sort(key=lambda r: order.index(r.code) if r.code in order else len(order))
    return rows


def grade_scale(bands: list[GradeBand], grades: list[str]) -> list[str]:
    """The grades of the chart's y axis, best first: the methodology's scale
    (its bands from the highest score down), then any other grade the history
    holds, letter grades in the store's order and the rest (a provisional
    grade) last."""
    scale = [band.grade for band in bands]
    others = [g for g in dict.fromkeys(grades) if g not in scale]
    others.sort(key=lambda g: GRADES.index(g) if g in GRADES else len(GRADES))
    letters = [g for g in others if g in GRADES]
    if letters and all(g in GRADES for g in scale):
        merged = sorted(set(scale) | set(letters), key=GRADES.index)
        return merged + [g for g in others if g not in GRADES]
    return scale + others


def credit_profile(
    *, entity: Organization, now: datetime | None = None
) -> CreditProfile:
    """The entity's public credit profile, in a fixed number of queries
    whatever the number of bodies, ratings, findings and sanctions."""
    now = now or timezone.now()
    history = list(
        Rating.objects.filter(entity=entity, state__in=HISTORY_STATES)
        .exclude(published_at__isnull=True)
        .select_related("cycle__body", "cycle__methodology")
        .order_by("-published_at", "-pk")
    )
    by_body: dict[int, list[Rating]] = defaultdict(list)
    for rating in history:
        by_body[rating.cycle.body_id].append(rating)
    methodology_ids = {r.cycle.methodology_id for r in history}
    bands: dict[int, list[GradeBand]] = defaultdict(list)
    indicators: dict[int, dict[str, Indicator]] = defaultdict(dict)
    if methodology_ids:
        for band in GradeBand.objects.filter(
            methodology_id__in=methodology_ids
        ).order_by("methodology_id", "-min_score"):
            bands[band.methodology_id].append(band)
        for indicator in Indicator.objects.filter(
            methodology_id__in=methodology_ids
        ).order_by("methodology_id", "position", "code"):
            indicators[indicator.methodology_id][indicator.code] = indicator
    watches = {
        w.body_id: w
        for w in Watch.objects.filter(entity=entity, resolved_at__isnull=True)
    }
    enrolments: dict[int, list[Enrolment]] = defaultdict(list)
    for enrolment in Enrolment.objects.filter(entity=entity).order_by("-signed_at"):
        enrolments[enrolment.body_id].append(enrolment)
    bodies = []
    for ratings in by_body.values():
        latest = ratings[0]
        current = latest if _is_current(latest, now) else None
        methodology_id = (current or latest).cycle.methodology_id
        definition: GradeBand | None = None
        if current is not None:
            definition = next(
                (b for b in bands[methodology_id] if b.grade == current.grade), None
            )
        signed = enrolments.get(latest.cycle.body_id, [])
        withdrawn_at = None
        if signed and all(e.withdrawn_at is not None for e in signed):
            withdrawn_at = max(e.withdrawn_at for e in signed if e.withdrawn_at)
        bodies.append(
            BodyRating(
                body=latest.cycle.body,
                current=current,
                band=definition,
                indicators=(
                    indicator_rows(current, indicators[methodology_id])
                    if current is not None
                    else []
                ),
                history=ratings,
                watch=watches.get(latest.cycle.body_id),
                withdrawn_at=withdrawn_at,
                scale=grade_scale(
                    bands[methodology_id], [r.grade for r in reversed(ratings)]
                ),
            )
        )
    bodies.sort(key=lambda b: (b.current is None, b.body.name, b.body.pk))
    sanctions = list(
        Sanction.objects.filter(entity=entity)
        .select_related("body", "rating")
        .order_by("-starts_at", "-pk")[:PROFILE_ROWS]
    )
    listed = Sanction.objects.filter(
        entity=entity,
        state=Sanction.State.ACTIVE,
        kind=GradeMeasure.Kind.DISHONESTY_LIST,
        ends_at__gt=now,
    ).exists()
    findings = list(
        Finding.objects.filter(entity=entity)
        .select_related("body")
        .order_by("-occurred_at", "-pk")[:PROFILE_ROWS]
    )
    return CreditProfile(
        entity=entity,
        bodies=bodies,
        findings=findings,
        sanctions=sanctions,
        dishonesty_listed=listed,
        generated_at=now,
    )


# --- The stable JSON document -----------------------------------------------------


class Named(TypedDict):
    slug: str
    name: str


class LocalText(TypedDict):
    en: str
    zh: str


class MethodologyRef(TypedDict):
    code: str
    version: int
    url: str | None


class IndicatorDoc(TypedDict):
    code: str
    name: LocalText
    category: str
    weight: str
    value: str | None
    contribution: str


class HistoryDoc(TypedDict):
    grade: str
    score: str
    outlook: str
    published_at: str | None
    state: str


class WatchDoc(TypedDict):
    reason: str
    opened_at: str
    due_at: str


class RatingDoc(TypedDict):
    body: Named
    current: bool
    grade: str | None
    grade_definition: LocalText | None
    outlook: str | None
    on_watch: bool
    watch: WatchDoc | None
    score: str | None
    provisional: bool | None
    coverage: str | None
    methodology: MethodologyRef
    published_at: str | None
    valid_until: str | None
    evidence_hash: str | None
    indicators: list[IndicatorDoc]
    history: list[HistoryDoc]
    enrolment_withdrawn_at: str | None


class SanctionDoc(TypedDict):
    body: Named
    kind: str
    state: str
    reason: str
    starts_at: str
    ends_at: str
    ended_at: str | None


class PublisherDoc(TypedDict):
    slug: str
    name: str
    url: str
    credit_profile_url: str


class CreditDocument(TypedDict):
    publisher: PublisherDoc
    ratings: list[RatingDoc]
    dishonesty_listed: bool
    sanctions: list[SanctionDoc]
    generated_at: str


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _cents(value: Decimal) -> str:
    return str(value.quantize(_CENT, rounding=ROUND_HALF_EVEN))


def methodology_url(*, body: str, code: str, version: int) -> str | None:
    """The public page of a methodology version, or ``None`` while the site
    has no such page."""
    try:
        return reverse(
            "credit-methodology-detail",
            kwargs={"body": body, "code": code, "version": version},
        )
    except NoReverseMatch:
        return None


def _rating_doc(entry: BodyRating) -> RatingDoc:
    current = entry.current
    shown = current or entry.latest
    methodology = shown.cycle.methodology
    path = methodology_url(
        body=entry.body.slug, code=methodology.code, version=methodology.version
    )
    watch = entry.watch
    return {
        "body": {"slug": entry.body.slug, "name": entry.body.name},
        "current": current is not None,
        "grade": current.grade if current else None,
        "grade_definition": (
            {"en": entry.band.definition_en, "zh": entry.band.definition_zh}
            if entry.band
            else None
        ),
        "outlook": current.outlook if current else None,
        "on_watch": watch is not None,
        "watch": (
            {
                "reason": watch.reason,
                "opened_at": watch.opened_at.isoformat(),
                "due_at": watch.due_at.isoformat(),
            }
            if watch
            else None
        ),
        "score": _cents(current.score) if current else None,
        "provisional": current.provisional if current else None,
        "coverage": str(current.coverage) if current else None,
        "methodology": {
            "code": methodology.code,
            "version": methodology.version,
            "url": absolute_url(path) if path else None,
        },
        "published_at": _iso(current.published_at) if current else None,
        "valid_until": _iso(current.valid_until) if current else None,
        "evidence_hash": current.evidence_hash if current else None,
        "indicators": [
            {
                "code": row.code,
                "name": {"en": row.name_en, "zh": row.name_zh},
                "category": row.category,
                "weight": str(row.weight),
                "value": None if row.value is None else _cents(row.value),
                "contribution": _cents(row.contribution),
            }
            for row in entry.indicators
        ],
        "history": [
            {
                "grade": rating.grade,
                "score": _cents(rating.score),
                "outlook": rating.outlook,
                "published_at": _iso(rating.published_at),
                "state": rating.state,
            }
            for rating in entry.history
        ],
        "enrolment_withdrawn_at": _iso(entry.withdrawn_at),
    }


def credit_document(*, profile: CreditProfile) -> CreditDocument:
    """The stable JSON of an entity's credit profile
    (``/credit/<publisher>.json`` and ``/api/v1/credit/entities/<slug>/``).

    - ``publisher``: ``slug``, ``name``, ``url`` (the publisher's page) and
      ``credit_profile_url`` (this profile's page), absolute.
    - ``ratings``: one entry per industry body that ever published a rating of
      the entity, bodies with a current rating first, then by name. ``current``
      says whether the body's latest rating is in force; when it is not (it
      lapsed or was withdrawn), the fields of the current rating (``grade``,
      ``grade_definition``, ``outlook``, ``score``, ``provisional``,
      ``coverage``, ``published_at``, ``valid_until``, ``evidence_hash``) are
      ``null`` and ``indicators`` is empty, while ``history`` stays.

      - ``grade_definition``: the public meaning of the grade,
        ``{"en": ..., "zh": ...}`` ("" when a language has none).
      - ``on_watch`` and ``watch`` (``reason``, ``opened_at``, ``due_at``).
      - ``score``, ``coverage`` and every number of ``indicators``: decimal
        strings; ``score`` and ``contribution`` with two places, and the
        contributions add up exactly to ``score``. ``value`` is the normalised
        value from 0 to 100, ``null`` for an indicator without data (its
        contribution is then ``"0.00"``).
      - ``methodology``: ``code``, ``version`` and the absolute ``url`` of its
        public page.
      - ``history``: every public rating of the body, newest first, with its
        ``state`` (``published``, ``superseded`` or ``withdrawn``).
      - ``enrolment_withdrawn_at``: when the entity left the body's rating
        (``null`` while enrolled).
    - ``dishonesty_listed``: on a body's dishonesty list now.
    - ``sanctions``: the latest sanctions (active and past), newest first, with
      ``kind``, ``state``, ``reason``, ``starts_at``, ``ends_at`` and
      ``ended_at``.
    - ``generated_at``: when the document was made. Times are ISO 8601 in UTC.
    """
    entity = profile.entity
    return {
        "publisher": {
            "slug": entity.slug,
            "name": entity.name,
            "url": absolute_url(
                reverse("publisher-detail", kwargs={"slug": entity.slug})
            ),
            "credit_profile_url": absolute_url(
                reverse("credit-profile", kwargs={"publisher": entity.slug})
            ),
        },
        "ratings": [_rating_doc(entry) for entry in profile.bodies],
        "dishonesty_listed": profile.dishonesty_listed,
        "sanctions": [
            {
                "body": {"slug": s.body.slug, "name": s.body.name},
                "kind": s.kind,
                "state": s.state,
                "reason": s.reason,
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "ended_at": _iso(s.ended_at),
            }
            for s in profile.sanctions
        ],
        "generated_at": profile.generated_at.isoformat(),
    }


def entity_is_public(*, entity: Organization, profile: CreditProfile) -> bool:
    """A profile page exists for a publisher (rated or not) and for any
    organisation that was rated."""
    return entity.kind == Organization.Kind.PUBLISHER or profile.rated
