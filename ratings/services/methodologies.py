"""Rating methodologies and enrolment.

An industry body's owners, administrators and analysts write a methodology as a
draft: its text, the commitment entities sign, indicators with weights, the grade
scale, override rules and the measures each grade calls for (sanctions a person
of the body may impose, incentives the store grants). Publishing checks it is
whole (weights add up to 100, every band's grade is one of the store's, the
scale starts at 0) and makes it public; from then on nothing in it changes: a
change is a new version, a draft copied from it. A published methodology is
retired when a newer version is published.

An entity (a publisher) enrols in a body's rating by signing the commitment of the
body's methodology in force; it may withdraw, which ends future ratings and keeps
its history, but not while it is on the body's watch, has a rating of the body
being decided (computed, reviewed, approved, under notice or objection), is the
subject of a misconduct report the body is triaging or investigating, or is under
a sanction of the body.
"""

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.credit import GRADES
from marketplace.models import Membership, Organization, User
from marketplace.selectors.organizations import membership_role
from ratings import scoring
from ratings.models import (
    CreditEvent,
    Enrolment,
    GradeBand,
    GradeMeasure,
    Indicator,
    Methodology,
    MisconductReport,
    OverrideRule,
    Rating,
    RatingCycle,
    Sanction,
    Watch,
)

from .sanctions import entity_lock

Role = Membership.Role
State = Methodology.State

AUTHOR_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.ANALYST})
ENTITY_ROLES = frozenset({Role.OWNER, Role.ADMIN})
TOTAL_WEIGHT = Decimal("100")
# Weights and scores are kept to the hundredth.
HUNDREDTH = Decimal("0.01")
MAX_INDICATORS = 40
# A sanction lasts, and its repair waits, at most ten years.
MAX_MEASURE_DAYS = 3650
# While an entity's rating is in one of these states, it may not withdraw.
UNSETTLED_RATING_STATES = (
    Rating.State.COMPUTED,
    Rating.State.ANALYST_REVIEWED,
    Rating.State.COMMITTEE_APPROVED,
    Rating.State.NOTICE,
    Rating.State.OBJECTED,
    Rating.State.RE_REVIEWED,
)
# While a report about the entity is in one of these states with the body, it
# may not withdraw.
OPEN_REPORT_STATES = (
    MisconductReport.State.TRIAGED,
    MisconductReport.State.INVESTIGATING,
)


def _ensure_author(*, actor: User, body: Organization) -> None:
    if body.kind != Organization.Kind.INDUSTRY_BODY:
        raise ApplicationError(
            _("Only industry bodies write rating methodologies."), code="not_a_body"
        )
    if membership_role(user=actor, organization=body) not in AUTHOR_ROLES:
        raise PermissionDenied(
            _(
                "Only the body's owners, administrators and analysts write its "
                "methodologies."
            )
        )


def _draft(methodology: Methodology) -> Methodology:
    locked = Methodology.objects.select_for_update().get(pk=methodology.pk)
    if locked.state != State.DRAFT:
        raise Conflict(
            _("A published methodology never changes: write a new version."),
            code="methodology_immutable",
        )
    return locked


