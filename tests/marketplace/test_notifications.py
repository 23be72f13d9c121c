from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop
from rest_framework.test import APIClient

from marketplace.models import Notification, User
from marketplace.services.notifications import notification_create
from marketplace.tasks import notification_email as notification_email_task
from tests.marketplace.factories import UserFactory

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
MESSAGE = gettext_noop("Your report about %(publisher)s was dismissed.")


def _notify(user: User, link: str = "/reports/", **fields: Any) -> Notification:
    return Notification.objects.create(
        user=user,
        kind=Kind.REPORT_STATUS,
        message=MESSAGE,
        params={"publisher": fields.pop("publisher", "Mingde AI")},
        link=link,
        **fields,
    )


@pytest.fixture
def api() -> APIClient:
    return APIClient(HTTP_ACCEPT_LANGUAGE="en")


# --- The inbox page -----------------------------------------------------------------


def test_the_inbox_shows_my_notifications_newest_first_with_the_unread_marked(
    client: Client,
) -> None:
    # given
    user = UserFactory.create()
    _notify(user, publisher="Older", read_at=timezone.now())
    _notify(user, publisher="Newer")
    _notify(UserFactory.create(), publisher="Someone else's")
    client.force_login(user)

    # when
    response = client.get(reverse("inbox"))

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "Someone else" not in page
    assert page.index("Newer") < page.index("Older")
    items = [n.text for n in response.context["page"]]
    assert items == [
        "Your report about Newer was dismissed.",
        "Your report about Older was dismissed.",
    ]
    assert page.count(">Unread</span>") == 1


def test_the_inbox_runs_a_constant_number_of_queries(
    client: Client, django_assert_num_queries: Any
) -> None:
    # given
    user = UserFactory.create()
    client.force_login(user)
    sizes = []
    for total in (1, 25):
        while Notification.objects.filter(user=user).count() < total:
            _notify(user)
        # session, user, count, page, unread count in the menu
        with django_assert_num_queries(5):
            response = client.get(reverse("inbox"))
        sizes.append(len(response.context["page"]))
    assert sizes == [1, 20]


def test_the_menu_shows_the_unread_count(client: Client) -> None:
    # given
    user = UserFactory.create()
    for _ in range(2):
        _notify(user)
    _notify(user, read_at=timezone.now())
    client.force_login(user)

    # when
    before = client.get(reverse("profile")).content.decode()
    client.post(reverse("inbox-read"))
    after = client.get(reverse("profile")).content.decode()

    # then
    assert "2 unread" in before
    assert "unread" not in after
    assert reverse("inbox") in after


def test_the_unread_count_in_the_menu_stops_at_99_plus(client: Client) -> None:
    user = UserFactory.create()
    Notification.objects.bulk_create(
        Notification(user=user, kind=Kind.REPORT_STATUS, message="m")
        for _ in range(120)
    )
    client.force_login(user)
    assert "99+ unread" in client.get(reverse("inbox")).content.decode()


def test_the_inbox_is_for_signed_in_users(client: Client) -> None:
    response = client.get(reverse("inbox"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_opening_a_notification_marks_it_read_and_follows_its_link(
    client: Client,
) -> None:
    # given
    user = UserFactory.create()
    notification = _notify(user, link="/reports/?page=2")
    client.force_login(user)

    # when
    response = client.get(reverse("inbox-open", args=[notification.pk]))

    # then
    assert response.status_code == 302
    assert response["Location"] == "/reports/?page=2"
    notification.refresh_from_db()
    assert notification.read_at is not None


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "/\\evil.example/phish",
        "/\t/evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " /reports/",
        "",
    ],
)
def test_opening_never_leads_to_another_site(client: Client, link: str) -> None:
    # given
    user = UserFactory.create()
    notification = _notify(user, link=link)
    client.force_login(user)

    # when
    response = client.get(reverse("inbox-open", args=[notification.pk]))

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("inbox")
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_another_users_notification_is_not_found(client: Client) -> None:
    # given
    notification = _notify(UserFactory.create())
    client.force_login(UserFactory.create())

    # when
    opened = client.get(reverse("inbox-open", args=[notification.pk]))
    marked = client.post(reverse("inbox-read"), {"id": notification.pk})

    # then
    assert opened.status_code == 404
    assert marked.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_one_or_all_notifications_are_marked_read(client: Client) -> None:
    # given
    user = UserFactory.create()
    first, second, _third = (_notify(user) for _ in range(3))
    others = _notify(UserFactory.create())
    client.force_login(user)

    # when
    one = client.post(reverse("inbox-read"), {"id": first.pk, "page": "2"})
    first.refresh_from_db()
    second.refresh_from_db()
    marked_one = (first.read_at is not None, second.read_at is not None)
    every = client.post(reverse("inbox-read"))

    # then
    assert one["Location"] == f"{reverse('inbox')}?page=2"
    assert marked_one == (True, False)
    assert every.status_code == 302
    assert not Notification.objects.filter(user=user, read_at=None).exists()
    others.refresh_from_db()
    assert others.read_at is None
    assert client.get(reverse("inbox-read")).status_code == 405
    assert client.post(reverse("inbox-read"), {"id": "x"}).status_code == 400
    assert client.post(reverse("inbox-read"), {"id": "999999"}).status_code == 404


