"""Signs that a listing breaks its own disclosure, and the moderators' decisions.

A listing declared free whose reviews or misconduct reports speak of charges is
flagged (``listing_flag_scan``), once per review or report; the operator's
moderators uphold or dismiss each flag with a note (``listing_flag_decide``):

    open -> upheld | dismissed      (final)
"""

from typing import Final

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace.exceptions import (
    ApplicationError,
    InvalidTransition,
    NotFound,
)
from marketplace.models import (
    Agent,
    ListingFlag,
    Membership,
    Notification,
    Review,
    User,
)
from marketplace.pricing import FREE, charge_terms
from marketplace.selectors.governance import ensure_flag_moderator
from marketplace.services.notifications import notification_create

Kind = ListingFlag.Kind
Source = ListingFlag.Source
State = ListingFlag.State

# The misconduct categories a "free but charges" flag points to. They are the
# values of ratings' MisconductReport.Category ("inducing_consumption",
# "false_advertising"), written out here: marketplace does not import ratings.
FREE_BUT_CHARGES_CATEGORIES: Final = ["inducing_consumption", "false_advertising"]

NOTE_MAX_LENGTH = 2000


@transaction.atomic
def listing_flag_scan(
    *, agent: Agent | None, source: str, source_id: int, text: str
) -> ListingFlag | None:
    """Flag ``agent`` for the moderators when its listing is declared free and the
    review or report ``source_id`` speaks of charges. Once per review or report: a
    text edited while its flag is open updates the words found; a decided flag
    stays as decided. Returns the flag, or None when there is nothing to flag."""
    if agent is None or agent.pricing_model != FREE:
        return None
    terms, excerpt = charge_terms(text)
    if not terms:
        return None
    key = {
        "agent": agent,
        "kind": Kind.FREE_BUT_CHARGES,
        "source": source,
        "source_id": source_id,
    }
    flag = ListingFlag.objects.select_for_update().filter(**key).first()
    if flag is None:
        flag = ListingFlag(
            **key,
            categories=list(FREE_BUT_CHARGES_CATEGORIES),
            terms=terms,
            excerpt=excerpt,
        )
        try:
            with transaction.atomic():
                flag.save(force_insert=True)
        except IntegrityError:  # the same text scanned twice at once
            return ListingFlag.objects.get(**key)
        return flag
    if flag.state == State.OPEN and (flag.terms, flag.excerpt) != (terms, excerpt):
        ListingFlag.objects.filter(pk=flag.pk, state=State.OPEN).update(
            terms=terms, excerpt=excerpt
        )
        flag.refresh_from_db()
    return flag


def listing_flag_scan_review(*, review: Review) -> ListingFlag | None:
    """``listing_flag_scan`` of a review as written or edited now."""
    return listing_flag_scan(
        agent=review.agent,
        source=Source.REVIEW,
        source_id=review.pk,
        text=f"{review.title}\n{review.body}",
    )


# The moves of a flag, by the decision that makes them.
DECISIONS: Final = {"uphold": State.UPHELD, "dismiss": State.DISMISSED}


@transaction.atomic
def listing_flag_decide(
    *, actor: User, flag_id: int, decision: str, note: str
) -> ListingFlag:
    """Uphold or dismiss an open flag, with a note saying why: who, when and the
    note are kept on the flag. Upholding tells the publisher's owners and
    administrators that their listing is flagged (``_notify_upheld``); it neither
    hides nor suspends the listing."""
    flag = (
        ListingFlag.objects.select_for_update(of=("self",))
        .select_related("agent__publisher")
        .filter(pk=flag_id)
        .first()
    )
    ensure_flag_moderator(actor=actor, agent=flag.agent if flag else None)
    if flag is None:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    if decision not in DECISIONS:
        errors["decision"] = [_("Uphold or dismiss the flag.")]
    note = (note or "").strip()
    if not note:
        errors["note"] = [_("Say why in a note.")]
    elif len(note) > NOTE_MAX_LENGTH:
        errors["note"] = [
            _("Keep the note within %(max)d characters.") % {"max": NOTE_MAX_LENGTH}
        ]
    if errors:
        raise ApplicationError(
            next(iter(errors.values()))[0], code="invalid", details=errors
        )
    to = DECISIONS[decision]
    now = timezone.now()
    moved = ListingFlag.objects.filter(pk=flag.pk, state=State.OPEN).update(
        state=to, decided_by=actor, decided_at=now, note=note
    )
    if not moved:
        raise InvalidTransition(
            _("This flag was already decided: it is %(state)s.")
            % {"state": State(flag.state).label}
        )
    flag.refresh_from_db()
    if to == State.UPHELD:
        _notify_upheld(flag=flag)
    return flag


def _notify_upheld(*, flag: ListingFlag) -> None:
    """Tell the owners and administrators of the flagged agent's publisher that
    the moderators found the listing declares free while charging, and why."""
    agent = flag.agent
    publisher = agent.publisher
    users = User.objects.filter(
        memberships__organization=publisher,
        memberships__role__in=(Membership.Role.OWNER, Membership.Role.ADMIN),
    ).distinct()
    for user in users:
        notification_create(
            user=user,
            kind=Notification.Kind.LISTING_FLAGGED,
            message=gettext_noop(
                "The listing of %(agent)s is flagged for declaring free while "
                "charging, as its users say. Declare the pricing it really has in a "
                "new version. The moderator's note: “%(note)s”"
            ),
            params={"agent": agent.name, "agent_id": agent.pk, "note": flag.note},
            link=reverse(
                "agent-detail",
                kwargs={"publisher": publisher.slug, "agent": agent.slug},
            ),
        )
