"""Pages of rating cycles, for the industry body's members.

- The body's cycles (``/credit/console/<body>/cycles/``): every cycle with its
  state and progress, and the form that starts one.
- A cycle (``/credit/cycles/<public_id>/``): its figures, a progress bar that
  htmx refreshes every second while the cycle is working (the partial
  ``.../progress/`` stops the polling once the cycle is done), its ratings by
  state and grade, and the bulk actions: an analyst reviews the computed ratings
  of the page as computed, a committee member approves the selected ones. Every
  rating goes through the same service as on its own page, and every refusal is
  reported by rating.

Every change goes through a cycle or decision service: a field error shows on the
form, a denial answers 403, a missing object 404.
"""

from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.forms import ID_MAX_DIGITS, parse_id
from marketplace.models import Membership, Organization, User
from marketplace.views.errors import add_service_error
from ratings.models import Methodology, Rating, RatingCycle
from ratings.selectors.cycles import (
    cycle_counts,
    cycle_get,
    cycle_grades,
    cycle_list,
    cycle_progress,
    cycle_rating_list,
    industry_body_by_slug,
    is_conflicted,
    methodologies_in_force,
    role_in,
)
from ratings.services.cycles import (
    DEFAULT_CHUNK_SIZE,
    EARLIEST_MOMENT,
    LATEST_MOMENT,
    MAX_CHUNK_SIZE,
    cycle_cancel,
    cycle_create,
)
from ratings.services.decisions import rating_analyst_review, rating_vote
from ratings.services.methodologies import AUTHOR_ROLES

PAGE_SIZE = 20
# A bulk action takes at most one page of ratings.
BULK_MAX = 100
Role = Membership.Role
RatingState = Rating.State


# --- Forms --------------------------------------------------------------------------


class MethodologyChoiceField(forms.ModelChoiceField[Methodology]):
    def label_from_instance(self, obj: Methodology) -> str:
        return f"{obj.name_en} ({obj.code} v{obj.version})"


def within_moment_range(value: datetime | None) -> datetime | None:
    """``value`` if it falls in the years a cycle may read or be scheduled for;
    a validation error otherwise (a far date does not survive a change of time
    zone). Compares the year as given, with no time-zone arithmetic."""
    if value is not None and not (
        EARLIEST_MOMENT.year <= value.year < LATEST_MOMENT.year
    ):
        raise forms.ValidationError(
            _("Give a moment from %(earliest)s to %(latest)s.")
            % {
                "earliest": EARLIEST_MOMENT.date().isoformat(),
                "latest": LATEST_MOMENT.date().isoformat(),
            },
            code="out_of_range",
        )
    return value


