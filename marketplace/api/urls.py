from django.urls import path

from marketplace.api import accounts, organizations

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
        "organizations/<slug:slug>/invitations/",
        organizations.InvitationCollectionApi.as_view(),
        name="api-invitation-list",
    ),
    path(
        "organizations/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        organizations.InvitationRevokeApi.as_view(),
        name="api-invitation-revoke",
    ),
    path(
        "invitations/<str:token>/accept/",
        organizations.InvitationAcceptApi.as_view(),
        name="api-invitation-accept",
    ),
]
