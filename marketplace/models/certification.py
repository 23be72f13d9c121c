"""Third-party certification: accreditation of certification bodies, their schemes,
requests from publishers, certificates on agent versions (each also a signed Open
Badges 3.0 credential), the bodies' signing keys, badges, and the issuers of other
platforms whose credentials the store recognises."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .agents import Agent, AgentVersion
from .organizations import Organization


class Dimension(models.TextChoices):
    """What a certification vouches for."""

    SECURITY = "security", _("Security")
    PRIVACY = "privacy", _("Privacy")
    FUNCTION = "function", _("Function")
    PERFORMANCE = "performance", _("Performance")
    COMPLIANCE = "compliance", _("Compliance")


class Accreditation(models.Model):
    """The operator's accreditation of a certification body for one dimension.
    Only an active accreditation lets the body issue in that dimension; suspending
    it stops new issuance and leaves what was issued as it is."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    body = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="accreditations",
        verbose_name=_("certification body"),
    )
    dimension = models.CharField(
        _("dimension"), max_length=16, choices=Dimension.choices
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.ACTIVE
    )
    reason = models.TextField(_("reason"), blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("granted by"),
    )
    granted_at = models.DateTimeField(_("granted"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("accreditation")
        verbose_name_plural = _("accreditations")
        ordering = ["body__name", "dimension"]
        constraints = [
            models.UniqueConstraint(
                fields=["body", "dimension"], name="accreditation_unique_dimension"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.body} {self.dimension} ({self.state})"


class Scheme(models.Model):
    """A certification scheme a body defines: what it assesses, at which levels,
    and how long a certificate holds. Its code is global: badge addresses use it."""

    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="schemes",
        verbose_name=_("certification body"),
    )
    code = models.SlugField(
        _("code"),
        max_length=50,
        unique=True,
        help_text=_("Used in badge addresses; cannot be changed."),
    )
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    dimension = models.CharField(
        _("dimension"), max_length=16, choices=Dimension.choices
    )
    # From lowest to highest: [{"code": "basic", "name_en": ..., "name_zh": ...}].
    levels = models.JSONField(_("levels"), default=list)
    criteria_en = models.TextField(_("criteria (English)"))
    criteria_zh = models.TextField(_("criteria (Chinese)"), blank=True)
    validity_days = models.PositiveIntegerField(_("validity (days)"), default=365)
    active = models.BooleanField(_("open for new certificates"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("certification scheme")
        verbose_name_plural = _("certification schemes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(validity_days__gte=1)
                & models.Q(validity_days__lte=3660),
                name="scheme_validity_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def name(self) -> str:
        """The name in the active language."""
        zh = (get_language() or "").startswith("zh")
        return (self.name_zh if zh else self.name_en) or self.name_en

    @property
    def criteria(self) -> str:
        zh = (get_language() or "").startswith("zh")
        return (self.criteria_zh if zh else self.criteria_en) or self.criteria_en

    @property
    def level_codes(self) -> list[str]:
        return [level["code"] for level in self.levels]

    def level_name(self, code: str) -> str:
        zh = (get_language() or "").startswith("zh")
        for level in self.levels:
            if level["code"] == code:
                return (level.get("name_zh") if zh else level.get("name_en")) or code
        return code


class CertificationRequest(models.Model):
    """A publisher's request that a body certify one version for one scheme.

    requested -> accepted | declined | withdrawn
    accepted  -> issued | refused | withdrawn
    """

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")
        ISSUED = "issued", _("Certificate issued")
        REFUSED = "refused", _("Refused")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.CASCADE,
        related_name="certification_requests",
        verbose_name=_("version"),
    )
    scheme = models.ForeignKey(
        Scheme,
        on_delete=models.PROTECT,
        related_name="requests",
        verbose_name=_("scheme"),
    )
    level = models.CharField(_("level asked for"), max_length=50)
    message = models.TextField(_("message to the body"), blank=True)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.REQUESTED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("certification request")
        verbose_name_plural = _("certification requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "scheme"],
                condition=models.Q(state__in=["requested", "accepted"]),
                name="certification_request_one_open",
                violation_error_message=_(
                    "This version already has an open request for this scheme."
                ),
            ),
        ]
        indexes = [models.Index(fields=["scheme", "state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.version} / {self.scheme} ({self.state})"


class Certificate(models.Model):
    """A certificate a body issued to one agent version for a scheme and level.

    valid -> suspended -> valid | revoked; valid -> revoked; valid -> expired (beat)

    The signed credential is kept as issued; its status (suspended, revoked) is
    published in the bitstring status lists at ``status_index``.
    """

    class State(models.TextChoices):
        VALID = "valid", _("Valid")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")

    serial = models.CharField(_("serial number"), max_length=32, unique=True)
    scheme = models.ForeignKey(
        Scheme,
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("scheme"),
    )
    level = models.CharField(_("level"), max_length=50)
    version = models.ForeignKey(
        AgentVersion,
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("version"),
    )
    # Denormalised from the version and the scheme so that lists need no joins.
    agent = models.ForeignKey(
        Agent,
        on_delete=models.PROTECT,
        related_name="certificates",
        verbose_name=_("agent"),
    )
    body = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="issued_certificates",
        verbose_name=_("certification body"),
    )
    # The declaration digest of the version when certified: what the credential
    # binds to.
    digest = models.CharField(_("version digest"), max_length=64)
    request = models.ForeignKey(
        CertificationRequest,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="certificates",
        verbose_name=_("request"),
    )
    # A certificate extended from an earlier version's certificate.
    extends = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="extensions",
        verbose_name=_("extends"),
    )
    assessor = models.CharField(_("assessor"), max_length=200)
    report_url = models.URLField(_("test report URL"), blank=True, max_length=500)
    report_file = models.FileField(
        _("test report file"), upload_to="certificates/reports/", blank=True
    )
    report_sha256 = models.CharField(
        _("test report SHA-256"), max_length=64, blank=True
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.VALID
    )
    state_reason = models.TextField(_("reason for the state"), blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    status_index = models.PositiveIntegerField(_("status list index"), unique=True)
    credential = models.TextField(_("signed credential (VC-JWT)"))
    kid = models.CharField(_("signing key id"), max_length=64)
    expiry_notified_at = models.DateTimeField(
        _("expiry notice sent"), null=True, blank=True
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live certificate per version and scheme: a body re-certifies by
            # revoking first.
            models.UniqueConstraint(
                fields=["version", "scheme"],
                condition=models.Q(state__in=["valid", "suspended"]),
                name="certificate_one_live_per_version_scheme",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")),
                name="certificate_validity_ordered",
            ),
            models.CheckConstraint(
                condition=~models.Q(report_url="") | ~models.Q(report_file=""),
                name="certificate_has_report",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "valid_until"]),
            models.Index(fields=["agent", "scheme", "state"]),
            models.Index(fields=["body", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.serial

    @property
    def level_name(self) -> str:
        """The level's name in the active language (the scheme is loaded with the
        certificate wherever lists show it)."""
        return self.scheme.level_name(self.level)


class CertificationEvent(models.Model):
    """Who moved an accreditation, scheme, request or certificate from what to
    what, and why."""

    accreditation = models.ForeignKey(
        Accreditation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    scheme = models.ForeignKey(
        Scheme, on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    request = models.ForeignKey(
        CertificationRequest,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
    )
    certificate = models.ForeignKey(
        Certificate,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
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
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("certification event")
        verbose_name_plural = _("certification events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.action


class IssuerKey(models.Model):
    """A certification body's Ed25519 signing key. The newest key that is not
    retired signs; retired keys stay published in the JWKS so that what they signed
    still verifies. The private half is stored encrypted (``certification_keys``)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="issuer_keys",
        verbose_name=_("organisation"),
    )
    kid = models.CharField(_("key id"), max_length=64, unique=True)
    public_key = models.CharField(_("public key (base64url)"), max_length=64)
    private_key = models.TextField(_("private key (encrypted)"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    class Meta:
        verbose_name = _("issuer key")
        verbose_name_plural = _("issuer keys")
        ordering = ["organization", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(retired_at__isnull=True),
                name="issuer_key_one_current",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.kid}"


class StatusList(models.Model):
    """The signed bitstring status list credential, rebuilt by the certification
    services whenever a certificate is suspended, reinstated or revoked, and served
    as stored. One list holds both: each certificate has a two-bit entry (0 valid,
    1 suspended, 2 revoked), because an Open Badges 3.0 credential has room for a
    single status entry."""

    class Purpose(models.TextChoices):
        MESSAGE = "message", _("Revocation and suspension")

    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, unique=True
    )
    document = models.JSONField(_("signed list credential"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("status list")
        verbose_name_plural = _("status lists")

    def __str__(self) -> str:
        return self.purpose


class Badge(models.Model):
    """The certification badge of an agent for a scheme: the state of the
    certificate on its latest published version, with when the badge was last
    gained and lost. "Expiring" is read from ``valid_until`` when shown."""

    class State(models.TextChoices):
        VALID = "valid", _("Valid")
        SUSPENDED = "suspended", _("Suspended")
        REVOKED = "revoked", _("Revoked")
        EXPIRED = "expired", _("Expired")
        NONE = "none", _("None")

    agent = models.ForeignKey(
        Agent, on_delete=models.CASCADE, related_name="badges", verbose_name=_("agent")
    )
    scheme = models.ForeignKey(
        Scheme,
        on_delete=models.CASCADE,
        related_name="badges",
        verbose_name=_("scheme"),
    )
    certificate = models.ForeignKey(
        Certificate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("certificate"),
    )
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.NONE
    )
    level = models.CharField(_("level"), max_length=50, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    gained_at = models.DateTimeField(_("last gained"), null=True, blank=True)
    lost_at = models.DateTimeField(_("last lost"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("badge")
        verbose_name_plural = _("badges")
        ordering = ["agent", "scheme"]
        constraints = [
            models.UniqueConstraint(
                fields=["agent", "scheme"], name="badge_unique_per_agent_scheme"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.scheme}: {self.state}"


class BadgeEvent(models.Model):
    """A badge's change of state: the record of when it was gained and lost."""

    badge = models.ForeignKey(
        Badge, on_delete=models.CASCADE, related_name="events", verbose_name=_("badge")
    )
    from_state = models.CharField(_("from"), max_length=16)
    to_state = models.CharField(_("to"), max_length=16)
    certificate = models.ForeignKey(
        Certificate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("badge event")
        verbose_name_plural = _("badge events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.badge}: {self.from_state} -> {self.to_state}"


class TrustedIssuer(models.Model):
    """Another platform's issuer key that the operator registered: credentials it
    signed can be imported and shown, with their origin."""

    name = models.CharField(_("name"), max_length=200)
    platform_url = models.URLField(_("platform"), blank=True)
    issuer_id = models.CharField(_("issuer id (iss)"), max_length=500)
    kid = models.CharField(_("key id"), max_length=200)
    public_key = models.CharField(_("public key (base64url)"), max_length=64)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("added by"),
    )
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("no longer trusted"), null=True, blank=True)

    class Meta:
        verbose_name = _("trusted issuer")
        verbose_name_plural = _("trusted issuers")
        ordering = ["name", "kid"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer_id", "kid"], name="trusted_issuer_unique_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kid})"


class ImportedCredential(models.Model):
    """A credential another platform issued to one of our agents, imported after
    its signature verified against a trusted issuer's key."""

    issuer = models.ForeignKey(
        TrustedIssuer,
        on_delete=models.PROTECT,
        related_name="credentials",
        verbose_name=_("issuer"),
    )
    agent = models.ForeignKey(
        Agent,
        on_delete=models.CASCADE,
        related_name="imported_credentials",
        verbose_name=_("agent"),
    )
    credential_id = models.CharField(_("credential id"), max_length=500)
    token = models.TextField(_("signed credential (VC-JWT)"))
    name = models.CharField(_("name"), max_length=300)
    achievement = models.CharField(_("achievement"), max_length=300)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("imported by"),
    )
    created_at = models.DateTimeField(_("imported"), auto_now_add=True)

    class Meta:
        verbose_name = _("imported credential")
        verbose_name_plural = _("imported credentials")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "credential_id"],
                name="imported_credential_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.credential_id
