from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from config.exceptions import ApplicationError
from marketplace.auth import signed_in_user
from marketplace.models import (
    Accreditation,
    Agent,
    AgentEvent,
    AgentVersion,
    AgreementAcceptance,
    AgreementVersion,
    Badge,
    BadgeEvent,
    Certificate,
    CertificationEvent,
    CertificationRequest,
    CheckResult,
    ConsentReceipt,
    Domain,
    Grant,
    ImportedCredential,
    Install,
    InstallEvent,
    Invitation,
    IssuerKey,
    ListingFlag,
    Membership,
    Notification,
    Organization,
    OrganizationEvent,
    ProhibitedClaim,
    PublisherKey,
    Review,
    ReviewDecision,
    ReviewEvent,
    ReviewFlag,
    ReviewReply,
    ReviewRevision,
    ReviewSignal,
    Scheme,
    StatusList,
    TrustedIssuer,
    User,
)
from marketplace.services.organizations import invitation_revoke, organization_update


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    list_display = [
        "username",
        "email",
        "is_active",
        "is_staff",
        "preferred_language",
        "date_joined",
        "last_login",
    ]
    list_filter = ["is_active", "is_staff", "is_superuser", "preferred_language"]
    search_fields = ["username", "email", "first_name", "last_name"]
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        (
            _("Profile"),
            {"fields": ("birth_year", "preferred_language", "email_verified_at")},
        ),
    )
    readonly_fields = ["email_verified_at", "date_joined", "last_login"]

    def has_delete_permission(
        self, request: HttpRequest, obj: User | None = None
    ) -> bool:
        # Deleting a person could leave an organisation without an owner and would
        # erase who did what; deactivate the account (clear "active") instead.
        return False

    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "password1", "password2"),
            },
        ),
    )


class ReadOnlyAdminMixin:
    """Rows that only services write (memberships keep their rules there, such as
    "always one owner"; events are the audit trail): the admin shows them."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MembershipInline(
    ReadOnlyAdminMixin, admin.TabularInline[Membership, Organization]
):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    """Organisations are created on the site (which makes the creator owner); here
    staff correct their public details through the same service, and nothing else:
    the kind decides which roles exist and the slug is part of public identifiers."""

    list_display = ["name", "slug", "kind", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["name", "slug", "website", "contact_email"]
    fields = ["name", "slug", "kind", "description", "website", "contact_email"]
    readonly_fields = ["slug", "kind", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [MembershipInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: Organization | None = None
    ) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: Organization, form: Any, change: bool
    ) -> None:
        organization_update(
            actor=signed_in_user(request.user),
            organization=obj,
            name=obj.name,
            description=obj.description,
            website=obj.website,
            contact_email=obj.contact_email,
            as_staff=True,
        )


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Membership]):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization__kind"]
    search_fields = ["user__username", "user__email", "organization__name"]
    list_select_related = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin[Invitation]):
    list_display = [
        "email",
        "organization",
        "role",
        "state",
        "created_at",
        "expires_at",
    ]
    list_filter = ["state", "role", "organization__kind"]
    search_fields = ["email", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    readonly_fields = [
        "public_id",
        "organization",
        "email",
        "role",
        "state",
        "invited_by",
        "accepted_by",
        "created_at",
        "expires_at",
        "sent_at",
        "closed_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # invitations are made by an organisation's owners

    @admin.action(description=_("Revoke the selected pending invitations"))
    def revoke(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        revoked = 0
        for invitation in queryset.select_related("organization"):
            try:
                invitation_revoke(
                    actor=signed_in_user(request.user),
                    invitation=invitation,
                    as_staff=True,
                )
            except ApplicationError as error:
                self.message_user(
                    request, f"{invitation}: {error.message}", messages.WARNING
                )
            else:
                revoked += 1
        self.message_user(
            request, _("%(count)d invitations revoked.") % {"count": revoked}
        )


@admin.register(OrganizationEvent)
class OrganizationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[OrganizationEvent]):
    list_display = ["created_at", "organization", "action", "actor"]
    list_filter = ["action", "organization__kind"]
    search_fields = ["organization__name", "organization__slug", "actor__username"]
    list_select_related = ["organization", "actor"]
    date_hierarchy = "created_at"


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin[Domain]):
    """The operator's list of domains and their risk tiers."""

    list_display = ["code", "name_en", "name_zh", "risk_tier", "needs_filing"]
    list_filter = ["risk_tier", "needs_filing"]
    search_fields = ["code", "name_en", "name_zh"]
    # What a domain requires of certification is set on the operator's
    # certification page, through its service.
    readonly_fields = ["required_dimensions"]
    exclude = ["required_schemes"]


