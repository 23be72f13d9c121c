"""The form of the public page that verifies a certificate: by its serial number,
or from the signed credential itself, pasted or uploaded."""

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from marketplace.credentials import MAX_CREDENTIAL_LENGTH

SERIAL_MAX_LENGTH = 32
TOO_LONG = _("A credential is at most %(limit_value)d characters; this one is longer.")


class CertificateVerifyForm(forms.Form):
    serial = forms.CharField(
        label=_("Serial number"),
        required=False,
        max_length=SERIAL_MAX_LENGTH,
        help_text=_("As printed on the certificate, e.g. 7K3M9QX2PA4D."),
        error_messages={
            "max_length": _("A serial number is at most %(limit_value)d characters.")
        },
    )
    credential = forms.CharField(
        label=_("Signed credential (VC-JWT)"),
        required=False,
        max_length=MAX_CREDENTIAL_LENGTH,
        widget=forms.Textarea(
            attrs={"rows": 5, "spellcheck": "false", "autocomplete": "off"}
        ),
        help_text=_("Paste the content of the certificate's credential.jwt file."),
        error_messages={"max_length": TOO_LONG},
    )
    credential_file = forms.FileField(
        label=_("Or upload the credential file"),
        required=False,
        help_text=_("A text file of at most 64 KiB."),
    )

    def clean_serial(self) -> str:
        serial: str = self.cleaned_data["serial"]
        return serial.strip().upper()

    def clean_credential_file(self) -> str:
        """The uploaded credential as text; refused when too long or not UTF-8."""
        upload: UploadedFile | None = self.cleaned_data.get("credential_file")
        if not upload:
            return ""
        if (upload.size or 0) > MAX_CREDENTIAL_LENGTH:
            raise ValidationError(
                TOO_LONG, code="too_long", params={"limit_value": MAX_CREDENTIAL_LENGTH}
            )
        data: bytes = upload.read(MAX_CREDENTIAL_LENGTH + 1)
        if len(data) > MAX_CREDENTIAL_LENGTH:
            raise ValidationError(
                TOO_LONG, code="too_long", params={"limit_value": MAX_CREDENTIAL_LENGTH}
            )
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError(
                _("The file is not UTF-8 text; a credential is plain text."),
                code="not_text",
            ) from None
        return text.strip()

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        given = [
            name
            for name in ("serial", "credential", "credential_file")
            if cleaned.get(name)
        ]
        if self.errors:
            return cleaned
        if not given:
            raise ValidationError(
                _("Give a serial number, or paste or upload a credential."),
                code="empty",
            )
        if len(given) > 1:
            raise ValidationError(
                _(
                    "Give one thing to verify: a serial number, a pasted credential "
                    "or a file."
                ),
                code="several",
            )
        return cleaned

    @property
    def token(self) -> str:
        """The credential to verify, pasted or uploaded ("" for a serial)."""
        return str(
            self.cleaned_data.get("credential")
            or self.cleaned_data.get("credential_file")
            or ""
        )
