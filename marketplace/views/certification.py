"""The certification console: the dashboard of bodies' and publishers' members,
a body's schemes and certificates, issuing, the request and certificate pages, a
publisher's certification page for one agent, and the operator's page of
accreditations, domain requirements and trusted issuers.

Every change goes through a certification service: its field errors show on the
form, a denial answers 403 and a missing object 404."""

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from config.exceptions import ApplicationError, NotFound
from config.exceptions import PermissionDenied as DomainPermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.forms.certification import (
    AccreditationGrantForm,
    AccreditationStateForm,
    CertificateExtendForm,
    CertificateIssueForm,
    CertificateStateFilterForm,
    CertificationRequestForm,
    CredentialImportForm,
    DomainRequirementsForm,
    ReasonForm,
    SchemeForm,
    TrustedIssuerForm,
    TrustedIssuerRevokeForm,
    levels_as_text,
)
from marketplace.models import (
    Accreditation,
    Certificate,
    CertificationRequest,
    Organization,
    User,
)
from marketplace.selectors.agents import agent_get, agent_list_for_editor
from marketplace.selectors.certification import (
    accreditation_get,
    accreditation_list,
    accreditations_of,
    agent_requests,
    agent_version_list,
    agent_versions_certified,
    body_memberships,
    certificate_events,
    certificate_get,
    certificate_list,
    certificate_list_for_user,
    certification_body_get,
    domain_list_with_requirements,
    imported_credentials,
    request_events,
    request_get,
    request_list_for_user,
    request_list_open,
    request_visible_to,
    scheme_get,
    scheme_list,
    scheme_list_for_user,
    schemes_open_for_requests,
    trusted_issuer_get,
    trusted_issuers,
    version_certifiable_by,
    version_list_extendable,
)
from marketplace.selectors.organizations import is_operator, membership_role
from marketplace.services import certification as certification_services
from marketplace.services import recognition
from marketplace.services.agents import EDITOR_ROLES
from marketplace.services.certification import (
    CERTIFIABLE_VERSION_STATES,
    ISSUER_ROLES,
    SCHEME_EDITABLE,
    SCHEME_ROLES,
)
from marketplace.views.errors import add_service_error, run_action

PAGE_SIZE = 20
CertState = Certificate.State
RequestState = CertificationRequest.State
ResultT = TypeVar("ResultT")


# --- Helpers ----------------------------------------------------------------------


def _run(form: forms.Form, call: Callable[[], ResultT]) -> tuple[ResultT | None, int]:
    """Run the service behind a valid form: its result and 200, or None and the
    status to answer with after showing its error on the form. A denial stays a
    403 and a missing object a 404."""
    try:
        return call(), 200
    except (DomainPermissionDenied, NotFound):
        raise
    except (ApplicationError, ValidationError) as error:
        add_service_error(form, error)
        status = error.status_code if isinstance(error, ApplicationError) else 400
        return None, status


def _page(request: HttpRequest, queryset: QuerySet[Any], param: str = "page") -> Any:
    return CappedPaginator(queryset, PAGE_SIZE).get_page(request.GET.get(param))


def _query(request: HttpRequest, without: str) -> str:
    """The query string of the page without ``without``, for the links of one of
    its paginated lists."""
    return urlencode(
        [(key, value) for key, value in request.GET.items() if key != without]
    )


def _body(slug: str) -> Organization:
    body = certification_body_get(slug=slug)
    if body is None:
        raise Http404
    return body


def _ensure_role(
    *, user: User, organization: Organization, roles: frozenset[str], message: str
) -> str:
    role = membership_role(user=user, organization=organization)
    if role not in roles:
        raise DomainPermissionDenied(message)
    return role


def _state_filter(request: HttpRequest) -> tuple[CertificateStateFilterForm, str]:
    form = CertificateStateFilterForm(request.GET)
    state = form.cleaned_data["state"] if form.is_valid() else ""
    return form, state


