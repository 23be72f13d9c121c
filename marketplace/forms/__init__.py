import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from marketplace import credit, declarations
from marketplace.models import (
    Agent,
    AgreementVersion,
    Deployment,
    Domain,
    Membership,
    Organization,
    PricingModel,
    ReviewDecision,
    ReviewFlag,
    User,
)
from marketplace.ratelimit import login_blocked
from marketplace.selectors.agreements import agreement_in_force_list

TOO_MANY_SIGN_INS = _(
    "Too many failed sign-ins for this account or from your network. Wait a few "
    "minutes and try again, or reset your password."
)


def _year_choices() -> list[tuple[str, StrOrPromise]]:
    this_year = timezone.now().year
    return [("", _("Prefer not to say"))] + [
        (str(year), str(year)) for year in range(this_year, 1899, -1)
    ]


# Row ids fit a signed 64-bit column.
ID_LIMIT = 2**63
ID_MAX_DIGITS = len(str(ID_LIMIT))


def parse_id(value: str) -> int | None:
    """A row id a form sent: plain ASCII digits ("²" is a digit to isdigit() but
    not to int()) of a number from 1 within the database's range; None for
    anything else."""
    if not (value.isascii() and value.isdigit()) or len(value) > ID_MAX_DIGITS:
        return None
    number = int(value)
    return number if 0 < number < ID_LIMIT else None


