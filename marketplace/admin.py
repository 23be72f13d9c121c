from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from config.exceptions import ApplicationError
from marketplace.auth import signed_in_user
from marketplace.models import (
    Invitation,
    Membership,
    Organization,
    OrganizationEvent,
    User,
)
from marketplace.services.organizations import invitation_revoke


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
        (_("Profile"), {"fields": ("birth_year", "preferred_language")}),
    )
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
    list_display = ["name", "slug", "kind", "created_at"]
    list_filter = ["kind", "created_at"]
    search_fields = ["name", "slug", "website", "contact_email"]
    readonly_fields = ["created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [MembershipInline]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Organization | None = None
    ) -> list[str]:
        # The slug is part of public identifiers: fixed once created.
        return [*self.readonly_fields, "slug"] if obj else list(self.readonly_fields)


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
