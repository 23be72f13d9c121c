from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from config.exceptions import ApplicationError
from marketplace.auth import signed_in_user
from marketplace.forms import ProfileForm, SignInForm, SignUpForm
from marketplace.models import User
from marketplace.ratelimit import allow
from marketplace.selectors.organizations import (
    invitation_list_for_user,
    membership_list_for_user,
)
from marketplace.services.accounts import (
    email_verification_request,
    user_create,
    user_set_language,
    user_update_profile,
    user_verify_email,
)
from marketplace.views.errors import add_service_error


def _with_language_cookie(response: HttpResponse, user: User) -> HttpResponse:
    if user.preferred_language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            user.preferred_language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite="Lax",
        )
    return response


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    form = SignUpForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = user_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                birth_year=form.cleaned_data["birth_year"],
                preferred_language=request.LANGUAGE_CODE,
                accept_agreements=form.cleaned_data.get("accept_agreements", False),
                agreement_version_ids=form.cleaned_data.get("agreement_versions", []),
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                add_service_error(form, error)
            else:  # the password validators speak without a field
                form.add_error("password", error)
        except ApplicationError as error:
            add_service_error(form, error)
            if error.code == "agreements_changed":
                # Show the versions now in force, to be read and ticked again.
                status = 400
                data = request.POST.copy()
                data.pop("accept_agreements", None)
                data["agreement_versions"] = form.fields["agreement_versions"].initial
                form.data = data
        else:
            login(request, user, backend="marketplace.auth.UsernameOrEmailBackend")
            messages.success(
                request,
                _(
                    "Welcome! Your account is ready. We sent a link to %(email)s to "
                    "confirm the address."
                )
                % {"email": user.email},
            )
            return redirect("profile")
    return render(
        request,
        "marketplace/accounts/signup.html",
        {"form": form},
        # A damaged list of the versions shown, or versions no longer in force.
        status=400 if "agreement_versions" in form.errors else status,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Links in the e-mail point at the site's public address (SITE_HOST and
    SITE_SCHEME), not at whatever Host header the request carried."""

    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        self.domain_override = settings.SITE_HOST
        self.use_https = settings.SITE_SCHEME == "https"
        self.extra_email_context = {"site_name": settings.SITE_NAME}
        return super().form_valid(form)


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    redirect_authenticated_user = True

    def form_valid(self, form: SignInForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_valid(form)
        return _with_language_cookie(response, form.get_user())


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    form = ProfileForm(
        request.POST or None,
        initial={
            "birth_year": user.birth_year,
            "preferred_language": user.preferred_language,
            "elder_mode": user.elder_mode,
            "daily_use_reminder_minutes": user.daily_use_reminder_minutes,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            user_update_profile(
                user=user,
                birth_year=form.cleaned_data["birth_year"],
                preferred_language=form.cleaned_data["preferred_language"],
                elder_mode=form.cleaned_data["elder_mode"],
                daily_use_reminder_minutes=form.cleaned_data[
                    "daily_use_reminder_minutes"
                ],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Your profile was saved."))
            return _with_language_cookie(redirect("profile"), user)
    return render(
        request,
        "marketplace/accounts/profile.html",
        {
            "form": form,
            "memberships": membership_list_for_user(user=user),
            "invitations": invitation_list_for_user(user=user),
        },
        status=400 if form.errors else 200,
    )


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the confirmation e-mail."""
    try:
        user_verify_email(token=token)
    except ApplicationError as error:
        return render(
            request,
            "marketplace/accounts/verify_email.html",
            {"error": error.message},
            status=400,
        )
    messages.success(request, _("Your e-mail address is confirmed."))
    return redirect("profile" if request.user.is_authenticated else "login")


@login_required
@require_POST
def verify_email_resend(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request.user)
    if allow(action="verify-email-resend", subject=str(user.pk), limit=3, window=3600):
        email_verification_request(user=user)
        messages.success(
            request, _("A new link is on its way to %(email)s.") % {"email": user.email}
        )
    else:
        messages.error(request, _("Several links were sent already; try again later."))
    return redirect("profile")


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language, which also remembers the choice of a signed-in user."""
    response = django_set_language(request)
    if isinstance(request.user, User) and isinstance(response, HttpResponseRedirect):
        user_set_language(user=request.user, language=request.POST.get("language", ""))
    return response
