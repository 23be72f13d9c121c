"""Pages of decisions on ratings.

- For the body's members, a rating (``/credit/ratings/<pk>/``): its score and
  grades, the contribution of every indicator, the adverse factors, overrides,
  evidence and its hash, the committee's votes by round, the objection and the
  whole history; and the forms of the decisions, each shown only to whom the
  service would allow and while the rating is in the state it needs: the
  analyst's review, a committee vote, the notice, publication and the answer to
  an objection. Anyone of the body may declare a conflict of interest with the
  rated entity.
- For the rated entity's owners and administrators, its ratings from the notice
  on (``/credit/entity/<org>/ratings/``), the statement of reasons, and the
  objection while its window is open.

Each form posts to its own URL and calls one service: success redirects with a
message; a refusal shows on the page with its status (400, 403, 409).
"""

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.models import Organization, User
from marketplace.views.errors import add_service_error
from ratings.models import CommitteeVote, Objection, Rating
from ratings.selectors.cycles import (
    PUBLISH_ROLES,
    conflict_kind,
    contributions_total,
    entity_can_see,
    entity_manages,
    entity_rating_list,
    objection_open,
    organization_by_slug,
    rating_actions,
    rating_events,
    rating_get,
    rating_objection,
    rating_votes,
    role_in,
    votes_by_round,
)
from ratings.services.decisions import (
    conflict_declare,
    objection_answer,
    objection_file,
    rating_analyst_review,
    rating_notify,
    rating_publish,
    rating_vote,
)

PAGE_SIZE = 20
REASON_MAX = 4000


# --- Forms --------------------------------------------------------------------------


