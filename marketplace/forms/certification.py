"""Forms of the certification console: schemes, issuing and managing certificates,
answering and making requests, importing credentials, and the operator's
accreditations, domain requirements and trusted issuers. They check the shape of
the input; the certification services decide the rest."""

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from marketplace.models import (
    Accreditation,
    AgentVersion,
    Certificate,
    Dimension,
    Domain,
    Scheme,
)

CREDENTIAL_MAX_BYTES = 64 * 1024
AGENT_ADDRESS = re.compile(r"^\s*([-a-zA-Z0-9_]+)/([-a-zA-Z0-9_]+)\s*$")
# The service checks each level's code and names; the form only splits the lines.
MAX_LEVEL_LINES = 5


def levels_as_text(levels: Iterable[dict[str, str]]) -> str:
    """A scheme's levels as the lines of the levels field."""
    return "\n".join(
        "|".join(
            part
            for part in (
                level.get("code", ""),
                level.get("name_en", ""),
                level.get("name_zh", ""),
            )
        ).rstrip("|")
        for level in levels
    )


def _level_choices(schemes: Sequence[Scheme]) -> list[tuple[str, str]]:
    """Every level of ``schemes`` once, by code, lowest first."""
    seen: dict[str, str] = {}
    for scheme in schemes:
        for level in scheme.levels:
            code = level.get("code", "")
            if code and code not in seen:
                seen[code] = f"{scheme.level_name(code)} ({code})"
    return list(seen.items())


def _scheme_choices(schemes: Sequence[Scheme]) -> list[tuple[str, str]]:
    return [(scheme.code, f"{scheme.name} ({scheme.code})") for scheme in schemes]


