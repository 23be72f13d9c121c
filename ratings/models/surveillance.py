"""Surveillance of published ratings (watches), the sanctions a body imposes,
and credit repair."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.models import Organization

from .cycles import Rating
from .methodologies import GradeMeasure
from .reports import Finding

# The measures of ``GradeMeasure.Kind`` that are sanctions (the rest are incentives).
SANCTION_KIND_CHOICES = [
    choice
    for choice in GradeMeasure.Kind.choices
    if choice[0] not in GradeMeasure.INCENTIVES
]


class Watch(models.Model):
    """A rating watch: something happened (a serious finding, a recall, a spike of
    complaints, or an analyst's call) that may move an entity's grade. It must be
    resolved within 90 days: the grade is affirmed, upgraded or downgraded.
    open -> resolved
    """

    class Reason(models.TextChoices):
        SEVERE_FINDING = "severe_finding", _("A serious misconduct finding")
        RECALL = "recall", _("A recall")
        COMPLAINTS = "complaints", _("A spike of complaints")
        ANALYST = "analyst", _("An analyst's call")

    class Resolution(models.TextChoices):
        AFFIRM = "affirm", _("Affirmed")
        UPGRADE = "upgrade", _("Upgraded")
        DOWNGRADE = "downgrade", _("Downgraded")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entity = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="credit_watches",
        verbose_name=_("entity"),
    )
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("industry body"),
    )
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    detail = models.TextField(_("what happened"), blank=True)
    finding = models.ForeignKey(
        Finding,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="watches",
        verbose_name=_("finding"),
    )
    # The published rating under watch when it opened, if any.
    rating = models.ForeignKey(
        Rating,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="watches",
        verbose_name=_("rating watched"),
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("opened by"),
    )
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    due_at = models.DateTimeField(_("to be resolved by"))
    resolution = models.CharField(
        _("resolution"), max_length=10, choices=Resolution.choices, blank=True
    )
    resolution_reason = models.TextField(_("reasons"), blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("rating watch")
        verbose_name_plural = _("rating watches")
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "body"],
                condition=models.Q(resolved_at__isnull=True),
                name="watch_one_open_per_entity_and_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} ({self.reason})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Sanction(models.Model):
    """A sanction a person of the body imposed on an entity for its published
    grade, as the methodology sets per grade. The store applies it through its
    own services while it is active.
    active -> expired | lifted (credit repair granted)
    """

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired")
        LIFTED = "lifted", _("Lifted by credit repair")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entity = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="credit_sanctions",
        verbose_name=_("entity"),
    )
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("industry body"),
    )
    rating = models.ForeignKey(
        Rating,
        on_delete=models.PROTECT,
        related_name="sanctions",
        verbose_name=_("rating"),
    )
    kind = models.CharField(
        _("sanction"),
        max_length=20,
        choices=SANCTION_KIND_CHOICES,
    )
    reason = models.TextField(_("reasons"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.ACTIVE
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    repairable_from = models.DateTimeField(_("credit repair possible from"))
    imposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("imposed by"),
    )
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("sanction")
        verbose_name_plural = _("sanctions")
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["state", "ends_at"]),
            models.Index(fields=["entity", "state"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["rating", "kind"], name="sanction_once_per_rating"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity}: {self.kind} ({self.state})"


class RepairApplication(models.Model):
    """An entity's application for credit repair of a sanction: after the minimum
    period, with its corrective actions documented. A granted repair lifts the
    sanction and marks the history (the findings behind it are marked repaired);
    nothing is deleted.
    pending -> granted | refused
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        GRANTED = "granted", _("Granted")
        REFUSED = "refused", _("Refused")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sanction = models.ForeignKey(
        Sanction,
        on_delete=models.PROTECT,
        related_name="repairs",
        verbose_name=_("sanction"),
    )
    corrective_actions = models.TextField(_("corrective actions"), max_length=10000)
    evidence_links = models.JSONField(_("evidence links"), default=list, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("applied by"),
    )
    applied_at = models.DateTimeField(_("applied"), auto_now_add=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    decision_reason = models.TextField(_("reasons for the decision"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("credit repair application")
        verbose_name_plural = _("credit repair applications")
        ordering = ["-applied_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sanction"],
                condition=models.Q(state="pending"),
                name="repair_one_pending_per_sanction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sanction_id}: {self.state}"
