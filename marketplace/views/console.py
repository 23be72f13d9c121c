"""The developer console: a publisher's agents, versions, submission and checks;
and the reviewers' queue."""

import re

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
from marketplace.forms import (
    AgentCreateForm,
    AgentForm,
    CardImportForm,
    PublisherKeyForm,
    ReviewForm,
    VersionForm,
)
from marketplace.models import (
    Agent,
    AgentVersion,
    Membership,
    Organization,
    PublisherKey,
)
from marketplace.selectors.agents import (
    agent_get,
    agent_list_for_editor,
    is_publisher_member,
    latest_checks_by_version,
    review_queue,
)
from marketplace.selectors.agreements import publisher_agreement_pending
from marketplace.selectors.organizations import (
    membership_get,
    membership_list_for_user,
    organization_can_manage,
    organization_get,
)
from marketplace.services import agents as agent_services
from marketplace.services import organizations as organization_services
from marketplace.services import publishing
from marketplace.views.errors import add_service_error, run_action, run_form_service

AGENT_FIELDS = list(AgentForm.base_fields)


@login_required
def console(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    publishers = list(
        membership_list_for_user(user=user).filter(
            organization__kind=Organization.Kind.PUBLISHER
        )
    )
    managed = [
        membership.organization
        for membership in publishers
        if membership.role in (Membership.Role.OWNER, Membership.Role.ADMIN)
    ]
    return render(
        request,
        "marketplace/console/index.html",
        {
            "agents": agent_list_for_editor(user=user),
            "publishers": publishers,
            # The publishers whose agreement this owner or administrator may accept.
            "agreement_pending": publisher_agreement_pending(organizations=managed),
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


def _next_version_initial(agent: Agent) -> dict[str, object]:
    """A new version starts from the newest one's declaration, numbered one patch
    above the highest plain x.y.z version (blank when there is none)."""
    versions = list(agent.versions.order_by("-created_at", "-pk"))
    if not versions:
        return {}
    plain = [
        tuple(int(part) for part in match.groups())
        for version in versions
        if (match := re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version.version))
    ]
    number = ""
    if plain:
        major, minor, patch = max(plain)
        number = f"{major}.{minor}.{patch + 1}"
    return {"version": number, "declaration": versions[0].declaration}


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
    version_form = VersionForm(initial=_next_version_initial(found))
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


def _publisher(slug: str) -> Organization:
    """The publisher: 404 for an unknown slug or an organisation that publishes
    nothing."""
    organization = organization_get(slug=slug)
    if organization is None or organization.kind != Organization.Kind.PUBLISHER:
        raise Http404
    return organization


def _publisher_membership(
    request: HttpRequest, slug: str
) -> tuple[Organization, Membership]:
    """The publisher and the user's membership in it: 404 for an unknown slug or an
    organisation that publishes nothing, 403 for anyone not a member."""
    organization = _publisher(slug)
    membership = membership_get(user=request.user, organization=organization)
    if membership is None:
        raise DomainPermissionDenied()
    return organization, membership


@login_required
def publisher_keys(request: HttpRequest, slug: str) -> HttpResponse:
    """The publisher's Ed25519 keys, which signed Agent Cards must verify with:
    listed to its members, added and revoked by its owners and administrators."""
    user = signed_in_user(request.user)
    organization = _publisher(slug)
    can_manage = organization_can_manage(user=user, organization=organization)
    if not can_manage and membership_get(user=user, organization=organization) is None:
        raise DomainPermissionDenied()
    form = PublisherKeyForm()
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise DomainPermissionDenied(
                _("Only owners and administrators manage keys.")
            )
        form = PublisherKeyForm(request.POST)
        if form.is_valid():
            key = run_form_service(
                form,
                lambda: organization_services.publisher_key_add(
                    actor=user, organization=organization, **form.cleaned_data
                ),
            )
            if key is not None:
                messages.success(
                    request, _("The key %(kid)s was added.") % {"kid": key.kid}
                )
                return redirect("console-publisher-keys", slug=slug)
        status = 400
    return render(
        request,
        "marketplace/console/keys.html",
        {
            "organization": organization,
            "can_manage": can_manage,
            "keys": organization.keys.order_by("-created_at", "-pk"),
            "form": form,
        },
        status=status,
    )


@login_required
@require_POST
def publisher_key_revoke(request: HttpRequest, slug: str, key_id: int) -> HttpResponse:
    user = signed_in_user(request.user)
    organization, _membership = _publisher_membership(request, slug)
    key = get_object_or_404(
        PublisherKey.objects.select_related("organization"),
        pk=key_id,
        organization=organization,
    )
    run_action(
        request,
        lambda: organization_services.publisher_key_revoke(actor=user, key=key),
        _("The key %(kid)s was revoked; cards signed with it no longer verify.")
        % {"kid": key.kid},
    )
    return redirect("console-publisher-keys", slug=slug)


def _add_card_error(
    form: CardImportForm, error: ApplicationError | ValidationError
) -> None:
    """Show a problem with an imported card on the input it came from, each detail
    prefixed with the part of the card at fault (``skills.0.description: …``)."""
    if not isinstance(error, ApplicationError) or not error.details:
        add_service_error(form, error)
        return
    form.add_error(None, error.message)
    for key, problems in error.details.items():
        part = key.removeprefix("card").removeprefix(".")
        for problem in problems:
            form.add_error(form.source, f"{part}: {problem}" if part else problem)


@login_required
def version_import(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    """A new draft version from an uploaded A2A Agent Card."""
    user = signed_in_user(request.user)
    found = _editable_agent(request, publisher, agent)
    form = CardImportForm()
    status = 200
    if request.method == "POST":
        form = CardImportForm(request.POST, request.FILES)
        if form.is_valid():
            version = run_form_service(
                form,
                lambda: agent_services.version_import_card(
                    actor=user,
                    agent=found,
                    card=form.cleaned_data["card"],
                    deployment=form.cleaned_data["deployment"],
                ),
                show=_add_card_error,
            )
            if version is not None:
                messages.success(
                    request,
                    _("Version %(version)s was imported from the card as a draft.")
                    % {"version": version.version},
                )
                return redirect("console-agent", publisher=publisher, agent=agent)
        status = 400
    return render(
        request,
        "marketplace/console/import.html",
        {"agent": found, "form": form},
        status=status,
    )
