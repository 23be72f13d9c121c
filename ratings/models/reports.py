"""Misconduct reports: what users tell the industry bodies about publishers and
their agents, with the evidence they attach and every change of state.

    submitted -> triaged -> investigating -> substantiated | dismissed

The moves are in one table, ``ratings.services.TRANSITIONS``.
"""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from marketplace.models import Agent, Organization
from ratings.storage import evidence_storage


class MisconductReport(models.Model):
    class Category(models.TextChoices):
        TECHNOLOGY_ABUSE = "technology_abuse", _("Abuse of technology")
        INDUCING_CONSUMPTION = "inducing_consumption", _("Inducing consumption")
        FALSE_ADVERTISING = "false_advertising", _("False advertising")
        CONCEALING_DEFECTS = "concealing_defects", _("Concealing defects")
        PRIVACY_VIOLATION = "privacy_violation", _("Privacy violation")
        SECURITY_PROBLEM = "security_problem", _("Security problem")
        OTHER = "other", _("Other")

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        TRIAGED = "triaged", _("Triaged")
        INVESTIGATING = "investigating", _("Under investigation")
        SUBSTANTIATED = "substantiated", _("Substantiated")
        DISMISSED = "dismissed", _("Dismissed")

    # The report's address in pages and the API: not a guessable sequence.
    public_id = models.UUIDField(
        _("public identifier"), default=uuid.uuid4, unique=True, editable=False
    )
    # A report is evidence and outlives its reporter's account: deleting the
    # account leaves the report without a reporter.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="misconduct_reports",
        verbose_name=_("reporter"),
    )
    publisher = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="misconduct_reports",
        verbose_name=_("publisher"),
    )
    # When the report is about one agent; its publisher is then ``publisher``.
    agent = models.ForeignKey(
        Agent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="misconduct_reports",
        verbose_name=_("agent"),
    )
    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    description = models.TextField(_("description"), max_length=5000)
    evidence_links = models.JSONField(_("evidence links"), default=list, blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.SUBMITTED
    )
    # The industry body that rates the publisher and so handles the report; none
    # until publishers enrol with a body (``services.report_assign_body``). An
    # unassigned report is handled by the operator's reviewers.
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_reports",
        limit_choices_to={"kind": Organization.Kind.INDUSTRY_BODY},
        verbose_name=_("industry body"),
    )
    # While investigating, the entity is told and may answer until the deadline.
    answer_deadline = models.DateTimeField(
        _("entity may answer until"), null=True, blank=True
    )
    entity_answer = models.TextField(_("entity's answer"), blank=True, max_length=5000)
    entity_answered_at = models.DateTimeField(
        _("entity answered"), null=True, blank=True
    )
    entity_answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    created_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("misconduct report")
        verbose_name_plural = _("misconduct reports")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["reporter", "-created_at"]),
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["body", "state"]),
        ]

    def __str__(self) -> str:
        return str(self.public_id)

    def get_absolute_url(self) -> str:
        return reverse("report-detail", kwargs={"public_id": self.public_id})


def evidence_path(instance: "ReportEvidence", filename: str) -> str:
    """A random name under the report's folder; the suffix follows the type found
    in the file's bytes, never the name it was uploaded with."""
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"reports/{instance.report.public_id}/{uuid.uuid4().hex}{suffix}"


class ReportEvidence(models.Model):
    """A file attached to a report (a screenshot, a PDF, a text log)."""

    report = models.ForeignKey(
        MisconductReport,
        on_delete=models.CASCADE,
        related_name="evidence",
        verbose_name=_("report"),
    )
    file = models.FileField(
        _("file"), upload_to=evidence_path, storage=evidence_storage, max_length=300
    )
    original_name = models.CharField(_("original name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("report evidence")
        verbose_name_plural = _("report evidence")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class ReportEvent(models.Model):
    """One change of a report's state: who, when, from, to and why."""

    report = models.ForeignKey(
        MisconductReport,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("report"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    from_state = models.CharField(
        _("from"), max_length=16, choices=MisconductReport.State.choices, blank=True
    )
    to_state = models.CharField(
        _("to"), max_length=16, choices=MisconductReport.State.choices
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("report event")
        verbose_name_plural = _("report events")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.report_id}: {self.from_state or '-'} -> {self.to_state}"


class Finding(models.Model):
    """A substantiated report: the misconduct the body found, its category and
    severity, and when it happened. Ratings read findings; older ones weigh less
    (minor ones are gone after 3 months, general ones fade over a year, serious
    ones over three). A granted credit repair marks a finding repaired; nothing
    deletes it."""

    class Severity(models.TextChoices):
        MINOR = "minor", _("Minor")
        GENERAL = "general", _("General")
        SERIOUS = "serious", _("Serious")

    report = models.OneToOneField(
        MisconductReport,
        on_delete=models.PROTECT,
        related_name="finding",
        verbose_name=_("report"),
    )
    entity = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="misconduct_findings",
        verbose_name=_("entity"),
    )
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("found by"),
    )
    category = models.CharField(
        _("category"), max_length=32, choices=MisconductReport.Category.choices
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    # Forces the lowest grade whatever the score (the methodology's override
    # "an unresolved serious finding"), until repaired.
    occurred_at = models.DateTimeField(_("occurred"))
    reasons = models.TextField(_("reasons"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), auto_now_add=True, db_index=True)
    repaired_at = models.DateTimeField(_("repaired"), null=True, blank=True)

    class Meta:
        verbose_name = _("misconduct finding")
        verbose_name_plural = _("misconduct findings")
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["entity", "decided_at"])]

    def __str__(self) -> str:
        return f"{self.entity} {self.category} ({self.severity})"
