"""Reads of listing flags, for the operator's moderators."""

from django.db.models import Case, Exists, IntegerField, OuterRef, QuerySet, Value, When

from marketplace.models import ListingFlag, Membership, User
from marketplace.services.governance import ensure_flag_moderator

# The queue's views: the open flags, or every flag (open ones first).
FLAG_VIEWS = ("open", "all")


def listing_flag_list(*, actor: User, view: str = "open") -> QuerySet[ListingFlag]:
    """For the operator's moderators: the listing flags, open ones first and the
    newest first within each, with their agent, publisher and decider (one query
    per page). Flags of publishers the moderator belongs to are left out: they may
    not decide them."""
    ensure_flag_moderator(actor=actor)
    own_publisher = Membership.objects.filter(
        user=actor, organization_id=OuterRef("agent__publisher_id")
    )
    flags = (
        ListingFlag.objects.select_related("agent__publisher", "decided_by")
        .filter(~Exists(own_publisher))
        .annotate(
            decided=Case(
                When(state=ListingFlag.State.OPEN, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
    )
    if view == "open":
        flags = flags.filter(state=ListingFlag.State.OPEN)
    return flags.order_by("decided", "-created_at", "-id")