# --- The API --------------------------------------------------------------------------


def test_the_api_lists_my_notifications_in_constant_queries(
    api: APIClient, django_assert_num_queries: Any
) -> None:
    # given
    user = UserFactory.create()
    _notify(UserFactory.create())
    api.force_authenticate(user)
    sizes = []
    for total in (1, 25):
        while Notification.objects.filter(user=user).count() < total:
            _notify(user)
        with django_assert_num_queries(2):  # count and page
            response = api.get("/api/v1/notifications/")
        sizes.append(len(response.json()["results"]))

    # then
    assert sizes == [1, 20]
    item = response.json()["results"][0]
    assert item["text"] == "Your report about Mingde AI was dismissed."
    assert item["kind"] == "report_status"
    assert item["read_at"] is None


def test_the_api_filters_unread_and_marks_read(api: APIClient) -> None:
    # given
    user = UserFactory.create()
    first, second, third = (_notify(user) for _ in range(3))
    others = _notify(UserFactory.create())
    api.force_authenticate(user)
    read = "/api/v1/notifications/read/"

    # when
    by_id = api.post(read, {"ids": [first.pk, first.pk]}, format="json")
    unread = api.get("/api/v1/notifications/", {"unread": "true"}).json()
    foreign = api.post(read, {"ids": [second.pk, others.pk]}, format="json")
    neither = api.post(read, {}, format="json")
    both = api.post(read, {"ids": [second.pk], "all": True}, format="json")
    every = api.post(read, {"all": True}, format="json")

    # then
    assert by_id.json() == {"marked": 1}
    assert [item["id"] for item in unread["results"]] == [third.pk, second.pk]
    assert foreign.status_code == 404
    assert neither.status_code == 400
    assert both.status_code == 400
    assert every.json() == {"marked": 2}
    others.refresh_from_db()
    assert others.read_at is None


def test_the_api_is_for_signed_in_users(api: APIClient) -> None:
    assert api.get("/api/v1/notifications/").status_code in (401, 403)
    assert api.post("/api/v1/notifications/read/", {"all": True}).status_code in (
        401,
        403,
    )


# --- The e-mail -----------------------------------------------------------------------


def test_a_notification_is_emailed_once_when_it_commits(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    user = UserFactory.create(preferred_language="en")

    # when
    with django_capture_on_commit_callbacks() as callbacks:
        notification = notification_create(
            user=user,
            kind=Kind.REPORT_STATUS,
            message=MESSAGE,
            params={"publisher": "Mingde AI"},
            link="/reports/",
        )
    sent = notification_email_task(notification_id=notification.pk)
    again = notification_email_task(notification_id=notification.pk)

    # then
    assert len(callbacks) == 1
    assert (sent, again) == (True, False)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "Your report about Mingde AI was dismissed." in message.body
    assert "http://testserver/reports/" in message.body
    notification.refresh_from_db()
    assert notification.emailed_at is not None


def test_the_email_is_in_the_recipients_language() -> None:
    # given
    chinese = UserFactory.create(preferred_language="zh-hans")
    english = UserFactory.create(preferred_language="en")
    message = gettext_noop("Your profile was saved.")

    # when
    for user in (chinese, english):
        notification = Notification.objects.create(
            user=user, kind=Kind.REVIEW_REPLY, message=message
        )
        notification_email_task(notification_id=notification.pk)

    # then
    bodies = {m.to[0]: m.body for m in mail.outbox}
    assert "您的个人资料已保存。" in bodies[chinese.email]
    assert "Your profile was saved." in bodies[english.email]


def test_no_email_goes_to_an_unconfirmed_address() -> None:
    # given
    user = UserFactory.create(email_verified_at=None)
    notification = _notify(user)

    # when
    sent = notification_email_task(notification_id=notification.pk)

    # then
    assert sent is False
    assert mail.outbox == []
    notification.refresh_from_db()
    assert notification.emailed_at is None


@pytest.mark.parametrize("raw", ["²", "٣", " 1", "1 ", "-1", "1e3", "9" * 19])
def test_a_malformed_id_is_refused_with_a_message_not_an_error(
    client: Client, raw: str
) -> None:
    # given
    user = UserFactory.create()
    notification = _notify(user)
    client.force_login(user)

    # when
    response = client.post(reverse("inbox-read"), {"id": raw})

    # then
    assert response.status_code == 400
    assert "This is not the number of a notification." in response.content.decode()
    notification.refresh_from_db()
    assert notification.read_at is None


def test_a_malformed_page_leads_back_to_the_first_page(client: Client) -> None:
    client.force_login(UserFactory.create())
    response = client.post(reverse("inbox-read"), {"page": "²"})
    assert response["Location"] == reverse("inbox")


@pytest.mark.parametrize("raw", ["²", "x", 10**19, -1, 0])
def test_the_api_refuses_malformed_ids_with_the_field_at_fault(
    api: APIClient, raw: object
) -> None:
    # given
    user = UserFactory.create()
    notification = _notify(user)
    api.force_authenticate(user)

    # when
    response = api.post("/api/v1/notifications/read/", {"ids": [raw]}, format="json")

    # then
    assert response.status_code == 400
    assert "ids.0" in response.json()["error"]["details"]
    notification.refresh_from_db()
    assert notification.read_at is None