def _unshown_errors(
    forms_by_action: dict[str, forms.Form], action: str, shown: dict[str, bool]
) -> list[str]:
    """The errors of the form of ``action`` when the page does not show that
    form (the state moved on meanwhile): shown above the page instead."""
    form = forms_by_action.get(action)
    if form is None or not form.is_bound or shown.get(action, False):
        return []
    return [str(error) for errors in form.errors.values() for error in errors]


def _issue_denied() -> str:
    return _("Only the body's owners, administrators and assessors issue certificates.")


# --- The dashboard ----------------------------------------------------------------


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """What waits for the signed-in user: for the bodies they belong to, open
    requests, the certificates issued and the schemes; for their publishers, their
    requests and certificates."""
    user = signed_in_user(request.user)
    memberships = list(body_memberships(user=user))
    context: dict[str, Any] = {
        "memberships": memberships,
        "is_operator": is_operator(user),
        "issuer_roles": ISSUER_ROLES,
        "scheme_roles": SCHEME_ROLES,
        # The bodies whose certificates the user may manage (not plain members).
        "issuer_body_ids": {
            m.organization_id for m in memberships if m.role in ISSUER_ROLES
        },
    }
    if memberships:
        schemes = list(scheme_list_for_user(user=user))
        state_form, state = _state_filter(request)
        context.update(
            bodies=[
                (
                    membership,
                    [s for s in schemes if s.body_id == membership.organization_id],
                )
                for membership in memberships
            ],
            body_requests=_page(
                request, request_list_open(user=user, side="body"), "requests_page"
            ),
            body_requests_query=_query(request, "requests_page"),
            body_certificates=_page(
                request,
                certificate_list_for_user(user=user, side="body", state=state),
                "certificates_page",
            ),
            body_certificates_query=_query(request, "certificates_page"),
            state_form=state_form,
        )
    context.update(
        publisher_requests=_page(
            request,
            request_list_for_user(user=user, side="publisher"),
            "publisher_requests_page",
        ),
        publisher_requests_query=_query(request, "publisher_requests_page"),
        publisher_certificates=_page(
            request,
            certificate_list_for_user(user=user, side="publisher"),
            "publisher_certificates_page",
        ),
        publisher_certificates_query=_query(request, "publisher_certificates_page"),
        agents=_page(request, agent_list_for_editor(user=user), "agents_page"),
        agents_query=_query(request, "agents_page"),
    )
    return render(request, "marketplace/certification/dashboard.html", context)


# --- A body's schemes and certificates --------------------------------------------


def _scheme_denied() -> str:
    return _("Only the body's owners and administrators define its schemes.")


@login_required
def scheme_create(request: HttpRequest, body: str) -> HttpResponse:
    user = signed_in_user(request.user)
    organization = _body(body)
    _ensure_role(
        user=user,
        organization=organization,
        roles=SCHEME_ROLES,
        message=_scheme_denied(),
    )
    dimensions = [
        accreditation.dimension
        for accreditation in accreditations_of(body=organization)
        if accreditation.state == Accreditation.State.ACTIVE
    ]
    form = SchemeForm(request.POST or None, dimensions=dimensions)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            scheme, status = _run(
                form,
                lambda: certification_services.scheme_create(
                    actor=user, body=organization, **form.cleaned_data
                ),
            )
            if scheme is not None:
                messages.success(
                    request,
                    _("The scheme %(code)s was created.") % {"code": scheme.code},
                )
                return redirect("certification-dashboard")
    return render(
        request,
        "marketplace/certification/scheme_form.html",
        {
            "body": organization,
            "form": form,
            "scheme": None,
            "accredited": bool(dimensions),
        },
        status=status,
    )


