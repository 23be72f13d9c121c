import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from marketplace.models import User
from tests.marketplace.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_signup_creates_the_account_and_signs_in(client: Client) -> None:
    # when
    response = client.post(
        reverse("signup"),
        {
            "username": "newcomer",
            "email": "Newcomer@Example.com",
            "password": "correct horse battery",
            "birth_year": "1990",
        },
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("profile")
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.com"
    assert user.birth_year == 1990
    assert user.preferred_language == "en"
    assert client.get(reverse("profile")).status_code == 200


def test_signup_refuses_a_weak_password_and_a_taken_address(client: Client) -> None:
    UserFactory.create(email="taken@example.com")
    response = client.post(
        reverse("signup"),
        {"username": "x1", "email": "TAKEN@example.com", "password": "12345678"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "password" in errors
    assert not User.objects.filter(username="x1").exists()

    response = client.post(
        reverse("signup"),
        {
            "username": "x1",
            "email": "TAKEN@example.com",
            "password": "correct horse battery",
        },
    )
    assert response.status_code == 200
    assert "A user with this e-mail address exists." in response.content.decode()
    assert not User.objects.filter(username="x1").exists()


def test_login_with_username_or_email(client: Client) -> None:
    user = UserFactory.create(username="dana", email="dana@example.com")
    for login in ("dana", "DANA@example.com"):
        client.logout()
        response = client.post(
            reverse("login"), {"username": login, "password": PASSWORD}
        )
        assert response.status_code == 302, login
        assert int(client.session["_auth_user_id"]) == user.pk


def test_login_with_a_wrong_password_fails(client: Client) -> None:
    UserFactory.create(username="dana")
    response = client.post(reverse("login"), {"username": "dana", "password": "wrong"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_login_sets_the_users_language(client: Client) -> None:
    UserFactory.create(username="li", preferred_language="zh-hans")
    response = client.post(reverse("login"), {"username": "li", "password": PASSWORD})
    assert response.cookies["django_language"].value == "zh-hans"


def test_logout_needs_post_and_signs_out(client: Client, user: User) -> None:
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_link_that_sets_a_new_password(client: Client) -> None:
    UserFactory.create(username="erin", email="erin@example.com")
    response = client.post(reverse("password_reset"), {"email": "erin@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(
        r"http://testserver(/accounts/reset/\S+/)", str(mail.outbox[0].body)
    )
    assert link is not None
    response = client.get(link.group(1), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url,
        {
            "new_password1": "another long secret 9",
            "new_password2": "another long secret 9",
        },
    )
    assert response.status_code == 302
    assert client.login(username="erin", password="another long secret 9")


def test_profile_lists_the_users_organisations(client: Client) -> None:
    membership = MembershipFactory.create(organization__name="Mingde AI")
    MembershipFactory.create(organization__name="Somebody Else's")
    client.force_login(membership.user)
    response = client.get(reverse("profile"))
    content = response.content.decode()
    assert "Mingde AI" in content
    assert "Somebody Else" not in content


def test_profile_needs_sign_in(client: Client) -> None:
    response = client.get(reverse("profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_profile_query_count_does_not_grow_with_organisations(
    client: Client, django_assert_num_queries: object
) -> None:
    user = UserFactory.create()
    client.force_login(user)
    MembershipFactory.create(user=user)
    with django_assert_num_queries(4) as first:  # type: ignore[operator]
        client.get(reverse("profile"))
    for _ in range(10):
        MembershipFactory.create(user=user)
    with django_assert_num_queries(len(first.captured_queries)):  # type: ignore[operator]
        client.get(reverse("profile"))
