"""Pages of misconduct reports: the form, the reporter's own reports, a report's
page with its evidence and history, and the operator's queue; the reports about
the user's organisations, with the answer form, and those the user's bodies
investigate."""

import uuid
from datetime import datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from marketplace.auth import signed_in_user
from marketplace.models import Agent, Organization, User
from marketplace.services.publishing import is_reviewer
from marketplace.views.errors import add_service_error, run_action, run_form_service
from ratings.downloads import evidence_response
from ratings.evidence import SEVERITY_BY_CATEGORY
from ratings.forms import ReportAnswerForm, ReportForm, ReportTransitionForm
from ratings.models import Finding, MisconductReport
from ratings.selectors import (
    ENTITY_ROLES,
    report_events,
    report_evidence_get,
    report_evidence_list,
    report_finding,
    report_get,
    report_list_for_body,
    report_list_for_entity,
    report_list_for_reporter,
    report_queue,
    report_sees_evidence,
    report_target,
)
from ratings.services import (
    report_authorities,
    report_entity_answer,
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


def _can_answer(user: User, report: MisconductReport) -> bool:
    """Whether the page offers the user the entity's answer form."""
    return (
        report.state == MisconductReport.State.INVESTIGATING
        and report.answer_deadline is not None
        and report.entity_answered_at is None
        and timezone.now() <= report.answer_deadline
        and report.publisher.memberships.filter(
            user=user, role__in=ENTITY_ROLES
        ).exists()
    )


def _render_detail(
    request: HttpRequest,
    user: User,
    report: MisconductReport,
    *,
    answer_form: ReportAnswerForm | None = None,
    status: int = 200,
) -> HttpResponse:
    authorities = report_authorities(actor=user, report=report)
    moves = report_moves(state=report.state, authorities=authorities)
    sees_evidence = report_sees_evidence(user=user, report=report)
    can_answer = _can_answer(user, report)
    if can_answer and answer_form is None:
        answer_form = ReportAnswerForm()
    return render(
        request,
        "ratings/report_detail.html",
        {
            "report": report,
            "evidence": report_evidence_list(report=report) if sees_evidence else [],
            "sees_evidence": sees_evidence,
            "events": report_events(report=report),
            "is_reviewer": bool(authorities),
            "moves": [(state, MisconductReport.State(state).label) for state in moves],
            "finding": report_finding(report=report),
            "can_decide_finding": MisconductReport.State.SUBSTANTIATED in moves,
            "severities": Finding.Severity.choices,
            "categories": MisconductReport.Category.choices,
            "proposed_severity": SEVERITY_BY_CATEGORY.get(report.category, ""),
            "answer_form": answer_form if can_answer else None,
            "answer_late": (
                report.answer_deadline is not None
                and report.entity_answered_at is None
                and timezone.now() > report.answer_deadline
            ),
        },
        status=status,
    )


@login_required
def report_detail(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """A report, its evidence and its history: for the reporter, the reviewers
    and the body's analysts; the publisher's owners and administrators see it
    without its evidence once it is investigated, and answer it; anyone else finds
    nothing here."""
    user = signed_in_user(request.user)
    return _render_detail(request, user, _report(request, public_id))


@login_required
@require_POST
def report_answer_submit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The publisher's owners and administrators answer a report under
    investigation, once, before the deadline."""
    user = signed_in_user(request.user)
    report = _report(request, public_id)
    form = ReportAnswerForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            report_entity_answer(
                actor=user, report=report, text=form.cleaned_data["text"]
            )
        except ApplicationError as error:
            if error.status_code == 403:
                raise
            add_service_error(form, error)
            status = error.status_code
        else:
            messages.success(request, _("Your answer was sent to the body."))
            return redirect("report-detail", public_id=report.public_id)
    if not _can_answer(user, report):
        # The form is gone (answered meanwhile, or too late): say why above it.
        for errors in form.errors.values():
            for error_text in errors:
                messages.error(request, str(error_text))
    return _render_detail(request, user, report, answer_form=form, status=status)


@login_required
def report_evidence(
    request: HttpRequest, public_id: uuid.UUID, evidence_id: int
) -> FileResponse:
    """An evidence file, as a download, to those who may see the report."""
    report = _report(request, public_id)
    if not report_sees_evidence(user=request.user, report=report):
        raise Http404
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
    occurred_on = data.get("occurred_on")
    occurred_at = (
        timezone.make_aware(datetime.combine(occurred_on, time.min))
        if occurred_on
        else None
    )
    run_action(
        request,
        lambda: report_transition(
            report=report,
            to=data["to"],
            actor=user,
            note=data["note"],
            severity=data.get("severity") or "",
            category=data.get("category") or "",
            occurred_at=occurred_at,
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


def _inbox(
    request: HttpRequest,
    reports: QuerySet[MisconductReport],
    *,
    title: str,
    intro: str,
    empty: str,
) -> HttpResponse:
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "ratings/report_inbox.html",
        {"page": page, "title": title, "intro": intro, "empty": empty},
    )


@login_required
def report_entity_list(request: HttpRequest) -> HttpResponse:
    """The reports under investigation or decided about the organisations the
    user owns or administers."""
    user = signed_in_user(request.user)
    return _inbox(
        request,
        report_list_for_entity(user=user),
        title=_("Reports about your organisations"),
        intro=_(
            "Reports an industry body investigates about an organisation you own or "
            "administer. Answer each before its deadline; who sent it stays private."
        ),
        empty=_("No report about your organisations is under investigation."),
    )


@login_required
def report_body_list(request: HttpRequest) -> HttpResponse:
    """The reports the user's industry bodies investigate, oldest first."""
    user = signed_in_user(request.user)
    return _inbox(
        request,
        report_list_for_body(user=user),
        title=_("Reports to investigate"),
        intro=_(
            "Reports assigned to the industry bodies you work for, not yet decided, "
            "oldest first. Investigate a triaged report: the entity is told and may "
            "answer before you decide."
        ),
        empty=_("No report waits for your bodies."),
    )