@admin.register(ProhibitedClaim)
class ProhibitedClaimAdmin(admin.ModelAdmin[ProhibitedClaim]):
    """Phrases the automated checks refuse in listings."""

    list_display = ["phrase", "reason"]
    search_fields = ["phrase", "reason"]


class VersionInline(ReadOnlyAdminMixin, admin.TabularInline[AgentVersion, Agent]):
    model = AgentVersion
    extra = 0
    fields = ["version", "state", "submitted_at", "published_at"]
    readonly_fields = ["version", "state", "submitted_at", "published_at"]


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Agent]):
    """Listings change through their publishers and the publishing services."""

    list_display = ["name", "publisher", "slug", "domain", "age_rating", "status"]
    list_filter = ["status", "domain__risk_tier", "domain", "age_rating"]
    search_fields = ["name", "slug", "publisher__name", "publisher__slug", "summary"]
    list_select_related = ["publisher", "domain"]
    inlines = [VersionInline]
    actions = ["recount_ratings"]

    @admin.action(
        description=_("Recount the ratings of the selected agents from their reviews")
    )
    def recount_ratings(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        from marketplace.services.reviews import agent_rating_recount_many

        agent_ids = list(queryset.values_list("pk", flat=True))
        fixed = agent_rating_recount_many(
            agent_ids=agent_ids, actor=signed_in_user(request.user)
        )
        self.message_user(
            request,
            _("%(count)d agents recounted; %(fixed)d had a wrong summary.")
            % {"count": len(agent_ids), "fixed": fixed},
        )


@admin.register(AgentVersion)
class AgentVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AgentVersion]):
    list_display = ["agent", "version", "state", "submitted_at", "published_at"]
    list_filter = ["state", "agent__domain__risk_tier"]
    search_fields = ["agent__name", "agent__slug", "agent__publisher__slug", "version"]
    list_select_related = ["agent__publisher"]


@admin.register(CheckResult)
class CheckResultAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CheckResult]):
    list_display = ["version", "run", "name", "passed", "created_at"]
    list_filter = ["name", "passed"]
    search_fields = ["version__agent__slug", "reason"]
    list_select_related = ["version__agent__publisher"]


@admin.register(ReviewDecision)
class ReviewDecisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReviewDecision]):
    list_display = ["version", "reviewer", "verdict", "created_at"]
    list_filter = ["verdict"]
    search_fields = ["version__agent__slug", "reviewer__username", "reasons"]
    list_select_related = ["version__agent__publisher", "reviewer"]


@admin.register(AgentEvent)
class AgentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AgentEvent]):
    list_display = ["created_at", "agent", "action", "from_state", "to_state", "actor"]
    list_filter = ["action", "to_state"]
    search_fields = ["agent__slug", "agent__publisher__slug", "actor__username"]
    list_select_related = ["agent__publisher", "actor"]
    date_hierarchy = "created_at"


@admin.register(PublisherKey)
class PublisherKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[PublisherKey]):
    """Publishers register and revoke their keys themselves."""

    list_display = ["organization", "kid", "label", "created_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["organization__name", "organization__slug", "kid", "label"]
    list_select_related = ["organization"]


class GrantInline(ReadOnlyAdminMixin, admin.TabularInline[Grant, Install]):
    model = Grant
    extra = 0
    fields = ["scope", "authority", "granted_at", "revoked_at"]
    readonly_fields = ["scope", "authority", "granted_at", "revoked_at"]


@admin.register(Install)
class InstallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Install]):
    """Installs change only through their users' consent (the installs service)."""

    list_display = ["public_id", "user", "agent", "version", "state", "created_at"]
    list_filter = ["state"]
    search_fields = ["public_id", "user__username", "agent__slug", "agent__name"]
    list_select_related = ["user", "agent__publisher", "version"]
    exclude = ["refresh_secret_hash"]
    inlines = [GrantInline]


