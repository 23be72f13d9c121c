"""The inbox: a signed-in user's notifications, and the unread count in the menu."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from marketplace.auth import signed_in_user
from marketplace.models import User
from marketplace.selectors.notifications import (
    UNREAD_COUNT_CAP,
    notification_get,
    notification_list,
    notification_unread_count,
)
from marketplace.services.notifications import notification_mark_read

PAGE_SIZE = 20


def _number(raw: str) -> int | None:
    """A positive number written in ASCII digits (``int`` also takes "٣" and
    spaces, ``str.isdigit`` also "²"), small enough for the database; else None."""
    return int(raw) if re.fullmatch(r"[0-9]{1,18}", raw) else None


class UnreadCount:
    """The signed-in user's unread notifications, for the menu: counted once, and
    only when a page shows it."""

    def __init__(self, user: User) -> None:
        self.user = user

    @cached_property
    def count(self) -> int:
        return notification_unread_count(user=self.user)

    @property
    def label(self) -> str:
        return (
            f"{UNREAD_COUNT_CAP - 1}+"
            if self.count >= UNREAD_COUNT_CAP
            else str(self.count)
        )


def inbox_context(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return {}
    return {"inbox_unread": UnreadCount(user)}


def local_path(link: str) -> str | None:
    """``link`` if it is a path on this site (``/reports/…``), else None: a
    notification never sends its reader to another site."""
    if (
        not link.startswith("/")
        or link.startswith(("//", "/\\"))
        or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in link)
        or not url_has_allowed_host_and_scheme(link, allowed_hosts=set())
    ):
        return None
    return link


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    page = Paginator(notification_list(user=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "marketplace/notifications/inbox.html", {"page": page})


@login_required
def inbox_open(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link, marking it read; a link that does not lead to
    a page of this site leads back to the inbox."""
    user = signed_in_user(request.user)
    notification = notification_get(user=user, notification_id=notification_id)
    if notification is None:
        raise Http404
    if notification.read_at is None:
        notification_mark_read(user=user, notification_ids=[notification.pk])
    return redirect(local_path(notification.link) or "inbox")


@login_required
@require_POST
def inbox_read(request: HttpRequest) -> HttpResponse:
    """Mark one notification read (``id``), or all of them."""
    user = signed_in_user(request.user)
    raw = request.POST.get("id", "")
    if raw:
        notification_id = _number(raw)
        if notification_id is None:
            return render(
                request,
                "error.html",
                {
                    "status": 400,
                    "title": _("Bad request"),
                    "message": _("This is not the number of a notification."),
                },
                status=400,
            )
        if notification_get(user=user, notification_id=notification_id) is None:
            raise Http404
        notification_mark_read(user=user, notification_ids=[notification_id])
        messages.success(request, _("The notification was marked as read."))
    else:
        marked = notification_mark_read(user=user)
        messages.success(
            request,
            ngettext(
                "%(count)d notification was marked as read.",
                "%(count)d notifications were marked as read.",
                marked,
            )
            % {"count": marked},
        )
    page = _number(request.POST.get("page", ""))
    return redirect(f"{reverse('inbox')}?page={page}" if page else "inbox")
