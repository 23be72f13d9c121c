"""Pages of installs: install with informed consent, my installs and their grants,
revoking a scope, uninstalling, consenting to an update."""

import uuid
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from marketplace import care
from marketplace.auth import signed_in_user
from marketplace.exceptions import AutonomousConfirmationNeeded
from marketplace.forms import InstallConsentForm
from marketplace.models import Agent, AgentVersion, Grant, Install
from marketplace.pricing import pricing_worse
from marketplace.selectors.agents import agent_get_visible
from marketplace.selectors.installs import (
    ConsentRow,
    Permission,
    consent_rows,
    declared_permissions,
    install_active_for_agent,
    install_get,
    install_list,
    pending_version,
)
from marketplace.services import installs as services
from marketplace.views.errors import add_service_error, run_action, run_form_service

PAGE_SIZE = 20


def _listed_agent(request: HttpRequest, publisher: str, agent: str) -> Agent:
    return agent_get_visible(user=request.user, publisher=publisher, agent=agent)


def _same_version_posted(
    form: InstallConsentForm, version: AgentVersion | None
) -> bool:
    """Whether the form was sent from a page showing ``version``: only then are the
    boxes ticked as they were sent; otherwise the user starts again from the
    defaults of the version shown now."""
    return (
        form.is_bound
        and version is not None
        and form.data.get("declaration_digest") == version.declaration_digest
    )


@dataclass
class _Confirmation:
    """The second confirmation the install service asked for (minors and users in
    the elder-friendly mode): the autonomous scopes, and why."""

    scopes: list[str] = field(default_factory=list)
    message: str = ""

    def show(
        self, form: InstallConsentForm, error: ApplicationError | ValidationError
    ) -> None:
        """Shows the service's error on the form, or asks for the confirmation."""
        if isinstance(error, AutonomousConfirmationNeeded):
            self.scopes = list(error.details.get("autonomous_scopes", []))
            self.message = error.message
        else:
            add_service_error(form, error)

    def context(self, rows: list[ConsentRow]) -> dict[str, object]:
        return {
            "autonomous_asked": [
                row.permission for row in rows if row.permission.scope in self.scopes
            ],
            "autonomous_message": self.message,
        }


