from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from ratings.models import Finding, MisconductReport, Rating, Watch
from ratings.services import (
    ANSWER_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    FILES_MAX,
    NOTE_MAX_LENGTH,
    OCCURRED_EARLIEST_YEAR,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; what they may be is the service's to say."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        if not data:
            return []
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


class ReportForm(forms.Form):
    category = forms.ChoiceField(
        label=_("What kind of problem is it?"),
        choices=[("", _("Choose a category")), *MisconductReport.Category.choices],
    )
    description = forms.CharField(
        label=_("What happened?"),
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "When and how it happened, and what the agent or publisher did. At most "
            "5,000 characters."
        ),
    )
    evidence_links = forms.CharField(
        label=_("Links to evidence"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("Up to 10 http:// or https:// addresses, one on each line."),
    )
    attachments = MultipleFileField(
        label=_("Files"),
        required=False,
        widget=MultipleFileInput(
            attrs={"accept": "image/png,image/jpeg,application/pdf,text/plain"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _(
            "Up to %(max)d screenshots (PNG, JPEG), PDF documents or plain text "
            "files, each at most %(size)s. Only you and the reviewers see them."
        ) % {
            "max": FILES_MAX,
            "size": filesizeformat(settings.REPORT_EVIDENCE_MAX_BYTES),
        }

    def clean_evidence_links(self) -> list[str]:
        text: str = self.cleaned_data.get("evidence_links") or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class ReportTransitionForm(forms.Form):
    to = forms.ChoiceField(label=_("New state"), choices=MisconductReport.State.choices)
    note = forms.CharField(
        label=_("Note to the reporter"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when dismissing a report."),
    )
    # The state the reviewer saw: the move fails if someone moved the report since.
    seen = forms.ChoiceField(
        choices=MisconductReport.State.choices, widget=forms.HiddenInput
    )
    # The finding, when the report is upheld (the service checks them).
    severity = forms.ChoiceField(
        label=_("Severity"),
        required=False,
        choices=[("", _("Choose the severity")), *Finding.Severity.choices],
    )
    category = forms.ChoiceField(
        label=_("Category of the finding"),
        required=False,
        choices=[("", _("The report's category")), *MisconductReport.Category.choices],
    )
    occurred_on = forms.DateField(
        label=_("Occurred on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("The day the misconduct happened; the day of the report if empty."),
    )

    def clean_occurred_on(self) -> date | None:
        value: date | None = self.cleaned_data.get("occurred_on")
        if value is not None and value.year < OCCURRED_EARLIEST_YEAR:
            raise forms.ValidationError(
                _("Give a day from %(year)d on.") % {"year": OCCURRED_EARLIEST_YEAR},
                code="out_of_range",
            )
        return value


class ReportAnswerForm(forms.Form):
    text = forms.CharField(
        label=_("Your answer"),
        max_length=ANSWER_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "What happened from your side and what you did about it. You answer "
            "once; the body reads it before deciding."
        ),
    )


class WatchOpenForm(forms.Form):
    entity = forms.SlugField(label=_("Entity (its address name)"), max_length=60)
    detail = forms.CharField(
        label=_("What happened"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class WatchResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        label=_("Resolution"),
        choices=[
            (Watch.Resolution.AFFIRM, _("Affirm the grade")),
            (Watch.Resolution.UPGRADE, _("Upgrade: the new rating is higher")),
            (Watch.Resolution.DOWNGRADE, _("Downgrade: the new rating is lower")),
        ],
    )
    outlook = forms.ChoiceField(
        label=_("Outlook"),
        required=False,
        choices=[("", _("Keep the outlook")), *Rating.Outlook.choices],
    )
    reason = forms.CharField(
        label=_("Reasons"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
