"""Ask signed-in people to accept changed documents before they write on a page.

The services refuse a write by someone who has not accepted the documents in force
(the API answers that 403 itself); on pages, a form sent in that state leads to the
page where they read and accept the changes, and back where they were.

Withdrawing consent and looking after one's own data never wait for the documents:
a person who does not accept a change must still be able to uninstall an agent,
revoke a permission granted to it, turn the elder-friendly mode off or correct
their profile, mark notifications read and leave an organisation. Holding those
back until the new terms are accepted would make accepting them the price of
withdrawing, so their pages are exempt here and their services do not ask either.

After accepting, the person goes back to the page the form was on (the site sends
same-origin Referers); without a Referer of this site, to the home page, since the
address the form was sent to may take forms only.
"""

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from marketplace.models import Membership, User
from marketplace.selectors.agreements import agreement_pending_list

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Pages a person may still send forms to with documents pending: the one where
# they accept them, signing out, the language, their e-mail and password, and the
# operator's pages of the documents (a faulty version is corrected there).
EXEMPT_URL_NAMES = frozenset(
    {
        "agreements-accept",
        "operator-agreement-new",
        "operator-agreement-edit",
        "operator-agreement-publish",
        "logout",
        "set_language",
        "verify-email",
        "verify-email-resend",
        "password_change",
        "password_change_done",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
        # Withdrawing consent and one's own data (see the module's docstring).
        "install-uninstall",
        "install-grant-revoke",
        "profile",
        "inbox-read",
    }
)
# Exempt only when the membership is the person's own: leaving an organisation.
# Removing someone else waits like any other write.
LEAVE_URL_NAME = "membership-remove"
EXEMPT_PREFIXES = ("/api/", "/admin/")


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    """``candidate`` when it is a path on this site, else None."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return candidate
    return None


def _return_path(request: HttpRequest) -> str:
    """Where to go back after accepting: the page the form was on (the Referer, when
    it is this site's), else the home page (the address the form was sent to may
    take forms only)."""
    referer = request.headers.get("referer", "")
    if safe_next(request, referer):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return reverse("home")


def _is_leaving(request: HttpRequest, user: User, view_kwargs: dict[str, Any]) -> bool:
    match = request.resolver_match
    if match is None or match.url_name != LEAVE_URL_NAME:
        return False
    membership_id = view_kwargs.get("membership_id")
    if not isinstance(membership_id, int):
        return False
    return Membership.objects.filter(pk=membership_id, user=user).exists()


class AgreementsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if request.method in SAFE_METHODS:
            return None
        user = getattr(request, "user", None)
        if not isinstance(user, User) or not user.is_authenticated:
            return None
        if request.path.startswith(EXEMPT_PREFIXES):
            return None
        match = request.resolver_match
        if match is None or match.url_name in EXEMPT_URL_NAMES:
            return None
        if not agreement_pending_list(user=user):
            return None
        if _is_leaving(request, user, view_kwargs):
            return None
        messages.warning(
            request,
            _(
                "Some of the site's documents changed. Read and accept them to "
                "continue; then send your form again."
            ),
        )
        back = _return_path(request)
        target = "{}?{}".format(reverse("agreements-accept"), urlencode({"next": back}))
        if request.headers.get("hx-request"):
            response = HttpResponse(status=200)
            response["HX-Redirect"] = target
            return response
        return HttpResponseSeeOther(target)
