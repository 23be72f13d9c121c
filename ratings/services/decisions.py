"""Decisions on computed ratings: maker-checker review, notice, objection, publication.

computed -> analyst_reviewed -> committee_approved -> notice
notice -> published | objected; objected -> re_reviewed -> published
published -> superseded | withdrawn

- An analyst (or an owner or administrator) of the cycle's body reviews each
  computed rating and may move its grade one notch along the methodology's
  scale, with a written reason (``rating_analyst_review``).
- The body's committee members vote (``rating_vote``), one vote each per round.
  A round is decided once at least three votes are in, a chair is set and more
  than half of the votes cast agree. Approval moves the rating on; a majority to
  send back returns it to ``computed`` for the analyst, and the next committee
  round opens (votes are never deleted: they are the record).
- The entity's owners and administrators are notified with a statement of
  reasons (``rating_notify``), and may object within the methodology's
  ``objection_days`` working days (``objection_file``). The objection opens a
  new committee round that can only decide once at least one of its voters has
  voted in no earlier round of the rating.
- Round after an objection: either majority moves the rating to
  ``re_reviewed``. The answer (``objection_answer``) then follows that outcome:
  a majority to approve rejects the objection and the rating is published; a
  majority to send back upholds the objection and the grade goes back to
  analyst review (``re_reviewed -> computed``, a new committee round), after
  which the usual path (committee, notice) runs again. A rating has at most one
  objection, so the second notice closes without one.
- Beat publishes the notices whose objection window closed
  (``ratings_publish_due``). No sanction is applied here: sanctions are decided
  by people elsewhere.

Working days are Monday to Friday in the site's time zone; public holidays are
not counted out (there is no holiday calendar yet).

Conflict of interest: nobody who belongs to the rated entity, nor anybody who
declared a conflict with it, reviews, votes on or answers for its rating. Every
move is a compare-and-set UPDATE recorded as a ``CreditEvent`` with who, when,
from and to.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import Membership, Notification, Organization, User
from marketplace.selectors.organizations import membership_role
from marketplace.services.notifications import notification_create
from marketplace.services.organizations import (
    organization_set_credit_grade,
    organization_set_credit_measures,
)
from ratings import scoring
from ratings.models import (
    CommitteeVote,
    ConflictOfInterest,
    CreditEvent,
    Objection,
    Rating,
)

from .cycles import cycle_close_if_decided
from .methodologies import AUTHOR_ROLES, ENTITY_ROLES
from .sanctions import credit_measures_sync, entity_lock

Role = Membership.Role
State = Rating.State
Vote = CommitteeVote.Vote

TRANSITIONS: dict[str, frozenset[str]] = {
    State.COMPUTED: frozenset({State.ANALYST_REVIEWED}),
    State.ANALYST_REVIEWED: frozenset({State.COMMITTEE_APPROVED, State.COMPUTED}),
    State.COMMITTEE_APPROVED: frozenset({State.NOTICE}),
    State.NOTICE: frozenset({State.PUBLISHED, State.OBJECTED}),
    State.OBJECTED: frozenset({State.RE_REVIEWED}),
    State.RE_REVIEWED: frozenset({State.PUBLISHED, State.COMPUTED}),
    State.PUBLISHED: frozenset({State.SUPERSEDED, State.WITHDRAWN}),
    State.SUPERSEDED: frozenset(),
    State.WITHDRAWN: frozenset(),
}

MIN_VOTES = 3
ANSWER_ROLES = frozenset({Role.COMMITTEE_MEMBER, Role.ANALYST})
# The statement names at most this many adverse factors.
ADVERSE_FACTORS = 4


# --- Helpers ------------------------------------------------------------------------


def add_working_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday, in the site's time zone) after
    ``start``, at the same time of day. Public holidays are not skipped."""
    moment = timezone.localtime(start)
    added = 0
    while added < days:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def _locked(rating: Rating) -> Rating:
    return (
        Rating.objects.select_for_update(of=("self",))
        .select_related("cycle__body", "cycle__methodology", "entity")
        .get(pk=rating.pk)
    )


