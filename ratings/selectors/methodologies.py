"""Reads of methodologies and enrolments, filtered by who asks.

Published and retired methodologies are public; a draft is seen by the members of
its industry body only. An entity's enrolments are read by its owners and
administrators (the people who sign and withdraw them)."""

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet

from marketplace.credit import GRADES
from marketplace.models import Membership, Organization, User
from ratings.models import (
    Enrolment,
    GradeBand,
    GradeMeasure,
    Indicator,
    Methodology,
    OverrideRule,
)
from ratings.services.methodologies import AUTHOR_ROLES, ENTITY_ROLES

State = Methodology.State
PUBLIC_STATES = (State.PUBLISHED, State.RETIRED)

AnyUser = AbstractBaseUser | AnonymousUser


# --- Industry bodies and their members -------------------------------------------


def industry_body_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(
        slug=slug, kind=Organization.Kind.INDUSTRY_BODY
    ).first()


def industry_body_membership_list(*, user: User) -> QuerySet[Membership]:
    """The industry bodies the user belongs to, with the user's role in each."""
    return (
        Membership.objects.filter(
            user=user, organization__kind=Organization.Kind.INDUSTRY_BODY
        )
        .select_related("organization")
        .order_by("organization__name", "pk")
    )


def membership_in(*, user: AnyUser, organization: Organization) -> Membership | None:
    if not isinstance(user, User):
        return None
    return Membership.objects.filter(user=user, organization=organization).first()


def is_body_author(*, membership: Membership | None) -> bool:
    """Whether a membership of an industry body lets its user write methodologies."""
    return membership is not None and membership.role in AUTHOR_ROLES


@dataclass(frozen=True)
class BodySummary:
    """What a body's console shows at a glance."""

    drafts: int
    published: int
    retired: int
    enrolled: int
    withdrawn: int


def body_summary(*, body: Organization) -> BodySummary:
    """Counts of the body's methodologies by state and of its enrolments (two
    queries)."""
    counts = Methodology.objects.filter(body=body).aggregate(
        drafts=Count("pk", filter=Q(state=State.DRAFT)),
        published=Count("pk", filter=Q(state=State.PUBLISHED)),
        retired=Count("pk", filter=Q(state=State.RETIRED)),
    )
    enrolments = Enrolment.objects.filter(body=body).aggregate(
        enrolled=Count("pk", filter=Q(withdrawn_at__isnull=True)),
        withdrawn=Count("pk", filter=Q(withdrawn_at__isnull=False)),
    )
    return BodySummary(**counts, **enrolments)


# --- Methodologies ------------------------------------------------------------------


def methodology_list_for_body(
    *, body: Organization, include_drafts: bool
) -> QuerySet[Methodology]:
    """The body's methodologies, by code and newest version first, with how many
    entities enrolled under each; drafts only for the body's members."""
    methodologies = Methodology.objects.filter(body=body)
    if not include_drafts:
        methodologies = methodologies.filter(state__in=PUBLIC_STATES)
    return (
        methodologies.select_related("body")
        .annotate(
            indicator_count=Count("indicators", distinct=True),
            active_enrolments=Count(
                "enrolments",
                filter=Q(enrolments__withdrawn_at__isnull=True),
                distinct=True,
            ),
        )
        .order_by("code", "-version", "pk")
    )


def methodology_list_public(
    *, body: str = "", state: str = ""
) -> QuerySet[Methodology]:
    """Published and retired methodologies of every body (never drafts): in force
    first, then by body and code, newest version first. ``body`` (a slug) and
    ``state`` (published or retired) narrow the list."""
    methodologies = Methodology.objects.filter(state__in=PUBLIC_STATES)
    if body:
        methodologies = methodologies.filter(body__slug=body)
    if state:
        methodologies = methodologies.filter(state=state)
    # "published" sorts before "retired".
    return methodologies.select_related("body").order_by(
        "state", "body__name", "code", "-version", "pk"
    )


def _with_content(methodologies: QuerySet[Methodology]) -> QuerySet[Methodology]:
    return methodologies.select_related("body", "created_by").prefetch_related(
        Prefetch("indicators", queryset=Indicator.objects.order_by("position", "pk")),
        Prefetch("bands", queryset=GradeBand.objects.order_by("-min_score", "pk")),
        Prefetch(
            "overrides",
            queryset=OverrideRule.objects.order_by("kind", "condition", "pk"),
        ),
        Prefetch("measures", queryset=GradeMeasure.objects.order_by("grade", "kind")),
    )


def methodology_can_see(*, user: AnyUser, methodology: Methodology) -> bool:
    """Anyone sees a published or retired methodology; a draft is for the members
    of its body."""
    if methodology.state in PUBLIC_STATES:
        return True
    return membership_in(user=user, organization=methodology.body) is not None


