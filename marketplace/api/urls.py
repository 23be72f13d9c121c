from django.urls import path

from marketplace.api import accounts, agents, lookup, organizations

urlpatterns = [
    path("auth/token/", accounts.TokenApi.as_view(), name="api-token"),
    path("me/", accounts.MeApi.as_view(), name="api-me"),
    path(
        "organizations/",
        organizations.OrganizationCollectionApi.as_view(),
        name="api-organization-list",
    ),
    path(
        "organizations/<slug:slug>/",
        organizations.OrganizationDetailApi.as_view(),
        name="api-organization-detail",
    ),
    path(
        "organizations/<slug:slug>/members/",
        organizations.MembershipCollectionApi.as_view(),
        name="api-membership-list",
    ),
    path(
        "organizations/<slug:slug>/members/<int:membership_id>/",
        organizations.MembershipDetailApi.as_view(),
        name="api-membership-detail",
    ),
    path(
        "organizations/<slug:slug>/registration/",
        organizations.OrganizationRegistrationApi.as_view(),
        name="api-organization-registration",
    ),
    path(
        "organizations/<slug:slug>/verify/",
        organizations.OrganizationVerifyApi.as_view(),
        name="api-organization-verify",
    ),
    path(
        "organizations/<slug:slug>/domain/",
        organizations.OrganizationDomainApi.as_view(),
        name="api-organization-domain",
    ),
    path(
        "organizations/<slug:slug>/domain/check/",
        organizations.OrganizationDomainCheckApi.as_view(),
        name="api-organization-domain-check",
    ),
    path(
        "organizations/<slug:slug>/keys/",
        organizations.PublisherKeyCollectionApi.as_view(),
        name="api-publisher-key-list",
    ),
    path(
        "organizations/<slug:slug>/invitations/",
        organizations.InvitationCollectionApi.as_view(),
        name="api-invitation-list",
    ),
    path(
        "organizations/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        organizations.InvitationRevokeApi.as_view(),
        name="api-invitation-revoke",
    ),
    path("domains/", agents.DomainListApi.as_view(), name="api-domain-list"),
    path("lookup/", lookup.AgentLookupApi.as_view(), name="api-agent-lookup"),
    path("agents/", agents.AgentCollectionApi.as_view(), name="api-agent-list"),
    path("review-queue/", agents.ReviewQueueApi.as_view(), name="api-review-queue"),
    path(
        "agents/<slug:publisher>/<slug:agent>/",
        agents.AgentDetailApi.as_view(),
        name="api-agent-detail",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/status/",
        agents.AgentStatusApi.as_view(),
        name="api-agent-status",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/",
        agents.VersionCollectionApi.as_view(),
        name="api-version-list",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/import/",
        agents.VersionImportApi.as_view(),
        name="api-version-import",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/",
        agents.VersionDetailApi.as_view(),
        name="api-version-detail",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/submit/",
        agents.VersionSubmitApi.as_view(),
        name="api-version-submit",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/checks/",
        agents.VersionChecksApi.as_view(),
        name="api-version-checks",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/review/",
        agents.VersionReviewApi.as_view(),
        name="api-version-review",
    ),
    path(
        "agents/<slug:publisher>/<slug:agent>/versions/<str:version>/yank/",
        agents.VersionYankApi.as_view(),
        name="api-version-yank",
    ),
    path(
        "invitations/<str:token>/accept/",
        organizations.InvitationAcceptApi.as_view(),
        name="api-invitation-accept",
    ),
]
