from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .agents import Agent


class ListingFlag(models.Model):
    """A sign, found by the store, that a listing may break its own disclosure: for
    example reviews or reports that speak of charges for an agent declared free.
    Moderators look at each and uphold or dismiss it."""

    class Kind(models.TextChoices):
        FREE_BUT_CHARGES = "free_but_charges", _("Declared free, but charges mentioned")

    class Source(models.TextChoices):
        REVIEW = "review", _("Review")
        REPORT = "report", _("Misconduct report")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld")
        DISMISSED = "dismissed", _("Dismissed")

    agent = models.ForeignKey(
        Agent,
        on_delete=models.CASCADE,
        related_name="flags",
        verbose_name=_("agent"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    # The misconduct categories the sign points to (ratings' report categories).
    categories = models.JSONField(_("misconduct categories"), default=list)
    source = models.CharField(_("found in"), max_length=16, choices=Source.choices)
    source_id = models.PositiveBigIntegerField(_("source id"))
    # The words that raised the flag and the text around them.
    terms = models.JSONField(_("words found"), default=list)
    excerpt = models.TextField(_("excerpt"), blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("raised"), auto_now_add=True)

    class Meta:
        verbose_name = _("listing flag")
        verbose_name_plural = _("listing flags")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "kind", "source", "source_id"],
                name="listing_flag_once_per_source",
            ),
        ]
        indexes = [models.Index(fields=["state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.kind} ({self.state})"