@transaction.atomic
def methodology_create(
    *,
    actor: User,
    body: Organization,
    code: str,
    name_en: str,
    name_zh: str = "",
    text_en: str,
    text_zh: str = "",
    commitment_en: str,
    commitment_zh: str = "",
    **settings: Any,
) -> Methodology:
    """A new draft: version 1 of ``code``, or the next version of it."""
    _ensure_author(actor=actor, body=body)
    code = slugify(code)[:50]
    if not code:
        raise ApplicationError.on_field("code", _("Give the methodology a code."))
    for field, value in (
        ("name_en", name_en),
        ("text_en", text_en),
        ("commitment_en", commitment_en),
    ):
        if not value.strip():
            raise ApplicationError.on_field(field, _("This field is required."))
    allowed = {"coverage_threshold", "validity_days", "objection_days", "evidence_days"}
    if set(settings) - allowed:
        raise ApplicationError(
            _("Unknown settings: %(names)s.")
            % {"names": ", ".join(sorted(set(settings) - allowed))}
        )
    latest = Methodology.objects.filter(body=body, code=code).aggregate(
        version=Max("version")
    )["version"]
    methodology = Methodology(
        body=body,
        code=code,
        version=(latest or 0) + 1,
        name_en=name_en.strip(),
        name_zh=name_zh.strip(),
        text_en=text_en.strip(),
        text_zh=text_zh.strip(),
        commitment_en=commitment_en.strip(),
        commitment_zh=commitment_zh.strip(),
        created_by=actor,
        **settings,
    )
    methodology.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            methodology.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            _("Another version of this methodology was written meanwhile; retry.")
        ) from None
    CreditEvent.objects.create(
        methodology=methodology, actor=actor, action="methodology_created"
    )
    return methodology


def _clean_indicators(indicators: object) -> list[Indicator]:
    if not isinstance(indicators, list) or not 1 <= len(indicators) <= MAX_INDICATORS:
        raise ApplicationError.on_field(
            "indicators",
            _("Give between 1 and %(most)d indicators.") % {"most": MAX_INDICATORS},
        )
    cleaned: list[Indicator] = []
    for position, item in enumerate(indicators):
        if not isinstance(item, dict):
            raise ApplicationError.on_field(
                "indicators", _("Each indicator is an object.")
            )
        try:
            weight = Decimal(str(item.get("weight", "")))
        except ArithmeticError:
            weight = Decimal(0)
        indicator = Indicator(
            code=slugify(str(item.get("code", "")))[:50],
            category=str(item.get("category", "")),
            name_en=str(item.get("name_en", "")).strip()[:200],
            name_zh=str(item.get("name_zh", "")).strip()[:200],
            weight=weight,
            source=str(item.get("source", "")),
            normalisation=str(item.get("normalisation", "")),
            direction=str(item.get("direction", "")),
            params=item.get("params") if isinstance(item.get("params"), dict) else {},
            position=position,
        )
        problems = []
        if not indicator.code or not indicator.name_en:
            problems.append(_("a code and an English name"))
        if (
            not weight.is_finite()
            or weight <= 0
            or weight > TOTAL_WEIGHT
            or weight != weight.quantize(HUNDREDTH)
        ):
            problems.append(
                _("a weight above 0 and at most 100, with at most two decimals")
            )
        for field, choices in (
            ("category", Indicator.Category),
            ("source", Indicator.Source),
            ("normalisation", Indicator.Normalisation),
            ("direction", Indicator.Direction),
        ):
            if getattr(indicator, field) not in choices.values:
                problems.append(_("a known %(field)s") % {"field": field})
        if problems:
            raise ApplicationError.on_field(
                "indicators",
                _("Indicator %(number)d needs %(problems)s.")
                % {"number": position + 1, "problems": "; ".join(problems)},
            )
        # The scoring engine is the judge of the parameters each normalisation
        # needs (bounds, prior, penalty points).
        try:
            scoring.Indicator(
                code=indicator.code,
                category=indicator.category,
                weight=weight,
                source=indicator.source,
                normalisation=indicator.normalisation,  # type: ignore[arg-type]
                direction=indicator.direction,  # type: ignore[arg-type]
                params={
                    name: Decimal(str(value))
                    for name, value in indicator.params.items()
                    if isinstance(value, int | float | str)
                    and not isinstance(value, bool)
                },
            )
        except (scoring.ScoringError, ArithmeticError) as error:
            raise ApplicationError.on_field(
                "indicators",
                _("Indicator %(number)d has parameters that do not fit: %(problem)s")
                % {"number": position + 1, "problem": error},
            ) from None
        cleaned.append(indicator)
    if len({i.code for i in cleaned}) != len(cleaned):
        raise ApplicationError.on_field("indicators", _("Indicator codes must differ."))
    return cleaned


