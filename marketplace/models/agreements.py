from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .organizations import Organization


class AgreementVersion(models.Model):
    """One version of one of the site's own documents (its rules, the user service
    agreement, the privacy policy, the publisher agreement), in both languages. A
    draft can be edited; once published it never changes, and the latest published
    version of each kind is the one in force."""

    class Kind(models.TextChoices):
        PLATFORM_RULES = "platform_rules", _("Platform rules")
        USER_AGREEMENT = "user_agreement", _("User service agreement")
        PRIVACY_POLICY = "privacy_policy", _("Privacy policy")
        PUBLISHER_AGREEMENT = "publisher_agreement", _("Publisher agreement")

    kind = models.CharField(_("document"), max_length=32, choices=Kind.choices)
    number = models.PositiveIntegerField(_("version"))
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    body_en = models.TextField(_("text (English)"))
    body_zh = models.TextField(_("text (Chinese)"))
    # What changed since the version before, for people who accepted that one.
    summary_en = models.TextField(_("summary of changes (English)"), blank=True)
    summary_zh = models.TextField(_("summary of changes (Chinese)"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("in force since"), null=True, blank=True)

    class Meta:
        verbose_name = _("agreement version")
        verbose_name_plural = _("agreement versions")
        ordering = ["kind", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "number"],
                name="agreement_version_unique_per_kind",
                violation_error_message=_(
                    "This document has a version with this number."
                ),
            ),
        ]
        indexes = [models.Index(fields=["kind", "-published_at"])]

    def __str__(self) -> str:
        return f"{self.kind} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    def _localised(self, field: str) -> str:
        chinese = (get_language() or "").lower().startswith("zh")
        value: str = getattr(self, f"{field}_zh" if chinese else f"{field}_en")
        return value or getattr(self, f"{field}_en" if chinese else f"{field}_zh")

    @property
    def title(self) -> str:
        return self._localised("title")

    @property
    def body(self) -> str:
        return self._localised("body")

    @property
    def summary(self) -> str:
        return self._localised("summary")


class AgreementAcceptance(models.Model):
    """A person accepted a version of a document: for themselves, or (the publisher
    agreement) on behalf of a publisher organisation. Never deleted while the person
    exists: it is the acceptance history."""

    class Context(models.TextChoices):
        SIGN_UP = "sign_up", _("At sign-up")
        PROMPT = "prompt", _("When asked after a change")
        PUBLISHER = "publisher", _("For a publisher")
        API = "api", _("Through the API")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="agreement_acceptances",
        verbose_name=_("user"),
    )
    version = models.ForeignKey(
        AgreementVersion,
        on_delete=models.PROTECT,
        related_name="acceptances",
        verbose_name=_("version"),
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="agreement_acceptances",
        verbose_name=_("on behalf of"),
    )
    context = models.CharField(
        _("context"), max_length=16, choices=Context.choices, default=Context.PROMPT
    )
    accepted_at = models.DateTimeField(_("accepted"), auto_now_add=True)

    class Meta:
        verbose_name = _("agreement acceptance")
        verbose_name_plural = _("agreement acceptances")
        ordering = ["-accepted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "version"],
                condition=models.Q(organization__isnull=True),
                name="acceptance_once_per_user_and_version",
            ),
            models.UniqueConstraint(
                fields=["organization", "version"],
                condition=models.Q(organization__isnull=False),
                name="acceptance_once_per_organization_and_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted {self.version}"
