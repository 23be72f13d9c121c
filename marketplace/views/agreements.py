"""Pages of the site's own documents: reading them, accepting changed ones, the
acceptance history, and the operator's drafting and publishing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError, PermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.forms import AgreementAcceptForm, AgreementDraftForm, parse_ids
from marketplace.middleware import safe_next
from marketplace.models import AgreementAcceptance, AgreementVersion, User
from marketplace.selectors.agreements import (
    agreement_acceptance_list,
    agreement_editor,
    agreement_in_force_get,
    agreement_in_force_list,
    agreement_pending_list,
    agreement_published_list,
    agreement_version_get,
    agreement_version_list,
)
from marketplace.selectors.organizations import organization_get
from marketplace.services.agreements import (
    agreement_draft_create,
    agreement_draft_update,
    agreement_publish,
    agreements_accept,
    ensure_agreement_editor,
    publisher_agreement_accept,
)
from marketplace.views.errors import add_service_error, run_action, run_form_service

Kind = AgreementVersion.Kind

PAGE_SIZE = 50  # acceptances on a page of the history


def _kind(kind: str) -> str:
    if kind not in Kind.values:
        raise Http404(_("There is no such document."))
    return kind


def _reader_is_operator(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and agreement_editor(user)


def agreement_list(request: HttpRequest) -> HttpResponse:
    """The documents in force."""
    return render(
        request,
        "marketplace/agreements/list.html",
        {"documents": agreement_in_force_list()},
    )


def agreement_kind(request: HttpRequest, kind: str) -> HttpResponse:
    """The version in force of one document, and links to the earlier ones."""
    version = agreement_in_force_get(kind=_kind(kind))
    if version is None:
        raise Http404(_("This document has not been published yet."))
    return render(
        request,
        "marketplace/agreements/detail.html",
        {
            "version": version,
            "in_force": True,
            "versions": agreement_published_list(kind=kind),
        },
    )


def agreement_version(request: HttpRequest, kind: str, number: int) -> HttpResponse:
    """Any published version of a document, with what changed in it; a draft only
    for the operator."""
    version = agreement_version_get(
        kind=_kind(kind),
        number=number,
        include_drafts=_reader_is_operator(request),
    )
    if version is None:
        raise Http404(_("There is no such version."))
    current = agreement_in_force_get(kind=kind)
    return render(
        request,
        "marketplace/agreements/detail.html",
        {
            "version": version,
            "in_force": current is not None and current.pk == version.pk,
            "versions": agreement_published_list(kind=kind),
        },
    )


@login_required
def agreement_accept(request: HttpRequest) -> HttpResponse:
    """The documents the person has not accepted yet, with what changed, and one
    box to accept them; then back to where they were."""
    user = signed_in_user(request.user)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    pending = agreement_pending_list(user=user)
    form = AgreementAcceptForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        ids = parse_ids(request.POST.getlist("versions"))
        if ids is None:
            form.add_error(None, _("The form was damaged; reload the page."))
            status = 400
        else:
            try:
                agreements_accept(
                    user=user,
                    version_ids=ids,
                    context=AgreementAcceptance.Context.PROMPT,
                )
            except PermissionDenied:
                raise
            except ApplicationError as error:
                add_service_error(form, error)
                status = 400
            else:
                messages.success(request, _("Thank you: the documents are accepted."))
                return redirect(next_url or "account-agreements")
    return render(
        request,
        "marketplace/agreements/accept.html",
        {"pending": pending, "form": form, "next": next_url or ""},
        status=status,
    )


@login_required
def account_agreements(request: HttpRequest) -> HttpResponse:
    """The person's acceptance history: every version, when and how."""
    user = signed_in_user(request.user)
    page = CappedPaginator(agreement_acceptance_list(user=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "marketplace/agreements/history.html",
        {
            "page": page,
            "acceptances": list(page),
            "pending": agreement_pending_list(user=user),
        },
    )


@login_required
@require_POST
def publisher_agreement_accept_page(request: HttpRequest, slug: str) -> HttpResponse:
    """An owner or administrator accepts the publisher agreement for the publisher
    (from the console); back to the page the form was on."""
    user = signed_in_user(request.user)
    organization = organization_get(slug=slug)
    if organization is None:
        raise Http404(_("There is no such organisation."))
    if not request.POST.get("accept"):
        messages.error(request, _("Tick the box to accept the publisher agreement."))
    else:
        run_action(
            request,
            lambda: publisher_agreement_accept(actor=user, organization=organization),
            _("The publisher agreement is accepted for %(name)s.")
            % {"name": organization.name},
        )
    return redirect(safe_next(request, request.POST.get("next")) or "console")


# --- The operator's pages ---------------------------------------------------------


def _operator(request: HttpRequest) -> User:
    user = signed_in_user(request.user)
    ensure_agreement_editor(user)
    return user


@login_required
def operator_agreement_list(request: HttpRequest) -> HttpResponse:
    _operator(request)
    return render(
        request,
        "marketplace/agreements/operator_list.html",
        {"versions": agreement_version_list()},
    )


@login_required
def operator_agreement_new(request: HttpRequest) -> HttpResponse:
    user = _operator(request)
    kind = request.GET.get("kind", "")
    form = AgreementDraftForm(
        request.POST or None, initial={"kind": kind} if kind in Kind.values else None
    )
    if request.method == "POST" and form.is_valid():
        version = run_form_service(
            form, lambda: agreement_draft_create(actor=user, **form.cleaned_data)
        )
        if version is not None:
            messages.success(request, _("The draft was saved."))
            return redirect(
                "agreement-version", kind=version.kind, number=version.number
            )
    return render(
        request,
        "marketplace/agreements/operator_form.html",
        {"form": form, "version": None},
    )


@login_required
def operator_agreement_edit(request: HttpRequest, version_id: int) -> HttpResponse:
    user = _operator(request)
    version = get_object_or_404(AgreementVersion, pk=version_id)
    if version.is_published:
        messages.error(
            request, _("A published version never changes: write a new version.")
        )
        return redirect("operator-agreements")
    form = AgreementDraftForm(
        request.POST or None,
        initial={
            field: getattr(version, field)
            for field in (
                "kind",
                "title_en",
                "title_zh",
                "body_en",
                "body_zh",
                "summary_en",
                "summary_zh",
            )
        },
    )
    del form.fields["kind"]
    if request.method == "POST" and form.is_valid():
        saved = run_form_service(
            form,
            lambda: agreement_draft_update(
                actor=user, version=version, **form.cleaned_data
            ),
        )
        if saved is not None:
            messages.success(request, _("The draft was saved."))
            return redirect("agreement-version", kind=saved.kind, number=saved.number)
    return render(
        request,
        "marketplace/agreements/operator_form.html",
        {"form": form, "version": version},
    )


@login_required
@require_POST
def operator_agreement_publish(request: HttpRequest, version_id: int) -> HttpResponse:
    user = _operator(request)
    version = get_object_or_404(AgreementVersion, pk=version_id)
    run_action(
        request,
        lambda: agreement_publish(actor=user, version=version),
        _("Version %(number)s is in force; people are asked to accept it.")
        % {"number": version.number},
    )
    return redirect("operator-agreements")