def _clean_bands(bands: object) -> list[GradeBand]:
    if not isinstance(bands, list) or not 2 <= len(bands) <= len(GRADES):
        raise ApplicationError.on_field(
            "bands",
            _("Give between 2 and %(most)d grades.") % {"most": len(GRADES)},
        )
    cleaned: list[GradeBand] = []
    for item in bands:
        if not isinstance(item, dict):
            raise ApplicationError.on_field("bands", _("Each grade is an object."))
        grade = str(item.get("grade", ""))
        try:
            minimum = Decimal(str(item.get("min_score", "")))
        except ArithmeticError:
            minimum = Decimal(-1)
        definition = str(item.get("definition_en", "")).strip()
        if (
            grade not in GRADES
            or not minimum.is_finite()
            or not Decimal(0) <= minimum <= TOTAL_WEIGHT
            or minimum != minimum.quantize(HUNDREDTH)
            or not definition
        ):
            raise ApplicationError.on_field(
                "bands",
                _(
                    "Each grade needs one of the store's grades (%(grades)s), a lowest "
                    "score from 0 to 100 with at most two decimals and a public "
                    "definition."
                )
                % {"grades": ", ".join(GRADES)},
            )
        cleaned.append(
            GradeBand(
                grade=grade,
                min_score=minimum,
                definition_en=definition,
                definition_zh=str(item.get("definition_zh", "")).strip(),
            )
        )
    # Better grades need higher scores, and the scale starts at 0.
    ordered = sorted(cleaned, key=lambda band: GRADES.index(band.grade))
    scores = [band.min_score for band in ordered]
    if (
        len({b.grade for b in cleaned}) != len(cleaned)
        or scores != sorted(scores, reverse=True)
        or len(set(scores)) != len(scores)
    ):
        raise ApplicationError.on_field(
            "bands", _("Grades must differ, and better grades need higher scores.")
        )
    if scores[-1] != 0:
        raise ApplicationError.on_field(
            "bands", _("The lowest grade must start at score 0.")
        )
    return ordered


def _clean_overrides(overrides: object) -> list[OverrideRule]:
    if not isinstance(overrides, list):
        raise ApplicationError.on_field(
            "overrides", _("Give the override rules as a list.")
        )
    cleaned = []
    for item in overrides:
        rule = OverrideRule(
            kind=str(item.get("kind", "")) if isinstance(item, dict) else "",
            condition=str(item.get("condition", "")) if isinstance(item, dict) else "",
            grade=str(item.get("grade", "")) if isinstance(item, dict) else "",
        )
        if (
            rule.kind not in OverrideRule.Kind.values
            or rule.condition not in OverrideRule.Condition.values
            or rule.grade not in GRADES
        ):
            raise ApplicationError.on_field(
                "overrides",
                _("Each rule needs a kind, a known condition and a grade."),
            )
        cleaned.append(rule)
    if len({(r.kind, r.condition) for r in cleaned}) != len(cleaned):
        raise ApplicationError.on_field("overrides", _("A rule is given twice."))
    return cleaned


