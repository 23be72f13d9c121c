"""Pages of sanctions and credit repair.

- The body's console: its sanctions in force and past, the published ratings
  whose grade calls for a sanction not imposed yet (a form per proposal), and
  the credit repair applications waiting for a decision (a form each). Its
  owners, administrators, analysts and committee members see it; owners,
  administrators and committee members act.
- The entity's page: its sanctions with their repair applications and the
  decisions, and the repair form once a sanction may be repaired. Its members
  see it; owners and administrators apply.

Every change goes through a service: its field errors show on the form, a
denial answers 403 and a missing object 404."""

import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any, TypeVar
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.models import Organization, User
from marketplace.selectors.organizations import membership_role, organization_get
from marketplace.views.errors import add_service_error
from ratings.models import GradeMeasure, Rating, RepairApplication, Sanction
from ratings.selectors.sanctions import (
    can_see_body_sanctions,
    can_see_entity_sanctions,
    proposals_for,
    rating_of_body,
    ratings_calling_for_sanctions,
    repair_get,
    repair_list_pending,
    sanction_get,
    sanction_list,
    sanction_list_with_repairs,
)
from ratings.services import LINKS_MAX
from ratings.services.repair import (
    ACTIONS_MAX_LENGTH,
    repair_apply,
    repair_decide,
)
from ratings.services.sanctions import (
    DECIDER_ROLES,
    ENTITY_ROLES,
    MAX_SANCTION_YEARS,
    REASON_MAX_LENGTH,
    SANCTION_KINDS,
    sanction_impose,
    sanction_latest_end,
)

PAGE_SIZE = 20
ResultT = TypeVar("ResultT")
FormKey = tuple[str, str]


# --- Forms ------------------------------------------------------------------------


class ImposeForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[c for c in GradeMeasure.Kind.choices if c[0] in SANCTION_KINDS],
        widget=forms.HiddenInput,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reasons"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("The entity reads them in its notification."),
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Leave empty for the period the methodology sets."),
    )

    def clean_ends_on(self) -> date | None:
        """Not past the longest a sanction lasts (a far year does not even make
        a moment in every time zone)."""
        day: date | None = self.cleaned_data.get("ends_on")
        latest = timezone.localtime(sanction_latest_end(timezone.now())).date()
        if day is not None and day >= latest:
            raise forms.ValidationError(
                _("A sanction lasts at most %(years)d years: end it before %(date)s.")
                % {"years": MAX_SANCTION_YEARS, "date": latest.isoformat()}
            )
        return day

    def ends_at(self) -> datetime | None:
        """The end of the chosen day, in the site's time zone."""
        day: date | None = self.cleaned_data.get("ends_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


class DecideForm(forms.Form):
    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        choices=[
            ("", "---------"),
            ("grant", gettext_lazy("Grant: lift the sanction")),
            ("refuse", gettext_lazy("Refuse, with reasons")),
        ],
    )
    reason = forms.CharField(
        label=gettext_lazy("Reasons"),
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RepairForm(forms.Form):
    corrective_actions = forms.CharField(
        label=gettext_lazy("What was corrected, and how"),
        max_length=ACTIONS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    evidence_links = forms.CharField(
        label=gettext_lazy("Links to evidence"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One https:// address per line, at most %(most)d.")
        % {"most": LINKS_MAX},
    )

    def links(self) -> list[str]:
        text: str = self.cleaned_data.get("evidence_links") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


# --- Helpers ----------------------------------------------------------------------


def _run(form: forms.Form, call: Callable[[], ResultT]) -> tuple[ResultT | None, int]:
    """Run the service behind a valid form: its result and 200, or None and the
    status to answer with after showing its error on the form. A denial stays a
    403."""
    try:
        return call(), 200
    except DomainPermissionDenied:
        raise
    except ApplicationError as error:
        add_service_error(form, error)
        return None, error.status_code


def _page(request: HttpRequest, queryset: QuerySet[Any], param: str) -> Any:
    return CappedPaginator(queryset, PAGE_SIZE).get_page(request.GET.get(param))


def _query(request: HttpRequest, without: str) -> str:
    return urlencode(
        [(key, value) for key, value in request.GET.items() if key != without]
    )


def _body(user: User, slug: str) -> Organization:
    body = organization_get(slug=slug)
    if body is None or body.kind != Organization.Kind.INDUSTRY_BODY:
        raise Http404
    if not can_see_body_sanctions(user=user, body=body):
        raise DomainPermissionDenied(
            _("Only the people of %(body)s see its sanctions.") % {"body": body.name}
        )
    return body


def _entity(user: User, slug: str) -> Organization:
    entity = organization_get(slug=slug)
    if entity is None:
        raise Http404
    if not can_see_entity_sanctions(user=user, entity=entity):
        raise DomainPermissionDenied(
            _("Only the members of %(entity)s see its sanctions.")
            % {"entity": entity.name}
        )
    return entity


def _impose_id(rating_id: int, kind: str) -> str:
    return f"id_impose_{rating_id}_{kind}_%s"


def _unshown(bound: dict[FormKey, forms.Form], shown: set[FormKey]) -> list[str]:
    """The errors of a posted form the page no longer shows (its rating or
    application moved on meanwhile): shown above the page instead."""
    return [
        str(error)
        for key, form in bound.items()
        if key not in shown
        for errors in form.errors.values()
        for error in errors
    ]


# --- The body's console -----------------------------------------------------------


def _render_body(
    request: HttpRequest,
    user: User,
    body: Organization,
    *,
    bound: dict[FormKey, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    bound = bound or {}
    shown: set[FormKey] = set()
    can_decide = membership_role(user=user, organization=body) in DECIDER_ROLES

    def form_for(key: FormKey, unbound: forms.Form) -> forms.Form:
        """The posted form of ``key`` when there is one, else ``unbound``."""
        shown.add(key)
        return bound.get(key) or unbound

    proposals_page = _page(
        request, ratings_calling_for_sanctions(body=body), "proposals_page"
    )
    proposals = []
    for rating, measures in proposals_for(proposals_page):
        offers = []
        for measure in measures:
            form = form_for(
                ("impose", f"{rating.pk}:{measure.kind}"),
                ImposeForm(
                    initial={"kind": measure.kind},
                    auto_id=_impose_id(rating.pk, measure.kind),
                ),
            )
            offers.append((measure, form))
        proposals.append((rating, offers))
    repairs_page = _page(request, repair_list_pending(body=body), "repairs_page")
    repairs = [
        (
            application,
            form_for(
                ("decide", str(application.public_id)),
                DecideForm(auto_id=f"id_decide_{application.pk}_%s"),
            ),
        )
        for application in repairs_page
    ]
    return render(
        request,
        "ratings/sanctions/body.html",
        {
            "body": body,
            "can_decide": can_decide,
            "active": _page(
                request,
                sanction_list(body=body, states=[Sanction.State.ACTIVE]),
                "active_page",
            ),
            "active_query": _query(request, "active_page"),
            "past": _page(
                request,
                sanction_list(
                    body=body,
                    states=[Sanction.State.EXPIRED, Sanction.State.LIFTED],
                ),
                "past_page",
            ),
            "past_query": _query(request, "past_page"),
            "proposals_page": proposals_page,
            "proposals": proposals,
            "proposals_query": _query(request, "proposals_page"),
            "repairs_page": repairs_page,
            "repairs": repairs,
            "repairs_query": _query(request, "repairs_page"),
            "errors": _unshown(bound, shown),
        },
        status=status,
    )


@login_required
def body_sanctions(request: HttpRequest, slug: str) -> HttpResponse:
    user = signed_in_user(request.user)
    return _render_body(request, user, _body(user, slug))


@login_required
@require_POST
def sanction_impose_submit(
    request: HttpRequest, slug: str, rating_id: int
) -> HttpResponse:
    user = signed_in_user(request.user)
    body = _body(user, slug)
    rating: Rating | None = rating_of_body(body=body, rating_id=rating_id)
    if rating is None:
        raise Http404
    kind = str(request.POST.get("kind", ""))[:20]
    form = ImposeForm(request.POST, auto_id=_impose_id(rating.pk, kind))
    status = 400
    if form.is_valid():
        sanction, status = _run(
            form,
            lambda: sanction_impose(
                actor=user,
                rating=rating,
                kind=form.cleaned_data["kind"],
                reason=form.cleaned_data["reason"],
                ends_at=form.ends_at(),
            ),
        )
        if sanction is not None:
            messages.success(
                request,
                _("The sanction (%(kind)s) was imposed on %(entity)s.")
                % {"kind": sanction.get_kind_display(), "entity": rating.entity.name},
            )
            return redirect("credit-body-sanctions", slug=body.slug)
    return _render_body(
        request,
        user,
        body,
        bound={("impose", f"{rating.pk}:{kind}"): form},
        status=status,
    )


@login_required
@require_POST
def repair_decide_submit(
    request: HttpRequest, slug: str, public_id: uuid.UUID
) -> HttpResponse:
    user = signed_in_user(request.user)
    body = _body(user, slug)
    application: RepairApplication | None = repair_get(public_id=public_id)
    if application is None or application.sanction.body_id != body.pk:
        raise Http404
    form = DecideForm(request.POST, auto_id=f"id_decide_{application.pk}_%s")
    status = 400
    if form.is_valid():
        decided, status = _run(
            form,
            lambda: repair_decide(
                actor=user,
                application=application,
                grant=form.cleaned_data["decision"] == "grant",
                reason=form.cleaned_data["reason"],
            ),
        )
        if decided is not None:
            if decided.state == RepairApplication.State.GRANTED:
                done = _("The credit repair of %(entity)s was granted.")
            else:
                done = _("The credit repair of %(entity)s was refused.")
            messages.success(
                request, done % {"entity": application.sanction.entity.name}
            )
            return redirect("credit-body-sanctions", slug=body.slug)
    return _render_body(
        request,
        user,
        body,
        bound={("decide", str(application.public_id)): form},
        status=status,
    )


# --- The entity's page ------------------------------------------------------------


def _render_entity(
    request: HttpRequest,
    user: User,
    entity: Organization,
    *,
    bound: dict[FormKey, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    bound = bound or {}
    shown: set[FormKey] = set()
    can_apply = membership_role(user=user, organization=entity) in ENTITY_ROLES
    now = timezone.now()
    page = _page(request, sanction_list_with_repairs(entity=entity), "page")
    rows = []
    for sanction in page:
        repairs = list(sanction.repairs.all())
        pending = any(r.state == RepairApplication.State.PENDING for r in repairs)
        form = None
        if (
            can_apply
            and sanction.state == Sanction.State.ACTIVE
            and sanction.repairable_from <= now
            and not pending
        ):
            key = ("repair", str(sanction.public_id))
            shown.add(key)
            form = bound.get(key) or RepairForm(auto_id=f"id_repair_{sanction.pk}_%s")
        rows.append((sanction, repairs, pending, form))
    return render(
        request,
        "ratings/sanctions/entity.html",
        {
            "entity": entity,
            "page": page,
            "rows": rows,
            "can_apply": can_apply,
            "query": _query(request, "page"),
            "errors": _unshown(bound, shown),
        },
        status=status,
    )


@login_required
def entity_sanctions(request: HttpRequest, slug: str) -> HttpResponse:
    user = signed_in_user(request.user)
    return _render_entity(request, user, _entity(user, slug))


@login_required
@require_POST
def repair_apply_submit(
    request: HttpRequest, slug: str, public_id: uuid.UUID
) -> HttpResponse:
    user = signed_in_user(request.user)
    entity = _entity(user, slug)
    sanction = sanction_get(public_id=public_id)
    if sanction is None or sanction.entity_id != entity.pk:
        raise Http404
    form = RepairForm(request.POST, auto_id=f"id_repair_{sanction.pk}_%s")
    status = 400
    if form.is_valid():
        application, status = _run(
            form,
            lambda: repair_apply(
                actor=user,
                sanction=sanction,
                corrective_actions=form.cleaned_data["corrective_actions"],
                evidence_links=form.links(),
            ),
        )
        if application is not None:
            messages.success(
                request,
                _("Your application for credit repair was sent to %(body)s.")
                % {"body": sanction.body.name},
            )
            return redirect("credit-entity-sanctions", slug=entity.slug)
    return _render_entity(
        request,
        user,
        entity,
        bound={("repair", str(sanction.public_id)): form},
        status=status,
    )
