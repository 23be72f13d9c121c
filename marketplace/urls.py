from django.contrib.auth import views as auth_views
from django.urls import path

from marketplace.views import accounts, organizations, registry

urlpatterns = [
    # Accounts
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/profile/", accounts.profile, name="profile"),
    path(
        "accounts/verify-email/",
        accounts.verify_email_resend,
        name="verify-email-resend",
    ),
    path(
        "accounts/verify-email/<str:token>/",
        accounts.verify_email,
        name="verify-email",
    ),
    path(
        "accounts/password-change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password-change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password-reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("i18n/setlang/", accounts.set_language, name="set_language"),
    # The registry's documents at their stable addresses
    path(
        "schemas/capability-declaration.json",
        registry.declaration_schema,
        name="declaration-schema",
    ),
    # Organisations
    path(
        "organizations/", organizations.organization_directory, name="organization-list"
    ),
    path(
        "organizations/new/",
        organizations.organization_create,
        name="organization-create",
    ),
    path(
        "organizations/<slug:slug>/",
        organizations.organization_detail,
        name="organization-detail",
    ),
    path(
        "organizations/<slug:slug>/settings/",
        organizations.organization_settings,
        name="organization-settings",
    ),
    path(
        "organizations/<slug:slug>/members/<int:membership_id>/remove/",
        organizations.membership_remove,
        name="membership-remove",
    ),
    path(
        "organizations/<slug:slug>/members/<int:membership_id>/role/",
        organizations.membership_change_role,
        name="membership-role",
    ),
    path(
        "organizations/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        organizations.invitation_revoke,
        name="invitation-revoke",
    ),
    path(
        "invitations/<str:token>/",
        organizations.invitation_accept,
        name="invitation-accept",
    ),
]
