from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from marketplace.models import (
    Agent,
    Deployment,
    Domain,
    Membership,
    Organization,
    ReviewDecision,
    User,
)
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


class AgentSearchForm(forms.Form):
    """The store's search box and filters; values it does not know are ignored."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    domain = forms.ChoiceField(label=_("Domain"), required=False)
    risk_tier = forms.ChoiceField(
        label=_("Risk tier"),
        required=False,
        choices=[("", _("Any risk tier")), *Domain.RiskTier.choices],
    )
    protocol = forms.ChoiceField(
        label=_("Protocol"),
        required=False,
        choices=[
            ("", _("Any protocol")),
            ("a2a", "A2A"),
            ("mcp", "MCP"),
            ("aip", "AIP (ACPs)"),
            ("openapi", "OpenAPI"),
            ("anp", "ANP"),
            ("other", _("Other")),
        ],
    )
    deployment = forms.ChoiceField(
        label=_("Deployment"),
        required=False,
        choices=[("", _("Any deployment")), *Deployment.choices],
    )
    verified = forms.BooleanField(label=_("Verified publishers only"), required=False)
    online = forms.BooleanField(label=_("Online now"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=[
            ("relevance", _("Relevance")),
            ("newest", _("Newest")),
            ("name", _("Name")),
        ],
    )

    def __init__(self, *args: Any, domains: list[Domain], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_chinese = get_language() == "zh-hans"
        self.fields["domain"].choices = [  # type: ignore[attr-defined]
            ("", _("All domains")),
            *((d.code, d.name_zh if use_chinese else d.name_en) for d in domains),
        ]


class AgentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    summary = forms.CharField(label=_("Summary"), max_length=300)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Markdown; links and formatting are kept, scripts are removed."),
    )
    domain = forms.ModelChoiceField(label=_("Domain"), queryset=Domain.objects.none())
    tags = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_("Separated by commas."),
    )
    homepage = forms.URLField(
        label=_("Homepage"), required=False, assume_scheme="https"
    )
    privacy_policy_url = forms.URLField(
        label=_("Privacy policy URL"), required=False, assume_scheme="https"
    )
    terms_url = forms.URLField(
        label=_("Terms of service URL"), required=False, assume_scheme="https"
    )
    age_rating = forms.ChoiceField(
        label=_("Age rating"), choices=Agent.AgeRating.choices
    )
    anti_addiction_measures = forms.CharField(
        label=_("Anti-addiction measures"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required unless the agent is rated 18+."),
    )
    filing_number = forms.CharField(
        label=_("Filing number"),
        required=False,
        max_length=100,
        help_text=_("Required in high-risk domains."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["domain"].queryset = Domain.objects.order_by("code")  # type: ignore[attr-defined]
        chinese = get_language() == "zh-hans"
        self.fields["domain"].label_from_instance = (  # type: ignore[attr-defined]
            lambda domain: domain.name_zh if chinese else domain.name_en
        )

    def clean_tags(self) -> list[str]:
        tags = [tag.strip() for tag in self.cleaned_data["tags"].split(",")]
        tags = [tag for tag in tags if tag]
        if len(tags) > 20 or any(len(tag) > 50 for tag in tags):
            raise ValidationError(_("At most 20 tags of at most 50 characters."))
        return tags


class AgentCreateForm(AgentForm):
    publisher = forms.ModelChoiceField(
        label=_("Publisher"), queryset=Organization.objects.none(), empty_label=None
    )
    slug = forms.CharField(
        label=_("Short name"),
        max_length=50,
        help_text=_("Part of the agent's permanent identifier; cannot be changed."),
    )
    field_order = ["publisher", "slug", "name"]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["publisher"].queryset = Organization.objects.filter(  # type: ignore[attr-defined]
            kind=Organization.Kind.PUBLISHER,
            memberships__user=user,
            memberships__role__in=[
                Membership.Role.OWNER,
                Membership.Role.ADMIN,
                Membership.Role.MEMBER,
            ],
        ).order_by("name")


class VersionForm(forms.Form):
    version = forms.CharField(label=_("Version"), max_length=64, initial="1.0.0")
    changelog = forms.CharField(
        label=_("Changes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    declaration = forms.JSONField(
        label=_("Capability declaration (JSON)"),
        widget=forms.Textarea(attrs={"rows": 16, "class": "font-monospace"}),
        help_text=_(
            "Validated against the schema at /schemas/capability-declaration.json."
        ),
    )


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(
        label=_("Verdict"), choices=ReviewDecision.Verdict.choices
    )
    reasons = forms.CharField(
        label=_("Reasons"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
