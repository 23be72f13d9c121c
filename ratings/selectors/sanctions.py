"""Reads of sanctions and credit repair: the public dishonesty list, a body's
sanctions and the ratings that call for more, an entity's own, and the
applications waiting for a decision."""

import uuid
from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from marketplace.models import Membership, Organization, User
from marketplace.selectors.organizations import membership_role
from ratings.models import GradeMeasure, Rating, RepairApplication, Sanction

Role = Membership.Role

# Who of a body sees its sanctions console.
BODY_VIEWER_ROLES = frozenset(
    {Role.OWNER, Role.ADMIN, Role.ANALYST, Role.COMMITTEE_MEMBER}
)


def dishonesty_list() -> QuerySet[Sanction]:
    """The dishonesty list in force: active sanctions of kind dishonesty_list,
    with the entity, the body, the reasons, from and until, and the grade of the
    rating they were imposed for (``rating.grade``). Lifted and expired ones are
    not on it."""
    return (
        Sanction.objects.filter(
            state=Sanction.State.ACTIVE, kind=GradeMeasure.Kind.DISHONESTY_LIST
        )
        .select_related("entity", "body", "rating")
        .order_by("-starts_at", "-pk")
    )


def sanction_get(*, public_id: uuid.UUID | str) -> Sanction | None:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return (
        Sanction.objects.select_related("entity", "body", "rating")
        .filter(public_id=key)
        .first()
    )


def repair_get(*, public_id: uuid.UUID | str) -> RepairApplication | None:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return (
        RepairApplication.objects.select_related(
            "sanction__entity", "sanction__body", "sanction__rating"
        )
        .filter(public_id=key)
        .first()
    )


def rating_get(*, rating_id: int) -> Rating | None:
    return (
        Rating.objects.select_related("entity", "cycle__body", "cycle__methodology")
        .filter(pk=rating_id)
        .first()
    )


def rating_of_body(*, body: Organization, rating_id: int) -> Rating | None:
    """A rating of one of the body's cycles, with what a sanction needs."""
    return (
        Rating.objects.select_related("entity", "cycle__body", "cycle__methodology")
        .filter(pk=rating_id, cycle__body=body)
        .first()
    )


def can_see_body_sanctions(*, user: User, body: Organization) -> bool:
    return (
        body.kind == Organization.Kind.INDUSTRY_BODY
        and membership_role(user=user, organization=body) in BODY_VIEWER_ROLES
    )


def can_see_entity_sanctions(*, user: User, entity: Organization) -> bool:
    """Any member of the entity; its owners and administrators act."""
    return membership_role(user=user, organization=entity) is not None


def sanction_list(
    *,
    body: Organization | None = None,
    entity: Organization | None = None,
    states: Iterable[str] | None = None,
) -> QuerySet[Sanction]:
    """Sanctions of a body or of an entity, newest first, with their entity,
    body and rating."""
    sanctions = Sanction.objects.select_related("entity", "body", "rating")
    if body is not None:
        sanctions = sanctions.filter(body=body)
    if entity is not None:
        sanctions = sanctions.filter(entity=entity)
    if states is not None:
        sanctions = sanctions.filter(state__in=list(states))
    return sanctions.order_by("-starts_at", "-pk")


def sanction_list_with_repairs(*, entity: Organization) -> QuerySet[Sanction]:
    """The entity's sanctions with their repair applications (newest first)."""
    return sanction_list(entity=entity).prefetch_related(
        Prefetch(
            "repairs",
            queryset=RepairApplication.objects.select_related(
                "applied_by", "decided_by"
            ).order_by("-applied_at", "-pk"),
        )
    )


def repair_list_pending(*, body: Organization) -> QuerySet[RepairApplication]:
    """The body's credit repair applications waiting for a decision, oldest
    first."""
    return (
        RepairApplication.objects.filter(
            sanction__body=body, state=RepairApplication.State.PENDING
        )
        .select_related(
            "sanction__entity", "sanction__body", "sanction__rating", "applied_by"
        )
        .order_by("applied_at", "pk")
    )


def _open_measures(rating_ref: str = "pk") -> Exists:
    """A sanction the methodology sets for the rating's grade that was not
    imposed on it yet."""
    imposed = Sanction.objects.filter(
        rating_id=OuterRef(OuterRef(rating_ref)), kind=OuterRef("kind")
    )
    return Exists(
        GradeMeasure.objects.filter(
            methodology_id=OuterRef("cycle__methodology_id"),
            grade=OuterRef("grade"),
        )
        .exclude(kind__in=GradeMeasure.INCENTIVES)
        .exclude(Exists(imposed))
    )


def _in_force(rating: Rating) -> bool:
    """Published and not lapsed: only such a rating takes a sanction."""
    return rating.state == Rating.State.PUBLISHED and (
        rating.valid_until is None or rating.valid_until > timezone.now()
    )


def ratings_calling_for_sanctions(*, body: Organization) -> QuerySet[Rating]:
    """The body's published ratings in force (not lapsed) whose grade calls for
    a sanction not yet imposed, newest first."""
    return (
        Rating.objects.filter(cycle__body=body, state=Rating.State.PUBLISHED)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=timezone.now()))
        .filter(_open_measures())
        .select_related("entity", "cycle__methodology")
        .order_by("-published_at", "-pk")
    )


def _proposals_by_rating(
    ratings: list[Rating],
) -> dict[int, list[GradeMeasure]]:
    """For each rating, the sanctions its methodology sets for its grade that
    were not imposed on it yet (none for a rating not in force): two queries
    for any number of ratings."""
    ratings = [rating for rating in ratings if _in_force(rating)]
    if not ratings:
        return {}
    methodology_ids = {r.cycle.methodology_id for r in ratings}
    measures: dict[tuple[int, str], list[GradeMeasure]] = defaultdict(list)
    for measure in (
        GradeMeasure.objects.filter(methodology_id__in=methodology_ids)
        .exclude(kind__in=GradeMeasure.INCENTIVES)
        .order_by("kind")
    ):
        measures[(measure.methodology_id, measure.grade)].append(measure)
    imposed = set(
        Sanction.objects.filter(rating__in=ratings).values_list("rating_id", "kind")
    )
    return {
        rating.pk: [
            measure
            for measure in measures[(rating.cycle.methodology_id, rating.grade)]
            if (rating.pk, measure.kind) not in imposed
        ]
        for rating in ratings
    }


def sanction_proposals(*, rating: Rating) -> list[GradeMeasure]:
    """The sanction kinds the methodology sets for the rating's grade that were
    not imposed on it yet, for the body's page to offer (nothing for a rating
    that is not published or has lapsed)."""
    return _proposals_by_rating([rating]).get(rating.pk, [])


def proposals_for(ratings: Iterable[Rating]) -> list[tuple[Rating, list[GradeMeasure]]]:
    """``sanction_proposals`` for a page of ratings at once."""
    listed = list(ratings)
    by_rating = _proposals_by_rating(listed)
    return [(rating, by_rating.get(rating.pk, [])) for rating in listed]
