"""Pages of misconduct reports: the form, the reporter's own reports, a report's
page with its evidence and history, and the operator's queue."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from marketplace.auth import signed_in_user
from marketplace.services.publishing import is_reviewer
from marketplace.views.errors import add_service_error, run_action, run_form_service
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
    publisher, agent = target
    form = ReportForm()
    status = 200
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES)
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
        status = 400
    return render(
        request,
        "ratings/report_form.html",
        {
            "target": target,
            "publisher": publisher,
            "agent": agent,
            "form": form,
            "query": request.GET.urlencode(),
        },
        status=status,
    )


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
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


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
