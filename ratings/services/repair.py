"""Credit repair: an entity under a sanction documents what it corrected and asks
the body to lift the sanction, once the sanction's minimum period has passed.

- ``repair_apply``: an owner or administrator of the entity applies, with the
  corrective actions and https links to evidence; one pending application per
  sanction. Credit repair is free.
- ``repair_decide``: an owner, administrator or committee member of the body,
  impartial to the entity, grants or refuses it with reasons. A grant lifts the
  sanction and marks repaired the body's unrepaired findings of the entity that
  were decided by the sanction's start (the history stays: nothing is deleted;
  a later finding is not repaired by an earlier sanction's repair); the store
  fields follow.

pending -> granted | refused; each move is recorded as a ``CreditEvent``.
"""

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from config.exceptions import ApplicationError, Conflict, PermissionDenied
from marketplace.models import User
from marketplace.selectors.organizations import membership_role
from ratings.models import CreditEvent, Finding, RepairApplication, Sanction

from . import clean_links
from .sanctions import (
    ENTITY_ROLES,
    clean_reason,
    credit_measures_sync,
    day,
    ensure_decider,
    entity_lock,
    notify_entity,
    sanction_event,
)

ACTIONS_MAX_LENGTH = 10000


@transaction.atomic
def repair_apply(
    *,
    actor: User,
    sanction: Sanction,
    corrective_actions: str,
    evidence_links: Sequence[object] = (),
) -> RepairApplication:
    """The entity's owner or administrator asks for credit repair of an active
    sanction, once its minimum period has passed."""
    sanction = (
        Sanction.objects.select_for_update(of=("self",))
        .select_related("entity", "body")
        .get(pk=sanction.pk)
    )
    if membership_role(user=actor, organization=sanction.entity) not in ENTITY_ROLES:
        raise PermissionDenied(
            _("Only the owners and administrators of %(entity)s ask for its repair.")
            % {"entity": sanction.entity.name},
            code="not_of_the_entity",
        )
    if sanction.state != Sanction.State.ACTIVE:
        raise Conflict(
            _("This sanction is no longer in force."), code="sanction_not_active"
        )
    if timezone.now() < sanction.repairable_from:
        raise Conflict(
            _("Credit repair of this sanction may be asked for from %(date)s.")
            % {
                "date": formats.date_format(
                    timezone.localtime(sanction.repairable_from), "DATE_FORMAT"
                )
            },
            code="repair_too_early",
        )
    actions = (corrective_actions or "").strip()
    if not actions:
        raise ApplicationError.on_field(
            "corrective_actions", _("Say what was corrected, and how.")
        )
    if len(actions) > ACTIONS_MAX_LENGTH:
        raise ApplicationError.on_field(
            "corrective_actions",
            _("Keep the corrective actions within %(most)d characters.")
            % {"most": ACTIONS_MAX_LENGTH},
        )
    links = clean_links(evidence_links, https_only=True, error=ApplicationError)
    pending = Conflict(
        _("An application for this sanction's repair is pending already."),
        code="repair_pending",
    )
    if sanction.repairs.filter(state=RepairApplication.State.PENDING).exists():
        raise pending
    application = RepairApplication(
        sanction=sanction,
        corrective_actions=actions,
        evidence_links=links,
        applied_by=actor,
    )
    try:
        with transaction.atomic():
            application.save(force_insert=True)
    except IntegrityError:
        raise pending from None
    sanction_event(
        sanction=sanction,
        actor=actor,
        action="repair_applied",
        from_state="",
        to_state=RepairApplication.State.PENDING,
        payload={"application": str(application.public_id), "links": len(links)},
    )
    return application


@transaction.atomic
def repair_decide(
    *, actor: User, application: RepairApplication, grant: bool, reason: str
) -> RepairApplication:
    """The body grants or refuses a pending credit repair, with reasons. Granted:
    the sanction is lifted, the body's unrepaired findings of the entity
    decided by the sanction's start are marked repaired, the store fields
    follow (a sanction that expired meanwhile stays expired: that is its
    history); either way the entity is told."""
    application = (
        RepairApplication.objects.select_for_update(of=("self",))
        .select_related("sanction__entity", "sanction__body")
        .get(pk=application.pk)
    )
    sanction = application.sanction
    entity_lock(entity_id=sanction.entity_id)
    ensure_decider(actor=actor, body=sanction.body, entity=sanction.entity)
    if application.state != RepairApplication.State.PENDING:
        raise Conflict(
            _("This application was decided already."), code="repair_decided"
        )
    if not isinstance(grant, bool):
        raise ApplicationError.on_field("grant", _("Grant or refuse the repair."))
    reason = clean_reason(reason)
    now = timezone.now()
    to = RepairApplication.State.GRANTED if grant else RepairApplication.State.REFUSED
    moved = RepairApplication.objects.filter(
        pk=application.pk, state=RepairApplication.State.PENDING
    ).update(state=to, decision_reason=reason, decided_by=actor, decided_at=now)
    if not moved:
        raise Conflict(_("This application was decided meanwhile; reload it."))
    application.refresh_from_db()
    sanction_event(
        sanction=sanction,
        actor=actor,
        action="repair_decided",
        from_state=RepairApplication.State.PENDING,
        to_state=to,
        payload={"application": str(application.public_id), "reason": reason},
    )
    if grant:
        lifted = Sanction.objects.filter(
            pk=sanction.pk, state=Sanction.State.ACTIVE
        ).update(state=Sanction.State.LIFTED, ended_at=now)
        if lifted:
            sanction_event(
                sanction=sanction,
                actor=actor,
                action="sanction_lifted",
                from_state=Sanction.State.ACTIVE,
                to_state=Sanction.State.LIFTED,
                payload={"application": str(application.public_id)},
            )
        findings = Finding.objects.filter(
            entity_id=sanction.entity_id,
            body_id=sanction.body_id,
            repaired_at__isnull=True,
            decided_at__lte=sanction.starts_at,
        )
        repaired = sorted(findings.values_list("pk", flat=True))
        if repaired:
            Finding.objects.filter(pk__in=repaired).update(repaired_at=now)
            CreditEvent.objects.create(
                entity_id=sanction.entity_id,
                actor=actor,
                action="findings_repaired",
                payload={
                    "findings": repaired,
                    "application": str(application.public_id),
                    "body": sanction.body_id,
                },
            )
        credit_measures_sync(entity_id=sanction.entity_id)
        message = gettext_noop(
            "%(body)s granted the credit repair of %(entity)s: the sanction of "
            "%(since)s is lifted. %(reason)s"
        )
    else:
        message = gettext_noop(
            "%(body)s refused the credit repair of %(entity)s for the sanction of "
            "%(since)s: %(reason)s"
        )
    notify_entity(
        entity=sanction.entity,
        message=message,
        params={
            "body": sanction.body.name,
            "kind": sanction.kind,
            "since": day(sanction.starts_at),
            "reason": reason,
            "sanction": str(sanction.public_id),
            "application": str(application.public_id),
        },
    )
    return application