class ReviewForm(forms.Form):
    adjustment = forms.TypedChoiceField(
        label=gettext_lazy("Notches"),
        coerce=int,
        choices=[
            (-1, gettext_lazy("One notch down")),
            (0, gettext_lazy("As computed")),
            (1, gettext_lazy("One notch up")),
        ],
        initial=0,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (required to adjust)"),
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    outlook = forms.ChoiceField(
        label=gettext_lazy("Outlook"),
        choices=Rating.Outlook.choices,
        initial=Rating.Outlook.STABLE,
        help_text=gettext_lazy("Which way the grade may move in the next year or two."),
    )


class VoteForm(forms.Form):
    vote = forms.ChoiceField(
        label=gettext_lazy("Vote"),
        choices=CommitteeVote.Vote.choices,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    chair = forms.BooleanField(label=gettext_lazy("I chair this round"), required=False)


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer, with reasons"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ConflictForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("What the conflict of interest is"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ObjectionForm(forms.Form):
    grounds = forms.ChoiceField(
        label=gettext_lazy("Grounds"),
        choices=Objection.Grounds.choices,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=gettext_lazy("Your objection"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )


# Every form of the body's rating page, by the action that posts it.
BODY_FORMS: dict[str, type[forms.Form]] = {
    "review": ReviewForm,
    "vote": VoteForm,
    "answer": AnswerForm,
    "conflict": ConflictForm,
}


# --- The body's rating page ---------------------------------------------------------


def ensure_impartial_reader(user: User, rating: Rating) -> None:
    """A member of the body who belongs to the rated entity or declared a
    conflict of interest with it does not read the rating from the body's side
    (an entity's owner reads it on the entity's pages from the notice on)."""
    kind = conflict_kind(user=user, entity_id=rating.entity_id)
    if kind == "declared":
        raise DomainPermissionDenied(
            _(
                "You declared a conflict of interest with this entity: you take no "
                "part in its ratings and do not see them from the body's side."
            ),
            code="conflict_of_interest",
        )
    if kind == "member":
        raise DomainPermissionDenied(
            _(
                "You belong to the rated entity: you see its ratings only on the "
                "entity's pages, from the notice on."
            ),
            code="conflict_of_interest",
        )


def _body_rating(request: HttpRequest, pk: int) -> tuple[User, Rating]:
    """The rating and the signed-in member of its body: 404 for an unknown
    rating, 403 for anyone outside the body and for a member of the rated
    entity or one who declared a conflict of interest with it."""
    user = signed_in_user(request.user)
    rating = rating_get(pk=pk)
    if rating is None:
        raise Http404
    if role_in(user=user, organization_id=rating.cycle.body_id) is None:
        raise DomainPermissionDenied(
            _("Only the members of the rating body see this rating.")
        )
    ensure_impartial_reader(user, rating)
    return user, rating


def _render_rating(
    request: HttpRequest,
    *,
    user: User,
    rating: Rating,
    bound: dict[str, forms.Form] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    bound = bound or {}
    objection = rating_objection(rating=rating)
    actions = rating_actions(user=user, rating=rating, objection=objection)
    page_forms = {
        name: bound.get(name) or form(auto_id=f"{name}_%s")
        for name, form in BODY_FORMS.items()
    }
    votes = rating_votes(rating=rating)
    return render(
        request,
        "ratings/cycles/rating_detail.html",
        {
            "rating": rating,
            "cycle": rating.cycle,
            "actions": actions,
            "forms": page_forms,
            "errors": errors or [],
            "objection": objection,
            "rounds": votes_by_round(votes),
            "events": rating_events(rating=rating),
            "total": contributions_total(rating=rating),
            "evidence_json": json.dumps(
                rating.evidence, indent=2, sort_keys=True, ensure_ascii=False
            ),
        },
        status=status,
    )


@login_required
def rating_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user, rating = _body_rating(request, pk)
    return _render_rating(request, user=user, rating=rating)


def _submit(
    request: HttpRequest,
    pk: int,
    *,
    action: str,
    call: Any,
    success: str,
    leave: bool = False,
) -> HttpResponse:
    """Run the decision behind the form ``action`` (None: a plain button): a
    redirect to the rating with ``success`` (to its cycle when ``leave``: the
    user no longer sees the rating), or the page again with the error and its
    status."""
    user, rating = _body_rating(request, pk)
    form_class = BODY_FORMS.get(action)
    form = form_class(request.POST, auto_id=f"{action}_%s") if form_class else None
    if form is not None and not form.is_valid():
        return _render_rating(
            request, user=user, rating=rating, bound={action: form}, status=400
        )
    try:
        call(user, rating, form.cleaned_data if form is not None else {})
    except ApplicationError as error:
        errors = []
        if form is not None:
            add_service_error(form, error)
        # The form may not be shown any more (the state moved on): say it above.
        errors.append(error.message)
        rating = rating_get(pk=pk) or rating
        return _render_rating(
            request,
            user=user,
            rating=rating,
            bound={action: form} if form is not None else {},
            errors=errors,
            status=error.status_code,
        )
    messages.success(request, success)
    if leave:
        return redirect("credit-cycle-detail", public_id=rating.cycle.public_id)
    return redirect("credit-rating-detail", pk=pk)


@login_required
@require_POST
def rating_review_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _submit(
        request,
        pk,
        action="review",
        call=lambda user, rating, data: rating_analyst_review(
            actor=user,
            rating=rating,
            adjustment=data["adjustment"],
            reason=data["reason"],
            outlook=data["outlook"],
        ),
        success=_("The rating was reviewed; it goes to the committee."),
    )


@login_required
@require_POST
def rating_vote_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _submit(
        request,
        pk,
        action="vote",
        call=lambda user, rating, data: rating_vote(
            actor=user,
            rating=rating,
            vote=data["vote"],
            reason=data["reason"],
            chair=data["chair"],
        ),
        success=_("Your vote was recorded."),
    )


@login_required
@require_POST
def rating_notify_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _submit(
        request,
        pk,
        action="notify",
        call=lambda user, rating, data: rating_notify(actor=user, rating=rating),
        success=_("The entity was sent the statement of reasons."),
    )


def _ensure_may_publish(user: User, rating: Rating) -> None:
    """``rating_publish`` checks the rating, not the person: only the body's
    people who take part in its ratings publish one."""
    actions = rating_actions(
        user=user, rating=rating, objection=rating_objection(rating=rating)
    )
    if actions.role not in PUBLISH_ROLES:
        raise DomainPermissionDenied(
            _("Only the body's analysts, committee members and administrators publish.")
        )
    if actions.conflicted:
        raise DomainPermissionDenied(
            _("You declared a conflict of interest with this entity."),
            code="conflict_of_interest",
        )


@login_required
@require_POST
def rating_publish_submit(request: HttpRequest, pk: int) -> HttpResponse:
    def publish(user: User, rating: Rating, data: dict[str, Any]) -> Rating:
        _ensure_may_publish(user, rating)
        return rating_publish(actor=user, rating=rating)

    return _submit(
        request,
        pk,
        action="publish",
        call=publish,
        success=_("The rating was published."),
    )


@login_required
@require_POST
def rating_answer_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _submit(
        request,
        pk,
        action="answer",
        call=lambda user, rating, data: objection_answer(
            actor=user, rating=rating, answer=data["answer"]
        ),
        success=_("The objection was answered."),
    )


@login_required
@require_POST
def rating_conflict_submit(request: HttpRequest, pk: int) -> HttpResponse:
    return _submit(
        request,
        pk,
        action="conflict",
        call=lambda user, rating, data: conflict_declare(
            actor=user, entity=rating.entity, reason=data["reason"]
        ),
        success=_(
            "Your conflict of interest was recorded: you take no part in this "
            "entity's ratings."
        ),
        leave=True,
    )


# --- The entity's side --------------------------------------------------------------


def _entity_manager(request: HttpRequest, slug: str) -> tuple[User, Organization]:
    user = signed_in_user(request.user)
    entity = organization_by_slug(slug=slug)
    if entity is None:
        raise Http404
    if not entity_manages(user=user, entity=entity):
        raise DomainPermissionDenied(
            _("Only the organisation's owners and administrators see its ratings.")
        )
    return user, entity


def _entity_rating(entity: Organization, pk: int) -> Rating:
    """The entity's rating, once it was notified (404 before)."""
    rating = rating_get(pk=pk)
    if (
        rating is None
        or rating.entity_id != entity.pk
        or not entity_can_see(rating=rating)
    ):
        raise Http404
    return rating


@login_required
def entity_ratings(request: HttpRequest, entity: str) -> HttpResponse:
    _user, organization = _entity_manager(request, entity)
    page = CappedPaginator(entity_rating_list(entity=organization), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "ratings/cycles/entity_ratings.html",
        {"entity": organization, "page": page},
    )


def _render_entity_rating(
    request: HttpRequest,
    *,
    entity: Organization,
    rating: Rating,
    form: ObjectionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    can_object = objection_open(rating=rating)
    statement = rating.statement or {}
    facts = statement.get("facts") or {}
    as_of = parse_datetime(str(facts.get("as_of") or ""))
    return render(
        request,
        "ratings/cycles/entity_rating_detail.html",
        {
            "entity": entity,
            "rating": rating,
            "statement": statement,
            "as_of": as_of,
            "objection": rating_objection(rating=rating),
            "can_object": can_object,
            "form": form or ObjectionForm(),
            "show_form": can_object or (form is not None and form.errors),
        },
        status=status,
    )


@login_required
def entity_rating_detail(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    _user, organization = _entity_manager(request, entity)
    rating = _entity_rating(organization, pk)
    return _render_entity_rating(request, entity=organization, rating=rating)


@login_required
@require_POST
def entity_rating_object(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    user, organization = _entity_manager(request, entity)
    rating = _entity_rating(organization, pk)
    form = ObjectionForm(request.POST)
    if not form.is_valid():
        return _render_entity_rating(
            request, entity=organization, rating=rating, form=form, status=400
        )
    try:
        objection_file(
            actor=user,
            rating=rating,
            grounds=form.cleaned_data["grounds"],
            text=form.cleaned_data["text"],
        )
    except ApplicationError as error:
        add_service_error(form, error)
        return _render_entity_rating(
            request,
            entity=organization,
            rating=rating_get(pk=pk) or rating,
            form=form,
            status=error.status_code,
        )
    messages.success(
        request,
        _("Your objection was filed: the committee reviews the rating again."),
    )
    return redirect("credit-entity-rating-detail", entity=organization.slug, pk=pk)
