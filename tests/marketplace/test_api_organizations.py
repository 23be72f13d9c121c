from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from marketplace.models import Invitation, Membership, Organization
from marketplace.services.organizations import invitation_token
from tests.marketplace.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]  # type: ignore[no-any-return]  # JSON is Any


def test_token_auth_round_trip(api: APIClient) -> None:
    user = UserFactory.create(username="tok", email="tok@example.com")
    response = api.post(
        "/api/v1/auth/token/",
        {"username": "tok@example.com", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == user.username
    assert api.delete("/api/v1/auth/token/").status_code == 204
    assert api.get("/api/v1/me/").status_code == 401


def test_wrong_credentials_get_the_error_format(api: APIClient) -> None:
    UserFactory.create(username="tok")
    response = api.post(
        "/api/v1/auth/token/", {"username": "tok", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_credentials"


def test_validation_errors_name_each_field(api: APIClient) -> None:
    api.force_authenticate(UserFactory.create())
    response = api.post(
        "/api/v1/organizations/",
        {"name": "", "slug": "x", "kind": "nonsense"},
        format="json",
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid"
    assert set(error["details"]) == {"name", "kind"}


def test_a_bad_slug_from_the_model_rules_comes_back_on_its_field(
    api: APIClient,
) -> None:
    api.force_authenticate(UserFactory.create())
    response = api.post(
        "/api/v1/organizations/",
        {"name": "X", "slug": "Not OK", "kind": "publisher"},
        format="json",
    )
    assert response.status_code == 400
    assert "slug" in _error(response)["details"]
    assert not Organization.objects.exists()


def test_malformed_json_is_a_400_not_a_500(api: APIClient) -> None:
    api.force_authenticate(UserFactory.create())
    response = api.generic(
        "POST", "/api/v1/organizations/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert _error(response)["code"] == "parse_error"


def test_anonymous_writes_are_401_and_unknown_paths_404_in_the_same_format(
    api: APIClient,
) -> None:
    response = api.post("/api/v1/organizations/", {}, format="json")
    assert response.status_code == 401
    assert _error(response)["code"] == "not_authenticated"
    response = api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
    response = api.put("/api/v1/organizations/", {}, format="json")
    assert response.status_code == 401
    api.force_authenticate(UserFactory.create())
    response = api.put("/api/v1/organizations/", {}, format="json")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_create_organisation_and_list_it(api: APIClient) -> None:
    user = UserFactory.create()
    api.force_authenticate(user)
    response = api.post(
        "/api/v1/organizations/",
        {"name": "Mingde AI", "slug": "mingde-ai", "kind": "publisher"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["slug"] == "mingde-ai"
    listing = api.get("/api/v1/organizations/?kind=publisher").json()
    assert listing["count"] == 1
    assert listing["results"][0]["member_count"] == 1


def test_bad_filters_are_a_400(api: APIClient) -> None:
    response = api.get("/api/v1/organizations/?kind=spaceship")
    assert response.status_code == 400
    assert "kind" in _error(response)["details"]
    response = api.get("/api/v1/organizations/?page=notanumber")
    assert response.status_code == 404


def test_organisation_list_query_count_is_constant(api: APIClient) -> None:
    counts = []
    for size in (1, 30):
        Organization.objects.all().delete()
        for _ in range(size):
            MembershipFactory.create()
        with CaptureQueriesContext(connection) as queries:
            response = api.get("/api/v1/organizations/?page_size=50")
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts == [2, 2]  # the count and the page


def test_members_are_listed_to_members_only(api: APIClient) -> None:
    member = MembershipFactory.create()
    slug = member.organization.slug
    assert api.get(f"/api/v1/organizations/{slug}/members/").status_code == 401
    api.force_authenticate(UserFactory.create())
    response = api.get(f"/api/v1/organizations/{slug}/members/")
    assert response.status_code == 403
    assert _error(response)["code"] == "permission_denied"
    api.force_authenticate(member.user)
    response = api.get(f"/api/v1/organizations/{slug}/members/")
    assert response.status_code == 200
    assert [m["username"] for m in response.json()["results"]] == [member.user.username]


def test_member_list_query_count_is_constant(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    url = f"/api/v1/organizations/{owner.organization.slug}/members/"
    counts = []
    for extra in (0, 20):
        for _ in range(extra):
            MembershipFactory.create(organization=owner.organization)
        with CaptureQueriesContext(connection) as queries:
            assert api.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == 4


def test_invite_accept_and_remove_through_the_api(api: APIClient) -> None:
    owner = MembershipFactory.create(
        role=Role.OWNER, organization__kind="industry_body"
    )
    slug = owner.organization.slug
    api.force_authenticate(owner.user)
    response = api.post(
        f"/api/v1/organizations/{slug}/invitations/",
        {"email": "analyst@example.com", "role": "analyst"},
        format="json",
    )
    assert response.status_code == 201
    invitation = Invitation.objects.get(pk=response.json()["id"])
    duplicate = api.post(
        f"/api/v1/organizations/{slug}/invitations/",
        {"email": "analyst@example.com", "role": "analyst"},
        format="json",
    )
    assert duplicate.status_code == 409
    assert "email" in _error(duplicate)["details"]

    analyst = UserFactory.create(email="analyst@example.com")
    api.force_authenticate(analyst)
    token = invitation_token(invitation=invitation)
    response = api.post(f"/api/v1/invitations/{token}/accept/")
    assert response.status_code == 201
    membership_id = response.json()["id"]

    # the analyst cannot remove the owner
    response = api.delete(f"/api/v1/organizations/{slug}/members/{owner.pk}/")
    assert response.status_code == 403
    # the owner removes the analyst
    api.force_authenticate(owner.user)
    response = api.delete(f"/api/v1/organizations/{slug}/members/{membership_id}/")
    assert response.status_code == 204
    assert not Membership.objects.filter(pk=membership_id).exists()


def test_an_outsider_cannot_invite_remove_or_change_roles(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    slug = owner.organization.slug
    api.force_authenticate(UserFactory.create())
    assert (
        api.post(
            f"/api/v1/organizations/{slug}/invitations/",
            {"email": "x@example.com", "role": "member"},
            format="json",
        ).status_code
        == 403
    )
    assert (
        api.delete(f"/api/v1/organizations/{slug}/members/{owner.pk}/").status_code
        == 403
    )
    assert (
        api.patch(
            f"/api/v1/organizations/{slug}/members/{owner.pk}/",
            {"role": "member"},
            format="json",
        ).status_code
        == 403
    )
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    assert not Invitation.objects.exists()


def test_the_last_owner_cannot_be_demoted_via_the_api(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    api.force_authenticate(owner.user)
    response = api.patch(
        f"/api/v1/organizations/{owner.organization.slug}/members/{owner.pk}/",
        {"role": "member"},
        format="json",
    )
    assert response.status_code == 409
    assert _error(response)["code"] == "conflict"


def test_a_bad_invitation_token_is_refused(api: APIClient) -> None:
    api.force_authenticate(UserFactory.create())
    response = api.post("/api/v1/invitations/garbage/accept/")
    assert response.status_code == 400
    assert _error(response)["code"] == "invitation_not_usable"


def test_unknown_organisation_is_404(api: APIClient) -> None:
    response = api.get("/api/v1/organizations/no-such-org/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
    OrganizationFactory.create(slug="real-one")
    assert api.get("/api/v1/organizations/real-one/").status_code == 200


def test_a_nul_character_in_a_query_is_a_clear_400(api: APIClient) -> None:
    response = api.get("/api/v1/organizations/?q=a%00b")
    assert response.status_code == 400
    assert "q" in _error(response)["details"]


def test_pending_invitations_are_for_managers_only(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    url = f"/api/v1/organizations/{owner.organization.slug}/invitations/"
    api.force_authenticate(owner.user)
    assert (
        api.post(url, {"email": "a@example.com", "role": "member"}).status_code == 201
    )
    assert api.get(url).json()["count"] == 1
    for outsider in (member.user, UserFactory.create()):
        api.force_authenticate(outsider)
        response = api.get(url)
        assert response.status_code == 403
        assert "a@example.com" not in response.content.decode()


def test_ids_of_another_organisation_are_not_reachable_through_mine(
    api: APIClient,
) -> None:
    mine = MembershipFactory.create(role=Role.OWNER)
    theirs = MembershipFactory.create(role=Role.MEMBER)
    invitation = Invitation.objects.create(
        organization=theirs.organization,
        email="x@example.com",
        role="member",
        expires_at="2100-01-01T00:00:00Z",
    )
    api.force_authenticate(mine.user)
    slug = mine.organization.slug
    assert (
        api.delete(f"/api/v1/organizations/{slug}/members/{theirs.pk}/").status_code
        == 404
    )
    assert (
        api.patch(
            f"/api/v1/organizations/{slug}/members/{theirs.pk}/", {"role": "admin"}
        ).status_code
        == 404
    )
    assert (
        api.post(
            f"/api/v1/organizations/{slug}/invitations/{invitation.pk}/revoke/"
        ).status_code
        == 404
    )
    assert Membership.objects.filter(pk=theirs.pk, role=Role.MEMBER).exists()
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING


def test_accepting_with_another_address_is_refused(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    invitation = Invitation.objects.create(
        organization=owner.organization,
        email="invited@example.com",
        role="member",
        expires_at="2100-01-01T00:00:00Z",
    )
    api.force_authenticate(UserFactory.create(email="someone-else@example.com"))
    response = api.post(
        f"/api/v1/invitations/{invitation_token(invitation=invitation)}/accept/"
    )
    assert response.status_code == 403
    assert Membership.objects.filter(organization=owner.organization).count() == 1


def test_a_role_the_kind_lacks_is_a_400_on_the_role_field(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)  # a publisher
    api.force_authenticate(owner.user)
    response = api.post(
        f"/api/v1/organizations/{owner.organization.slug}/invitations/",
        {"email": "a@example.com", "role": "analyst"},
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_role"
    assert "role" in error["details"]


def test_removing_a_member_twice_is_a_404_the_second_time(api: APIClient) -> None:
    owner = MembershipFactory.create(role=Role.OWNER)
    member = MembershipFactory.create(organization=owner.organization)
    api.force_authenticate(owner.user)
    url = f"/api/v1/organizations/{owner.organization.slug}/members/{member.pk}/"
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 404