def _days(value: object) -> int | None:
    """A whole number of days above 0 (not a boolean, not a fraction), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        # ASCII digits only ("²" is a digit to isdigit() but not to int()), and
        # few enough of them to be a number of days.
        if not (text.isascii() and text.isdigit() and len(text) <= 6):
            return None
        value = int(text)
    if not isinstance(value, int) or not 0 < value <= MAX_MEASURE_DAYS:
        return None
    return value


def _clean_measures(measures: object, *, grades: set[str]) -> list[GradeMeasure]:
    """What each grade calls for: sanctions a person may impose on an entity with
    that grade, for ``duration_days``, repairable after ``repair_after_days``, and
    incentives that hold while the grade stands. Every grade must be one of the
    methodology's scale."""
    if not isinstance(measures, list):
        raise ApplicationError.on_field(
            "measures", _("Give the grade measures as a list.")
        )
    cleaned: list[GradeMeasure] = []
    for number, item in enumerate(measures, start=1):
        if not isinstance(item, dict):
            raise ApplicationError.on_field("measures", _("Each measure is an object."))
        grade = str(item.get("grade", ""))
        kind = str(item.get("kind", ""))
        duration = _days(item.get("duration_days", 365))
        repair_after = _days(item.get("repair_after_days", 90))
        problems = []
        if grade not in grades:
            problems.append(
                _("a grade of this methodology's scale (%(grades)s)")
                % {"grades": ", ".join(sorted(grades, key=GRADES.index))}
            )
        if kind not in GradeMeasure.Kind.values:
            problems.append(
                _("a known measure (%(kinds)s)")
                % {"kinds": ", ".join(GradeMeasure.Kind.values)}
            )
        if duration is None or repair_after is None:
            problems.append(
                _("a number of days from 1 to %(most)d") % {"most": MAX_MEASURE_DAYS}
            )
        if problems or duration is None or repair_after is None:
            raise ApplicationError.on_field(
                "measures",
                _("Measure %(number)d needs %(problems)s.")
                % {"number": number, "problems": "; ".join(problems)},
            )
        cleaned.append(
            GradeMeasure(
                grade=grade,
                kind=kind,
                duration_days=duration,
                repair_after_days=repair_after,
            )
        )
    if len({(m.grade, m.kind) for m in cleaned}) != len(cleaned):
        raise ApplicationError.on_field(
            "measures", _("A measure is given twice for the same grade.")
        )
    return cleaned


@transaction.atomic
def methodology_set_content(
    *,
    actor: User,
    methodology: Methodology,
    indicators: list[dict[str, Any]],
    bands: list[dict[str, Any]],
    overrides: list[dict[str, Any]] | None = None,
    measures: list[dict[str, Any]] | None = None,
) -> Methodology:
    """Replace a draft's indicators, grade scale, override rules and the measures
    (sanctions and incentives) each grade calls for."""
    methodology = _draft(methodology)
    _ensure_author(actor=actor, body=methodology.body)
    cleaned_indicators = _clean_indicators(indicators)
    cleaned_bands = _clean_bands(bands)
    cleaned_overrides = _clean_overrides(overrides or [])
    cleaned_measures = _clean_measures(
        measures or [], grades={band.grade for band in cleaned_bands}
    )
    methodology.indicators.all().delete()
    methodology.bands.all().delete()
    methodology.overrides.all().delete()
    methodology.measures.all().delete()
    for rows in (
        cleaned_indicators,
        cleaned_bands,
        cleaned_overrides,
        cleaned_measures,
    ):
        for row in rows:
            row.methodology = methodology
    Indicator.objects.bulk_create(cleaned_indicators)
    GradeBand.objects.bulk_create(cleaned_bands)
    OverrideRule.objects.bulk_create(cleaned_overrides)
    GradeMeasure.objects.bulk_create(cleaned_measures)
    CreditEvent.objects.create(
        methodology=methodology,
        actor=actor,
        action="methodology_content_set",
        payload={
            "indicators": len(cleaned_indicators),
            "bands": len(cleaned_bands),
            "overrides": len(cleaned_overrides),
            "measures": len(cleaned_measures),
        },
    )
    return methodology


