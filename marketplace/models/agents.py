from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.messages import render_message

from .organizations import Organization, slug_validator

# Semantic versions (semver.org 2.0.0), without build metadata.
semver_validator = RegexValidator(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$",
    _("Use a semantic version such as 1.0.0 or 2.1.0-beta.1."),
    code="invalid_version",
)


class Deployment(models.TextChoices):
    """How an agent is deployed, as its capability declaration says."""

    CLOUD = "cloud", _("Cloud service")
    ON_DEVICE = "on_device", _("On device")
    PRIVATE = "private", _("Private deployment")
    HYBRID = "hybrid", _("Hybrid")


class PricingModel(models.TextChoices):
    """How a version charges, as its declaration's ``pricing.model`` says."""

    FREE = "free", _("Free")
    ONE_TIME = "one_time", _("One-time price")
    SUBSCRIPTION = "subscription", _("Subscription")
    USAGE = "usage", _("Usage-based")


class Domain(models.Model):
    """A field of application, with the risk tier the operator gives it."""

    class RiskTier(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    risk_tier = models.CharField(
        _("risk tier"), max_length=10, choices=RiskTier.choices, default=RiskTier.LOW
    )
    # High-tier domains always need a filing number; the operator may ask for one in
    # other domains too.
    needs_filing = models.BooleanField(_("needs a filing number"), default=False)
    # What a listing in the domain must hold before it is published: a valid
    # certificate of each of these schemes, and of some scheme of each of these
    # dimensions (issued by a body accredited for it).
    required_schemes: "models.ManyToManyField[Any, Any]" = models.ManyToManyField(
        "Scheme",
        blank=True,
        related_name="required_by_domains",
        verbose_name=_("required certification schemes"),
    )
    required_dimensions = models.JSONField(
        _("required certification dimensions"), default=list, blank=True
    )

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def requires_filing(self) -> bool:
        return self.needs_filing or self.risk_tier == self.RiskTier.HIGH


class ProhibitedClaim(models.Model):
    """A phrase that no listing may use (for example "guaranteed returns", "100%
    accurate"); the automated checks look for it, case-insensitively."""

    phrase = models.CharField(_("phrase"), max_length=200, unique=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("prohibited claim")
        verbose_name_plural = _("prohibited claims")
        ordering = ["phrase"]

    def __str__(self) -> str:
        return self.phrase


class Agent(models.Model):
    class AgeRating(models.TextChoices):
        ALL = "all", _("All ages")
        AGE_12 = "12+", _("12+")
        AGE_16 = "16+", _("16+")
        AGE_18 = "18+", _("18+")

    class Status(models.TextChoices):
        """The listing's status marker (after PEP 792)."""

        ACTIVE = "active", _("Active")
        DEPRECATED = "deprecated", _("Deprecated")
        ARCHIVED = "archived", _("Archived")
        QUARANTINED = "quarantined", _("Quarantined")

    publisher = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="agents",
        verbose_name=_("publisher"),
    )
    slug = models.SlugField(
        _("short name"),
        max_length=50,
        validators=[slug_validator],
        help_text=_("Part of the agent's permanent identifier; cannot be changed."),
    )
    name = models.CharField(_("name"), max_length=200)
    summary = models.CharField(_("summary"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    domain = models.ForeignKey(
        Domain,
        on_delete=models.PROTECT,
        related_name="agents",
        verbose_name=_("domain"),
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)
    homepage = models.URLField(_("homepage"), blank=True)
    privacy_policy_url = models.URLField(_("privacy policy"), blank=True)
    terms_url = models.URLField(_("terms of service"), blank=True)
    age_rating = models.CharField(
        _("age rating"), max_length=8, choices=AgeRating.choices, default=AgeRating.ALL
    )
    anti_addiction_measures = models.TextField(
        _("anti-addiction measures"),
        blank=True,
        help_text=_("Required for agents that minors may use."),
    )
    filing_number = models.CharField(_("filing number"), max_length=100, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    # Kept by the publishing services from the latest published version, so that
    # listing and search need no join into versions.
    latest_version = models.ForeignKey(
        "AgentVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("latest published version"),
    )
    protocols = models.CharField(_("protocols"), max_length=200, blank=True)
    deployment = models.CharField(_("deployment"), max_length=20, blank=True)
    # From the latest published version's declaration: its pricing model ("" when
    # it declares none) and whether it is a companion or emotional-support agent.
    pricing_model = models.CharField(
        _("pricing model"), max_length=16, choices=PricingModel.choices, blank=True
    )
    companion = models.BooleanField(_("companion agent"), default=False)
    # What search reads (marketplace/search.py): words and CJK bigrams, each after
    # a space. On PostgreSQL a generated column holds their weighted tsvector, with
    # a GIN index (migration 0008).
    search_name = models.TextField(_("search tokens of the name"), blank=True)
    search_text = models.TextField(_("search tokens"), blank=True)
    # The ACPs identity code (AIC) under the operator's registrar OID arc, given
    # when the agent is first approved for publication, if an arc is configured.
    aic = models.CharField(
        _("ACPs identity code"), max_length=200, null=True, blank=True, unique=True
    )
    # Kept by the reviews and installs services, so that lists need no aggregate.
    rating_count = models.PositiveIntegerField(_("ratings"), default=0)
    rating_mean = models.FloatField(_("mean rating"), null=True, blank=True)
    # The Bayesian average the store sorts by: few ratings count for little.
    rating_score = models.FloatField(_("rating score"), default=0)
    # How many visible reviews gave each number of stars, kept by the reviews
    # service with each change (no recount on page views).
    rating_1 = models.PositiveIntegerField(_("1-star ratings"), default=0)
    rating_2 = models.PositiveIntegerField(_("2-star ratings"), default=0)
    rating_3 = models.PositiveIntegerField(_("3-star ratings"), default=0)
    rating_4 = models.PositiveIntegerField(_("4-star ratings"), default=0)
    rating_5 = models.PositiveIntegerField(_("5-star ratings"), default=0)
    install_count = models.PositiveIntegerField(_("install count"), default=0)
    # The last liveness probe of the declared endpoint (a beat job).
    online = models.BooleanField(_("online"), null=True, blank=True)
    liveness_checked_at = models.DateTimeField(_("last probed"), null=True, blank=True)
    liveness_latency_ms = models.PositiveIntegerField(
        _("response time (ms)"), null=True, blank=True
    )
    # Whether the endpoint answered over IPv6 too (an AAAA record and a connection
    # to it), at the last probe; None before any probe.
    ipv6_ready = models.BooleanField(_("IPv6 ready"), null=True, blank=True)
    published_at = models.DateTimeField(_("first published"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["publisher__slug", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["publisher", "slug"], name="agent_slug_unique_per_publisher"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "published_at"]),
            # The store's default order; lets a page of the list stop after 20 rows.
            models.Index(fields=["name", "id"], name="agent_name_order"),
            models.Index(fields=["-published_at", "-id"], name="agent_newest_order"),
            models.Index(fields=["-rating_score", "id"], name="agent_rating_order"),
            models.Index(fields=["-install_count", "id"], name="agent_installs_order"),
            # The store's facets without a query: an index-only scan of listed agents.
            models.Index(
                fields=["domain", "deployment"],
                condition=models.Q(latest_version__isnull=False)
                & ~models.Q(status="quarantined"),
                name="agent_listed_facets",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.publisher.slug}/{self.slug}"

    @property
    def identifier(self) -> str:
        """The permanent identifier: did:web:<site-host>:agents:<publisher>:<agent>.
        A port in the host is percent-encoded, as did:web requires."""
        host = settings.SITE_HOST.replace(":", "%3A")
        return f"did:web:{host}:agents:{self.publisher.slug}:{self.slug}"

    @property
    def is_listed(self) -> bool:
        """In the store and its public documents: published and not quarantined
        (what ``selectors.search.listed_agents`` asks of the database)."""
        return (
            self.latest_version_id is not None
            and self.status != self.Status.QUARANTINED
        )

    @property
    def protocol_list(self) -> list[str]:
        return [p for p in self.protocols.split(",") if p]

    @property
    def for_minors(self) -> bool:
        return self.rated_for_minors(self.age_rating)

    @staticmethod
    def rated_for_minors(age_rating: str) -> bool:
        """Whether minors may use an agent of this age rating (any but 18+); bulk
        readers that load the rating alone ask this, as ``for_minors`` does."""
        return age_rating != Agent.AgeRating.AGE_18


class AgentVersion(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted")
        IN_REVIEW = "in_review", _("In review")
        PUBLISHED = "published", _("Published")
        REJECTED = "rejected", _("Rejected")
        YANKED = "yanked", _("Yanked")
        RECALLED = "recalled", _("Recalled")

    agent = models.ForeignKey(
        Agent,
        on_delete=models.CASCADE,
        related_name="versions",
        verbose_name=_("agent"),
    )
    version = models.CharField(
        _("version"), max_length=64, validators=[semver_validator]
    )
    changelog = models.TextField(_("changes"), blank=True)
    declaration = models.JSONField(_("capability declaration"))
    # SHA-256 of the RFC 8785 canonical declaration: what certificates bind to.
    declaration_digest = models.CharField(_("declaration digest"), max_length=64)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.DRAFT
    )
    # How many times the version was submitted: each submission runs the checks once.
    submissions = models.PositiveIntegerField(_("submissions"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        verbose_name = _("agent version")
        verbose_name_plural = _("agent versions")
        ordering = ["agent", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "version"], name="version_unique_per_agent"
            ),
        ]
        indexes = [models.Index(fields=["state", "published_at"])]

    def __str__(self) -> str:
        return f"{self.agent} {self.version}"


class CheckResult(models.Model):
    """One automated check of a submitted version."""

    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.CASCADE,
        related_name="checks",
        verbose_name=_("version"),
    )
    run = models.PositiveIntegerField(_("run"), default=1)
    name = models.CharField(_("check"), max_length=50)
    passed = models.BooleanField(_("passed"))
    # The reason is a message id, translated when shown; params fill its placeholders.
    reason = models.TextField(_("reason"), blank=True)
    params = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("check result")
        verbose_name_plural = _("check results")
        ordering = ["version", "-run", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "run", "name"], name="check_unique_per_run"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} {self.name}: {'ok' if self.passed else 'failed'}"

    @property
    def reason_text(self) -> str:
        """The reason in the active language."""
        if not self.reason:
            return ""
        return render_message(self.reason, self.params)


class ReviewDecision(models.Model):
    class Verdict(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")

    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.CASCADE,
        related_name="decisions",
        verbose_name=_("version"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    verdict = models.CharField(_("verdict"), max_length=10, choices=Verdict.choices)
    reasons = models.TextField(_("reasons"), blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.version}: {self.verdict}"


class AgentEvent(models.Model):
    """Who moved an agent or one of its versions from what to what, and why."""

    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="events", verbose_name=_("agent")
    )
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("version"),
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
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("agent event")
        verbose_name_plural = _("agent events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.agent}: {self.action}"
