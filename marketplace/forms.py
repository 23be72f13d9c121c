from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from marketplace.models import Membership, Organization, User
from marketplace.ratelimit import login_blocked

TOO_MANY_SIGN_INS = _(
    "Too many failed sign-ins for this account or from your network. Wait a few "
    "minutes and try again, or reset your password."
)


def _year_choices() -> list[tuple[str, StrOrPromise]]:
    this_year = timezone.now().year
    return [("", _("Prefer not to say"))] + [
        (str(year), str(year)) for year in range(this_year, 1899, -1)
    ]


class SignUpForm(forms.Form):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        help_text=_("Letters, digits and @/./+/-/_ only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    email = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        help_text=password_validators_help_text_html,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    birth_year = forms.TypedChoiceField(
        label=_("Year of birth"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Used only to check the age ratings of agents you install."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["birth_year"].choices = _year_choices()  # type: ignore[attr-defined]


class SignInForm(AuthenticationForm):
    username = forms.CharField(
        label=_("User name or e-mail address"),
        max_length=254,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        if username and login_blocked(request=self.request, username=username):
            raise ValidationError(TOO_MANY_SIGN_INS, code="too_many_attempts")
        return super().clean()


class ProfileForm(forms.Form):
    birth_year = forms.TypedChoiceField(
        label=_("Year of birth"), required=False, coerce=int, empty_value=None
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        required=False,
        choices=lambda: [("", _("Follow my browser")), *settings.LANGUAGES],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["birth_year"].choices = _year_choices()  # type: ignore[attr-defined]


class OrganizationFilterForm(forms.Form):
    """The directory's search box and kind filter; bad values are ignored."""

    q = forms.CharField(required=False, max_length=100)
    kind = forms.ChoiceField(
        required=False, choices=[("", ""), *Organization.Kind.choices]
    )


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    slug = forms.CharField(
        label=_("Short name"),
        max_length=50,
        help_text=Organization._meta.get_field("slug").help_text,
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Organization.Kind.choices)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not user.is_staff:
            from marketplace.services.organizations import STAFF_ONLY_KINDS

            self.fields["kind"].choices = [  # type: ignore[attr-defined]
                (value, label)
                for value, label in Organization.Kind.choices
                if value not in STAFF_ONLY_KINDS
            ]


class OrganizationUpdateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    contact_email = forms.EmailField(label=_("Contact e-mail"), required=False)


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)

    def __init__(self, *args: Any, roles: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(Membership.Role.choices)
        self.fields["role"].choices = [(role, labels[role]) for role in roles]  # type: ignore[attr-defined]
        self.fields["role"].initial = Membership.Role.MEMBER


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Membership.Role.choices)