@admin.register(ConsentReceipt)
class ConsentReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ConsentReceipt]):
    list_display = ["public_id", "install", "version", "created_at"]
    search_fields = ["public_id", "install__public_id", "install__user__username"]
    list_select_related = ["install__user", "install__agent__publisher", "version"]


@admin.register(Grant)
class GrantAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Grant]):
    list_display = ["install", "scope", "authority", "granted_at", "revoked_at"]
    list_filter = ["authority"]
    search_fields = ["scope", "install__public_id", "install__user__username"]
    list_select_related = ["install__user", "install__agent__publisher"]


@admin.register(InstallEvent)
class InstallEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[InstallEvent]):
    list_display = ["created_at", "install", "action", "actor"]
    list_filter = ["action"]
    search_fields = ["install__public_id", "actor__username"]
    list_select_related = ["install__user", "install__agent__publisher", "actor"]
    date_hierarchy = "created_at"


class ReviewRevisionInline(
    ReadOnlyAdminMixin, admin.TabularInline[ReviewRevision, Review]
):
    model = ReviewRevision
    extra = 0
    fields = ["written_at", "version", "stars", "title", "body"]
    readonly_fields = ["written_at", "version", "stars", "title", "body"]


class ReviewFlagInline(ReadOnlyAdminMixin, admin.TabularInline[ReviewFlag, Review]):
    model = ReviewFlag
    extra = 0
    fields = ["user", "reason", "note", "created_at", "resolved_at"]
    readonly_fields = ["user", "reason", "note", "created_at", "resolved_at"]


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Review]):
    """Reviews change through their authors and the moderators' queue
    (/review/moderation/), which keep the agents' ratings and the audit trail."""

    list_display = ["agent", "user", "stars", "title", "state", "open_flags"]
    list_filter = ["state", "stars"]
    search_fields = ["title", "user__username", "agent__slug", "agent__name"]
    list_select_related = ["agent__publisher", "user"]
    date_hierarchy = "created_at"
    inlines = [ReviewRevisionInline, ReviewFlagInline]


@admin.register(ReviewRevision)
class ReviewRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReviewRevision]):
    list_display = ["review", "stars", "title", "written_at", "created_at"]
    search_fields = ["title", "review__user__username", "review__agent__slug"]
    list_select_related = ["review__agent__publisher", "review__user"]


@admin.register(ReviewReply)
class ReviewReplyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReviewReply]):
    list_display = ["review", "publisher", "author", "updated_at"]
    search_fields = ["publisher__slug", "author__username", "body"]
    list_select_related = ["review__user", "review__agent__publisher", "publisher"]


@admin.register(ReviewFlag)
class ReviewFlagAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReviewFlag]):
    list_display = ["review", "user", "reason", "created_at", "resolved_at"]
    list_filter = ["reason", "resolved_at"]
    search_fields = ["user__username", "note", "review__agent__slug"]
    list_select_related = ["review__user", "review__agent__publisher", "user"]


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReviewEvent]):
    list_display = ["created_at", "review", "action", "from_state", "to_state", "actor"]
    list_filter = ["action", "to_state"]
    search_fields = ["review__agent__slug", "actor__username", "reason"]
    list_select_related = ["review__user", "review__agent__publisher", "actor"]
    date_hierarchy = "created_at"


@admin.register(ReviewSignal)
class ReviewSignalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReviewSignal]):
    """Computed every hour by marketplace.review_signals_compute."""

    list_display = ["agent", "kind", "score", "computed_at"]
    list_filter = ["kind"]
    search_fields = ["agent__slug", "agent__publisher__slug"]
    list_select_related = ["agent__publisher"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Notification]):
    """Users' inboxes: written by the services that notify, read by their users."""

    list_display = ["created_at", "user", "kind", "read_at", "emailed_at"]
    list_filter = ["kind"]
    search_fields = ["user__username", "message", "link"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"


# --- Certification: read-only here; the pages and the API change it through the
# services in services/certification.py.


@admin.register(Accreditation)
class AccreditationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Accreditation]):
    list_display = ["body", "dimension", "state", "granted_at", "granted_by"]
    list_filter = ["dimension", "state"]
    search_fields = ["body__name", "body__slug"]
    list_select_related = ["body", "granted_by"]


