from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError
from config.exceptions import PermissionDenied as DomainPermissionDenied
from marketplace.auth import signed_in_user
from marketplace.forms import (
    DomainClaimForm,
    InvitationForm,
    OrganizationCreateForm,
    OrganizationFilterForm,
    OrganizationUpdateForm,
    RoleForm,
)
from marketplace.models import Invitation, Membership, Organization, User
from marketplace.selectors.organizations import (
    MANAGER_ROLES,
    invitation_list_pending,
    membership_get,
    membership_list,
    organization_domain_claim_get,
    organization_event_list,
    organization_get,
    organization_list,
)
from marketplace.services import domain_control
from marketplace.services import organizations as services
from marketplace.views.errors import add_service_error, run_action, run_form_service


def _user(request: HttpRequest) -> User:
    return signed_in_user(request.user)


def _organization(slug: str) -> Organization:
    organization = organization_get(slug=slug)
    if organization is None:
        raise Http404
    return organization


def organization_directory(request: HttpRequest) -> HttpResponse:
    filters = OrganizationFilterForm(request.GET)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    kind, q = cleaned.get("kind", ""), cleaned.get("q", "")
    organizations = organization_list(kind=kind or None, q=q)
    return render(
        request,
        "marketplace/organizations/list.html",
        {
            "organizations": organizations[:100],
            "kinds": Organization.Kind.choices,
            "kind": kind,
            "q": q,
        },
    )


@login_required
def organization_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = OrganizationCreateForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            organization = services.organization_create(actor=user, **form.cleaned_data)
        except (ApplicationError, ValidationError) as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("%(name)s was created; you are its owner.")
                % {"name": organization.name},
            )
            return redirect("organization-settings", slug=organization.slug)
    return render(request, "marketplace/organizations/create.html", {"form": form})


def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(slug)
    membership = membership_get(user=request.user, organization=organization)
    return render(
        request,
        "marketplace/organizations/detail.html",
        {
            "organization": organization,
            "membership": membership,
            "member_count": organization.memberships.count(),
            "domain_name": domain_control.domain_display(organization.domain),
        },
    )


@login_required
def organization_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """Members, invitations and details of an organisation: for its members only."""
    user = _user(request)
    organization = _organization(slug)
    membership = membership_get(user=user, organization=organization)
    if membership is None:
        raise DomainPermissionDenied()
    can_manage = membership.role in MANAGER_ROLES
    is_owner = membership.role == Membership.Role.OWNER
    roles = services.roles_for_kind(organization.kind)
    invite_form = InvitationForm(roles=roles)
    update_form = OrganizationUpdateForm(
        initial={
            "name": organization.name,
            "description": organization.description,
            "website": organization.website,
            "contact_email": organization.contact_email,
        }
    )
    domain_form = DomainClaimForm(initial={"domain": organization.domain})
    if request.method == "POST" and "invite" in request.POST:
        invite_form = InvitationForm(request.POST, roles=roles)
        if invite_form.is_valid():
            try:
                services.invitation_create(
                    actor=user, organization=organization, **invite_form.cleaned_data
                )
            except (ApplicationError, ValidationError) as error:
                add_service_error(invite_form, error)
            else:
                messages.success(
                    request,
                    _("An invitation was sent to %(email)s.")
                    % {"email": invite_form.cleaned_data["email"]},
                )
                return redirect("organization-settings", slug=slug)
    elif request.method == "POST" and "update" in request.POST:
        update_form = OrganizationUpdateForm(request.POST)
        if update_form.is_valid():
            try:
                services.organization_update(
                    actor=user, organization=organization, **update_form.cleaned_data
                )
            except (ApplicationError, ValidationError) as error:
                add_service_error(update_form, error)
            else:
                messages.success(request, _("The organisation was saved."))
                return redirect("organization-settings", slug=slug)
    elif request.method == "POST" and "claim_domain" in request.POST:
        domain_form = DomainClaimForm(request.POST)
        if domain_form.is_valid():
            claimed = run_form_service(
                domain_form,
                lambda: domain_control.organization_claim_domain(
                    actor=user,
                    organization=organization,
                    domain=domain_form.cleaned_data["domain"],
                ),
            )
            if claimed is not None:
                messages.success(
                    request,
                    _(
                        "%(domain)s is claimed. Publish the record or the file below, "
                        "then ask for a check."
                    )
                    % {"domain": claimed.domain},
                )
                return redirect("organization-settings", slug=slug)
    elif request.method == "POST" and "check_domain" in request.POST:
        return _act(
            request,
            slug,
            lambda: domain_control.organization_request_domain_check(
                actor=user, organization=organization
            ),
            _("The check has started. Reload this page in a moment to see its result."),
        )
    elif request.method == "POST":
        messages.error(request, _("The form sent was not recognised."))
    domain_claim = organization_domain_claim_get(actor=user, organization=organization)
    return render(
        request,
        "marketplace/organizations/settings.html",
        {
            "organization": organization,
            "membership": membership,
            "can_manage": can_manage,
            "is_owner": is_owner,
            "roles": [(role, Membership.Role(role).label) for role in roles],
            "members": membership_list(organization=organization, actor=user),
            "invitations": (
                invitation_list_pending(organization=organization, actor=user)
                if can_manage
                else []
            ),
            "events": organization_event_list(organization=organization, actor=user),
            "invite_form": invite_form,
            "update_form": update_form,
            "domain_form": domain_form,
            "domain_name": domain_control.domain_display(organization.domain),
            "domain_instructions": (
                domain_control.domain_instructions(organization=domain_claim)
                if domain_claim is not None
                else None
            ),
            "domain_reasons": domain_control.domain_check_reasons(
                organization=organization
            ),
        },
        status=400 if request.method == "POST" else 200,
    )