@login_required
def scheme_edit(request: HttpRequest, body: str, code: str) -> HttpResponse:
    user = signed_in_user(request.user)
    organization = _body(body)
    scheme = scheme_get(code=code)
    if scheme is None or scheme.body_id != organization.pk:
        raise Http404
    _ensure_role(
        user=user,
        organization=organization,
        roles=SCHEME_ROLES,
        message=_scheme_denied(),
    )
    initial = {
        "code": scheme.code,
        "name_en": scheme.name_en,
        "name_zh": scheme.name_zh,
        "dimension": scheme.dimension,
        "levels": levels_as_text(scheme.levels),
        "criteria_en": scheme.criteria_en,
        "criteria_zh": scheme.criteria_zh,
        "validity_days": scheme.validity_days,
        "active": scheme.active,
    }
    form = SchemeForm(request.POST or None, initial=initial, editing=True)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            fields = {
                name: value
                for name, value in form.cleaned_data.items()
                if name in SCHEME_EDITABLE
            }
            updated, status = _run(
                form,
                lambda: certification_services.scheme_update(
                    actor=user, scheme=scheme, **fields
                ),
            )
            if updated is not None:
                messages.success(
                    request,
                    _("The scheme %(code)s was saved.") % {"code": scheme.code},
                )
                return redirect("certification-dashboard")
    return render(
        request,
        "marketplace/certification/scheme_form.html",
        {"body": organization, "form": form, "scheme": scheme},
        status=status,
    )


@login_required
def body_certificates(request: HttpRequest, body: str) -> HttpResponse:
    """Everything the body issued, newest first, for its members."""
    user = signed_in_user(request.user)
    organization = _body(body)
    role = membership_role(user=user, organization=organization)
    if role is None:
        raise DomainPermissionDenied(
            _("Only members of %(body)s see this list.") % {"body": organization.name}
        )
    state_form, state = _state_filter(request)
    return render(
        request,
        "marketplace/certification/body_certificates.html",
        {
            "body": organization,
            "page": _page(
                request,
                certificate_list(body=organization, state=state, public=False),
            ),
            "query": _query(request, "page"),
            "state_form": state_form,
            "can_issue": role in ISSUER_ROLES,
        },
    )


def _issue(
    *,
    user: User,
    form: CertificateIssueForm,
    request: CertificationRequest | None = None,
) -> tuple[Certificate | None, int]:
    """Issue the certificate the valid ``form`` describes."""
    publisher, agent = form.cleaned_data["agent"]
    version = version_certifiable_by(
        user=user,
        publisher=publisher,
        agent=agent,
        version=form.cleaned_data["version"],
    )
    if version is None:
        form.add_error(
            "version", _("This agent has no such version that you can certify.")
        )
        return None, 400
    return _run(
        form,
        lambda: certification_services.certificate_issue(
            actor=user,
            version=version,
            scheme=form.cleaned_data["scheme"],
            level=form.cleaned_data["level"],
            assessor=form.cleaned_data["assessor"],
            report_url=form.cleaned_data["report_url"],
            report_file=form.cleaned_data["report_file"],
            request=request,
        ),
    )


