"""Signs that a listing breaks its own disclosure, and the moderators' decisions.

A listing declared free whose reviews or misconduct reports speak of charges is
flagged (``listing_flag_scan``), once per review or report; the operator's
moderators uphold or dismiss each flag with a note (``listing_flag_decide``):

    open -> upheld | dismissed      (final)
"""

import re
from typing import Final

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.exceptions import (
    ApplicationError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from marketplace.models import Agent, ListingFlag, Membership, Review, User
from marketplace.pricing import FREE
from marketplace.services.publishing import is_operator

Kind = ListingFlag.Kind
Source = ListingFlag.Source
State = ListingFlag.State

# The misconduct categories a "free but charges" flag points to. They are the
# values of ratings' MisconductReport.Category ("inducing_consumption",
# "false_advertising"), written out here: marketplace does not import ratings.
FREE_BUT_CHARGES_CATEGORIES: Final = ["inducing_consumption", "false_advertising"]

# Words that speak of paying. Chinese has no spaces between words, so its terms are
# found anywhere in the text; English terms only as whole words, with no Latin
# letter or digit either side ("fee" but not "feedback", "paid" but not "unpaid").
CHARGE_TERMS_ZH: Final = (
    "自动续费",
    "自动扣费",
    "会员费",
    "订阅费",
    "收费",
    "扣费",
    "扣款",
    "付费",
    "充值",
    "续费",
    "乱扣",
    "计费",
    "退款",
    "内购",
)
CHARGE_TERMS_EN: Final = (
    "in-app purchase",
    "in-app purchases",
    "in-agent purchase",
    "in-agent purchases",
    "auto-renew",
    "auto-renewal",
    "auto-renews",
    "charge",
    "charged",
    "charges",
    "charging",
    "fee",
    "fees",
    "paid",
    "payment",
    "payments",
    "billed",
    "billing",
    "subscription",
    "subscriptions",
    "refund",
    "refunds",
    "paywall",
)

# Longest first, so that 自动续费 is found as itself and not as 续费.
_CHARGES = re.compile(
    "|".join(
        [re.escape(term) for term in sorted(CHARGE_TERMS_ZH, key=len, reverse=True)]
        + [
            rf"(?<![A-Za-z0-9_-]){re.escape(term)}(?![A-Za-z0-9_-])"
            for term in sorted(CHARGE_TERMS_EN, key=len, reverse=True)
        ]
    ),
    re.IGNORECASE,
)

# Characters of text kept either side of the first word found.
EXCERPT_CONTEXT = 80
NOTE_MAX_LENGTH = 2000


def charge_terms(text: str) -> tuple[list[str], str]:
    """The words about charges found in ``text`` (each once, in order, lower case)
    and an excerpt around the first; ``([], "")`` when there is none."""
    found: list[str] = []
    first: re.Match[str] | None = None
    for match in _CHARGES.finditer(text or ""):
        first = first or match
        term = match.group(0).casefold()
        if term not in found:
            found.append(term)
    if first is None:
        return [], ""
    start = max(0, first.start() - EXCERPT_CONTEXT)
    end = min(len(text), first.end() + EXCERPT_CONTEXT)
    excerpt = text[start:end].strip()
    return found, ("…" if start else "") + excerpt + ("…" if end < len(text) else "")


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


def ensure_flag_moderator(*, actor: User, agent: Agent | None = None) -> None:
    """Only the platform operator's staff, owners, administrators and reviewers
    decide flags, and never those of a publisher they belong to."""
    if not is_operator(actor):
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


@transaction.atomic
def listing_flag_decide(
    *, actor: User, flag_id: int, decision: str, note: str
) -> ListingFlag:
    """Uphold or dismiss an open flag, with a note saying why: who, when and the
    note are kept on the flag."""
    flag = (
        ListingFlag.objects.select_for_update(of=("self",))
        .select_related("agent")
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
    return flag
