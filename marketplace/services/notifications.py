"""The in-site inbox, and the e-mail that follows each message.

Messages are stored as message ids with parameters (mark them with
``gettext_noop``) and translated when read, on the page in the reader's language and
in the e-mail in the recipient's preferred one.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from config.site import absolute_url
from marketplace.models import Notification, User
from marketplace.services.common import email_send


@transaction.atomic
def notification_create(
    *,
    user: User,
    kind: str,
    message: str,
    params: dict[str, Any] | None = None,
    link: str = "",
) -> Notification:
    """Put a message in the user's inbox and e-mail it once the transaction
    commits."""
    from marketplace.tasks import notification_email

    notification = Notification.objects.create(
        user=user, kind=kind, message=message, params=params or {}, link=link
    )
    notification_email.delay_on_commit(notification_id=notification.pk)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    return notification


def notification_email(*, notification_id: int) -> bool:
    """E-mail a notification once, to a confirmed address. Returns whether it was
    sent."""
    notification = (
        Notification.objects.select_related("user")
        .filter(pk=notification_id, emailed_at=None)
        .first()
    )
    if notification is None or not notification.user.email_verified:
        return False
    user = notification.user
    # Send, then mark: a crash between the two sends the e-mail twice, never not at
    # all. The message is translated as the template reads it, in the user's language.
    email_send(
        template="notification",
        context={
            "notification": notification,
            "url": absolute_url(notification.link) if notification.link else "",
        },
        language=user.preferred_language,
        to=user.email,
    )
    Notification.objects.filter(pk=notification.pk, emailed_at=None).update(
        emailed_at=timezone.now()
    )
    return True


@transaction.atomic
def notification_mark_read(
    *, user: User, notification_ids: list[int] | None = None
) -> int:
    """Mark the user's notifications read: those of ``notification_ids``, or all of
    them when it is None. Another user's ids are left alone. Returns how many were
    unread."""
    unread = Notification.objects.filter(user=user, read_at=None)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    return unread.update(read_at=timezone.now())