@admin.register(Scheme)
class SchemeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Scheme]):
    list_display = ["code", "name_en", "name_zh", "body", "dimension", "active"]
    list_filter = ["dimension", "active"]
    search_fields = ["code", "name_en", "name_zh", "body__slug"]
    list_select_related = ["body"]


@admin.register(CertificationRequest)
class CertificationRequestAdmin(
    ReadOnlyAdminMixin, admin.ModelAdmin[CertificationRequest]
):
    list_display = ["created_at", "version", "scheme", "level", "state"]
    list_filter = ["state"]
    search_fields = ["version__agent__slug", "scheme__code"]
    list_select_related = ["version__agent__publisher", "scheme"]
    date_hierarchy = "created_at"


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Certificate]):
    list_display = ["serial", "agent", "scheme", "level", "state", "valid_until"]
    list_filter = ["state", "scheme__dimension"]
    search_fields = ["serial", "agent__slug", "agent__publisher__slug", "scheme__code"]
    list_select_related = ["agent__publisher", "scheme"]
    date_hierarchy = "created_at"


@admin.register(CertificationEvent)
class CertificationEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CertificationEvent]):
    list_display = ["created_at", "action", "from_state", "to_state", "actor"]
    list_filter = ["action"]
    search_fields = ["certificate__serial", "scheme__code", "reason"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


@admin.register(IssuerKey)
class IssuerKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[IssuerKey]):
    """Public halves only: the sealed private key never leaves the database."""

    list_display = ["organization", "kid", "created_at", "retired_at"]
    fields = ["organization", "kid", "public_key", "created_at", "retired_at"]
    search_fields = ["kid", "organization__slug"]
    list_select_related = ["organization"]


@admin.register(Badge)
class BadgeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Badge]):
    list_display = ["agent", "scheme", "state", "level", "gained_at", "lost_at"]
    list_filter = ["state"]
    search_fields = ["agent__slug", "scheme__code"]
    list_select_related = ["agent__publisher", "scheme"]


@admin.register(BadgeEvent)
class BadgeEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[BadgeEvent]):
    list_display = ["created_at", "badge", "from_state", "to_state"]
    list_filter = ["to_state"]
    list_select_related = ["badge__agent__publisher", "badge__scheme"]
    date_hierarchy = "created_at"


@admin.register(TrustedIssuer)
class TrustedIssuerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TrustedIssuer]):
    list_display = ["name", "issuer_id", "kid", "created_at", "revoked_at"]
    search_fields = ["name", "issuer_id", "kid"]


@admin.register(ImportedCredential)
class ImportedCredentialAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ImportedCredential]):
    list_display = ["credential_id", "agent", "issuer", "valid_until", "created_at"]
    search_fields = ["credential_id", "agent__slug"]
    list_select_related = ["agent__publisher", "issuer"]


@admin.register(StatusList)
class StatusListAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[StatusList]):
    """The signed list served at /certificates/status-list.json."""

    list_display = ["purpose", "updated_at"]


@admin.register(AgreementVersion)
class AgreementVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[AgreementVersion]):
    """Drafted and published on the operator's pages (/operator/agreements/), so
    that the rules (summary of changes, published versions never change) hold."""

    list_display = ["kind", "number", "title_en", "published_at", "published_by"]
    list_filter = ["kind"]
    list_select_related = ["published_by"]


@admin.register(AgreementAcceptance)
class AgreementAcceptanceAdmin(
    ReadOnlyAdminMixin, admin.ModelAdmin[AgreementAcceptance]
):
    list_display = ["user", "version", "organization", "context", "accepted_at"]
    list_filter = ["context", "version__kind"]
    search_fields = ["user__username", "organization__slug"]
    list_select_related = ["user", "version", "organization"]


@admin.register(ListingFlag)
class ListingFlagAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ListingFlag]):
    """Decided on the moderators' page (/moderation/listings/), which records who
    decided, when and why."""

    list_display = ["agent", "kind", "source", "source_id", "state", "created_at"]
    list_filter = ["state", "kind", "source"]
    list_select_related = ["agent"]