@login_required
def install_page(request: HttpRequest, publisher: str, agent: str) -> HttpResponse:
    """What the agent asks for, and the consent that installs it."""
    user = signed_in_user(request.user)
    found = _listed_agent(request, publisher, agent)
    existing = install_active_for_agent(user=user, agent=found)
    version = found.latest_version
    if request.method == "POST" and not user.email_verified:
        raise DomainPermissionDenied(
            _("Confirm your e-mail address before you install agents.")
        )
    refusal = ""
    try:
        services.install_check_allowed(user=user, agent=found)
    except ApplicationError as error:
        refusal = error.message
    rows = consent_rows(install=None, version=version)[0] if version else []
    form = InstallConsentForm(
        request.POST if request.method == "POST" else None,
        scopes=[row.permission.scope for row in rows],
    )
    confirmation = _Confirmation()
    if request.method == "POST" and existing is None and form.is_valid():
        result = run_form_service(
            form,
            lambda: services.install_create(
                user=user,
                agent=found,
                granted_scopes=form.cleaned_data["scopes"],
                declaration_digest=form.cleaned_data["declaration_digest"],
                autonomous_confirmed=form.cleaned_data["confirm_autonomous"],
            ),
            show=confirmation.show,
        )
        if result is not None:
            response = render(
                request,
                "marketplace/installs/installed.html",
                {"agent": found, "result": result},
            )
            # The secret is on this page only: no cache may keep it.
            response["Cache-Control"] = "no-store"
            return response
    chosen = (
        set(request.POST.getlist("scopes"))
        if _same_version_posted(form, version)
        else care.default_scopes(
            user=user,
            permissions=[row.permission for row in rows],
            chosen={row.permission.scope for row in rows if row.permission.required},
        )
    )
    return render(
        request,
        "marketplace/installs/install.html",
        {
            "agent": found,
            "version": version,
            "rows": rows,
            "form": form,
            "chosen": chosen,
            "existing": existing,
            "refusal": refusal,
            "email_unconfirmed": not user.email_verified,
            **confirmation.context(rows),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@dataclass(frozen=True)
class GrantEntry:
    grant: Grant
    permission: Permission | None  # as the install's version declares it


@dataclass(frozen=True)
class InstallEntry:
    install: Install
    grants: list[GrantEntry]
    pending: str | None  # the version waiting for consent


def _entry(install: Install) -> InstallEntry:
    declared = {p.scope: p for p in declared_permissions(install.version)}
    pending = pending_version(install)
    return InstallEntry(
        install=install,
        grants=[
            GrantEntry(grant=grant, permission=declared.get(grant.scope))
            for grant in install.live_grants  # type: ignore[attr-defined]  # prefetched to_attr
        ],
        pending=pending.version if pending is not None else None,
    )


@login_required
def install_list_page(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    page = Paginator(install_list(user=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "marketplace/installs/list.html",
        {"page": page, "entries": [_entry(install) for install in page]},
    )


@login_required
@require_POST
def grant_revoke(
    request: HttpRequest, public_id: uuid.UUID, scope: str
) -> HttpResponse:
    user = signed_in_user(request.user)
    install = install_get(user=user, public_id=public_id)
    run_action(
        request,
        lambda: services.grant_revoke(actor=user, install=install, scope=scope),
        _("%(agent)s no longer has the permission %(scope)s.")
        % {"agent": install.agent.name, "scope": scope},
    )
    return redirect("install-list")


@login_required
@require_POST
def install_uninstall(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    user = signed_in_user(request.user)
    install = install_get(user=user, public_id=public_id)
    run_action(
        request,
        lambda: services.install_uninstall(actor=user, install=install),
        _("%(agent)s was uninstalled; every permission you granted it is revoked.")
        % {"agent": install.agent.name},
    )
    return redirect("install-list")


@login_required
def install_update(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    """The permissions of the agent's latest version against those granted; the
    user consents to move to it."""
    user = signed_in_user(request.user)
    install = install_get(user=user, public_id=public_id)
    if install.state != Install.State.ACTIVE:
        raise Http404
    agent = install.agent
    version = agent.latest_version
    if version is None or not agent.is_listed:
        messages.error(
            request, _("This agent is not in the store at the moment; try again later.")
        )
        return redirect("install-list")
    refusal = ""
    try:
        services.install_check_allowed(user=user, agent=agent, new_install=False)
    except ApplicationError as error:
        refusal = error.message
    rows, dropped = consent_rows(install=install, version=version)
    form = InstallConsentForm(
        request.POST if request.method == "POST" else None,
        scopes=[row.permission.scope for row in rows],
    )
    confirmation = _Confirmation()
    if request.method == "POST" and form.is_valid():
        done = run_form_service(
            form,
            lambda: services.install_consent(
                actor=user,
                install=install,
                granted_scopes=form.cleaned_data["scopes"],
                declaration_digest=form.cleaned_data["declaration_digest"],
                autonomous_confirmed=form.cleaned_data["confirm_autonomous"],
            ),
            show=confirmation.show,
        )
        if done is not None:
            messages.success(
                request,
                _(
                    "%(agent)s now runs version %(version)s with the permissions "
                    "you chose."
                )
                % {"agent": agent.name, "version": version.version},
            )
            return redirect("install-list")
    chosen = (
        set(request.POST.getlist("scopes"))
        if _same_version_posted(form, version)
        else care.default_scopes(
            user=user,
            permissions=[row.permission for row in rows],
            chosen={
                row.permission.scope
                for row in rows
                if row.granted and not row.authority_raised
            },
        )
    )
    return render(
        request,
        "marketplace/installs/update.html",
        {
            "install": install,
            "agent": agent,
            "version": version,
            "rows": rows,
            "dropped": dropped,
            "form": form,
            "chosen": chosen,
            "pending": version.pk != install.version_id,
            "refusal": refusal,
            **confirmation.context(rows),
            # The pricing of the version the user is on, and what the new one
            # makes worse (asked again, like a new permission).
            "pricing_before": install.version.declaration.get("pricing"),
            "pricing_changes": pricing_worse(
                install.version.declaration.get("pricing"),
                version.declaration.get("pricing"),
            ),
        },
        status=400 if form.is_bound and form.errors else 200,
    )
