from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from .agents import Agent, AgentVersion
from .organizations import Organization

stars_validators = [MinValueValidator(1), MaxValueValidator(5)]


class Review(models.Model):
    """A user's review of an agent they installed: one per user and agent, edited in
    place with every earlier text kept as a revision."""

    class State(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HIDDEN = "hidden", _("Hidden by a moderator")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="reviews",
        verbose_name=_("user"),
    )
    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="reviews", verbose_name=_("agent")
    )
    # The version the reviewer used.
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.PROTECT,
        related_name="reviews",
        verbose_name=_("version"),
    )
    stars = models.PositiveSmallIntegerField(_("stars"), validators=stars_validators)
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("review"), max_length=5000)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.VISIBLE
    )
    # Open flags, kept by the flag and moderation services for the queue's order.
    open_flags = models.PositiveIntegerField(_("open flags"), default=0)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agent"],
                name="review_one_per_user_and_agent",
                violation_error_message=_("You have reviewed this agent already."),
            ),
            models.CheckConstraint(
                condition=models.Q(stars__gte=1, stars__lte=5),
                name="review_stars_1_to_5",
            ),
        ]
        indexes = [
            models.Index(fields=["agent", "state", "-created_at"]),
            models.Index(fields=["state", "-open_flags"]),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.agent}: {self.stars}★"


class ReviewRevision(models.Model):
    """An earlier text of a review, kept when the reviewer edits it."""

    review = models.ForeignKey(
        Review,
        on_delete=models.CASCADE,
        related_name="revisions",
        verbose_name=_("review"),
    )
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("version"),
    )
    stars = models.PositiveSmallIntegerField(_("stars"), validators=stars_validators)
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("review"))
    written_at = models.DateTimeField(_("written"))
    created_at = models.DateTimeField(_("replaced"), auto_now_add=True)

    class Meta:
        verbose_name = _("review revision")
        verbose_name_plural = _("review revisions")
        ordering = ["review", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.review_id} at {self.written_at:%Y-%m-%d}"


class ReviewReply(models.Model):
    """The publisher's one reply to a review."""

    review = models.OneToOneField(
        Review, on_delete=models.CASCADE, related_name="reply", verbose_name=_("review")
    )
    publisher = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="review_replies",
        verbose_name=_("publisher"),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    body = models.TextField(_("reply"), max_length=5000)
    created_at = models.DateTimeField(_("written"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("review reply")
        verbose_name_plural = _("review replies")

    def __str__(self) -> str:
        return f"{self.publisher} on review {self.review_id}"


class ReviewFlag(models.Model):
    """Someone's report that a review breaks the rules; a moderator resolves it."""

    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam or advertising")
        OFFENSIVE = "offensive", _("Offensive or abusive")
        FAKE = "fake", _("Not a genuine experience")
        OFF_TOPIC = "off_topic", _("Not about this agent")
        PERSONAL_DATA = "personal_data", _("Shows personal data")
        OTHER = "other", _("Other")

    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="flags", verbose_name=_("review")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="review_flags",
        verbose_name=_("flagged by"),
    )
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("flagged"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        verbose_name = _("review flag")
        verbose_name_plural = _("review flags")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["review", "user"],
                name="review_flag_one_per_user",
                violation_error_message=_("You have flagged this review already."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} flagged {self.review_id}: {self.reason}"


class ReviewEvent(models.Model):
    """Who did what to a review: written, edited, replied to, flagged, hidden or
    restored by a moderator (with the reason)."""

    review = models.ForeignKey(
        Review,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("review"),
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
    from_state = models.CharField(_("from"), max_length=16, blank=True)
    to_state = models.CharField(_("to"), max_length=16, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.review_id}: {self.action}"


class ReviewSignal(models.Model):
    """A sign that an agent's reviews may be manipulated, computed by a Celery task
    for moderators and for the credit rating."""

    class Kind(models.TextChoices):
        NEW_ACCOUNTS = "new_accounts", _("Many reviews from accounts made the same day")
        BURST = "burst", _("A burst of 5-star or 1-star reviews")
        SINGLE_PUBLISHER = (
            "single_publisher",
            _("Reviewers who only review this publisher's agents"),
        )

    agent = models.ForeignKey(
        Agent,
        on_delete=models.CASCADE,
        related_name="review_signals",
        verbose_name=_("agent"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    score = models.FloatField(_("strength"), default=0)
    details = models.JSONField(_("details"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("review signal")
        verbose_name_plural = _("review signals")
        ordering = ["-computed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "kind"], name="review_signal_one_per_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent}: {self.kind}"
