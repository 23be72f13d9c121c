import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# Slugs go into URLs and into agent identifiers (did:web:<host>:agents:<slug>:...),
# so they are plain: lower-case letters, digits and single hyphens.
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){1,48}[a-z0-9]$"
slug_validator = RegexValidator(
    SLUG_PATTERN,
    _(
        "Use 3 to 50 lower-case letters, digits and hyphens, starting and ending "
        "with a letter or digit."
    ),
    code="invalid_slug",
)


class Organization(models.Model):
    class Kind(models.TextChoices):
        PUBLISHER = "publisher", _("Publisher")
        CERTIFICATION_BODY = "certification_body", _("Certification body")
        INDUSTRY_BODY = "industry_body", _("Industry body")
        REGULATOR = "regulator", _("Regulator")
        OPERATOR = "operator", _("Platform operator")

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(
        _("short name"),
        max_length=50,
        unique=True,
        validators=[slug_validator],
        help_text=_("Used in addresses and agent identifiers; cannot be changed."),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    description = models.TextField(_("description"), blank=True)
    website = models.URLField(_("website"), blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    # Business registration: the unified social credit code in China (checked by
    # its GB 32100 check digit), or a foreign registration number.
    registration_country = models.CharField(
        _("country of registration"), max_length=2, default="CN"
    )
    registration_number = models.CharField(
        _("registration number"), max_length=50, blank=True
    )
    # Set by the operator after checking the registration; cleared when it changes.
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    # Control of a web domain, proved by a DNS TXT record or a file under
    # /.well-known/ that holds the token (services/domain_control.py).
    domain = models.CharField(_("web domain"), max_length=253, blank=True)
    domain_token = models.CharField(_("domain proof token"), max_length=64, blank=True)
    domain_verified_at = models.DateTimeField(
        _("domain verified"), null=True, blank=True
    )
    domain_checked_at = models.DateTimeField(
        _("domain last checked"), null=True, blank=True
    )
    domain_check_error = models.CharField(
        _("domain check result"), max_length=300, blank=True
    )
    # When a check was last asked for (by a manager or the re-check sweep): the
    # cooldown between requests and the sweep's guard against enqueuing twice.
    domain_check_requested_at = models.DateTimeField(
        _("domain check requested"), null=True, blank=True
    )
    # The grade of the organisation's latest published credit rating, kept by the
    # ratings app through marketplace's services; the rank orders grades (higher is
    # better) so that search can ask for "at least A".
    credit_grade = models.CharField(_("credit grade"), max_length=8, blank=True)
    credit_grade_rank = models.PositiveSmallIntegerField(
        _("credit grade rank"), null=True, blank=True
    )

    # The measures an industry body's rating calls for, as ratings decides them
    # (``services.organizations.organization_set_credit_measures``): sanctions
    # in force and the incentives of a top grade. The store applies them.
    class PublishingRestriction(models.TextChoices):
        NONE = "", _("None")
        REVIEW = "review", _("New versions need manual review")
        BLOCKED = "blocked", _("New versions are blocked")

    credit_outlook = models.CharField(_("credit outlook"), max_length=12, blank=True)
    credit_on_watch = models.BooleanField(_("on rating watch"), default=False)
    dishonesty_listed = models.BooleanField(_("on the dishonesty list"), default=False)
    store_downranked = models.BooleanField(_("downranked in the store"), default=False)
    publishing_restriction = models.CharField(
        _("publishing restriction"),
        max_length=8,
        choices=PublishingRestriction.choices,
        blank=True,
    )
    credit_suspended = models.BooleanField(
        _("suspended by credit sanction"), default=False
    )
    credit_badge = models.BooleanField(_("top-grade store badge"), default=False)
    fast_track_review = models.BooleanField(_("fast-track review"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        indexes = [models.Index(fields=["kind", "name"])]
        constraints = [
            # One organisation at a time holds a domain as verified; a claim that is
            # not verified yet blocks no one.
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(domain_verified_at__isnull=False),
                name="organization_verified_domain_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organization-detail", kwargs={"slug": self.slug})

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def verified_domain(self) -> str | None:
        """The web domain the organisation proved it controls, or None."""
        return self.domain if self.domain and self.domain_verified_at else None


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        ADMIN = "admin", _("Administrator")
        MEMBER = "member", _("Member")
        ANALYST = "analyst", _("Analyst")
        COMMITTEE_MEMBER = "committee_member", _("Committee member")
        REVIEWER = "reviewer", _("Reviewer")
        ASSESSOR = "assessor", _("Assessor")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("user"),
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("organisation"),
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="membership_unique_per_pair"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class Invitation(models.Model):
    """An invitation, by e-mail, to join an organisation with a role. The link in the
    e-mail carries ``public_id`` signed with the site's key; nothing secret is
    stored."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACCEPTED = "accepted", _("Accepted")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="invitations",
        verbose_name=_("organisation"),
    )
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=32, choices=Membership.Role.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("accepted by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    sent_at = models.DateTimeField(_("e-mail sent"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=models.Q(state="pending"),
                name="invitation_one_pending_per_email",
                violation_error_message=_(
                    "This address already has a pending invitation."
                ),
            ),
        ]
        indexes = [models.Index(fields=["state", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.organization} ({self.role})"


class OrganizationEvent(models.Model):
    """The audit trail of an organisation: who did what to it, and when."""

    class Action(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated")
        MEMBER_INVITED = "member_invited", _("Member invited")
        INVITATION_REVOKED = "invitation_revoked", _("Invitation revoked")
        INVITATION_EXPIRED = "invitation_expired", _("Invitation expired")
        MEMBER_JOINED = "member_joined", _("Member joined")
        MEMBER_REMOVED = "member_removed", _("Member removed")
        MEMBER_LEFT = "member_left", _("Member left")
        ROLE_CHANGED = "role_changed", _("Role changed")
        KEY_ADDED = "key_added", _("Signing key added")
        KEY_REVOKED = "key_revoked", _("Signing key revoked")
        REGISTRATION_CHANGED = "registration_changed", _("Registration changed")
        VERIFIED = "verified", _("Verified")
        DOMAIN_CLAIMED = "domain_claimed", _("Domain claimed")
        DOMAIN_VERIFIED = "domain_verified", _("Domain verified")
        DOMAIN_CHECK_FAILED = "domain_check_failed", _("Domain check failed")

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("organisation"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(_("action"), max_length=32, choices=Action.choices)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("organisation event")
        verbose_name_plural = _("organisation events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.organization}: {self.action}"


class PublisherKey(models.Model):
    """An Ed25519 public key a publisher registered: cards it signs are verified
    against these keys only (never against a key fetched from a URL in the card)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="keys",
        verbose_name=_("organisation"),
    )
    kid = models.CharField(_("key id"), max_length=64)
    public_key = models.CharField(_("public key (base64url)"), max_length=64)
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("publisher key")
        verbose_name_plural = _("publisher keys")
        ordering = ["organization", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kid"], name="publisher_key_unique_kid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.kid}"