@login_required
def certificate_issue(request: HttpRequest, body: str) -> HttpResponse:
    """Issue a certificate directly, without a request."""
    user = signed_in_user(request.user)
    organization = _body(body)
    _ensure_role(
        user=user,
        organization=organization,
        roles=ISSUER_ROLES,
        message=_issue_denied(),
    )
    schemes = list(scheme_list(body=organization, active_only=True, public=False))
    form = CertificateIssueForm(
        request.POST or None, request.FILES or None, schemes=schemes
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            certificate, status = _issue(user=user, form=form)
            if certificate is not None:
                messages.success(
                    request,
                    _("The certificate %(serial)s was issued.")
                    % {"serial": certificate.serial},
                )
                return redirect(
                    "certification-certificate-manage", serial=certificate.serial
                )
    return render(
        request,
        "marketplace/certification/issue.html",
        {"body": organization, "form": form, "schemes": schemes},
        status=status,
    )


# --- A request --------------------------------------------------------------------

BODY_ACTIONS = frozenset({"accept", "decline", "refuse", "issue"})
PUBLISHER_ACTIONS = frozenset({"withdraw"})


@login_required
def request_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """A request and its history, for both sides; the body answers it and issues
    its certificate, the publisher withdraws it."""
    user = signed_in_user(request.user)
    found = request_get(public_id=str(public_id))
    if found is None or not request_visible_to(user=user, request=found):
        raise Http404
    body = found.scheme.body
    agent = found.version.agent
    can_answer = membership_role(user=user, organization=body) in ISSUER_ROLES
    can_withdraw = membership_role(user=user, organization=agent.publisher) in (
        EDITOR_ROLES
    )
    post = request.POST if request.method == "POST" else None
    action = post.get("action", "") if post is not None else ""
    forms_by_action: dict[str, forms.Form] = {
        "decline": ReasonForm(post if action == "decline" else None, prefix="decline"),
        "refuse": ReasonForm(post if action == "refuse" else None, prefix="refuse"),
        "withdraw": ReasonForm(
            post if action == "withdraw" else None, prefix="withdraw", required=False
        ),
        "issue": CertificateIssueForm(
            post if action == "issue" else None,
            request.FILES if action == "issue" else None,
            prefix="issue",
            schemes=[found.scheme],
            initial={
                "agent": f"{agent.publisher.slug}/{agent.slug}",
                "version": found.version.version,
                "scheme": found.scheme.code,
                "level": found.level,
            },
        ),
    }
    status = 200
    if post is not None:
        if action in BODY_ACTIONS and not can_answer:
            raise DomainPermissionDenied(
                _(
                    "Only the body's owners, administrators and assessors answer "
                    "requests."
                )
            )
        if action in PUBLISHER_ACTIONS and not can_withdraw:
            raise DomainPermissionDenied(
                _("Only members of %(publisher)s withdraw its requests.")
                % {"publisher": agent.publisher.name}
            )
        here = reverse("certification-request", kwargs={"public_id": found.public_id})
        if action == "accept":
            run_action(
                request,
                lambda: certification_services.certification_request_respond(
                    actor=user, request=found, accept=True
                ),
                _(
                    "You accepted the request; assess the version, then issue or "
                    "refuse."
                ),
            )
            return redirect(here)
        form = forms_by_action.get(action)
        if form is None:
            messages.error(request, _("Choose what to do with the request."))
            return redirect(here)
        status = 400
        if form.is_valid():
            done, status = _request_action(user, found, action, form)
            if done is not None:
                messages.success(request, done)
                return redirect(here)
    open_states = {RequestState.REQUESTED, RequestState.ACCEPTED}
    shown = {
        "decline": can_answer and found.state == RequestState.REQUESTED,
        "refuse": can_answer and found.state == RequestState.ACCEPTED,
        "issue": can_answer and found.state == RequestState.ACCEPTED,
        "withdraw": can_withdraw and found.state in open_states,
    }
    return render(
        request,
        "marketplace/certification/request.html",
        {
            "certification_request": found,
            "agent": agent,
            "body": body,
            "events": list(request_events(request=found)),
            "level_name": found.scheme.level_name(found.level),
            "can_answer": can_answer,
            "can_withdraw": can_withdraw,
            "forms": forms_by_action,
            "errors": _unshown_errors(forms_by_action, action, shown),
            "states": RequestState,
        },
        status=status,
    )


def _request_action(
    user: User, found: CertificationRequest, action: str, form: forms.Form
) -> tuple[str | None, int]:
    """Run the service behind a request's form: the success message and 200, or
    None and the status of the form shown again."""
    reason = form.cleaned_data.get("reason", "")
    if isinstance(form, CertificateIssueForm):
        certificate, status = _issue(user=user, form=form, request=found)
        if certificate is None:
            return None, status
        return (
            _("The certificate %(serial)s was issued.")
            % {"serial": certificate.serial},
            200,
        )
    calls: dict[str, tuple[Callable[[], object], str]] = {
        "decline": (
            lambda: certification_services.certification_request_respond(
                actor=user, request=found, accept=False, reason=reason
            ),
            _("You declined the request; the publisher is told why."),
        ),
        "refuse": (
            lambda: certification_services.certification_request_refuse(
                actor=user, request=found, reason=reason
            ),
            _("You refused the certificate; the publisher is told why."),
        ),
        "withdraw": (
            lambda: certification_services.certification_request_withdraw(
                actor=user, request=found, reason=reason
            ),
            _("The request was withdrawn."),
        ),
    }
    call, success = calls[action]
    result, status = _run(form, call)
    return (success if result is not None else None), status


# --- A certificate ----------------------------------------------------------------


@login_required
def certificate_manage(request: HttpRequest, serial: str) -> HttpResponse:
    """Suspend, reinstate, revoke or extend a certificate: the issuing body's
    owners, administrators and assessors."""
    user = signed_in_user(request.user)
    certificate = certificate_get(serial=serial)
    if certificate is None:
        raise Http404
    _ensure_role(
        user=user,
        organization=certificate.body,
        roles=ISSUER_ROLES,
        message=_(
            "Only the issuing body's owners, administrators and assessors change "
            "its certificates."
        ),
    )
    versions = list(
        version_list_extendable(
            user=user, certificate=certificate, states=CERTIFIABLE_VERSION_STATES
        )
    )
    post = request.POST if request.method == "POST" else None
    action = post.get("action", "") if post is not None else ""
    forms_by_action: dict[str, forms.Form] = {
        "suspend": ReasonForm(post if action == "suspend" else None, prefix="suspend"),
        "reinstate": ReasonForm(
            post if action == "reinstate" else None, prefix="reinstate", required=False
        ),
        "revoke": ReasonForm(post if action == "revoke" else None, prefix="revoke"),
        "extend": CertificateExtendForm(
            post if action == "extend" else None, prefix="extend", versions=versions
        ),
    }
    status = 200
    if post is not None:
        here = reverse("certification-certificate-manage", kwargs={"serial": serial})
        form = forms_by_action.get(action)
        if form is None:
            messages.error(request, _("Choose what to do with the certificate."))
            return redirect(here)
        status = 400
        if form.is_valid():
            done, status = _certificate_action(user, certificate, action, form)
            if done is not None:
                message, target = done
                messages.success(request, message)
                return redirect(target)
    live = {CertState.VALID, CertState.SUSPENDED}
    shown = {
        "suspend": certificate.state == CertState.VALID,
        "reinstate": certificate.state == CertState.SUSPENDED,
        "revoke": certificate.state in live,
        "extend": certificate.state == CertState.VALID and bool(versions),
    }
    return render(
        request,
        "marketplace/certification/certificate_manage.html",
        {
            "certificate": certificate,
            "events": list(certificate_events(certificate=certificate)),
            "forms": forms_by_action,
            "errors": _unshown_errors(forms_by_action, action, shown),
            "versions": versions,
            "states": CertState,
        },
        status=status,
    )


def _certificate_action(
    user: User, certificate: Certificate, action: str, form: forms.Form
) -> tuple[tuple[str, str] | None, int]:
    """Run the service behind a certificate's form: the success message and the
    page to go to, or None and the status of the form shown again."""
    here = reverse(
        "certification-certificate-manage", kwargs={"serial": certificate.serial}
    )
    if action == "extend":
        version = form.cleaned_data["version"]
        extended, status = _run(
            form,
            lambda: certification_services.certificate_extend(
                actor=user, certificate=certificate, version=version
            ),
        )
        if extended is None:
            return None, status
        return (
            (
                _("The certificate %(serial)s now covers version %(version)s.")
                % {"serial": extended.serial, "version": version.version},
                reverse(
                    "certification-certificate-manage",
                    kwargs={"serial": extended.serial},
                ),
            ),
            200,
        )
    reason = form.cleaned_data.get("reason", "")
    services: dict[str, tuple[Callable[..., Certificate], str]] = {
        "suspend": (
            certification_services.certificate_suspend,
            _("The certificate was suspended."),
        ),
        "reinstate": (
            certification_services.certificate_reinstate,
            _("The certificate is valid again."),
        ),
        "revoke": (
            certification_services.certificate_revoke,
            _("The certificate was revoked."),
        ),
    }
    service, success = services[action]
    result, status = _run(
        form, lambda: service(actor=user, certificate=certificate, reason=reason)
    )
    return ((success, here) if result is not None else None), status


# --- A publisher's agent ----------------------------------------------------------


@login_required
def agent_certification(
    request: HttpRequest, publisher: str, agent: str
) -> HttpResponse:
    """The certification of one agent, for its publisher's members: its versions
    with their certificates, the open requests, a new request, and the import of a
    credential another platform issued."""
    user = signed_in_user(request.user)
    found = agent_get(publisher=publisher, agent=agent)
    if found is None:
        raise Http404
    _ensure_role(
        user=user,
        organization=found.publisher,
        roles=EDITOR_ROLES,
        message=_("Only members of %(publisher)s ask for its agents to be certified.")
        % {"publisher": found.publisher.name},
    )
    versions = list(agent_version_list(agent=found, states=CERTIFIABLE_VERSION_STATES))
    schemes = list(schemes_open_for_requests())
    post = request.POST if request.method == "POST" else None
    action = post.get("action", "") if post is not None else ""
    request_form = CertificationRequestForm(
        post if action == "request" else None,
        prefix="request",
        versions=versions,
        schemes=schemes,
    )
    import_form = CredentialImportForm(
        post if action == "import" else None,
        request.FILES if action == "import" else None,
        prefix="import",
    )
    status = 200
    if post is not None:
        status = 400
        if action == "request" and request_form.is_valid():
            made, status = _run(
                request_form,
                lambda: certification_services.certification_request_create(
                    actor=user, **request_form.cleaned_data
                ),
            )
            if made is not None:
                messages.success(
                    request,
                    _("Your request was sent to %(body)s.")
                    % {"body": made.scheme.body.name},
                )
                return redirect("certification-request", public_id=made.public_id)
        elif action == "import" and import_form.is_valid():
            imported, status = _run(
                import_form,
                lambda: recognition.credential_import(
                    actor=user, agent=found, token=import_form.cleaned_data["token"]
                ),
            )
            if imported is not None:
                messages.success(
                    request,
                    _("The credential of %(issuer)s was added.")
                    % {"issuer": imported.issuer.name},
                )
                return redirect(
                    "console-agent-certification", publisher=publisher, agent=agent
                )
        elif action not in ("request", "import"):
            messages.error(request, _("Choose what to do."))
            return redirect(
                "console-agent-certification", publisher=publisher, agent=agent
            )
    return render(
        request,
        "marketplace/certification/agent.html",
        {
            "agent": found,
            "page": _page(request, agent_versions_certified(agent=found)),
            "open_requests": list(agent_requests(agent=found, open_only=True)),
            "imported": list(imported_credentials(agent=found)),
            "request_form": request_form,
            "import_form": import_form,
            "can_request": bool(versions and schemes),
        },
        status=status,
    )


# --- The operator -----------------------------------------------------------------


@login_required
def operator(request: HttpRequest) -> HttpResponse:
    """The operator's page: accreditations of bodies, what each domain requires,
    and the issuers of other platforms whose credentials are recognised."""
    user = signed_in_user(request.user)
    if not is_operator(user):
        raise DomainPermissionDenied(_("Only the platform operator sees this page."))
    domains = list(domain_list_with_requirements())
    schemes = list(scheme_list())
    post = request.POST if request.method == "POST" else None
    action = post.get("action", "") if post is not None else ""
    chosen = request.GET.get("domain", "")
    current = next((d for d in domains if d.code == chosen), None)
    requirements_initial = (
        {
            "domain": current.code,
            "schemes": [s.code for s in current.required_schemes.all()],
            "dimensions": list(current.required_dimensions or []),
        }
        if current is not None
        else {}
    )
    forms_by_action: dict[str, forms.Form] = {
        "grant": AccreditationGrantForm(
            post if action == "grant" else None, prefix="grant"
        ),
        "accreditation": AccreditationStateForm(
            post if action == "accreditation" else None, prefix="accreditation"
        ),
        "requirements": DomainRequirementsForm(
            post if action == "requirements" else None,
            prefix="requirements",
            domains=domains,
            schemes=schemes,
            initial=requirements_initial,
        ),
        "issuer_add": TrustedIssuerForm(
            post if action == "issuer_add" else None, prefix="issuer"
        ),
        "issuer_revoke": TrustedIssuerRevokeForm(
            post if action == "issuer_revoke" else None, prefix="revoke"
        ),
    }
    status = 200
    if post is not None:
        form = forms_by_action.get(action)
        if form is None:
            messages.error(request, _("Choose what to do."))
            return redirect("certification-operator")
        status = 400
        if form.is_valid():
            done, status = _operator_action(user, action, form)
            if done is not None:
                messages.success(request, done)
                return redirect("certification-operator")
    return render(
        request,
        "marketplace/certification/operator.html",
        {
            "accreditations": _page(request, accreditation_list()),
            "domains": domains,
            "issuers": list(trusted_issuers()),
            "forms": forms_by_action,
            "failed": action if status != 200 else "",
            "accreditation_states": [
                (value, label)
                for value, label in AccreditationStateForm.base_fields["state"].choices  # type: ignore[attr-defined]  # a ChoiceField
            ],
        },
        status=status,
    )


def _operator_action(
    user: User, action: str, form: forms.Form
) -> tuple[str | None, int]:
    data = form.cleaned_data
    if action == "grant":
        body = certification_body_get(slug=data["body"])
        if body is None:
            form.add_error("body", _("No certification body has this address."))
            return None, 400
        granted, status = _run(
            form,
            lambda: certification_services.accreditation_grant(
                actor=user,
                body=body,
                dimension=data["dimension"],
                reason=data["reason"],
            ),
        )
        return (
            _("%(body)s is accredited for %(dimension)s.")
            % {"body": body.name, "dimension": granted.get_dimension_display()}
            if granted is not None
            else None
        ), status
    if action == "accreditation":
        accreditation = accreditation_get(accreditation_id=data["accreditation"])
        if accreditation is None:
            raise Http404
        changed, status = _run(
            form,
            lambda: certification_services.accreditation_set_state(
                actor=user,
                accreditation=accreditation,
                state=data["state"],
                reason=data["reason"],
            ),
        )
        return (
            _("The accreditation of %(body)s for %(dimension)s is now %(state)s.")
            % {
                "body": accreditation.body.name,
                "dimension": changed.get_dimension_display(),
                "state": changed.get_state_display(),
            }
            if changed is not None
            else None
        ), status
    if action == "requirements":
        domain = data["domain"]
        updated, status = _run(
            form,
            lambda: certification_services.domain_set_requirements(
                actor=user,
                domain=domain,
                schemes=data["schemes"],
                dimensions=data["dimensions"],
            ),
        )
        return (
            _("The requirements of %(domain)s were saved.") % {"domain": domain.code}
            if updated is not None
            else None
        ), status
    if action == "issuer_add":
        issuer, status = _run(
            form, lambda: recognition.trusted_issuer_add(actor=user, **data)
        )
        return (
            _("Credentials of %(name)s are now recognised.") % {"name": issuer.name}
            if issuer is not None
            else None
        ), status
    issuer_found = trusted_issuer_get(issuer_id=data["issuer"])
    if issuer_found is None:
        raise Http404
    revoked, status = _run(
        form, lambda: recognition.trusted_issuer_revoke(actor=user, issuer=issuer_found)
    )
    return (
        _("Credentials of %(name)s are no longer recognised.")
        % {"name": issuer_found.name}
        if revoked is not None
        else None
    ), status
