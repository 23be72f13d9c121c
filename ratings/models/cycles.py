"""Rating cycles, their chunks of entities, and the ratings they compute."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.models import Organization

from .methodologies import Methodology


class RatingCycle(models.Model):
    """One run of a methodology over the enrolled entities (or over one entity,
    when a watch calls for it). Chunks of entities are scored by workers; the
    finaliser counts the ratings and sends again what is missing.

    scheduled -> collecting -> scoring -> review -> published | cancelled
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        COLLECTING = "collecting", _("Collecting evidence")
        SCORING = "scoring", _("Scoring")
        REVIEW = "review", _("In review")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", _("Cancelled")

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", _("On schedule")
        MANUAL = "manual", _("Started by hand")
        WATCH = "watch", _("Rating watch")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="rating_cycles",
        verbose_name=_("industry body"),
    )
    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.PROTECT,
        related_name="cycles",
        verbose_name=_("methodology"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.SCHEDULED
    )
    trigger = models.CharField(
        _("trigger"), max_length=16, choices=Trigger.choices, default=Trigger.MANUAL
    )
    # A watch cycle rates this one entity.
    entity = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("entity watched"),
    )
    # The evidence is read as it stood at this moment: a cycle can be re-run and
    # give the same ratings.
    as_of = models.DateTimeField(_("evidence as of"))
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    chunk_size = models.PositiveIntegerField(_("entities per chunk"), default=500)
    # Store-wide figures the evidence of every entity uses alike (the mean review,
    # the prior of the Bayesian average), computed once when the cycle starts.
    context = models.JSONField(_("cycle-wide evidence"), default=dict, blank=True)
    total = models.PositiveIntegerField(_("entities"), default=0)
    done = models.PositiveIntegerField(_("entities rated"), default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    scored_at = models.DateTimeField(_("scoring finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("rating cycle")
        verbose_name_plural = _("rating cycles")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "scheduled_for"])]

    def __str__(self) -> str:
        return f"{self.methodology} {self.public_id}"


