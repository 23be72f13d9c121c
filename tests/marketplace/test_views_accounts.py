import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Invitation, Membership, User
from marketplace.services.accounts import email_verification_token
from marketplace.tasks import email_verification_send as email_verification_send_task
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
    with django_assert_num_queries(5) as first:  # type: ignore[operator]
        client.get(reverse("profile"))
    for _ in range(10):
        MembershipFactory.create(user=user)
    with django_assert_num_queries(len(first.captured_queries)):  # type: ignore[operator]
        client.get(reverse("profile"))


def test_signup_mails_a_link_that_confirms_the_address(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as enqueued:
        client.post(
            reverse("signup"),
            {
                "username": "newcomer",
                "email": "newcomer@example.com",
                "password": "correct horse battery",
            },
        )
    assert len(enqueued) == 1
    user = User.objects.get(username="newcomer")
    # what the worker does with the message
    assert email_verification_send_task(user_id=user.pk) is True
    assert user.email_verified_at is None
    assert "is not confirmed yet" in client.get(reverse("profile")).content.decode()
    link = re.search(
        r"http://testserver(/accounts/verify-email/\S+/)", str(mail.outbox[0].body)
    )
    assert link is not None
    response = client.get(link.group(1))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert "is not confirmed yet" not in client.get(reverse("profile")).content.decode()


def test_a_tampered_verification_link_is_refused(client: Client) -> None:
    user = UserFactory.create(email_verified_at=None)
    token = email_verification_token(user=user)
    response = client.get(reverse("verify-email", args=[token[:-3] + "abc"]))
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_a_verification_link_for_an_old_address_is_refused(client: Client) -> None:
    user = UserFactory.create(email_verified_at=None, email="old@example.com")
    token = email_verification_token(user=user)
    User.objects.filter(pk=user.pk).update(email="new@example.com")
    assert client.get(reverse("verify-email", args=[token])).status_code == 400
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_resending_the_link_is_limited(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    user = UserFactory.create(email_verified_at=None)
    client.force_login(user)
    with django_capture_on_commit_callbacks() as enqueued:
        for _ in range(5):
            client.post(reverse("verify-email-resend"))
    assert len(enqueued) == 3


def test_invitations_to_an_unconfirmed_address_are_not_listed(client: Client) -> None:
    owner = MembershipFactory.create(
        role="owner", organization__name="Secret Plans Ltd"
    )
    Invitation.objects.create(
        organization=owner.organization,
        email="victim@corp.example",
        role="member",
        expires_at=timezone.now() + timedelta(days=1),
    )
    squatter = UserFactory.create(email="victim@corp.example", email_verified_at=None)
    client.force_login(squatter)
    assert "Secret Plans Ltd" not in client.get(reverse("profile")).content.decode()
    User.objects.filter(pk=squatter.pk).update(email_verified_at=timezone.now())
    assert "Secret Plans Ltd" in client.get(reverse("profile")).content.decode()


def test_repeated_failed_sign_ins_lock_the_account_for_a_while(
    client: Client, settings: Any
) -> None:
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory.create(username="dana")
    for _ in range(3):
        client.post(reverse("login"), {"username": "dana", "password": "wrong"})
    # even the right password is refused now, with a message that says why
    response = client.post(reverse("login"), {"username": "dana", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-ins" in response.content.decode()
    # and the API door is closed too, whatever X-Forwarded-For claims
    api = Client(HTTP_X_FORWARDED_FOR="203.0.113.9")
    response = api.post(
        "/api/v1/auth/token/",
        {"username": "dana", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"


def test_failed_sign_ins_from_one_address_are_limited_across_accounts(
    client: Client, settings: Any
) -> None:
    settings.LOGIN_FAILURE_IP_LIMIT = 4
    UserFactory.create(username="target")
    for index in range(4):
        client.post(
            reverse("login"),
            {"username": f"guess{index}", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{index}",  # ignored: no trusted proxy
        )
    response = client.post(
        reverse("login"), {"username": "target", "password": PASSWORD}
    )
    assert "_auth_user_id" not in client.session
    assert "Too many failed sign-ins" in response.content.decode()


def test_the_demo_data_refuses_to_load_with_debug_off() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="DEBUG off"):
        call_command("demo_data")
    assert not User.objects.filter(username="operator").exists()


def test_the_demo_data_loads_once(settings: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.DEBUG = True
    call_command("demo_data", stdout=StringIO())
    counts = (User.objects.count(), Membership.objects.count())
    out = StringIO()
    call_command("demo_data", stdout=out)
    assert (User.objects.count(), Membership.objects.count()) == counts
    assert "nothing changed" in out.getvalue()
    assert User.objects.get(username="operator").is_staff