def methodology_get(*, public_id: uuid.UUID | str, user: AnyUser) -> Methodology | None:
    """The methodology with its content, if the user may see it; None otherwise
    (as if it did not exist)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    methodology = _with_content(Methodology.objects.filter(public_id=key)).first()
    if methodology is None or not methodology_can_see(
        user=user, methodology=methodology
    ):
        return None
    return methodology


def methodology_get_by_version(
    *, body: str, code: str, version: int, user: AnyUser
) -> Methodology | None:
    """``<body>/<code>/v<version>`` with its content, if the user may see it."""
    methodology = _with_content(
        Methodology.objects.filter(
            body__slug=body,
            body__kind=Organization.Kind.INDUSTRY_BODY,
            code=code,
            version=version,
        )
    ).first()
    if methodology is None or not methodology_can_see(
        user=user, methodology=methodology
    ):
        return None
    return methodology


def methodology_current_version(*, methodology: Methodology) -> Methodology | None:
    """The published version of the methodology's code (itself when in force)."""
    return (
        Methodology.objects.filter(
            body_id=methodology.body_id, code=methodology.code, state=State.PUBLISHED
        )
        .select_related("body")
        .first()
    )


def methodology_content(*, methodology: Methodology) -> dict[str, list[dict[str, Any]]]:
    """The content of a methodology in the shape ``methodology_set_content``
    takes (JSON-ready: decimals as text), from its prefetched rows."""
    return {
        "indicators": [
            {
                "code": i.code,
                "category": i.category,
                "name_en": i.name_en,
                "name_zh": i.name_zh,
                "weight": _number(i.weight),
                "source": i.source,
                "normalisation": i.normalisation,
                "direction": i.direction,
                "params": i.params,
            }
            for i in methodology.indicators.all()
        ],
        "bands": [
            {
                "grade": b.grade,
                "min_score": _number(b.min_score),
                "definition_en": b.definition_en,
                "definition_zh": b.definition_zh,
            }
            for b in methodology.bands.all()
        ],
        "overrides": [
            {"kind": r.kind, "condition": r.condition, "grade": r.grade}
            for r in methodology.overrides.all()
        ],
        "measures": [
            {
                "grade": m.grade,
                "kind": m.kind,
                "duration_days": m.duration_days,
                "repair_after_days": m.repair_after_days,
            }
            for m in measures_by_grade(methodology=methodology)
        ],
    }


def _grade_order(grade: str) -> int:
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


def measures_by_grade(*, methodology: Methodology) -> list[GradeMeasure]:
    """The methodology's grade measures, best grade first (from its prefetched
    rows)."""
    return sorted(
        methodology.measures.all(), key=lambda m: (_grade_order(m.grade), m.kind)
    )


def _number(value: Any) -> str:
    """A decimal as short text: 40.00 -> "40", 12.50 -> "12.5"."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def methodology_events(*, methodology: Methodology) -> QuerySet[Any]:
    return methodology.events.select_related("actor").order_by("created_at", "pk")


# --- Enrolment ----------------------------------------------------------------------


def entity_membership_list(*, user: User) -> QuerySet[Membership]:
    """The publishers whose owner or administrator the user is: the entities the
    user may enrol."""
    return (
        Membership.objects.filter(
            user=user,
            organization__kind=Organization.Kind.PUBLISHER,
            role__in=ENTITY_ROLES,
        )
        .select_related("organization")
        .order_by("organization__name", "pk")
    )


def entity_get(*, slug: str) -> Organization | None:
    return Organization.objects.filter(
        slug=slug, kind=Organization.Kind.PUBLISHER
    ).first()


def entity_can_manage(*, user: AnyUser, entity: Organization) -> bool:
    """Whether the user is one of the entity's owners and administrators."""
    membership = membership_in(user=user, organization=entity)
    return membership is not None and membership.role in ENTITY_ROLES


def enrolment_list_for_entity(*, entity: Organization) -> QuerySet[Enrolment]:
    """The entity's enrolments, active first, newest first."""
    return (
        Enrolment.objects.filter(entity=entity)
        .select_related("entity", "body", "methodology", "signed_by", "withdrawn_by")
        .order_by(F("withdrawn_at").desc(nulls_first=True), "-signed_at", "-pk")
    )


def enrolment_get(*, pk: int) -> Enrolment | None:
    return (
        Enrolment.objects.select_related("entity", "body", "methodology")
        .filter(pk=pk)
        .first()
    )


def bodies_open_for_enrolment(*, entity: Organization) -> QuerySet[Organization]:
    """Industry bodies with a methodology in force, each marked ``is_enrolled`` when
    the entity's enrolment with it is active."""
    return (
        Organization.objects.filter(kind=Organization.Kind.INDUSTRY_BODY)
        .filter(
            Exists(
                Methodology.objects.filter(body=OuterRef("pk"), state=State.PUBLISHED)
            )
        )
        .annotate(
            is_enrolled=Exists(
                Enrolment.objects.filter(
                    body=OuterRef("pk"), entity=entity, withdrawn_at__isnull=True
                )
            )
        )
        .order_by("name", "pk")
    )