class CycleChunk(models.Model):
    """The entities one task scores; done once every one of them has a rating."""

    cycle = models.ForeignKey(
        RatingCycle,
        on_delete=models.CASCADE,
        related_name="chunks",
        verbose_name=_("cycle"),
    )
    index = models.PositiveIntegerField(_("index"))
    entity_ids = models.JSONField(_("entities"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    class Meta:
        verbose_name = _("cycle chunk")
        verbose_name_plural = _("cycle chunks")
        ordering = ["cycle", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["cycle", "index"], name="chunk_unique_index"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cycle_id}#{self.index}"


class Rating(models.Model):
    """An entity's rating in a cycle: its score, grade, the contribution of every
    indicator (they add up to the score), and the evidence it used with its hash,
    so that it can be recomputed and explained.

    computed -> analyst_reviewed -> committee_approved -> notice
    notice -> published | objected; objected -> re_reviewed -> published
    published -> superseded | withdrawn
    """

    class State(models.TextChoices):
        COMPUTED = "computed", _("Computed")
        ANALYST_REVIEWED = "analyst_reviewed", _("Reviewed by an analyst")
        COMMITTEE_APPROVED = "committee_approved", _("Approved by the committee")
        NOTICE = "notice", _("Notified, open to objection")
        OBJECTED = "objected", _("Objected")
        RE_REVIEWED = "re_reviewed", _("Reviewed again")
        PUBLISHED = "published", _("Published")
        SUPERSEDED = "superseded", _("Superseded")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Outlook(models.TextChoices):
        POSITIVE = "positive", _("Positive")
        STABLE = "stable", _("Stable")
        NEGATIVE = "negative", _("Negative")
        DEVELOPING = "developing", _("Developing")

    cycle = models.ForeignKey(
        RatingCycle,
        on_delete=models.CASCADE,
        related_name="ratings",
        verbose_name=_("cycle"),
    )
    entity = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="credit_ratings",
        verbose_name=_("entity"),
    )
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2)
    # The letter, or the provisional grade when too little weight had data.
    grade = models.CharField(_("grade"), max_length=8)
    computed_grade = models.CharField(_("grade as computed"), max_length=8)
    provisional = models.BooleanField(_("provisional"), default=False)
    coverage = models.DecimalField(_("coverage"), max_digits=5, decimal_places=4)
    contributions = models.JSONField(_("indicator contributions"))
    adverse_factors = models.JSONField(_("adverse factors"), default=list)
    overrides = models.JSONField(_("overrides applied"), default=list)
    evidence = models.JSONField(_("evidence snapshot"))
    evidence_hash = models.CharField(_("evidence SHA-256"), max_length=64)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.COMPUTED
    )
    # The analyst's review: at most one notch up or down, with a written reason.
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("analyst"),
    )
    adjustment = models.SmallIntegerField(_("notches adjusted"), default=0)
    adjustment_reason = models.TextField(_("reason for the adjustment"), blank=True)
    reviewed_at = models.DateTimeField(_("reviewed"), null=True, blank=True)
    # The committee's chair in the current round (never the analyst).
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("committee chair"),
    )
    committee_round = models.PositiveSmallIntegerField(_("committee round"), default=1)
    # The statement of reasons the entity is sent, and its windows.
    statement = models.JSONField(_("statement of reasons"), default=dict, blank=True)
    notice_at = models.DateTimeField(_("notified"), null=True, blank=True)
    objection_deadline = models.DateTimeField(
        _("objections until"), null=True, blank=True
    )
    evidence_deadline = models.DateTimeField(
        _("new evidence until"), null=True, blank=True
    )
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    # Surveillance of a published rating: which way it may move, and when it
    # lapses (published_at plus the methodology's validity).
    outlook = models.CharField(
        _("outlook"), max_length=12, choices=Outlook.choices, default=Outlook.STABLE
    )
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("computed"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("credit rating")
        verbose_name_plural = _("credit ratings")
        ordering = ["cycle", "entity"]
        constraints = [
            # Chunk tasks write with this key: a chunk run twice rates no one twice.
            models.UniqueConstraint(
                fields=["cycle", "entity"], name="rating_unique_per_cycle"
            ),
        ]
        indexes = [models.Index(fields=["entity", "state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.entity} {self.grade} ({self.cycle_id})"


class CommitteeVote(models.Model):
    """One committee member's vote on a rating in one round (the first review, or
    the review after an objection)."""

    class Vote(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Send back")

    rating = models.ForeignKey(
        Rating, on_delete=models.CASCADE, related_name="votes", verbose_name=_("rating")
    )
    round = models.PositiveSmallIntegerField(_("round"))
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("member"),
    )
    vote = models.CharField(_("vote"), max_length=8, choices=Vote.choices)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("committee vote")
        verbose_name_plural = _("committee votes")
        ordering = ["rating", "round", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rating", "round", "member"], name="vote_once_per_round"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rating_id} r{self.round}: {self.vote}"


class ConflictOfInterest(models.Model):
    """A member's declared conflict with an entity: they take no part in its
    ratings."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="credit_conflicts",
        verbose_name=_("member"),
    )
    entity = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("entity"),
    )
    reason = models.TextField(_("reason"))
    declared_at = models.DateTimeField(_("declared"), auto_now_add=True)

    class Meta:
        verbose_name = _("declared conflict of interest")
        verbose_name_plural = _("declared conflicts of interest")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "entity"], name="conflict_once_per_entity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} / {self.entity}"


class Objection(models.Model):
    """The entity's objection to a rating under notice, on grounds of new facts
    or misread evidence; answered with reasons after a second committee round."""

    class Grounds(models.TextChoices):
        NEW_FACTS = "new_facts", _("New facts")
        MISREAD_EVIDENCE = "misread_evidence", _("Evidence misread")

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        UPHELD = "upheld", _("Upheld")
        REJECTED = "rejected", _("Rejected")

    rating = models.OneToOneField(
        Rating,
        on_delete=models.CASCADE,
        related_name="objection",
        verbose_name=_("rating"),
    )
    grounds = models.CharField(_("grounds"), max_length=20, choices=Grounds.choices)
    text = models.TextField(_("objection"))
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("filed by"),
    )
    filed_at = models.DateTimeField(_("filed"), auto_now_add=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.OPEN
    )
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("answered by"),
    )
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["-filed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rating_id}: {self.state}"
