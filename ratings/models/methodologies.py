"""Rating methodologies (indicators, grade scale, override rules), enrolment of
entities, and the audit trail of both."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.models import Organization


class Methodology(models.Model):
    """An industry body's versioned rating methodology: indicators with weights,
    a grade scale and override rules. Published before use, public, and never
    changed once published: a change is a new version.

    draft -> published -> retired
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="methodologies",
        verbose_name=_("industry body"),
    )
    code = models.SlugField(_("code"), max_length=50)
    version = models.PositiveIntegerField(_("version"), default=1)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    text_en = models.TextField(_("methodology text (English)"))
    text_zh = models.TextField(_("methodology text (Chinese)"), blank=True)
    # What an entity signs when it enrols under this body.
    commitment_en = models.TextField(_("credit commitment (English)"))
    commitment_zh = models.TextField(_("credit commitment (Chinese)"), blank=True)
    # Below this share of the indicator weight with data, a rating is provisional.
    coverage_threshold = models.DecimalField(
        _("coverage threshold"), max_digits=3, decimal_places=2, default=Decimal("0.60")
    )
    validity_days = models.PositiveIntegerField(
        _("rating validity (days)"), default=365
    )
    objection_days = models.PositiveSmallIntegerField(
        _("working days to object"), default=5
    )
    evidence_days = models.PositiveSmallIntegerField(
        _("working days to add evidence"), default=10
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.DRAFT
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("written by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    # The first time a rating cycle used it: from then on it is history.
    used_at = models.DateTimeField(_("first used"), null=True, blank=True)

    class Meta:
        verbose_name = _("methodology")
        verbose_name_plural = _("methodologies")
        ordering = ["body", "code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["body", "code", "version"], name="methodology_unique_version"
            ),
            models.CheckConstraint(
                condition=models.Q(coverage_threshold__gte=0)
                & models.Q(coverage_threshold__lte=1),
                name="methodology_coverage_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class Indicator(models.Model):
    """One indicator of a methodology: where its data comes from, how it is
    normalised to 0-100, which way is better, and its weight."""

    class Category(models.TextChoices):
        MISCONDUCT = "misconduct", _("Misconduct record")
        CONSUMER = "consumer", _("Consumer outcomes")
        DISCLOSURE = "disclosure", _("Transparency and disclosure")
        SAFETY = "safety", _("Safety and defect handling")
        GOVERNANCE = "governance", _("Governance and verification")
        COOPERATION = "cooperation", _("Cooperation")

    class Source(models.TextChoices):
        REVIEW_SCORE = "review_score", _("Review score")
        REVIEW_SIGNALS = "review_signals", _("Signs of review manipulation")
        FINDINGS = "findings", _("Substantiated misconduct findings")
        CERTIFICATES_HELD = "certificates_held", _("Certificates held")
        CERTIFICATES_LOST = "certificates_lost", _("Certificates revoked or suspended")
        RECALLS = "recalls", _("Recalls")
        ADVISORIES = "advisories", _("Security advisories")
        DISCLOSURE = "disclosure", _("Disclosure completeness of listings")
        REVIEW_REPLY_TIME = "review_reply_time", _("Time to answer reviews")
        REPORT_REPLY_TIME = "report_reply_time", _("Time to answer reports")
        VERIFICATION = "verification", _("Verified identity and domain")

    class Normalisation(models.TextChoices):
        LINEAR = "linear", _("Linear between bounds")
        RATE_SHRUNK = "rate_shrunk", _("Rate shrunk toward the mean")
        WILSON_LOWER = "wilson_lower", _("Wilson lower bound")
        PENALTY_DECAY = "penalty_decay", _("Decaying penalty")
        BOOLEAN = "boolean", _("Yes or no")

    class Direction(models.TextChoices):
        HIGHER_IS_BETTER = "higher_is_better", _("Higher is better")
        LOWER_IS_BETTER = "lower_is_better", _("Lower is better")

    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.CASCADE,
        related_name="indicators",
        verbose_name=_("methodology"),
    )
    code = models.SlugField(_("code"), max_length=50)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200, blank=True)
    weight = models.DecimalField(_("weight"), max_digits=5, decimal_places=2)
    source = models.CharField(_("data source"), max_length=24, choices=Source.choices)
    normalisation = models.CharField(
        _("normalisation"), max_length=16, choices=Normalisation.choices
    )
    direction = models.CharField(
        _("direction"), max_length=20, choices=Direction.choices
    )
    # Bounds, prior weight and mean, decay periods: what the normalisation needs.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")
        ordering = ["methodology", "position", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["methodology", "code"], name="indicator_unique_code"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gt=0), name="indicator_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class GradeBand(models.Model):
    """A grade of the methodology's scale: the lowest score that earns it, and what
    it means, in public words."""

    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.CASCADE,
        related_name="bands",
        verbose_name=_("methodology"),
    )
    grade = models.CharField(_("grade"), max_length=8)
    min_score = models.DecimalField(_("lowest score"), max_digits=5, decimal_places=2)
    definition_en = models.TextField(_("definition (English)"))
    definition_zh = models.TextField(_("definition (Chinese)"), blank=True)

    class Meta:
        verbose_name = _("grade band")
        verbose_name_plural = _("grade bands")
        ordering = ["methodology", "-min_score"]
        constraints = [
            models.UniqueConstraint(
                fields=["methodology", "grade"], name="grade_band_unique_grade"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grade} >= {self.min_score}"


class OverrideRule(models.Model):
    """A rule that acts after the score: forces a grade (e.g. D for an unresolved
    severe finding) or caps it (e.g. at BBB without a high-risk gate)."""

    class Kind(models.TextChoices):
        FORCE = "force", _("Force the grade")
        CAP = "cap", _("Cap the grade")

    class Condition(models.TextChoices):
        SEVERE_FINDING_OPEN = "severe_finding_open", _("An unresolved serious finding")
        DISHONESTY_LISTED = "dishonesty_listed", _("On a legal dishonesty list")
        CONCEALED_DEFECT = "concealed_defect", _("Concealed a defect that caused harm")
        HIGH_RISK_GATE_MISSING = (
            "high_risk_gate_missing",
            _("A high-risk listing without its filing or certificates"),
        )

    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.CASCADE,
        related_name="overrides",
        verbose_name=_("methodology"),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    condition = models.CharField(
        _("condition"), max_length=32, choices=Condition.choices
    )
    grade = models.CharField(_("grade"), max_length=8)

    class Meta:
        verbose_name = _("override rule")
        verbose_name_plural = _("override rules")
        ordering = ["methodology", "kind", "condition"]
        constraints = [
            models.UniqueConstraint(
                fields=["methodology", "kind", "condition"], name="override_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.grade} if {self.condition}"


class GradeMeasure(models.Model):
    """What a grade of the methodology calls for: a sanction a person of the body
    decides to impose on an entity with that grade (the dishonesty list, store
    downranking, a publishing restriction, suspension) or an incentive the store
    grants while the grade stands (a store badge, fast-track review)."""

    class Kind(models.TextChoices):
        DISHONESTY_LIST = "dishonesty_list", _("Dishonesty list")
        DOWNRANK = "downrank", _("Store downranking")
        PUBLISHING_REVIEW = "publishing_review", _("New versions need manual review")
        PUBLISHING_BLOCK = "publishing_block", _("New versions are blocked")
        SUSPENSION = "suspension", _("Suspension from the store")
        STORE_BADGE = "store_badge", _("Store badge")
        FAST_TRACK = "fast_track", _("Fast-track review")

    INCENTIVES = frozenset({Kind.STORE_BADGE, Kind.FAST_TRACK})

    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.CASCADE,
        related_name="measures",
        verbose_name=_("methodology"),
    )
    grade = models.CharField(_("grade"), max_length=8)
    kind = models.CharField(_("measure"), max_length=20, choices=Kind.choices)
    # How long a sanction lasts, and how long before its credit repair may be
    # asked for; not used by incentives, which last as long as the grade.
    duration_days = models.PositiveIntegerField(_("lasts (days)"), default=365)
    repair_after_days = models.PositiveIntegerField(
        _("credit repair possible after (days)"), default=90
    )

    class Meta:
        verbose_name = _("grade measure")
        verbose_name_plural = _("grade measures")
        ordering = ["methodology", "grade", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["methodology", "grade", "kind"], name="measure_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grade}: {self.kind}"

    @property
    def is_incentive(self) -> bool:
        return self.kind in self.INCENTIVES


class Enrolment(models.Model):
    """An entity's voluntary enrolment in an industry body's rating: the credit
    commitment it signed (text, who, when). Withdrawing ends future ratings and
    keeps the history public."""

    entity = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("entity"),
    )
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="enrolled",
        verbose_name=_("industry body"),
    )
    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.PROTECT,
        related_name="enrolments",
        verbose_name=_("methodology in force when signed"),
    )
    commitment_text = models.TextField(_("commitment signed"))
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("signed by"),
    )
    signed_at = models.DateTimeField(_("signed"), auto_now_add=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("withdrawn by"),
    )

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "body"],
                condition=models.Q(withdrawn_at__isnull=True),
                name="enrolment_one_active_per_body",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} @ {self.body}"


class CreditEvent(models.Model):
    """Who did what to a methodology or an enrolment, and when."""

    methodology = models.ForeignKey(
        Methodology,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    enrolment = models.ForeignKey(
        Enrolment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    cycle = models.ForeignKey(
        "RatingCycle",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    rating = models.ForeignKey(
        "Rating",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    # Events about an entity outside a rating (watch, sanction, credit repair).
    entity = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
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
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("credit event")
        verbose_name_plural = _("credit events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.action
