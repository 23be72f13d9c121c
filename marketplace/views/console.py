"""The developer console: a publisher's agents, versions, submission and checks;
and the reviewers' queue."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from marketplace.auth import signed_in_user
from marketplace.forms import AgentCreateForm, AgentForm, ReviewForm, VersionForm
from marketplace.models import Agent, AgentVersion
from marketplace.selectors.agents import (
    agent_get,
    agent_list_for_editor,
    is_publisher_member,
    latest_checks_by_version,
    review_queue,
)
from marketplace.services import agents as agent_services
from marketplace.services import publishing
from marketplace.views.errors import add_service_error, run_action

AGENT_FIELDS = list(AgentForm.base_fields)


@login_required
def console(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    return render(
        request,
        "marketplace/console/index.html",
        {
            "agents": agent_list_for_editor(user=user),
            "is_reviewer": publishing.is_reviewer(user),
        },
    )


@login_required
def agent_create(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    form = AgentCreateForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            agent = agent_services.agent_create(actor=user, **data)
        except (ApplicationError, ValidationError) as error:
            add_service_error(form, error)
        else:
            messages.success(
                request, _("The agent was created. Add its first version.")
            )
            return redirect(
                "console-agent", publisher=agent.publisher.slug, agent=agent.slug
            )
    return render(request, "marketplace/console/agent_new.html", {"form": form})


def _editable_agent(request: HttpRequest, publisher: str, agent: str) -> Agent:
    found = agent_get(publisher=publisher, agent=agent)
    if found is None:
        raise Http404
    if not is_publisher_member(user=request.user, agent=found):
        raise DomainPermissionDenied()
    return found


@login_required
def agent_manage(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    user = signed_in_user(request.user)
    found = _editable_agent(request, publisher, agent)
    agent_form = AgentForm(
        initial={
            **{field: getattr(found, field) for field in AGENT_FIELDS},
            "tags": ", ".join(found.tags or []),
        }
    )
    version_form = VersionForm()
    status = 200
    if request.method == "POST" and "save_agent" in request.POST:
        agent_form = AgentForm(request.POST)
        if agent_form.is_valid():
            try:
                agent_services.agent_update(
                    actor=user, agent=found, **agent_form.cleaned_data
                )
            except (ApplicationError, ValidationError) as error:
                add_service_error(agent_form, error)
            else:
                messages.success(request, _("The listing was saved."))
                return redirect("console-agent", publisher=publisher, agent=agent)
        status = 400
    elif request.method == "POST" and "add_version" in request.POST:
        version_form = VersionForm(request.POST)
        if version_form.is_valid():
            try:
                agent_services.version_create(
                    actor=user, agent=found, **version_form.cleaned_data
                )
            except (ApplicationError, ValidationError) as error:
                add_service_error(version_form, error)
            else:
                messages.success(request, _("The version was saved as a draft."))
                return redirect("console-agent", publisher=publisher, agent=agent)
        status = 400
    versions = list(
        found.versions.prefetch_related("decisions").order_by("-created_at", "-pk")
    )
    checks = latest_checks_by_version(versions=versions)
    return render(
        request,
        "marketplace/console/agent.html",
        {
            "agent": found,
            "agent_form": agent_form,
            "version_form": version_form,
            "versions": [(version, checks[version.pk]) for version in versions],
            "states": AgentVersion.State,
        },
        status=status,
    )


@login_required
@require_POST
def version_submit(
    request: HttpRequest, publisher: str, agent: str, version: str
) -> HttpResponse:
    user = signed_in_user(request.user)
    found = _editable_agent(request, publisher, agent)
    target = get_object_or_404(AgentVersion, agent=found, version=version)
    run_action(
        request,
        lambda: publishing.version_submit(actor=user, version=target),
        _("Version %(version)s was submitted; the automated checks run now.")
        % {"version": version},
    )
    return redirect("console-agent", publisher=publisher, agent=agent)


@login_required
@require_POST
def version_yank(
    request: HttpRequest, publisher: str, agent: str, version: str
) -> HttpResponse:
    user = signed_in_user(request.user)
    found = _editable_agent(request, publisher, agent)
    target = get_object_or_404(AgentVersion, agent=found, version=version)
    reason = request.POST.get("reason", "")[:1000]
    run_action(
        request,
        lambda: publishing.version_yank(actor=user, version=target, reason=reason),
        _("Version %(version)s was yanked.") % {"version": version},
    )
    return redirect("console-agent", publisher=publisher, agent=agent)


@login_required
def review_queue_page(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    # review_queue denies anyone but the operator's reviewers
    queue = list(review_queue(actor=user)[:50])
    checks = latest_checks_by_version(versions=queue)
    return render(
        request,
        "marketplace/console/review.html",
        {
            "queue": [(version, checks[version.pk]) for version in queue],
            "form": ReviewForm(),
        },
    )


@login_required
@require_POST
def review_submit(request: HttpRequest, version_id: int) -> HttpResponse:
    user = signed_in_user(request.user)
    review_queue(actor=user)
    target = get_object_or_404(
        AgentVersion.objects.select_related("agent"), pk=version_id
    )
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or to reject."))
        return redirect("review-queue")
    run_action(
        request,
        lambda: publishing.version_review(
            actor=user, version=target, **form.cleaned_data
        ),
        _("%(agent)s %(version)s: %(verdict)s.")
        % {
            "agent": target.agent.name,
            "version": target.version,
            "verdict": pgettext("review outcome", "published")
            if form.cleaned_data["verdict"] == "approve"
            else pgettext("review outcome", "rejected"),
        },
    )
    return redirect("review-queue")