class SchemeForm(forms.Form):
    """A body's scheme. When editing, its code and dimension stay as they are."""

    code = forms.SlugField(
        label=_("Code"),
        max_length=50,
        help_text=_(
            "Lower-case letters, digits and hyphens; used in badge addresses and "
            "cannot be changed later."
        ),
    )
    name_en = forms.CharField(label=_("Name (English)"), max_length=200)
    name_zh = forms.CharField(label=_("Name (Chinese)"), max_length=200)
    dimension = forms.ChoiceField(label=_("Dimension"), choices=Dimension.choices)
    levels = forms.CharField(
        label=_("Levels"),
        widget=forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
        help_text=_(
            "One level a line, lowest first: code|English name|Chinese name, "
            "for example basic|Basic|基础级. At most five."
        ),
    )
    criteria_en = forms.CharField(
        label=_("Criteria (English)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=20000,
    )
    criteria_zh = forms.CharField(
        label=_("Criteria (Chinese)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=20000,
        required=False,
    )
    validity_days = forms.IntegerField(
        label=_("Validity (days)"), min_value=1, max_value=3660, initial=365
    )
    active = forms.BooleanField(
        label=_("Open for new certificates"), required=False, initial=True
    )

    def __init__(
        self,
        *args: Any,
        editing: bool = False,
        dimensions: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """``dimensions``: those a new scheme may take (the body's active
        accreditations)."""
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True
            self.fields["dimension"].disabled = True
        else:
            # A new scheme is open; close it afterwards if need be.
            del self.fields["active"]
            if dimensions is not None:
                allowed = set(dimensions)
                self.fields["dimension"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
                    (value, label)
                    for value, label in Dimension.choices
                    if value in allowed
                ]

    def clean_levels(self) -> list[dict[str, str]]:
        text: str = self.cleaned_data["levels"]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise ValidationError(_("Give at least one level."), code="required")
        if len(lines) > MAX_LEVEL_LINES:
            raise ValidationError(
                _("Give at most five levels."), code="too_many_levels"
            )
        levels: list[dict[str, str]] = []
        for number, line in enumerate(lines, start=1):
            parts = [part.strip() for part in line.split("|")]
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise ValidationError(
                    _(
                        "Line %(number)s: write code|English name|Chinese name "
                        "(the Chinese name may be left out)."
                    ),
                    code="bad_level_line",
                    params={"number": number},
                )
            levels.append(
                {
                    "code": parts[0],
                    "name_en": parts[1],
                    "name_zh": parts[2] if len(parts) == 3 else "",
                }
            )
        return levels


class CertificateIssueForm(forms.Form):
    """Issue a certificate: which version of which agent, for which of the body's
    schemes and at which level, on whose assessment and which report."""

    agent = forms.CharField(
        label=_("Agent"),
        max_length=101,
        help_text=_("Its address in the store: publisher/agent."),
    )
    version = forms.CharField(label=_("Version number"), max_length=64)
    scheme = forms.ChoiceField(label=_("Scheme"))
    level = forms.ChoiceField(label=_("Level"))
    assessor = forms.CharField(
        label=_("Assessor"),
        max_length=200,
        help_text=_("Who assessed the version; shown on the certificate."),
    )
    report_file = forms.FileField(
        label=_("Test report file"),
        required=False,
        widget=forms.FileInput(
            attrs={"accept": "application/pdf,text/plain,.pdf,.txt"}
        ),
        help_text=_("A PDF or UTF-8 text file of at most 10 MB."),
    )
    report_url = forms.CharField(
        label=_("Or the report's address"),
        required=False,
        max_length=500,
        widget=forms.URLInput(),
        help_text=_("An https:// address where the body publishes the report."),
    )

    def __init__(self, *args: Any, schemes: Sequence[Scheme], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemes = {scheme.code: scheme for scheme in schemes}
        self.fields["scheme"].choices = _scheme_choices(schemes)  # type: ignore[attr-defined]  # a ChoiceField
        self.fields["level"].choices = _level_choices(schemes)  # type: ignore[attr-defined]  # a ChoiceField

    def clean_agent(self) -> tuple[str, str]:
        match = AGENT_ADDRESS.match(self.cleaned_data["agent"])
        if match is None:
            raise ValidationError(
                _("Write the agent's address as publisher/agent."), code="bad_address"
            )
        return match.group(1), match.group(2)

    def clean_version(self) -> str:
        return str(self.cleaned_data["version"]).strip()

    def clean_scheme(self) -> Scheme:
        return self._schemes[self.cleaned_data["scheme"]]

    def clean_report_file(self) -> UploadedFile | None:
        return self.cleaned_data.get("report_file") or None


class ReasonForm(forms.Form):
    """The reason for a decision, told to the other side."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, required: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        if not required:
            self.fields["reason"].label = _("Reason (optional)")


class CertificateExtendForm(forms.Form):
    version = forms.ChoiceField(
        label=_("Later version"),
        help_text=_(
            "The new certificate binds to this version and ends when this one does."
        ),
    )

    def __init__(
        self, *args: Any, versions: Sequence[AgentVersion], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._versions = {version.version: version for version in versions}
        self.fields["version"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (version.version, f"{version.version} ({version.get_state_display()})")
            for version in versions
        ]

    def clean_version(self) -> AgentVersion:
        return self._versions[self.cleaned_data["version"]]


class CertificateStateFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("All states")), *Certificate.State.choices],
    )


class CertificationRequestForm(forms.Form):
    """A publisher's request that a body certify one of its versions."""

    version = forms.ChoiceField(label=_("Version"))
    scheme = forms.ChoiceField(label=_("Scheme"))
    level = forms.ChoiceField(label=_("Level asked for"))
    message = forms.CharField(
        label=_("Message to the body"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(
        self,
        *args: Any,
        versions: Sequence[AgentVersion],
        schemes: Sequence[Scheme],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._versions = {version.version: version for version in versions}
        self._schemes = {scheme.code: scheme for scheme in schemes}
        self.fields["version"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (version.version, f"{version.version} ({version.get_state_display()})")
            for version in versions
        ]
        self.fields["scheme"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (scheme.code, f"{scheme.name} ({scheme.code}) · {scheme.body.name}")
            for scheme in schemes
        ]
        self.fields["level"].choices = _level_choices(schemes)  # type: ignore[attr-defined]  # a ChoiceField

    def clean_version(self) -> AgentVersion:
        return self._versions[self.cleaned_data["version"]]

    def clean_scheme(self) -> Scheme:
        return self._schemes[self.cleaned_data["scheme"]]


class CredentialImportForm(forms.Form):
    """A credential another platform issued to the agent: pasted, or a file."""

    credential = forms.CharField(
        label=_("Credential (VC-JWT)"),
        required=False,
        max_length=CREDENTIAL_MAX_BYTES,
        widget=forms.Textarea(attrs={"rows": 4, "class": "font-monospace"}),
        help_text=_("Paste the signed credential, or upload it below."),
    )
    credential_file = forms.FileField(
        label=_("Or a file"),
        required=False,
        help_text=_("A text file of at most 64 KB holding the VC-JWT."),
    )

    def clean_credential_file(self) -> str:
        upload = self.cleaned_data.get("credential_file")
        if not upload:
            return ""
        if upload.size is None or upload.size > CREDENTIAL_MAX_BYTES:
            raise ValidationError(_("The file is larger than 64 KB."), code="too_large")
        data = upload.read(CREDENTIAL_MAX_BYTES + 1)
        if len(data) > CREDENTIAL_MAX_BYTES:
            raise ValidationError(_("The file is larger than 64 KB."), code="too_large")
        try:
            return str(data.decode("utf-8")).strip()
        except UnicodeDecodeError:
            raise ValidationError(
                _("The file must hold the credential as text."), code="not_text"
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        pasted = (cleaned.get("credential") or "").strip()
        uploaded = cleaned.get("credential_file") or ""
        if pasted and uploaded:
            raise ValidationError(
                _("Paste the credential or upload it, not both."), code="both"
            )
        if not pasted and not uploaded:
            raise ValidationError(
                _("Paste the credential or upload its file."), code="missing"
            )
        cleaned["token"] = pasted or uploaded
        return cleaned


class AccreditationGrantForm(forms.Form):
    body = forms.SlugField(
        label=_("Certification body"),
        max_length=50,
        help_text=_("The body's address in the directory (its slug)."),
    )
    dimension = forms.ChoiceField(label=_("Dimension"), choices=Dimension.choices)
    reason = forms.CharField(
        label=_("Note (optional)"), required=False, max_length=2000
    )


class AccreditationStateForm(forms.Form):
    accreditation = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    state = forms.ChoiceField(label=_("New state"), choices=Accreditation.State.choices)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


class DomainRequirementsForm(forms.Form):
    """What a listing in a domain must be certified for before it is published."""

    domain = forms.ChoiceField(label=_("Domain"))
    schemes = forms.MultipleChoiceField(
        label=_("Required schemes"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    dimensions = forms.MultipleChoiceField(
        label=_("Required dimensions"),
        required=False,
        choices=Dimension.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("A certificate of any scheme in the dimension will do."),
    )

    def __init__(
        self,
        *args: Any,
        domains: Sequence[Domain],
        schemes: Sequence[Scheme],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._domains = {domain.code: domain for domain in domains}
        self._schemes = {scheme.code: scheme for scheme in schemes}
        self.fields["domain"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            (domain.code, f"{domain.name_en} · {domain.name_zh} ({domain.code})")
            for domain in domains
        ]
        self.fields["schemes"].choices = _scheme_choices(schemes)  # type: ignore[attr-defined]  # a ChoiceField

    def clean_domain(self) -> Domain:
        return self._domains[self.cleaned_data["domain"]]

    def clean_schemes(self) -> list[Scheme]:
        return [self._schemes[code] for code in self.cleaned_data["schemes"]]


class TrustedIssuerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    platform_url = forms.URLField(
        label=_("Platform"), required=False, max_length=200, assume_scheme="https"
    )
    issuer_id = forms.CharField(
        label=_("Issuer id"),
        max_length=500,
        help_text=_("The https:// URL or DID its credentials name as their issuer."),
    )
    public_key = forms.CharField(
        label=_("Public key"),
        max_length=64,
        help_text=_("The Ed25519 public key, base64url (43 characters)."),
    )
    kid = forms.CharField(
        label=_("Key id (optional)"),
        required=False,
        max_length=200,
        help_text=_("Defaults to the key's thumbprint (RFC 7638)."),
    )


class TrustedIssuerRevokeForm(forms.Form):
    issuer = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
