"""Pages of rating surveillance: the body's watches.

The body's console lists its watches, open (the overdue ones marked), overdue
or resolved, with a form to resolve each open one and a form to open a watch by
hand (an analyst's call). An open watch shows the grade of the rating published
since it opened (its watch cycle's), by which it is upgraded or downgraded; until
that rating is published only affirming goes (409 otherwise). Its owners,
administrators, analysts and committee members see it; owners, administrators
and analysts act, when impartial to the entity. Every change goes through a
service: its field errors show on the form (400, or 409 when the watch moved
on), a denial answers 403 and a missing object 404."""

import uuid
from collections.abc import Callable
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from marketplace.auth import signed_in_user
from marketplace.models import Organization, User
from marketplace.selectors.organizations import organization_get
from marketplace.views.errors import add_service_error
from ratings.forms import WatchOpenForm, WatchResolveForm
from ratings.models import Watch
from ratings.selectors.surveillance import (
    WATCH_ACTOR_ROLES,
    watch_body_role,
    watch_get,
    watch_list_for_body,
)
from ratings.services.surveillance import watch_open, watch_resolve

PAGE_SIZE = 20
ResultT = TypeVar("ResultT")


class WatchFilterForm(forms.Form):
    state = forms.ChoiceField(
        required=False,
        choices=[
            ("open", gettext_lazy("Open")),
            ("overdue", gettext_lazy("Overdue")),
            ("resolved", gettext_lazy("Resolved")),
        ],
    )


def _body(slug: str) -> Organization:
    body = organization_get(slug=slug)
    if body is None or body.kind != Organization.Kind.INDUSTRY_BODY:
        raise Http404
    return body


def _role(user: User, body: Organization) -> str:
    role = watch_body_role(user=user, body=body)
    if role is None:
        raise DomainPermissionDenied(
            _("Only the people of %(body)s see its watches.") % {"body": body.name}
        )
    return role


def _run(form: forms.Form, call: Callable[[], ResultT]) -> tuple[ResultT | None, int]:
    """The service's result and 200, or None and the status to answer with after
    showing its error on the form. A denial stays a 403."""
    try:
        return call(), 200
    except DomainPermissionDenied:
        raise
    except ApplicationError as error:
        add_service_error(form, error)
        return None, error.status_code


def _render(
    request: HttpRequest,
    body: Organization,
    role: str,
    *,
    open_form: WatchOpenForm | None = None,
    failed: tuple[uuid.UUID, WatchResolveForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    filters = WatchFilterForm(request.GET)
    state = "open"
    if request.GET.get("state"):
        if filters.is_valid():
            state = filters.cleaned_data["state"] or "open"
        else:
            status = max(status, 400)
    page = Paginator(watch_list_for_body(body=body, state=state), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    rows = []
    for watch in page:
        form = None
        if watch.resolved_at is None:
            if failed is not None and failed[0] == watch.public_id:
                form = failed[1]
            else:
                form = WatchResolveForm(prefix=f"w-{watch.pk}")
        rows.append((watch, watch.resolved_at is None and watch.due_at < now, form))
    errors: list[str] = []
    if failed is not None and not any(
        watch.public_id == failed[0] for watch, _overdue, _form in rows
    ):
        errors = [str(e) for errs in failed[1].errors.values() for e in errs]
    return render(
        request,
        "ratings/surveillance/body.html",
        {
            "body": body,
            "state": state,
            "filters": filters,
            "page": page,
            "rows": rows,
            "can_act": role in WATCH_ACTOR_ROLES,
            "open_form": open_form or WatchOpenForm(),
            "errors": errors,
            "query": f"state={state}",
        },
        status=status,
    )


@login_required
def body_watches(request: HttpRequest, body: str) -> HttpResponse:
    """The body's watches; POST opens one by hand (an analyst's call)."""
    user = signed_in_user(request.user)
    found = _body(body)
    role = _role(user, found)
    if request.method != "POST":
        return _render(request, found, role)
    if role not in WATCH_ACTOR_ROLES:
        raise DomainPermissionDenied(
            _("Only the body's analysts, owners and administrators handle watches.")
        )
    form = WatchOpenForm(request.POST)
    status = 400
    if form.is_valid():
        entity = organization_get(slug=form.cleaned_data["entity"])
        if entity is None:
            form.add_error("entity", _("There is no such entity."))
        else:
            watch, status = _run(
                form,
                lambda: watch_open(
                    entity=entity,
                    body=found,
                    reason=Watch.Reason.ANALYST,
                    detail=form.cleaned_data["detail"],
                    actor=user,
                ),
            )
            if watch is not None:
                messages.success(
                    request,
                    _("%(entity)s is on watch.") % {"entity": entity.name},
                )
                return redirect("credit-body-watches", body=found.slug)
    return _render(request, found, role, open_form=form, status=status)


@login_required
@require_POST
def watch_resolve_submit(
    request: HttpRequest, body: str, public_id: uuid.UUID
) -> HttpResponse:
    """Resolve an open watch of the body."""
    user = signed_in_user(request.user)
    found = _body(body)
    role = _role(user, found)
    watch = watch_get(public_id=public_id)
    if watch is None or watch.body_id != found.pk:
        raise Http404
    form = WatchResolveForm(request.POST, prefix=f"w-{watch.pk}")
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        done, status = _run(
            form,
            lambda: watch_resolve(
                actor=user,
                watch=watch,
                resolution=data["resolution"],
                reason=data["reason"],
                outlook=data["outlook"] or None,
            ),
        )
        if done is not None:
            messages.success(
                request,
                _("The watch on %(entity)s was resolved: %(resolution)s.")
                % {
                    "entity": watch.entity.name,
                    "resolution": Watch.Resolution(data["resolution"]).label,
                },
            )
            return redirect("credit-body-watches", body=found.slug)
    return _render(request, found, role, failed=(watch.public_id, form), status=status)
