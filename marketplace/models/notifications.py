from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.messages import render_message


class Notification(models.Model):
    """A message in a user's inbox (and, once sent, their e-mail). The text is a
    message id with parameters, translated into the reader's language when shown."""

    class Kind(models.TextChoices):
        CONSENT_NEEDED = "consent_needed", _("An update needs your consent")
        REVIEW_REPLY = "review_reply", _("A publisher replied to your review")
        REPORT_STATUS = "report_status", _("Your report changed status")
        REVIEW_MODERATED = "review_moderated", _("A moderator acted on your review")
        CERTIFICATION_REQUEST = (
            "certification_request",
            _("A certification request changed"),
        )
        CERTIFICATE_STATUS = "certificate_status", _("A certificate changed status")
        CERTIFICATE_EXPIRING = "certificate_expiring", _("A certificate expires soon")
        LISTING_SUSPENDED = "listing_suspended", _("A listing was suspended")
        CREDIT_RATING = "credit_rating", _("A credit rating concerns you")
        LISTING_FLAGGED = "listing_flagged", _("A moderator upheld a flag on a listing")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    message = models.TextField(_("message"))
    params = models.JSONField(_("details"), default=dict, blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.kind}"

    @property
    def text(self) -> str:
        """The message in the active language."""
        return render_message(self.message, self.params)