def _act(
    request: HttpRequest, slug: str, action: Callable[[], object], success: str
) -> HttpResponse:
    """Run a service for a button on the settings page and come back to it."""
    run_action(request, action, success)
    return redirect("organization-settings", slug=slug)


def _member(organization: Organization, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.select_related("user"),
        pk=membership_id,
        organization=organization,
    )


@login_required
@require_POST
def membership_remove(
    request: HttpRequest, slug: str, membership_id: int
) -> HttpResponse:
    user = _user(request)
    organization = _organization(slug)
    if membership_get(user=user, organization=organization) is None:
        raise DomainPermissionDenied()
    membership = _member(organization, membership_id)
    if membership.user_id == user.pk:
        response = _act(
            request,
            slug,
            lambda: services.membership_remove(actor=user, membership=membership),
            _("You left %(name)s.") % {"name": organization.name},
        )
        left = not Membership.objects.filter(pk=membership.pk).exists()
        return redirect("profile") if left else response
    return _act(
        request,
        slug,
        lambda: services.membership_remove(actor=user, membership=membership),
        _("%(user)s was removed.") % {"user": membership.user.username},
    )


@login_required
@require_POST
def membership_change_role(
    request: HttpRequest, slug: str, membership_id: int
) -> HttpResponse:
    user = _user(request)
    organization = _organization(slug)
    if membership_get(user=user, organization=organization) is None:
        raise DomainPermissionDenied()
    membership = _member(organization, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a role."))
        return redirect("organization-settings", slug=slug)
    role = form.cleaned_data["role"]
    return _act(
        request,
        slug,
        lambda: services.membership_change_role(
            actor=user, membership=membership, role=role
        ),
        _("%(user)s is now %(role)s.")
        % {"user": membership.user.username, "role": Membership.Role(role).label},
    )


@login_required
@require_POST
def invitation_revoke(
    request: HttpRequest, slug: str, invitation_id: int
) -> HttpResponse:
    user = _user(request)
    organization = _organization(slug)
    if membership_get(user=user, organization=organization) is None:
        raise DomainPermissionDenied()
    invitation = get_object_or_404(
        Invitation, pk=invitation_id, organization=organization
    )
    return _act(
        request,
        slug,
        lambda: services.invitation_revoke(actor=user, invitation=invitation),
        _("The invitation to %(email)s was revoked.") % {"email": invitation.email},
    )


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Shows an invitation; a signed-in user with the invited address accepts it."""
    try:
        invitation = services.invitation_from_token(token=token)
    except ApplicationError:
        raise Http404 from None
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        try:
            services.invitation_accept(actor=_user(request), invitation=invitation)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("You joined %(name)s.") % {"name": invitation.organization.name},
            )
            return redirect("organization-settings", slug=invitation.organization.slug)
    return render(
        request,
        "marketplace/organizations/invitation.html",
        {
            "invitation": invitation,
            "usable": invitation.state == Invitation.State.PENDING,
        },
    )
