"""Reads of the inbox: each user sees their own notifications only."""

from django.db.models import QuerySet

from marketplace.models import Notification, User

# The unread count in the menu stops here ("99+"): counting stops early.
UNREAD_COUNT_CAP = 100


def notification_list(*, user: User, unread: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first; only the unread ones if asked."""
    notifications = Notification.objects.filter(user=user)
    if unread:
        notifications = notifications.filter(read_at=None)
    return notifications.order_by("-created_at", "-pk")


def notification_get(*, user: User, notification_id: int) -> Notification | None:
    return Notification.objects.filter(user=user, pk=notification_id).first()


def notification_unread_count(*, user: User) -> int:
    """How many notifications the user has not read, up to ``UNREAD_COUNT_CAP``:
    one query on the (user, read_at) index."""
    return (
        Notification.objects.filter(user=user, read_at=None)
        .values("pk")[:UNREAD_COUNT_CAP]
        .count()
    )