@transaction.atomic
def methodology_publish(*, actor: User, methodology: Methodology) -> Methodology:
    """Make a whole draft public and in force; the body's earlier published
    version of the same code is retired."""
    methodology = _draft(methodology)
    _ensure_author(actor=actor, body=methodology.body)
    weights = [i.weight for i in methodology.indicators.all()]
    if not weights:
        raise ApplicationError.on_field(
            "indicators", _("A methodology needs indicators.")
        )
    if sum(weights) != TOTAL_WEIGHT:
        raise ApplicationError.on_field(
            "indicators",
            _("The indicator weights add up to %(total)s; they must add up to 100.")
            % {"total": sum(weights)},
        )
    if methodology.bands.count() < 2:
        raise ApplicationError.on_field(
            "bands", _("A methodology needs a grade scale.")
        )
    now = timezone.now()
    retired = Methodology.objects.filter(
        body=methodology.body, code=methodology.code, state=State.PUBLISHED
    ).update(state=State.RETIRED)
    Methodology.objects.filter(pk=methodology.pk).update(
        state=State.PUBLISHED, published_at=now
    )
    methodology.refresh_from_db()
    CreditEvent.objects.create(
        methodology=methodology,
        actor=actor,
        action="methodology_published",
        payload={"retired_earlier": retired},
    )
    return methodology


@transaction.atomic
def methodology_new_version(*, actor: User, methodology: Methodology) -> Methodology:
    """A draft copy of a methodology, as the next version of its code."""
    _ensure_author(actor=actor, body=methodology.body)
    copy = methodology_create(
        actor=actor,
        body=methodology.body,
        code=methodology.code,
        name_en=methodology.name_en,
        name_zh=methodology.name_zh,
        text_en=methodology.text_en,
        text_zh=methodology.text_zh,
        commitment_en=methodology.commitment_en,
        commitment_zh=methodology.commitment_zh,
        coverage_threshold=methodology.coverage_threshold,
        validity_days=methodology.validity_days,
        objection_days=methodology.objection_days,
        evidence_days=methodology.evidence_days,
    )
    fields = ("code", "category", "name_en", "name_zh", "weight", "source")
    Indicator.objects.bulk_create(
        Indicator(
            methodology=copy,
            **{field: getattr(i, field) for field in fields},
            normalisation=i.normalisation,
            direction=i.direction,
            params=i.params,
            position=i.position,
        )
        for i in methodology.indicators.all()
    )
    GradeBand.objects.bulk_create(
        GradeBand(
            methodology=copy,
            grade=b.grade,
            min_score=b.min_score,
            definition_en=b.definition_en,
            definition_zh=b.definition_zh,
        )
        for b in methodology.bands.all()
    )
    OverrideRule.objects.bulk_create(
        OverrideRule(
            methodology=copy, kind=r.kind, condition=r.condition, grade=r.grade
        )
        for r in methodology.overrides.all()
    )
    GradeMeasure.objects.bulk_create(
        GradeMeasure(
            methodology=copy,
            grade=m.grade,
            kind=m.kind,
            duration_days=m.duration_days,
            repair_after_days=m.repair_after_days,
        )
        for m in methodology.measures.all()
    )
    return copy


# --- Enrolment ----------------------------------------------------------------------


def methodology_in_force(*, body: Organization) -> Methodology | None:
    """The body's most recently published methodology."""
    return (
        Methodology.objects.filter(body=body, state=State.PUBLISHED)
        .order_by("-published_at", "-pk")
        .first()
    )