class CycleStartForm(forms.Form):
    methodology = MethodologyChoiceField(
        label=gettext_lazy("Methodology"),
        queryset=Methodology.objects.none(),
        to_field_name="public_id",
        empty_label=None,
        help_text=gettext_lazy("The published methodology the entities are rated by."),
    )
    as_of = forms.DateTimeField(
        label=gettext_lazy("Evidence as of"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy(
            "Rate the evidence as it stood at this moment; empty for now."
        ),
    )
    scheduled_for = forms.DateTimeField(
        label=gettext_lazy("Start at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy(
            "Schedule the cycle for a later moment (it then reads the evidence as "
            "of that moment); empty to start now."
        ),
    )
    chunk_size = forms.IntegerField(
        label=gettext_lazy("Entities per chunk"),
        min_value=1,
        max_value=MAX_CHUNK_SIZE,
        initial=DEFAULT_CHUNK_SIZE,
        required=False,
    )

    def __init__(self, *args: Any, body: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["methodology"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101  # declared above
        field.queryset = methodologies_in_force(body=body)

    def clean_as_of(self) -> Any:
        value = within_moment_range(self.cleaned_data.get("as_of"))
        if value is not None and value > timezone.now():
            raise forms.ValidationError(_("The evidence date cannot be in the future."))
        return value

    def clean_scheduled_for(self) -> Any:
        return within_moment_range(self.cleaned_data.get("scheduled_for"))


class RatingFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("State"),
        required=False,
        choices=[("", gettext_lazy("Any state")), *RatingState.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    grade = forms.CharField(
        label=gettext_lazy("Grade"),
        required=False,
        max_length=8,
        widget=forms.TextInput(
            attrs={"list": "cycle-grades", "size": 6, "class": "form-control"}
        ),
    )


# --- Helpers ------------------------------------------------------------------------


def _body_member(request: HttpRequest, slug: str) -> tuple[User, Organization, str]:
    """The signed-in member of the industry body ``slug``: 404 for an unknown
    body, 403 for anyone not of it."""
    user = signed_in_user(request.user)
    body = industry_body_by_slug(slug=slug)
    if body is None:
        raise Http404
    role = role_in(user=user, organization_id=body.pk)
    if role is None:
        raise DomainPermissionDenied(
            _("Only the body's members see its rating cycles.")
        )
    return user, body, role


def cycle_for_member(
    request: HttpRequest, public_id: UUID
) -> tuple[User, RatingCycle, str]:
    """The cycle and the role of the signed-in member of its body."""
    user = signed_in_user(request.user)
    cycle = cycle_get(public_id=public_id)
    if cycle is None:
        raise Http404
    role = role_in(user=user, organization_id=cycle.body_id)
    if role is None:
        raise DomainPermissionDenied(
            _("Only the body's members see its rating cycles.")
        )
    if cycle.entity_id is not None and is_conflicted(
        user=user, entity_id=cycle.entity_id
    ):
        raise DomainPermissionDenied(
            _(
                "This cycle rates an entity you belong to or declared a conflict of "
                "interest with: you take no part in it."
            ),
            code="conflict_of_interest",
        )
    return user, cycle, role


def _page(request: HttpRequest, queryset: Any, param: str = "page") -> Any:
    return CappedPaginator(queryset, PAGE_SIZE).get_page(request.GET.get(param))


def _filters(data: Any) -> tuple[RatingFilterForm, str, str]:
    form = RatingFilterForm(data)
    if form.is_valid():
        return form, form.cleaned_data["state"], form.cleaned_data["grade"].strip()
    return form, "", ""


def _cycle_url(cycle: RatingCycle, data: Any) -> str:
    """The cycle page with the filters and page of ``data`` kept."""
    _form, state, grade = _filters(data)
    query = {"state": state, "grade": grade}
    page = str(data.get("page", ""))
    if page.isascii() and page.isdigit() and len(page) <= ID_MAX_DIGITS:
        query["page"] = page
    kept = urlencode({k: v for k, v in query.items() if v})
    url = reverse("credit-cycle-detail", kwargs={"public_id": cycle.public_id})
    return f"{url}?{kept}" if kept else url


# --- The body's cycles --------------------------------------------------------------


@login_required
def body_cycles(request: HttpRequest, body: str) -> HttpResponse:
    """GET: the body's cycles. POST: start a cycle (owners, administrators and
    analysts)."""
    user, organization, role = _body_member(request, body)
    can_start = role in AUTHOR_ROLES
    form = CycleStartForm(
        request.POST if request.method == "POST" else None, body=organization
    )
    status = 200
    if request.method == "POST":
        if not can_start:
            raise DomainPermissionDenied(
                _(
                    "Only the owners, administrators and analysts of %(body)s run "
                    "its rating cycles."
                )
                % {"body": organization.name}
            )
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                cycle = cycle_create(
                    actor=user,
                    methodology=data["methodology"],
                    as_of=data["as_of"],
                    chunk_size=data["chunk_size"] or DEFAULT_CHUNK_SIZE,
                    scheduled_for=data["scheduled_for"],
                )
            except DomainPermissionDenied:
                raise
            except ApplicationError as error:
                add_service_error(form, error)
                status = error.status_code
            else:
                messages.success(
                    request,
                    _("The rating cycle was scheduled; it starts at %(moment)s.")
                    % {
                        "moment": date_format(
                            localtime(cycle.scheduled_for), "DATETIME_FORMAT"
                        )
                    }
                    if cycle.scheduled_for
                    else _("The rating cycle was started; it runs in the background."),
                )
                return redirect("credit-cycle-detail", public_id=cycle.public_id)
    page = _page(request, cycle_list(body=organization))
    return render(
        request,
        "ratings/cycles/body_cycles.html",
        {
            "body": organization,
            "role": role,
            "can_start": can_start,
            "form": form,
            "has_methodology": form.fields["methodology"].queryset.exists(),  # type: ignore[attr-defined]  # a ModelChoiceField
            "page": page,
            "rows": [(cycle, cycle_progress(cycle=cycle)) for cycle in page],
        },
        status=status,
    )


# --- A cycle ------------------------------------------------------------------------


@login_required
def cycle_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    user, cycle, role = cycle_for_member(request, public_id)
    filter_form, state, grade = _filters(request.GET)
    status = 200 if not request.GET or filter_form.is_valid() else 400
    page = _page(
        request,
        cycle_rating_list(cycle=cycle, viewer=user, state=state, grade=grade),
    )
    query = urlencode({k: v for k, v in (("state", state), ("grade", grade)) if v})
    can_review = role in AUTHOR_ROLES
    can_vote = role == Role.COMMITTEE_MEMBER
    return render(
        request,
        "ratings/cycles/cycle_detail.html",
        {
            "cycle": cycle,
            "role": role,
            "progress": cycle_progress(cycle=cycle),
            "counts": cycle_counts(cycle=cycle, viewer=user),
            "grades": cycle_grades(cycle=cycle),
            "filter_form": filter_form,
            "page": page,
            "query": query,
            "state": state,
            "grade": grade,
            "can_cancel": can_review
            and cycle.state
            in (
                RatingCycle.State.SCHEDULED,
                RatingCycle.State.COLLECTING,
                RatingCycle.State.SCORING,
            ),
            "bulk_review": can_review
            and any(r.state == RatingState.COMPUTED for r in page),
            "bulk_vote": can_vote
            and any(r.state == RatingState.ANALYST_REVIEWED for r in page),
        },
        status=status,
    )


@login_required
def cycle_progress_partial(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The progress bar alone, for htmx: it carries its polling trigger only
    while the cycle works, so that polling stops once it is done. The answer
    that finds it done also asks htmx to reload the page, whose facts, counts
    and ratings were drawn while it ran."""
    _user, cycle, _role = cycle_for_member(request, public_id)
    progress = cycle_progress(cycle=cycle)
    response = render(
        request,
        "ratings/cycles/_progress.html",
        {"cycle": cycle, "progress": progress},
    )
    if not progress.running and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def cycle_cancel_submit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    user, cycle, _role = cycle_for_member(request, public_id)
    try:
        cycle_cancel(actor=user, cycle=cycle)
    except DomainPermissionDenied:
        raise
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("credit-cycle-detail", public_id=cycle.public_id)
    messages.success(request, _("The rating cycle was cancelled."))
    return redirect("credit-cycle-detail", public_id=cycle.public_id)


def _selected(request: HttpRequest, cycle: RatingCycle) -> list[Rating]:
    """The cycle's ratings named in the form (at most ``BULK_MAX``); the
    services refuse, rating by rating, those the user may not act on."""
    ids = [
        number
        for number in map(parse_id, request.POST.getlist("rating"))
        if number is not None
    ][:BULK_MAX]
    return list(
        Rating.objects.filter(cycle=cycle, pk__in=ids)
        .select_related("entity")
        .order_by("entity__name", "pk")
    )


def _bulk(
    request: HttpRequest,
    ratings: list[Rating],
    call: Any,
    done_message: str,
) -> None:
    """Run ``call`` on every rating; report how many went through and every
    refusal with its rating."""
    done = 0
    for rating in ratings:
        try:
            call(rating)
        except ApplicationError as error:
            messages.warning(
                request,
                _("%(entity)s: %(error)s")
                % {"entity": rating.entity.name, "error": error.message},
            )
        else:
            done += 1
    if not ratings:
        messages.error(request, _("Select at least one rating of this cycle."))
    elif done:
        messages.success(request, done_message % {"count": done})


@login_required
@require_POST
def cycle_bulk_review(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Review the selected computed ratings as computed (no notch moved)."""
    user, cycle, role = cycle_for_member(request, public_id)
    if role not in AUTHOR_ROLES:
        raise DomainPermissionDenied(
            _("Only the body's analysts, owners and administrators review ratings.")
        )
    _bulk(
        request,
        _selected(request, cycle),
        lambda rating: rating_analyst_review(actor=user, rating=rating, adjustment=0),
        _("Ratings reviewed without adjustment: %(count)d."),
    )
    return redirect(_cycle_url(cycle, request.POST))


@login_required
@require_POST
def cycle_bulk_vote(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Vote to approve the selected reviewed ratings."""
    user, cycle, role = cycle_for_member(request, public_id)
    if role != Role.COMMITTEE_MEMBER:
        raise DomainPermissionDenied(
            _("Only the body's committee members vote on ratings.")
        )
    _bulk(
        request,
        _selected(request, cycle),
        lambda rating: rating_vote(actor=user, rating=rating, vote="approve"),
        _("Votes to approve cast: %(count)d."),
    )
    return redirect(_cycle_url(cycle, request.POST))
