"""Reads of listing flags, for the operator's moderators, and who those are."""

from typing import Final

from django.apps import apps
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace.exceptions import PermissionDenied
from marketplace.models import Agent, ListingFlag, Membership, User
from marketplace.selectors.organizations import is_operator

# The queue's views: the open flags, or every flag (open ones first).
FLAG_VIEWS = ("open", "all")

# The misconduct categories a flag points to, with the words people read. The keys
# are values of ratings' MisconductReport.Category, written out here because
# marketplace does not import ratings: a category added there and used by a flag
# needs its label here too (an unknown one is shown as its value).
FLAG_CATEGORY_LABELS: Final[dict[str, Promise]] = {
    "inducing_consumption": gettext_lazy("Inducing consumption"),
    "false_advertising": gettext_lazy("False advertising"),
}

# Those of the platform operator who decide flags (besides staff): the same roles
# as the operator's reviewers of versions and reports.
MODERATOR_ROLES: Final = (
    Membership.Role.OWNER,
    Membership.Role.ADMIN,
    Membership.Role.REVIEWER,
)


def is_flag_moderator(user: User) -> bool:
    """Staff, or owners, administrators and reviewers of the platform operator."""
    return is_operator(user, roles=MODERATOR_ROLES)


def ensure_flag_moderator(*, actor: User, agent: Agent | None = None) -> None:
    """Only the platform operator's staff, owners, administrators and reviewers
    decide flags, and never those of a publisher they belong to."""
    if not is_flag_moderator(actor):
        raise PermissionDenied(_("Only the platform operator's moderators do this."))
    if (
        agent is not None
        and Membership.objects.filter(
            user=actor, organization_id=agent.publisher_id
        ).exists()
    ):
        raise PermissionDenied(
            _(
                "You belong to the publisher of this agent, so you cannot decide its "
                "flags."
            ),
            code="conflict_of_interest",
        )


def flag_category_label(category: str) -> str:
    """The words for one of a flag's misconduct categories."""
    label = FLAG_CATEGORY_LABELS.get(category)
    return str(label) if label is not None else category


def listing_flag_list(*, actor: User, view: str = "open") -> QuerySet[ListingFlag]:
    """For the operator's moderators: the listing flags, open ones first and the
    newest first within each, with their agent, publisher and decider (one query
    per page). Flags of publishers the moderator belongs to are left out: they may
    not decide them. A flag found in a misconduct report carries the report's
    public id (``report_public_id``, None for a review), to link to its page."""
    ensure_flag_moderator(actor=actor)
    own_publisher = Membership.objects.filter(
        user=actor, organization_id=OuterRef("agent__publisher_id")
    )
    # Read by name: marketplace does not import ratings.
    report = apps.get_model("ratings", "MisconductReport")
    report_public_id = report.objects.filter(
        pk=OuterRef("source_id"), agent_id=OuterRef("agent_id")
    ).values("public_id")[:1]
    flags = (
        ListingFlag.objects.select_related("agent__publisher", "decided_by")
        .filter(~Exists(own_publisher))
        .annotate(
            decided=Case(
                When(state=ListingFlag.State.OPEN, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            report_public_id=Case(
                When(
                    source=ListingFlag.Source.REPORT,
                    then=Subquery(report_public_id),
                ),
                default=None,
            ),
        )
    )
    if view == "open":
        flags = flags.filter(state=ListingFlag.State.OPEN)
    return flags.order_by("decided", "-created_at", "-id")