@transaction.atomic
def enrolment_sign(
    *, actor: User, entity: Organization, body: Organization, language: str = "en"
) -> Enrolment:
    """The entity's owner or administrator signs the credit commitment of the
    body's methodology in force, in ``language``."""
    if entity.kind != Organization.Kind.PUBLISHER:
        raise ApplicationError(
            _("Only publishers enrol in a credit rating."), code="not_an_entity"
        )
    if membership_role(user=actor, organization=entity) not in ENTITY_ROLES:
        raise PermissionDenied(
            _("Only the owners and administrators of %(entity)s enrol it.")
            % {"entity": entity.name}
        )
    methodology = methodology_in_force(body=body)
    if methodology is None:
        raise ApplicationError(
            _("%(body)s has no published methodology to enrol under.")
            % {"body": body.name},
            code="no_methodology",
        )
    text = (
        methodology.commitment_zh
        if language.startswith("zh") and methodology.commitment_zh
        else methodology.commitment_en
    )
    enrolment = Enrolment(
        entity=entity,
        body=body,
        methodology=methodology,
        commitment_text=text,
        signed_by=actor,
    )
    try:
        with transaction.atomic():
            enrolment.save(force_insert=True)
    except IntegrityError:
        raise Conflict(
            _("%(entity)s is enrolled with %(body)s already.")
            % {"entity": entity.name, "body": body.name},
            code="already_enrolled",
        ) from None
    CreditEvent.objects.create(
        enrolment=enrolment,
        actor=actor,
        action="enrolled",
        payload={"methodology": str(methodology)},
    )
    return enrolment


def _ensure_free_to_withdraw(enrolment: Enrolment) -> None:
    """An entity does not leave a body's rating to escape it: not while on the
    body's watch, not while a rating of the body is being decided (computed
    and on until it is published), not while the body triages or investigates
    a misconduct report about it, not while a sanction of the body is in
    force."""
    entity, body = enrolment.entity, enrolment.body
    names = {"entity": entity.name, "body": body.name}
    if Watch.objects.filter(
        entity=entity, body=body, resolved_at__isnull=True
    ).exists():
        raise Conflict(
            _(
                "%(entity)s is on %(body)s's rating watch: it may withdraw once the "
                "watch is resolved."
            )
            % names,
            code="withdrawal_on_watch",
        )
    if (
        Rating.objects.filter(
            entity=entity, cycle__body=body, state__in=UNSETTLED_RATING_STATES
        )
        # A cancelled cycle's ratings stay for the record, decided by nobody.
        .exclude(cycle__state=RatingCycle.State.CANCELLED)
        .exists()
    ):
        raise Conflict(
            _(
                "A rating of %(entity)s by %(body)s is being decided: it may "
                "withdraw once the rating is published."
            )
            % names,
            code="withdrawal_rating_open",
        )
    if MisconductReport.objects.filter(
        publisher=entity, body=body, state__in=OPEN_REPORT_STATES
    ).exists():
        raise Conflict(
            _(
                "%(body)s is looking into a misconduct report about %(entity)s: it "
                "may withdraw once the report is decided."
            )
            % names,
            code="withdrawal_report_open",
        )
    if Sanction.objects.filter(
        entity=entity, body=body, state=Sanction.State.ACTIVE
    ).exists():
        raise Conflict(
            _(
                "%(entity)s is under a sanction of %(body)s: it may withdraw once the "
                "sanction has ended or been lifted by credit repair."
            )
            % names,
            code="withdrawal_sanctioned",
        )


@transaction.atomic
def enrolment_withdraw(*, actor: User, enrolment: Enrolment) -> Enrolment:
    """End the entity's enrolment: no future ratings; its history stays public."""
    enrolment = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("entity", "body")
        .get(pk=enrolment.pk)
    )
    if membership_role(user=actor, organization=enrolment.entity) not in ENTITY_ROLES:
        raise PermissionDenied(
            _("Only the owners and administrators of %(entity)s withdraw it.")
            % {"entity": enrolment.entity.name}
        )
    if enrolment.withdrawn_at is not None:
        return enrolment
    # Hold the entity so that no watch, sanction or rating of the body slips in
    # between these checks and the withdrawal.
    entity_lock(entity_id=enrolment.entity_id)
    _ensure_free_to_withdraw(enrolment)
    enrolment.withdrawn_at = timezone.now()
    enrolment.withdrawn_by = actor
    enrolment.save(update_fields=["withdrawn_at", "withdrawn_by"])
    CreditEvent.objects.create(enrolment=enrolment, actor=actor, action="withdrawn")
    return enrolment