def _ensure_impartial(*, actor: User, rating: Rating) -> None:
    """Nobody from the rated entity, nobody with a declared conflict."""
    if (
        Membership.objects.filter(user=actor, organization_id=rating.entity_id).exists()
        or ConflictOfInterest.objects.filter(
            user=actor, entity_id=rating.entity_id
        ).exists()
    ):
        raise PermissionDenied(
            _(
                "You belong to %(entity)s or declared a conflict of interest with "
                "it: you take no part in its rating."
            )
            % {"entity": rating.entity.name},
            code="conflict_of_interest",
        )


def _ensure_role(
    *, actor: User, rating: Rating, roles: Iterable[str], message: str, code: str
) -> None:
    if membership_role(user=actor, organization=rating.cycle.body) not in set(roles):
        raise PermissionDenied(message, code=code)


def _record(
    *, rating: Rating, actor: User | None, action: str, payload: dict[str, Any]
) -> None:
    CreditEvent.objects.create(
        methodology_id=rating.cycle.methodology_id,
        cycle_id=rating.cycle_id,
        rating=rating,
        actor=actor,
        action=action,
        payload=payload,
    )


# --- The one state move ---------------------------------------------------------------


def rating_transition(
    *,
    rating: Rating,
    to: str,
    actor: User | None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move the rating from the state it was read in to ``to`` if it is still in
    that state (compare and set), with ``fields``; record who moved it from what
    to what. False when it had moved on meanwhile; ``Conflict`` for a move the
    table does not allow."""
    from_state = rating.state
    if to not in TRANSITIONS[from_state]:
        raise Conflict(
            _("A rating cannot go from %(from)s to %(to)s.")
            % {"from": from_state, "to": to},
            code="rating_bad_transition",
        )
    now = timezone.now()
    moved = Rating.objects.filter(pk=rating.pk, state=from_state).update(
        state=to, updated_at=now, **fields
    )
    if not moved:
        return False
    rating.state = to
    rating.updated_at = now
    for name, value in fields.items():
        setattr(rating, name, value)
    CreditEvent.objects.create(
        methodology_id=rating.cycle.methodology_id,
        cycle_id=rating.cycle_id,
        rating=rating,
        from_state=from_state,
        to_state=to,
        actor=actor,
        action=f"rating_{to}",
        payload=payload or {},
    )
    return True


def _move(
    rating: Rating,
    *,
    to: str,
    actor: User | None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """``rating_transition`` on a locked row: not moving is a conflict."""
    if not rating_transition(
        rating=rating, to=to, actor=actor, payload=payload, **fields
    ):
        raise Conflict(_("The rating moved on meanwhile; reload it."))


def _ensure_state(rating: Rating, *states: str) -> None:
    if rating.state not in states:
        raise Conflict(
            _("The rating is %(state)s: this cannot be done now.")
            % {"state": rating.get_state_display()},
            code="rating_wrong_state",
        )


# --- Conflicts of interest ------------------------------------------------------------


@transaction.atomic
def conflict_declare(
    *, actor: User, entity: Organization, reason: str
) -> ConflictOfInterest:
    """Declare a conflict of interest with an entity: from now on the actor takes
    no part in its ratings. Declaring again returns the declaration made."""
    reason = reason.strip()
    if not reason:
        raise ApplicationError.on_field(
            "reason", _("Say what the conflict of interest is.")
        )
    conflict, created = ConflictOfInterest.objects.get_or_create(
        user=actor, entity=entity, defaults={"reason": reason}
    )
    if created:
        CreditEvent.objects.create(
            actor=actor,
            action="conflict_declared",
            payload={"entity": entity.pk, "reason": reason},
        )
    return conflict


# --- Analyst review -------------------------------------------------------------------


@transaction.atomic
def rating_analyst_review(
    *,
    actor: User,
    rating: Rating,
    adjustment: int = 0,
    reason: str = "",
    outlook: str = Rating.Outlook.STABLE,
) -> Rating:
    """The maker: an analyst (or an owner or administrator) of the body reviews a
    computed rating and may move its computed grade one notch along the
    methodology's scale, with a written reason, and gives its ``outlook`` (stable
    by default). computed -> analyst_reviewed."""
    rating = _locked(rating)
    _ensure_role(
        actor=actor,
        rating=rating,
        roles=AUTHOR_ROLES,
        message=_(
            "Only the body's analysts, owners and administrators review ratings."
        ),
        code="not_an_analyst",
    )
    _ensure_impartial(actor=actor, rating=rating)
    _ensure_state(rating, State.COMPUTED)
    if isinstance(adjustment, bool) or adjustment not in (-1, 0, 1):
        raise ApplicationError.on_field(
            "adjustment", _("An analyst may move a grade by one notch at most.")
        )
    if outlook not in Rating.Outlook.values:
        raise ApplicationError.on_field("outlook", _("Choose an outlook."))
    reason = reason.strip()
    if adjustment and not reason:
        raise ApplicationError.on_field(
            "reason", _("Give a written reason for adjusting the grade.")
        )
    grade = rating.computed_grade
    if adjustment:
        if rating.provisional:
            raise ApplicationError(
                _("A provisional grade cannot be adjusted."),
                code="provisional_grade",
                details={"adjustment": [_("A provisional grade cannot be adjusted.")]},
            )
        forced = [
            o
            for o in rating.overrides or []
            if isinstance(o, dict) and o.get("action") == "force"
        ]
        if forced:
            # The methodology forces this grade whatever the score: no notch moves it.
            message = _("The methodology forces this grade; it cannot be adjusted.")
            raise ApplicationError(
                message, code="forced_grade", details={"adjustment": [message]}
            )
        bands = [
            scoring.GradeBand(band.grade, band.min_score)
            for band in rating.cycle.methodology.bands.order_by("-min_score")
        ]
        try:
            grade = scoring.notch(grade=grade, by=adjustment, bands=bands)  # type: ignore[arg-type]  # checked above
        except scoring.ScoringError as error:
            raise ApplicationError.on_field("adjustment", str(error)) from None
    _move(
        rating,
        to=State.ANALYST_REVIEWED,
        actor=actor,
        payload={
            "adjustment": adjustment,
            "reason": reason,
            "grade": grade,
            "outlook": outlook,
        },
        grade=grade,
        outlook=outlook,
        analyst=actor,
        adjustment=adjustment,
        adjustment_reason=reason,
        reviewed_at=timezone.now(),
    )
    return rating


# --- Committee ------------------------------------------------------------------------


def _outcome(votes: list[CommitteeVote]) -> str | None:
    """approve or reject by a majority of the votes cast, or None."""
    approve = sum(1 for v in votes if v.vote == Vote.APPROVE)
    reject = len(votes) - approve
    if approve * 2 > len(votes):
        return Vote.APPROVE
    if reject * 2 > len(votes):
        return Vote.REJECT
    return None


def round_outcome(*, rating: Rating, round: int) -> str | None:
    """The majority of a committee round, or None while there is none."""
    return _outcome(list(rating.votes.filter(round=round)))


def _decide(rating: Rating, *, actor: User) -> None:
    """Decide the current round when it can be: enough votes, a chair, a
    majority, and after an objection at least one voter new to the rating."""
    votes = list(rating.votes.filter(round=rating.committee_round))
    if len(votes) < MIN_VOTES or rating.chair_id is None:
        return
    outcome = _outcome(votes)
    if outcome is None:
        return
    if rating.state == State.OBJECTED:
        earlier = set(
            rating.votes.filter(round__lt=rating.committee_round).values_list(
                "member_id", flat=True
            )
        )
        if all(v.member_id in earlier for v in votes):
            return
    payload = {
        "round": rating.committee_round,
        "outcome": outcome,
        "votes": {v.member_id: v.vote for v in votes},
        "chair": rating.chair_id,
    }
    if rating.state == State.OBJECTED:
        _move(rating, to=State.RE_REVIEWED, actor=actor, payload=payload)
    elif outcome == Vote.APPROVE:
        _move(rating, to=State.COMMITTEE_APPROVED, actor=actor, payload=payload)
    else:
        # Back to the analyst; the next review goes to a new committee round.
        _move(
            rating,
            to=State.COMPUTED,
            actor=actor,
            payload=payload,
            committee_round=rating.committee_round + 1,
            chair=None,
        )


@transaction.atomic
def rating_vote(
    *,
    actor: User,
    rating: Rating,
    vote: str,
    reason: str = "",
    chair: bool = False,
) -> CommitteeVote:
    """The checker: a committee member of the body votes on a reviewed (or
    objected) rating, once per round; the first voter who takes the chair
    chairs the round. The round is decided as soon as it can be."""
    rating = _locked(rating)
    if rating.analyst_id == actor.pk:
        if chair:
            raise PermissionDenied(
                _("The analyst who reviewed the rating cannot chair its committee."),
                code="analyst_cannot_chair",
            )
        raise PermissionDenied(
            _("The analyst who reviewed the rating cannot vote on it."),
            code="analyst_cannot_vote",
        )
    _ensure_role(
        actor=actor,
        rating=rating,
        roles={Role.COMMITTEE_MEMBER},
        message=_("Only the body's committee members vote on ratings."),
        code="not_a_committee_member",
    )
    _ensure_impartial(actor=actor, rating=rating)
    _ensure_state(rating, State.ANALYST_REVIEWED, State.OBJECTED)
    if vote not in Vote.values:
        raise ApplicationError.on_field("vote", _("Vote to approve or to send back."))
    if rating.votes.filter(round=rating.committee_round, member=actor).exists():
        raise Conflict(_("You already voted in this round."), code="already_voted")
    if chair and rating.chair_id is not None:
        raise Conflict(_("This round already has a chair."), code="chair_taken")
    cast = CommitteeVote.objects.create(
        rating=rating,
        round=rating.committee_round,
        member=actor,
        vote=vote,
        reason=reason.strip(),
    )
    if chair:
        Rating.objects.filter(pk=rating.pk).update(chair=actor)
        rating.chair = actor
    _record(
        rating=rating,
        actor=actor,
        action="rating_vote",
        payload={"round": cast.round, "vote": vote, "chair": chair},
    )
    _decide(rating, actor=actor)
    return cast


# --- Notice and objection -------------------------------------------------------------


def _statement(
    rating: Rating, *, deadline: datetime, evidence_until: datetime
) -> dict[str, Any]:
    methodology = rating.cycle.methodology
    return {
        "entity": rating.entity.name,
        "methodology": {"code": methodology.code, "version": methodology.version},
        "grade": rating.grade,
        "computed_grade": rating.computed_grade,
        "score": str(rating.score),
        "provisional": rating.provisional,
        "coverage": str(rating.coverage),
        "adjustment": {
            "notches": rating.adjustment,
            "reason": rating.adjustment_reason,
        },
        "facts": {
            "evidence_hash": rating.evidence_hash,
            "as_of": rating.cycle.as_of.isoformat(),
        },
        "indicators": rating.contributions,
        "adverse_factors": list(rating.adverse_factors)[:ADVERSE_FACTORS],
        "overrides": rating.overrides,
        "automated": {
            "score": True,
            "decision": False,
            "explanation": gettext_noop(
                "The score was computed automatically from the evidence; the grade "
                "was reviewed by an analyst and decided by a committee of people."
            ),
        },
        "objection": {
            "how": gettext_noop(
                "An owner or administrator of the entity may object on grounds of "
                "new facts or misread evidence until the deadline; a committee with "
                "at least one new member reviews the rating and answers with reasons."
            ),
            "grounds": list(Objection.Grounds.values),
            "until": deadline.isoformat(),
            "evidence_until": evidence_until.isoformat(),
        },
    }


@transaction.atomic
def rating_notify(*, actor: User, rating: Rating) -> Rating:
    """Send the entity the statement of reasons and open the objection window:
    committee_approved -> notice."""
    rating = _locked(rating)
    _ensure_role(
        actor=actor,
        rating=rating,
        roles=AUTHOR_ROLES | {Role.COMMITTEE_MEMBER},
        message=_("Only the body's people notify the entities of their ratings."),
        code="not_of_the_body",
    )
    _ensure_impartial(actor=actor, rating=rating)
    _ensure_state(rating, State.COMMITTEE_APPROVED)
    methodology = rating.cycle.methodology
    now = timezone.now()
    deadline = add_working_days(now, methodology.objection_days)
    evidence_until = add_working_days(now, methodology.evidence_days)
    statement = _statement(rating, deadline=deadline, evidence_until=evidence_until)
    _move(
        rating,
        to=State.NOTICE,
        actor=actor,
        payload={"objection_deadline": deadline.isoformat()},
        statement=statement,
        notice_at=now,
        objection_deadline=deadline,
        evidence_deadline=evidence_until,
    )
    recipients = User.objects.filter(
        memberships__organization_id=rating.entity_id,
        memberships__role__in=ENTITY_ROLES,
    ).distinct()
    for user in recipients:
        notification_create(
            user=user,
            kind=Notification.Kind.CREDIT_RATING,
            message=gettext_noop(
                "%(body)s rated %(entity)s %(grade)s. Read the statement of reasons; "
                "you may object until %(deadline)s."
            ),
            params={
                "body": rating.cycle.body.name,
                "entity": rating.entity.name,
                "grade": rating.grade,
                "deadline": deadline.isoformat(),
                "rating_id": rating.pk,
            },
        )
    return rating


@transaction.atomic
def objection_file(
    *, actor: User, rating: Rating, grounds: str, text: str
) -> Objection:
    """The entity objects to a rating under notice, before the deadline: the
    rating goes to a new committee round. notice -> objected."""
    rating = _locked(rating)
    if membership_role(user=actor, organization=rating.entity) not in ENTITY_ROLES:
        raise PermissionDenied(
            _("Only the entity's owners and administrators object to its rating."),
            code="not_of_the_entity",
        )
    _ensure_state(rating, State.NOTICE)
    if rating.objection_deadline is None or timezone.now() > rating.objection_deadline:
        raise Conflict(
            _("The time to object has passed."), code="objection_window_closed"
        )
    if grounds not in Objection.Grounds.values:
        raise ApplicationError.on_field(
            "grounds", _("Object on grounds of new facts or misread evidence.")
        )
    text = text.strip()
    if not text:
        raise ApplicationError.on_field("text", _("Say what the objection is."))
    if Objection.objects.filter(rating=rating).exists():
        raise Conflict(
            _("This rating was objected to already."), code="already_objected"
        )
    objection = Objection.objects.create(
        rating=rating, grounds=grounds, text=text, filed_by=actor
    )
    _move(
        rating,
        to=State.OBJECTED,
        actor=actor,
        payload={"grounds": grounds},
        committee_round=rating.committee_round + 1,
        chair=None,
    )
    return objection


@transaction.atomic
def objection_answer(*, actor: User, rating: Rating, answer: str) -> Objection:
    """Answer the objection with reasons once the committee decided again. The
    committee's majority decides: approving the rating rejects the objection and
    publishes the rating; sending it back upholds the objection and returns the
    grade to the analyst (re_reviewed -> computed)."""
    rating = _locked(rating)
    _ensure_role(
        actor=actor,
        rating=rating,
        roles=ANSWER_ROLES,
        message=_("Only the body's committee members and analysts answer objections."),
        code="not_of_the_body",
    )
    _ensure_impartial(actor=actor, rating=rating)
    _ensure_state(rating, State.RE_REVIEWED)
    objection = Objection.objects.select_for_update().get(rating=rating)
    if objection.state != Objection.State.OPEN:
        raise Conflict(_("The objection was answered already."), code="answered")
    answer = answer.strip()
    if not answer:
        raise ApplicationError.on_field(
            "answer", _("Answer the objection with reasons.")
        )
    outcome = round_outcome(rating=rating, round=rating.committee_round)
    upheld = outcome == Vote.REJECT
    objection.state = Objection.State.UPHELD if upheld else Objection.State.REJECTED
    objection.answer = answer
    objection.answered_by = actor
    objection.answered_at = timezone.now()
    objection.save(update_fields=["state", "answer", "answered_by", "answered_at"])
    _record(
        rating=rating,
        actor=actor,
        action="objection_answered",
        payload={"objection": objection.pk, "state": objection.state},
    )
    if upheld:
        _move(
            rating,
            to=State.COMPUTED,
            actor=actor,
            payload={"objection": "upheld"},
            committee_round=rating.committee_round + 1,
            chair=None,
        )
    else:
        _publish(rating, actor=actor, now=timezone.now())
    return objection


# --- Publication ----------------------------------------------------------------------


def _publish(rating: Rating, *, actor: User | None, now: datetime) -> None:
    if rating.state == State.NOTICE:
        if rating.objection_deadline is None or now <= rating.objection_deadline:
            raise Conflict(
                _("The rating is open to objection until its deadline."),
                code="objection_window_open",
            )
    elif rating.state == State.RE_REVIEWED:
        if not Objection.objects.filter(
            rating=rating, state=Objection.State.REJECTED
        ).exists():
            raise Conflict(
                _("The objection has not been answered."), code="not_answered"
            )
    else:
        _ensure_state(rating, State.NOTICE, State.RE_REVIEWED)
    # The ratings first, then the entity: the store's fields of the entity are
    # written by one transaction at a time.
    earlier = list(
        Rating.objects.select_for_update(of=("self",))
        .select_related("cycle")
        .filter(
            entity_id=rating.entity_id,
            cycle__body_id=rating.cycle.body_id,
            state=State.PUBLISHED,
        )
        .exclude(pk=rating.pk)
        .order_by("pk")
    )
    entity_lock(entity_id=rating.entity_id)
    _move(
        rating,
        to=State.PUBLISHED,
        actor=actor,
        published_at=now,
        valid_until=now + timedelta(days=rating.cycle.methodology.validity_days),
    )
    for old in earlier:
        _move(
            old,
            to=State.SUPERSEDED,
            actor=actor,
            payload={"by": rating.pk},
        )
    cycle_close_if_decided(cycle_id=rating.cycle_id, actor=actor)
    # The store shows the grade and search filters by it: marketplace keeps it.
    organization_set_credit_grade(organization_id=rating.entity_id, grade=rating.grade)
    organization_set_credit_measures(
        organization_id=rating.entity_id, credit_outlook=rating.outlook
    )
    credit_measures_sync(entity_id=rating.entity_id)


@transaction.atomic
def rating_publish(*, rating: Rating, actor: User | None = None) -> Rating:
    """notice (window closed, no objection) or re_reviewed (objection answered)
    -> published; the entity's earlier published rating by the same body is
    superseded. No sanction is applied here. A person who publishes is one of
    the body's people without a conflict with the entity; beat publishes as
    nobody (``actor`` None)."""
    rating = _locked(rating)
    if actor is not None:
        _ensure_role(
            actor=actor,
            rating=rating,
            roles=AUTHOR_ROLES | {Role.COMMITTEE_MEMBER},
            message=_("Only the body's people publish its ratings."),
            code="not_of_the_body",
        )
        _ensure_impartial(actor=actor, rating=rating)
    _publish(rating, actor=actor, now=timezone.now())
    return rating


@transaction.atomic
def ratings_publish_due(*, now: datetime | None = None) -> int:
    """For beat: publish the notices whose objection window closed. Returns how
    many were published; running it again publishes nothing twice."""
    now = now or timezone.now()
    due = list(
        Rating.objects.filter(state=State.NOTICE, objection_deadline__lt=now)
        .order_by("objection_deadline", "pk")
        .values_list("pk", flat=True)
    )
    published = 0
    for pk in due:
        rating = (
            Rating.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("cycle__body", "cycle__methodology", "entity")
            .filter(pk=pk, state=State.NOTICE)
            .first()
        )
        if rating is None:
            continue
        _publish(rating, actor=None, now=now)
        published += 1
    return published
