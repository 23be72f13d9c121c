"""The moderators' pages of listing flags: the queue, and upholding or dismissing
a flag with a note."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.selectors.governance import (
    FLAG_VIEWS,
    flag_category_label,
    listing_flag_list,
)
from marketplace.services import governance as services
from marketplace.services.publishing import is_reviewer

PAGE_SIZE = 20


def _view(value: str | None) -> str:
    return value if value in FLAG_VIEWS else "open"


def _queue(request: HttpRequest, *, view: str, status: int = 200) -> HttpResponse:
    user = signed_in_user(request.user)
    # listing_flag_list denies anyone but the operator's moderators
    page = CappedPaginator(
        listing_flag_list(actor=user, view=view), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    # Each flag with the words for its misconduct categories.
    rows = [
        (flag, [flag_category_label(category) for category in flag.categories])
        for flag in page
    ]
    return render(
        request,
        "marketplace/governance/listing_flags.html",
        {
            "page": page,
            "rows": rows,
            "view": view,
            "query": urlencode({"view": view}),
            "note_max": services.NOTE_MAX_LENGTH,
            # A report's page opens for the operator's reviewers (ratings'
            # report_can_see); other moderators read the flag's excerpt.
            "reports_open": is_reviewer(user),
        },
        status=status,
    )


@login_required
def listing_flag_queue_page(request: HttpRequest) -> HttpResponse:
    """Listings that may break their own disclosure, open flags first."""
    return _queue(request, view=_view(request.GET.get("view")))


@login_required
@require_POST
def listing_flag_decide(request: HttpRequest, flag_id: int) -> HttpResponse:
    """Uphold or dismiss a flag with a note; back to the queue, or the queue again
    with the error (400, or 409 when it was decided meanwhile)."""
    user = signed_in_user(request.user)
    view = _view(request.POST.get("view"))
    decision = request.POST.get("decision", "")
    try:
        services.listing_flag_decide(
            actor=user,
            flag_id=flag_id,
            decision=decision,
            note=request.POST.get("note", ""),
        )
    except DomainPermissionDenied:
        raise
    except ApplicationError as error:
        messages.error(request, error.message)
        return _queue(
            request,
            view=view,
            status=error.status_code,
        )
    messages.success(
        request,
        _("The flag was upheld; the publisher's owners and administrators were told.")
        if decision == "uphold"
        else _("The flag was dismissed."),
    )
    return redirect(f"{reverse('listing-flag-queue')}?{urlencode({'view': view})}")
