"""Pages of misconduct reports: the form, the reporter's own reports, a report's
page with its evidence and history, and the operator's queue."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from marketplace.auth import signed_in_user
from marketplace.models import Agent, Organization, User
from marketplace.services.publishing import is_reviewer
from marketplace.views.errors import add_service_error, run_action, run_form_service
from ratings.downloads import evidence_response
from ratings.forms import ReportForm, ReportTransitionForm
from ratings.models import MisconductReport
from ratings.selectors import (
    report_events,
    report_evidence_get,
    report_evidence_list,
    report_get,
    report_list_for_reporter,
    report_queue,
    report_target,
)
from ratings.services import (
    report_authorities,
    report_moves,
    report_submit,
    report_transition,
)
from ratings.uploads import (
    EvidenceSizeLimit,
    body_too_large_message,
    install_evidence_limit,
    report_body_too_large,
    too_many_files_message,
    unreadable_upload_message,
)

PAGE_SIZE = 20


def _show_report_error(
    form: ReportForm, error: ApplicationError | ValidationError
) -> None:
    """The service names the uploads ``files``; the form calls them
    ``attachments``."""
    if isinstance(error, ApplicationError) and "files" in error.details:
        for problem in error.details["files"]:
            form.add_error("attachments", problem)
        return
    add_service_error(form, error)


# The page reads the upload itself: the size of the body is checked and the
# evidence limit installed before anything reads request.POST, which the CSRF
# middleware would do first; the token is checked by ``_report_form`` instead.
@csrf_exempt
@login_required
def report_create(request: HttpRequest) -> HttpResponse:
    """The report form, about ``?agent=<publisher>/<agent>`` or
    ``?publisher=<slug>``."""
    user = signed_in_user(request.user)
    agent_param = request.GET.get("agent", "")[:120]
    publisher_param = request.GET.get("publisher", "")[:60]
    if not agent_param and not publisher_param:
        return render(request, "ratings/report_form.html", {"target": None})
    target = report_target(user=user, agent=agent_param, publisher=publisher_param)
    if target is None:
        raise Http404
    if request.method != "POST":
        return _report_form(request, user, target, None)
    if report_body_too_large(request):
        return _render_report_form(
            request, target, ReportForm(), body_too_large_message(), status=413
        )
    return _report_form(request, user, target, install_evidence_limit(request))


def _render_report_form(
    request: HttpRequest,
    target: tuple[Organization, Agent | None],
    form: ReportForm,
    upload_error: str = "",
    *,
    status: int = 200,
) -> HttpResponse:
    publisher, agent = target
    return render(
        request,
        "ratings/report_form.html",
        {
            "target": target,
            "publisher": publisher,
            "agent": agent,
            "form": form,
            "upload_error": upload_error,
            "query": request.GET.urlencode(),
        },
        status=status,
    )


@csrf_protect
def _report_form(
    request: HttpRequest,
    user: User,
    target: tuple[Organization, Agent | None],
    limit: EvidenceSizeLimit | None,
) -> HttpResponse:
    publisher, agent = target
    if request.method != "POST" or limit is None:
        return _render_report_form(request, target, ReportForm())
    try:
        form = ReportForm(request.POST, request.FILES)
    except RequestDataTooBig:
        return _render_report_form(
            request, target, ReportForm(), body_too_large_message(), status=413
        )
    except TooManyFilesSent:
        return _render_report_form(
            request, target, ReportForm(), too_many_files_message(), status=400
        )
    except MultiPartParserError:
        return _render_report_form(
            request, target, ReportForm(), unreadable_upload_message(), status=400
        )
    # Files skipped while they streamed in are not in request.FILES: say why.
    for problem in limit.messages():
        form.add_error("attachments", problem)
    if form.is_valid():
        data = form.cleaned_data
        report = run_form_service(
            form,
            lambda: report_submit(
                reporter=user,
                publisher=publisher,
                agent=agent,
                category=data["category"],
                description=data["description"],
                evidence_links=data["evidence_links"],
                files=data["attachments"],
            ),
            show=_show_report_error,
        )
        if report is not None:
            messages.success(
                request,
                _("Your report was sent. You will hear from us in your inbox."),
            )
            return redirect("report-detail", public_id=report.public_id)
    return _render_report_form(request, target, form, status=400)


@login_required
def report_list(request: HttpRequest) -> HttpResponse:
    """The reports the user sent."""
    user = signed_in_user(request.user)
    page = Paginator(report_list_for_reporter(user=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "ratings/report_list.html",
        {"page": page, "is_reviewer": is_reviewer(user)},
    )


def _report(request: HttpRequest, public_id: uuid.UUID) -> MisconductReport:
    report = report_get(public_id=public_id, user=request.user)
    if report is None:
        raise Http404
    return report


@login_required
def report_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A report, its evidence and its history: for the reporter and the
    reviewers; anyone else finds nothing here."""
    user = signed_in_user(request.user)
    report = _report(request, public_id)
    authorities = report_authorities(actor=user, report=report)
    moves = report_moves(state=report.state, authorities=authorities)
    return render(
        request,
        "ratings/report_detail.html",
        {
            "report": report,
            "evidence": report_evidence_list(report=report),
            "events": report_events(report=report),
            "is_reviewer": bool(authorities),
            "moves": [(state, MisconductReport.State(state).label) for state in moves],
        },
    )


@login_required
def report_evidence(
    request: HttpRequest, public_id: uuid.UUID, evidence_id: int
) -> FileResponse:
    """An evidence file, as a download, to those who may see the report."""
    report = _report(request, public_id)
    evidence = report_evidence_get(report=report, evidence_id=evidence_id)
    if evidence is None:
        raise Http404
    return evidence_response(evidence)


@login_required
@require_POST
def report_transition_submit(
    request: HttpRequest, public_id: uuid.UUID
) -> HttpResponse:
    """A reviewer moves a report (from its page or the queue)."""
    user = signed_in_user(request.user)
    report = _report(request, public_id)
    form = ReportTransitionForm(request.POST)
    back = (
        redirect("report-queue")
        if request.POST.get("back") == "queue"
        else redirect("report-detail", public_id=report.public_id)
    )
    if not form.is_valid():
        messages.error(
            request,
            " ".join(str(error) for errors in form.errors.values() for error in errors),
        )
        return back
    data = form.cleaned_data
    # Compare and set against the state the reviewer saw on the page.
    report.state = data["seen"]
    run_action(
        request,
        lambda: report_transition(
            report=report, to=data["to"], actor=user, note=data["note"]
        ),
        _("The report is now %(state)s.")
        % {"state": MisconductReport.State(data["to"]).label},
    )
    return back


@login_required
def report_queue_page(request: HttpRequest) -> HttpResponse:
    """Reports waiting for the operator's reviewers."""
    user = signed_in_user(request.user)
    # report_queue denies anyone but the operator's reviewers
    page = Paginator(report_queue(actor=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    authorities = report_authorities(actor=user)
    return render(
        request,
        "ratings/report_queue.html",
        {
            "page": page,
            "rows": [
                (
                    report,
                    [
                        (state, MisconductReport.State(state).label)
                        for state in report_moves(
                            state=report.state, authorities=authorities
                        )
                    ],
                )
                for report in page
            ],
        },
    )
