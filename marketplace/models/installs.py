import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .agents import Agent, AgentVersion


class Install(models.Model):
    """A user's installation of an agent, on the version they consented to. The
    grants say which scopes the agent may use; the runtime proves the install with a
    short-lived token it refreshes with the install's secret."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Installed")
        UNINSTALLED = "uninstalled", _("Uninstalled")

    # The install id an agent runtime sees (tokens, introspection).
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="installs",
        verbose_name=_("user"),
    )
    agent = models.ForeignKey(
        Agent,
        on_delete=models.PROTECT,
        related_name="installs",
        verbose_name=_("agent"),
    )
    # The version whose declaration the user consented to; an update that asks for
    # more moves it only after a new consent.
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.PROTECT,
        related_name="installs",
        verbose_name=_("version"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.ACTIVE
    )
    # SHA-256 of the secret the runtime refreshes its token with (never stored).
    refresh_secret_hash = models.CharField(_("refresh secret digest"), max_length=64)
    created_at = models.DateTimeField(_("installed"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    uninstalled_at = models.DateTimeField(_("uninstalled"), null=True, blank=True)

    class Meta:
        verbose_name = _("install")
        verbose_name_plural = _("installs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agent"],
                condition=models.Q(state="active"),
                name="install_one_active_per_user_and_agent",
                violation_error_message=_("You have installed this agent already."),
            ),
        ]
        indexes = [models.Index(fields=["user", "state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.user} → {self.agent} ({self.state})"


class ConsentReceipt(models.Model):
    """What the user agreed to, and when: the version, the scopes granted and those
    declined, and the documents of the publisher in force at the time."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    install = models.ForeignKey(
        Install,
        on_delete=models.CASCADE,
        related_name="receipts",
        verbose_name=_("install"),
    )
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("version"),
    )
    # The declaration the user saw, by its digest, and what they chose from it.
    declaration_digest = models.CharField(_("declaration digest"), max_length=64)
    granted = models.JSONField(_("scopes granted"), default=list)
    declined = models.JSONField(_("scopes declined"), default=list)
    terms_url = models.URLField(_("terms of service"), blank=True)
    privacy_policy_url = models.URLField(_("privacy policy"), blank=True)
    # The text of the terms as the user accepted them, when the store holds it.
    terms_text = models.TextField(_("terms accepted"), blank=True)
    # The version's pricing as the user was shown it (its declaration's "pricing").
    pricing = models.JSONField(_("pricing accepted"), default=dict, blank=True)
    # The user confirmed a second time that the agent may act on its own (asked of
    # minors and in elder-friendly mode when a granted scope is autonomous).
    autonomous_confirmed = models.BooleanField(
        _("autonomous scopes confirmed twice"), default=False
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent receipt")
        verbose_name_plural = _("consent receipts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.install}: {', '.join(self.granted)}"


class Grant(models.Model):
    """One scope an install may use, from a consent until it is revoked."""

    install = models.ForeignKey(
        Install,
        on_delete=models.CASCADE,
        related_name="grants",
        verbose_name=_("install"),
    )
    scope = models.CharField(_("scope"), max_length=100)
    # The decision authority the declaration gave the scope when it was granted.
    authority = models.CharField(_("decision authority"), max_length=20)
    # RESTRICT, not PROTECT: a receipt outlives its grants, except when the whole
    # install goes (its user deleted their account).
    receipt = models.ForeignKey(
        ConsentReceipt,
        on_delete=models.RESTRICT,
        related_name="grants",
        verbose_name=_("consent receipt"),
    )
    granted_at = models.DateTimeField(_("granted"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["install", "scope"]
        constraints = [
            models.UniqueConstraint(
                fields=["install", "scope"],
                condition=models.Q(revoked_at__isnull=True),
                name="grant_one_live_per_scope",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.install_id}: {self.scope}"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class InstallEvent(models.Model):
    """Who did what to an install: installed, consented, revoked a scope, updated,
    uninstalled."""

    install = models.ForeignKey(
        Install,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("install"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=32)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("install event")
        verbose_name_plural = _("install events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.install_id}: {self.action}"
