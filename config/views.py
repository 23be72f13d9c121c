"""Site-wide pages: home, health check and the error pages."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.exceptions import error_body

logger = logging.getLogger(__name__)


def home(request: HttpRequest) -> HttpResponse:
    from marketplace.selectors.search import store_front

    return render(request, "home.html", {"store": store_front()})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = "healthz:probe"
    value = str(time.monotonic())
    cache.set(key, value, timeout=30)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was stored")


def _check_broker() -> None:
    from config.celery_app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Whether the database, the broker and the cache answer: 200 if all do, else
    503. Each check reports ``ok`` or ``error`` with the time it took."""
    checks: dict[str, dict[str, object]] = {}
    for name, check in (
        ("database", _check_database),
        ("broker", _check_broker),
        ("cache", _check_cache),
    ):
        started = time.perf_counter()
        try:
            check()
        except Exception as error:  # a health check reports every failure
            logger.warning("health check %s failed: %s", name, error)
            checks[name] = {"status": "error", "error": type(error).__name__}
        else:
            checks[name] = {"status": "ok"}
        checks[name]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks},
        status=200 if healthy else 503,
    )


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _error(
    request: HttpRequest, status: int, code: str, title: str, message: str
) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body(code, message), status=status)
    return render(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status=status,
    )


def bad_request(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    return _error(
        request,
        400,
        "bad_request",
        _("Bad request"),
        _("The request could not be understood."),
    )


def permission_denied(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    message = getattr(exception, "message", "") or _(
        "You do not have permission to see this page."
    )
    return _error(request, 403, "permission_denied", _("Access denied"), str(message))


def page_not_found(
    request: HttpRequest, exception: Exception | None = None
) -> HttpResponse:
    return _error(
        request,
        404,
        "not_found",
        _("Page not found"),
        _("There is nothing at this address. It may have moved or never existed."),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without the request context: whatever broke must not break this too.
    if _wants_json(request):
        return JsonResponse(
            error_body("server_error", _("Something went wrong on our side.")),
            status=500,
        )
    from django.template import loader

    template = loader.get_template("500.html")
    return HttpResponse(template.render({"SITE_NAME": settings.SITE_NAME}), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error(
        request,
        403,
        "csrf_failed",
        _("Form expired"),
        _(
            "The form was sent without a valid security token. "
            "Reload the page and try again."
        ),
    )