def parse_ids(values: list[str]) -> list[int] | None:
    """The row ids a form sent (in hidden fields, say), or None when one is not
    an id (``parse_id``)."""
    ids = [parse_id(value) for value in values]
    return None if None in ids else [number for number in ids if number is not None]


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
        documents = agreement_in_force_list(user_kinds_only=True)
        if documents:  # none in force (a fresh install): nothing to accept
            self.fields["accept_agreements"] = forms.BooleanField(
                label=_("I have read and accept these documents"),
                help_text=format_html_join(
                    " · ",
                    '<a href="{}" target="_blank" rel="noopener">{}</a>',
                    (
                        (reverse("agreement-kind", args=[doc.kind]), doc.title)
                        for doc in documents
                    ),
                ),
            )
            # The versions shown: the account accepts these, and only while they
            # are still in force.
            self.fields["agreement_versions"] = forms.CharField(
                widget=forms.HiddenInput,
                initial=",".join(str(doc.pk) for doc in documents),
                required=False,
            )

    def clean_agreement_versions(self) -> list[int]:
        raw = self.cleaned_data.get("agreement_versions") or ""
        ids = parse_ids([value for value in raw.split(",") if value])
        if ids is None or len(ids) > 20:
            raise ValidationError(
                gettext("The form was damaged; reload the page."), code="invalid"
            )
        return ids


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
    elder_mode = forms.BooleanField(
        label=_("Elder-friendly mode"),
        required=False,
        help_text=_(
            "Larger type and plainer pages; an agent may act on its own only after "
            "you confirm it a second time."
        ),
    )
    daily_use_reminder_minutes = forms.IntegerField(
        label=_("Daily-use reminder (minutes, optional)"),
        required=False,
        min_value=5,
        max_value=1440,
        help_text=_(
            "After this many minutes of use in a day, the agents you install are "
            "asked to remind you. Leave it empty for none."
        ),
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


class DomainClaimForm(forms.Form):
    """The domain to prove control of; the service normalises and checks it."""

    domain = forms.CharField(
        label=_("Web domain"),
        max_length=300,
        help_text=_("Your organisation's web domain, such as example.com."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


MIN_RATINGS = (4.5, 4.0, 3.5, 3.0)
SORT_CHOICES = [
    ("relevance", _("Relevance")),
    ("rating", _("Rating")),
    ("installs", _("Installs")),
    ("newest", _("Newest")),
    ("name", _("Name")),
]


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
            *declarations.PROTOCOL_CHOICES[:-1],
            ("other", _("Other")),
        ],
    )
    deployment = forms.ChoiceField(
        label=_("Deployment"),
        required=False,
        choices=[("", _("Any deployment")), *Deployment.choices],
    )
    min_rating = forms.TypedChoiceField(
        label=_("Rating"),
        required=False,
        coerce=float,
        empty_value=None,
    )
    min_grade = forms.ChoiceField(
        label=_("Publisher's credit grade"),
        required=False,
    )
    verified = forms.BooleanField(label=_("Verified publishers only"), required=False)
    online = forms.BooleanField(label=_("Online now"), required=False)
    hide_dishonesty_listed = forms.BooleanField(
        label=_("Hide publishers on the dishonesty list"), required=False
    )
    credit_badge = forms.BooleanField(
        label=_("Top-grade store badge only"), required=False
    )
    # Several pricing models may be ticked; the agent is kept if it has any of them.
    pricing = forms.MultipleChoiceField(
        label=_("Pricing"),
        required=False,
        choices=PricingModel.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    ipv6 = forms.BooleanField(label=_("IPv6 ready"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=SORT_CHOICES,
    )

    def __init__(self, *args: Any, domains: list[Domain], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        use_chinese = get_language() == "zh-hans"
        self.fields["domain"].choices = [  # type: ignore[attr-defined]
            ("", _("All domains")),
            *((d.code, d.name_zh if use_chinese else d.name_en) for d in domains),
        ]
        self.fields["min_rating"].choices = [  # type: ignore[attr-defined]
            ("", _("Any rating")),
            *(
                (str(stars), gettext("%(stars)s stars and up") % {"stars": stars})
                for stars in MIN_RATINGS
            ),
        ]
        self.fields["min_grade"].choices = [  # type: ignore[attr-defined]
            ("", _("Any grade")),
            *(
                (grade, gettext("%(grade)s or better") % {"grade": grade})
                for grade in credit.GRADES[:-1]
            ),
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


class PrettyJSONField(forms.JSONField):
    """A JSON field shown indented, so that a declaration can be read and edited."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False, indent=2)
        return super().prepare_value(value)


class VersionForm(forms.Form):
    version = forms.CharField(label=_("Version"), max_length=64, initial="1.0.0")
    changelog = forms.CharField(
        label=_("Changes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    declaration = PrettyJSONField(
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


class PublisherKeyForm(forms.Form):
    """A publisher's Ed25519 public key: its 32 raw bytes in base64url, or a JWK
    (``{"kty": "OKP", "crv": "Ed25519", "x": "…"}``), whose ``x`` is passed on."""

    public_key = forms.CharField(
        label=_("Public key"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace"}),
        help_text=_(
            "The Ed25519 public key: its 32 bytes in base64url, or a JWK "
            '(JSON with "kty": "OKP" and "crv": "Ed25519").'
        ),
    )
    label = forms.CharField(
        label=_("Label"),
        max_length=100,
        required=False,
        help_text=_("A name to tell your keys apart, such as “CI 2026”."),
    )

    def clean_public_key(self) -> str:
        text: str = self.cleaned_data["public_key"].strip()
        if not text.startswith("{"):
            return text
        try:
            jwk = json.loads(text)
        except (ValueError, RecursionError):
            raise ValidationError(
                _("This looks like a JWK but is not valid JSON."), code="invalid"
            ) from None
        if not isinstance(jwk, dict):
            raise ValidationError(_("A JWK is a JSON object."), code="invalid")
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValidationError(
                _('Only Ed25519 keys are accepted: "kty": "OKP", "crv": "Ed25519".'),
                code="invalid",
            )
        if "d" in jwk:
            # Never send a private key back to the browser in the re-shown form.
            self.data = {**self.data, "public_key": ""}
            raise ValidationError(
                _(
                    "This JWK holds a private key (“d”). Give only the public key "
                    "and keep the private key secret."
                ),
                code="private_key",
            )
        x = jwk.get("x")
        if not isinstance(x, str) or not x:
            raise ValidationError(_("The JWK has no public key (“x”)."), code="invalid")
        return x


CARD_MAX_BYTES = 256 * 1024
CARD_MAX_DEPTH = 32


def _reject_constant(name: str) -> None:
    raise ValueError(name)


def _check_card_shape(card: object) -> None:
    """Refuse cards nested deeper than CARD_MAX_DEPTH or holding NUL characters
    (which databases refuse in JSON), without recursion."""
    stack: list[tuple[object, int]] = [(card, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > CARD_MAX_DEPTH:
            raise ValidationError(
                _("The card is nested more than %(depth)d levels deep.")
                % {"depth": CARD_MAX_DEPTH},
                code="too_deep",
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    raise ValidationError(
                        _("The card contains a NUL character."), code="nul"
                    )
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "\x00" in value:
            raise ValidationError(_("The card contains a NUL character."), code="nul")


def parse_card(raw: bytes) -> dict[str, Any]:
    """An uploaded A2A Agent Card as a JSON object, or a ValidationError that says
    what is wrong with it."""
    if len(raw) > CARD_MAX_BYTES:
        raise ValidationError(_("The card is larger than 256 KB."), code="too_large")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            _("The card is not UTF-8 text. Save it as UTF-8 JSON."), code="encoding"
        ) from None
    try:
        card = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise ValidationError(
            _(
                "The card is not valid JSON: %(problem)s (line %(line)d, column "
                "%(column)d)."
            )
            % {"problem": error.msg, "line": error.lineno, "column": error.colno},
            code="json",
        ) from None
    except (ValueError, RecursionError):
        raise ValidationError(_("The card is not valid JSON."), code="json") from None
    if not isinstance(card, dict):
        raise ValidationError(
            _("An Agent Card is a JSON object ({…}), not a list or a single value."),
            code="not_object",
        )
    _check_card_shape(card)
    return card


class CardImportForm(forms.Form):
    """An A2A Agent Card to import as a new draft version: a file, or pasted text."""

    card_file = forms.FileField(
        label=_("Agent Card file"),
        required=False,
        widget=forms.FileInput(attrs={"accept": "application/json,.json"}),
        help_text=_("A JSON file of at most 256 KB."),
    )
    card_text = forms.CharField(
        label=_("Or paste the Agent Card"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "font-monospace"}),
        help_text=_("The card's JSON, if you do not upload a file."),
    )
    deployment = forms.ChoiceField(
        label=_("Deployment"),
        choices=Deployment.choices,
        initial=Deployment.CLOUD,
        help_text=_("How the agent runs; an Agent Card does not say."),
    )

    # The field the card came from, where problems with its content are shown.
    source = "card_text"

    def clean_card_file(self) -> dict[str, Any] | None:
        upload = self.cleaned_data.get("card_file")
        if not upload:
            return None
        if upload.size is not None and upload.size > CARD_MAX_BYTES:
            raise ValidationError(
                _("The file is larger than 256 KB."), code="too_large"
            )
        return parse_card(upload.read(CARD_MAX_BYTES + 1))

    def clean_card_text(self) -> dict[str, Any] | None:
        text: str = self.cleaned_data.get("card_text") or ""
        if not text.strip():
            return None
        return parse_card(text.encode("utf-8", errors="surrogatepass"))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "card_file" in self.errors or "card_text" in self.errors:
            return cleaned
        from_file, from_text = cleaned.get("card_file"), cleaned.get("card_text")
        if from_file is not None and from_text is not None:
            raise ValidationError(
                _("Upload a file or paste the card, not both."), code="both"
            )
        if from_file is None and from_text is None:
            raise ValidationError(
                _("Upload the Agent Card's file or paste its JSON."), code="missing"
            )
        self.source = "card_file" if from_file is not None else "card_text"
        cleaned["card"] = from_file if from_file is not None else from_text
        return cleaned


class AgentLookupForm(forms.Form):
    id = forms.CharField(
        label=_("Identifier"),
        max_length=500,
        widget=forms.TextInput(
            attrs={
                "class": "font-monospace",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
        help_text=_(
            "An agent's did:web identifier, such as "
            "did:web:store.example:agents:wei-labs:trip-planner, or its ACPs "
            "identity code, such as urn:oid:1.2.156.3088.1.1.34C2.478BDF.0.0JU4."
        ),
    )


class InstallConsentForm(forms.Form):
    """The scopes a user grants an agent, from those its declaration asks for.
    Whether every required one is granted is the install service's rule."""

    scopes = forms.MultipleChoiceField(
        label=_("Permissions to grant"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    # The digest of the declaration whose permissions the page showed: the consent
    # holds for that version only.
    declaration_digest = forms.CharField(
        max_length=64,
        widget=forms.HiddenInput,
        error_messages={
            "required": _(
                "This page is out of date. Review the permissions again before "
                "you agree."
            )
        },
    )

    # The second confirmation that the agent may act on its own (asked of minors and
    # of users in the elder-friendly mode).
    confirm_autonomous = forms.BooleanField(
        label=_("Yes, let it act on its own"), required=False
    )

    def __init__(self, *args: Any, scopes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [(scope, scope) for scope in scopes]  # type: ignore[attr-defined]  # a MultipleChoiceField


STARS_CHOICES = [
    ("", _("Choose")),
    ("5", _("5 stars: excellent")),
    ("4", _("4 stars: good")),
    ("3", _("3 stars: fair")),
    ("2", _("2 stars: poor")),
    ("1", _("1 star: bad")),
]


class ReviewWriteForm(forms.Form):
    """A user's review of an agent they installed (the service checks the rest)."""

    stars = forms.TypedChoiceField(
        label=_("Rating"), choices=STARS_CHOICES, coerce=int, empty_value=None
    )
    title = forms.CharField(label=_("Title"), max_length=120)
    body = forms.CharField(
        label=_("Your review"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What did the agent do well or badly? At most 5,000 characters."),
    )


class ReviewReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Shown below the review, under your organisation's name."),
    )


class ReviewFlagForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ReviewFlag.Reason.choices)
    note = forms.CharField(
        label=_("Note for the moderators"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReviewModerationForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("hide", _("Hide the review")),
            ("restore", _("Restore the review")),
            ("dismiss", _("Keep it and close the flags")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        help_text=_(
            "Required; the author is told when a review is hidden or restored."
        ),
    )


class AgreementDraftForm(forms.Form):
    """A draft of one of the site's documents, in both languages."""

    kind = forms.ChoiceField(
        label=_("Document"),
        choices=lambda: AgreementVersion.Kind.choices,
    )
    title_en = forms.CharField(label=_("Title (English)"), max_length=200)
    title_zh = forms.CharField(label=_("Title (Chinese)"), max_length=200)
    body_en = forms.CharField(
        label=_("Text (English)"),
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text=_("Plain text; an empty line starts a new paragraph."),
    )
    body_zh = forms.CharField(
        label=_("Text (Chinese)"), widget=forms.Textarea(attrs={"rows": 14})
    )
    summary_en = forms.CharField(
        label=_("Summary of changes (English)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "What changed since the version before; required to publish any "
            "version after the first."
        ),
    )
    summary_zh = forms.CharField(
        label=_("Summary of changes (Chinese)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class AgreementAcceptForm(forms.Form):
    """Accept the versions shown on the page (their ids travel with the form as
    ``versions``)."""

    accept = forms.BooleanField(label=_("I have read and accept these documents"))
