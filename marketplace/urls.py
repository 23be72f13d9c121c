from django.contrib.auth import views as auth_views
from django.urls import path

from marketplace.views import (
    accounts,
    console,
    installs,
    lookup,
    notifications,
    organizations,
    publishers,
    registry,
    reviews,
    store,
)

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
    # The store
    path("agents/", store.agent_search_page, name="agent-search"),
    path(
        "agents/<slug:publisher>/<slug:agent>/",
        store.agent_detail_page,
        name="agent-detail",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/did.json",
        registry.agent_did_document,
        name="agent-did",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/profile.json",
        registry.agent_profile,
        name="agent-profile",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/agent-card.json",
        registry.agent_card,
        name="agent-card",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/agent-card.json",
        registry.version_agent_card,
        name="version-agent-card",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/server.json",
        registry.version_server_json,
        name="version-server-json",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/agent-description.json",
        registry.version_agent_description,
        name="version-agent-description",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/acs.json",
        registry.version_acs,
        name="version-acs",
    ),
    path(".well-known/jwks.json", registry.jwks, name="jwks"),
    # Installs and the permissions granted
    path(
        "agents/<slug:publisher>/<slug:agent>/install/",
        installs.install_page,
        name="agent-install",
    ),
    path("installs/", installs.install_list_page, name="install-list"),
    path(
        "installs/<uuid:public_id>/update/",
        installs.install_update,
        name="install-update",
    ),
    path(
        "installs/<uuid:public_id>/grants/<str:scope>/revoke/",
        installs.grant_revoke,
        name="install-grant-revoke",
    ),
    path(
        "installs/<uuid:public_id>/uninstall/",
        installs.install_uninstall,
        name="install-uninstall",
    ),
    # The developer console and the review queue
    path("console/", console.console, name="console"),
    path("console/agents/new/", console.agent_create, name="console-agent-new"),
    path(
        "console/agents/<slug:publisher>/<slug:agent>/",
        console.agent_manage,
        name="console-agent",
    ),
    path(
        "console/agents/<slug:publisher>/<slug:agent>/versions/<str:version>/submit/",
        console.version_submit,
        name="console-version-submit",
    ),
    path(
        "console/agents/<slug:publisher>/<slug:agent>/versions/<str:version>/yank/",
        console.version_yank,
        name="console-version-yank",
    ),
    path(
        "console/agents/<slug:publisher>/<slug:agent>/versions/import/",
        console.version_import,
        name="console-version-import",
    ),
    path(
        "console/publishers/<slug:slug>/keys/",
        console.publisher_keys,
        name="console-publisher-keys",
    ),
    path(
        "console/publishers/<slug:slug>/keys/<int:key_id>/revoke/",
        console.publisher_key_revoke,
        name="console-publisher-key-revoke",
    ),
    path("review/", console.review_queue_page, name="review-queue"),
    # Publishers' profiles and the lookup of identifiers
    path(
        "publishers/<slug:slug>/",
        publishers.publisher_detail,
        name="publisher-detail",
    ),
    path("lookup/", lookup.agent_lookup, name="agent-lookup"),
    path("review/<int:version_id>/", console.review_submit, name="review-submit"),
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
    # The inbox
    path("inbox/", notifications.inbox, name="inbox"),
    path("inbox/read/", notifications.inbox_read, name="inbox-read"),
    path(
        "inbox/<int:notification_id>/open/",
        notifications.inbox_open,
        name="inbox-open",
    ),
    # Reviews of agents, and their moderation
    path(
        "agents/<slug:publisher>/<slug:agent>/reviews/write/",
        reviews.review_write,
        name="review-write",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/reviews/<int:review_id>/",
        reviews.review_detail,
        name="review-detail",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/reviews/<int:review_id>/reply/",
        reviews.review_reply_page,
        name="review-reply",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/reviews/<int:review_id>/flag/",
        reviews.review_flag_page,
        name="review-flag",
    ),
    path(
        "review/moderation/",
        reviews.review_moderation_page,
        name="review-moderation",
    ),
    path(
        "review/moderation/<int:review_id>/",
        reviews.review_moderate,
        name="review-moderate",
    ),
]
