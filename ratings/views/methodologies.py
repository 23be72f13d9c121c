"""Pages of rating methodologies and enrolment.

- The industry body's console (``/credit/console/``): what waits for the body, its
  methodologies, writing a draft (its text, then its content as JSON: indicators,
  grade scale, override rules, grade measures), publishing it and starting a new
  version.
- The public methodology pages (``/credit/methodologies/``): every published and
  retired methodology, in the reader's language.
- The entity's console (``/credit/entity/``): a publisher's enrolments, signing a
  body's credit commitment and withdrawing.

Every change goes through a methodology service: its field errors show next to
the field they concern, a denial answers 403 and a missing object 404.
"""

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.exceptions import ApplicationError, NotFound
from config.exceptions import PermissionDenied as DomainPermissionDenied
from config.pagination import CappedPaginator
from marketplace.auth import signed_in_user
from marketplace.credit import GRADES
from marketplace.models import Membership, Organization, User
from marketplace.views.errors import add_service_error, run_action
from ratings.models import (
    Enrolment,
    GradeMeasure,
    Indicator,
    Methodology,
    OverrideRule,
)
from ratings.selectors.methodologies import (
    bodies_open_for_enrolment,
    body_summary,
    enrolment_list_for_entity,
    entity_can_manage,
    entity_get,
    entity_membership_list,
    industry_body_get,
    industry_body_membership_list,
    is_body_author,
    measures_by_grade,
    membership_in,
    methodology_content,
    methodology_current_version,
    methodology_events,
    methodology_get,
    methodology_get_by_version,
    methodology_list_for_body,
    methodology_list_public,
)
from ratings.services.methodologies import (
    MAX_INDICATORS,
    MAX_MEASURE_DAYS,
    enrolment_sign,
    enrolment_withdraw,
    methodology_create,
    methodology_in_force,
    methodology_new_version,
    methodology_publish,
    methodology_set_content,
)

PAGE_SIZE = 20
# A methodology's content as JSON is a few kilobytes; forty indicators with long
# names fit well within this.
CONTENT_MAX_LENGTH = 100_000
TEXT_MAX_LENGTH = 50_000
COMMITMENT_MAX_LENGTH = 20_000
ResultT = TypeVar("ResultT")
State = Methodology.State


# --- A sound default methodology ---------------------------------------------------
# What a new draft starts from: the categories and weights of rating practice
# (misconduct 30, consumer outcomes 20, disclosure 15, safety 15, governance 10,
# cooperation 10), each indicator reading one of the marketplace's evidence
# sources with the normalisation and direction that source is made for
# (``ratings.evidence``), a nine-level scale plus D, the override rules of
# practice and the measures each class of grade calls for.

DEFAULT_INDICATORS: list[dict[str, Any]] = [
    {
        "code": "findings",
        "category": "misconduct",
        "name_en": "Substantiated misconduct findings",
        "name_zh": "经查实的失信行为",
        "weight": "30",
        "source": "findings",
        "normalisation": "penalty_decay",
        "direction": "lower_is_better",
        "params": {"minor": 5, "general": 20, "serious": 60},
    },
    {
        "code": "review-score",
        "category": "consumer",
        "name_en": "Review score",
        "name_zh": "用户评分",
        "weight": "15",
        "source": "review_score",
        "normalisation": "rate_shrunk",
        "direction": "higher_is_better",
        "params": {"lower": 1, "upper": 5, "prior_weight": 50, "prior_mean": 3.5},
    },
    {
        "code": "review-integrity",
        "category": "consumer",
        "name_en": "Reviews free of manipulation",
        "name_zh": "评价无操纵迹象",
        "weight": "5",
        "source": "review_signals",
        "normalisation": "wilson_lower",
        "direction": "higher_is_better",
        "params": {},
    },
    {
        "code": "disclosure",
        "category": "disclosure",
        "name_en": "Disclosure completeness of listings",
        "name_zh": "上架信息披露完整度",
        "weight": "15",
        "source": "disclosure",
        "normalisation": "linear",
        "direction": "higher_is_better",
        "params": {"lower": 0, "upper": 1},
    },
    {
        "code": "certificates-kept",
        "category": "safety",
        "name_en": "Certificates never suspended or revoked",
        "name_zh": "未被暂停或撤销的证书",
        "weight": "15",
        "source": "certificates_lost",
        "normalisation": "wilson_lower",
        "direction": "higher_is_better",
        "params": {},
    },
    {
        "code": "verification",
        "category": "governance",
        "name_en": "Verified registration and domain",
        "name_zh": "已核验的登记信息与域名",
        "weight": "5",
        "source": "verification",
        "normalisation": "boolean",
        "direction": "higher_is_better",
        "params": {},
    },
    {
        "code": "certificates-held",
        "category": "governance",
        "name_en": "Certificates held",
        "name_zh": "持有的有效证书",
        "weight": "5",
        "source": "certificates_held",
        "normalisation": "linear",
        "direction": "higher_is_better",
        "params": {"lower": 0, "upper": 3},
    },
    {
        "code": "review-replies",
        "category": "cooperation",
        "name_en": "Median hours to answer a review",
        "name_zh": "回复用户评价的时长中位数（小时）",
        "weight": "10",
        "source": "review_reply_time",
        "normalisation": "linear",
        "direction": "lower_is_better",
        "params": {"lower": 0, "upper": 168},
    },
]
DEFAULT_BANDS: list[dict[str, Any]] = [
    {
        "grade": grade,
        "min_score": score,
        "definition_en": definition_en,
        "definition_zh": definition_zh,
    }
    for grade, score, definition_en, definition_zh in (
        (
            "AAA",
            90,
            "Exemplary: a clean record, full disclosure and proven safety.",
            "诚信记录优良，信息披露完整，安全能力经过验证。",
        ),
        (
            "AA",
            85,
            "Very trustworthy: strong disclosure and safety, a clean record.",
            "高度可信：信息披露与安全表现良好，无失信记录。",
        ),
        (
            "A",
            80,
            "Trustworthy: low risk, at most isolated minor issues.",
            "可信：风险低，至多有个别轻微问题。",
        ),
        (
            "BBB",
            70,
            "Adequate: some minor issues, handled.",
            "尚可：存在少量轻微问题，已得到处理。",
        ),
        (
            "BB",
            60,
            "Adequate with reservations: minor issues recur.",
            "基本可信：轻微问题反复出现。",
        ),
        (
            "B",
            50,
            "Warning: repeated general misconduct or weak disclosure.",
            "警示：一般失信行为反复发生或信息披露不足。",
        ),
        (
            "CCC",
            40,
            "Serious warning: misconduct and weak remediation.",
            "严重警示：存在失信行为且整改不力。",
        ),
        ("CC", 30, "Untrustworthy: serious misconduct.", "失信：存在严重失信行为。"),
        (
            "C",
            20,
            "Severely untrustworthy: serious misconduct, not remedied.",
            "严重失信：严重失信行为未整改。",
        ),
        (
            "D",
            0,
            "Dishonest: forced by an override rule, or a very low score.",
            "不诚信：因强制规则或极低得分评定。",
        ),
    )
]
DEFAULT_OVERRIDES: list[dict[str, Any]] = [
    {"kind": "force", "condition": "dishonesty_listed", "grade": "D"},
    {"kind": "force", "condition": "severe_finding_open", "grade": "D"},
    {"kind": "force", "condition": "concealed_defect", "grade": "D"},
    {"kind": "cap", "condition": "high_risk_gate_missing", "grade": "BBB"},
]
DEFAULT_MEASURES: list[dict[str, Any]] = [
    *({"grade": grade, "kind": "store_badge"} for grade in ("AAA", "AA", "A")),
    *({"grade": grade, "kind": "fast_track"} for grade in ("AAA", "AA")),
    {
        "grade": "CCC",
        "kind": "publishing_review",
        "duration_days": 180,
        "repair_after_days": 90,
    },
    {
        "grade": "CC",
        "kind": "publishing_review",
        "duration_days": 180,
        "repair_after_days": 90,
    },
    {"grade": "CC", "kind": "downrank", "duration_days": 180, "repair_after_days": 90},
    {"grade": "C", "kind": "downrank", "duration_days": 365, "repair_after_days": 180},
    {
        "grade": "C",
        "kind": "publishing_block",
        "duration_days": 365,
        "repair_after_days": 180,
    },
    {
        "grade": "D",
        "kind": "dishonesty_list",
        "duration_days": 1095,
        "repair_after_days": 365,
    },
    {
        "grade": "D",
        "kind": "publishing_block",
        "duration_days": 1095,
        "repair_after_days": 365,
    },
]
DEFAULT_TEXT_EN = (
    "We rate agent developers and service providers of the store who enrol "
    "voluntarily. The score (0 to 100) is the weighted sum of the indicators "
    "below, each computed from the store's own records as of the cycle's date; "
    "misconduct findings fade over their publicity periods. Below the coverage "
    "threshold a rating is provisional. Override rules act after the score. Every "
    "rating is reviewed by an analyst, approved by a committee of at least three, "
    "and notified to the entity, which may object, before it is published."
)
DEFAULT_TEXT_ZH = (
    "本机构对自愿参加评价的智能体开发者和服务提供者进行信用评价。得分（0至100）为下列"
    "指标的加权和，各指标依据本商店截至评价日的记录计算；失信记录在公示期内逐步衰减。"
    "数据覆盖率低于阈值的评价为暂定评价。强制规则在计分后适用。每项评价经分析师审核、"
    "至少三人组成的评审委员会表决，并告知被评价主体（可提出异议）后方予公布。"
)
DEFAULT_COMMITMENT_EN = (
    "We commit to dealing honestly with users: to describe our agents truthfully, "
    "to disclose what they do with users' data, to answer complaints and reports "
    "in good time, to report and fix defects, and to give the rating body true "
    "and complete information. We accept that breaking this commitment counts as "
    "misconduct in our rating."
)
DEFAULT_COMMITMENT_ZH = (
    "我们承诺诚信对待用户：如实描述我们的智能体，披露其对用户数据的处理方式，及时答复"
    "投诉与举报，报告并修复缺陷，并向评价机构提供真实、完整的信息。我们接受：违反本承诺"
    "的行为将在信用评价中计为失信行为。"
)

# What each evidence source gives and the normalisation, direction and
# parameters it is made for (see ``ratings.evidence``).
SOURCE_PAIRINGS: dict[str, tuple[str, str, str]] = {
    "review_score": ("rate_shrunk", "higher_is_better", "lower, upper, prior_mean"),
    "review_signals": ("wilson_lower", "higher_is_better", "z"),
    "findings": ("penalty_decay", "lower_is_better", "minor, general, serious"),
    "certificates_held": ("linear", "higher_is_better", "lower, upper"),
    "certificates_lost": ("wilson_lower", "higher_is_better", "z"),
    "disclosure": ("linear", "higher_is_better", "lower: 0, upper: 1"),
    "review_reply_time": ("linear", "lower_is_better", "lower, upper (hours)"),
    "verification": ("boolean", "higher_is_better", "—"),
}


def default_content() -> dict[str, list[dict[str, Any]]]:
    return {
        "indicators": DEFAULT_INDICATORS,
        "bands": DEFAULT_BANDS,
        "overrides": DEFAULT_OVERRIDES,
        "measures": DEFAULT_MEASURES,
    }


def _as_json(items: list[dict[str, Any]]) -> str:
    return json.dumps(items, indent=2, ensure_ascii=False)


# --- Forms ------------------------------------------------------------------------


class JsonListField(forms.CharField):
    """A JSON list of objects typed into a textarea; what each object must hold is
    the methodology service's to say."""

    widget = forms.Textarea(
        attrs={"rows": 14, "class": "font-monospace json-editor", "spellcheck": "false"}
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", CONTENT_MAX_LENGTH)
        kwargs.setdefault("strip", True)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return []
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValidationError(
                _(
                    "This is not valid JSON (line %(line)d, column %(column)d): "
                    "%(problem)s."
                )
                % {"line": error.lineno, "column": error.colno, "problem": error.msg},
                code="json",
            ) from None
        except RecursionError:
            raise ValidationError(
                _("This JSON is nested too deeply."), code="json"
            ) from None
        if not isinstance(parsed, list):
            raise ValidationError(
                _("Give a JSON list, between [ and ]."), code="not_a_list"
            )
        for number, item in enumerate(parsed, start=1):
            if not isinstance(item, dict):
                raise ValidationError(
                    _("Item %(number)d is not an object between { and }.")
                    % {"number": number},
                    code="not_an_object",
                )
        return parsed


class MethodologyContentForm(forms.Form):
    """A draft's content: four JSON lists, each checked in full by
    ``methodology_set_content``."""

    indicators = JsonListField(
        label=gettext_lazy("Indicators"),
        help_text=gettext_lazy(
            "A list of 1 to 40 indicators; their weights must add up to 100 to publish."
        ),
    )
    bands = JsonListField(
        label=gettext_lazy("Grade scale"),
        help_text=gettext_lazy(
            "A list of grades with the lowest score that earns each; the lowest "
            "grade starts at 0."
        ),
    )
    overrides = JsonListField(
        label=gettext_lazy("Override rules"),
        required=False,
        help_text=gettext_lazy("A list of rules; [] for none."),
    )
    measures = JsonListField(
        label=gettext_lazy("Grade measures"),
        required=False,
        help_text=gettext_lazy(
            "Sanctions and incentives each grade calls for; [] for none."
        ),
    )

    CONTENT_FIELDS = ("indicators", "bands", "overrides", "measures")

    @classmethod
    def initial_from(cls, content: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
        return {name: _as_json(content.get(name, [])) for name in cls.CONTENT_FIELDS}


class MethodologyCreateForm(MethodologyContentForm):
    code = forms.SlugField(
        label=gettext_lazy("Code"),
        max_length=50,
        help_text=gettext_lazy(
            "Lower-case letters, digits and hyphens; it names every version of the "
            "methodology in its public address. An existing code starts its next "
            "version."
        ),
    )
    name_en = forms.CharField(label=gettext_lazy("Name (English)"), max_length=200)
    name_zh = forms.CharField(
        label=gettext_lazy("Name (Chinese)"), max_length=200, required=False
    )
    text_en = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        label=gettext_lazy("Methodology text (English)"),
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    text_zh = forms.CharField(
        max_length=TEXT_MAX_LENGTH,
        label=gettext_lazy("Methodology text (Chinese)"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
    )
    commitment_en = forms.CharField(
        max_length=COMMITMENT_MAX_LENGTH,
        label=gettext_lazy("Credit commitment (English)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy("What an entity signs when it enrols."),
    )
    commitment_zh = forms.CharField(
        max_length=COMMITMENT_MAX_LENGTH,
        label=gettext_lazy("Credit commitment (Chinese)"),
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
    )
    coverage_threshold = forms.DecimalField(
        label=gettext_lazy("Coverage threshold"),
        min_value=Decimal(0),
        max_value=Decimal(1),
        max_digits=3,
        decimal_places=2,
        initial=Decimal("0.60"),
        help_text=gettext_lazy(
            "Below this share of the indicator weight with data (0 to 1), a rating "
            "is provisional."
        ),
    )
    validity_days = forms.IntegerField(
        label=gettext_lazy("Rating validity (days)"),
        min_value=1,
        max_value=3650,
        initial=365,
    )
    objection_days = forms.IntegerField(
        label=gettext_lazy("Working days to object"),
        min_value=1,
        max_value=60,
        initial=5,
    )
    evidence_days = forms.IntegerField(
        label=gettext_lazy("Working days to add evidence"),
        min_value=1,
        max_value=60,
        initial=10,
    )

    field_order = [
        "code",
        "name_en",
        "name_zh",
        "text_en",
        "text_zh",
        "commitment_en",
        "commitment_zh",
        "coverage_threshold",
        "validity_days",
        "objection_days",
        "evidence_days",
    ]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            **cls.initial_from(default_content()),
            "text_en": DEFAULT_TEXT_EN,
            "text_zh": DEFAULT_TEXT_ZH,
            "commitment_en": DEFAULT_COMMITMENT_EN,
            "commitment_zh": DEFAULT_COMMITMENT_ZH,
        }


class SignForm(forms.Form):
    agree = forms.BooleanField(
        label=gettext_lazy("I sign this commitment on behalf of the organisation"),
        error_messages={
            "required": gettext_lazy("Tick the box to sign the commitment.")
        },
    )
    # The methodology whose commitment was shown: signing fails if another came
    # into force since.
    methodology = forms.UUIDField(widget=forms.HiddenInput)


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


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> Any:
    return CappedPaginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _in_reader_language(english: str, chinese: str) -> str:
    """The Chinese text for a reader of Chinese when there is one, else the
    English."""
    return chinese if (get_language() or "").startswith("zh") and chinese else english


def _body_member(
    request: HttpRequest, slug: str
) -> tuple[User, Organization, Membership]:
    """The signed-in member of the industry body ``slug``: 404 for an unknown
    body, 403 for anyone not of it."""
    user = signed_in_user(request.user)
    body = industry_body_get(slug=slug)
    if body is None:
        raise Http404
    membership = membership_in(user=user, organization=body)
    if membership is None:
        raise DomainPermissionDenied(_("Only the body's members see its console."))
    return user, body, membership


def _ensure_author(membership: Membership) -> None:
    if not is_body_author(membership=membership):
        raise DomainPermissionDenied(
            _(
                "Only the body's owners, administrators and analysts write its "
                "methodologies."
            )
        )


def _body_methodology(
    request: HttpRequest, body: Organization, public_id: uuid.UUID
) -> Methodology:
    methodology = methodology_get(public_id=public_id, user=request.user)
    if methodology is None or methodology.body_id != body.pk:
        raise Http404
    return methodology


def _reference() -> dict[str, Any]:
    """The allowed values of the content's fields, for the field reference."""
    return {
        "categories": Indicator.Category.choices,
        "sources": [
            (value, label, *SOURCE_PAIRINGS.get(value, ("", "", "")))
            for value, label in Indicator.Source.choices
        ],
        "normalisations": Indicator.Normalisation.choices,
        "directions": Indicator.Direction.choices,
        "override_kinds": OverrideRule.Kind.choices,
        "conditions": OverrideRule.Condition.choices,
        "measure_kinds": GradeMeasure.Kind.choices,
        "grades": GRADES,
        "max_indicators": MAX_INDICATORS,
        "max_measure_days": MAX_MEASURE_DAYS,
    }


# --- The body's console -----------------------------------------------------------


@login_required
def console_index(request: HttpRequest) -> HttpResponse:
    """The industry bodies the user belongs to; straight to the one there is."""
    user = signed_in_user(request.user)
    memberships = list(industry_body_membership_list(user=user))
    if len(memberships) == 1:
        return redirect("credit-body-console", body=memberships[0].organization.slug)
    return render(request, "ratings/console/index.html", {"memberships": memberships})


@login_required
def body_console(request: HttpRequest, body: str) -> HttpResponse:
    """What waits for the body: its drafts, its methodologies in force, how many
    entities are enrolled, and the work of its other pages."""
    _user, organization, membership = _body_member(request, body)
    methodologies = list(
        methodology_list_for_body(body=organization, include_drafts=True).filter(
            state__in=(State.DRAFT, State.PUBLISHED)
        )[:50]
    )
    return render(
        request,
        "ratings/console/body.html",
        {
            "body": organization,
            "membership": membership,
            "is_author": is_body_author(membership=membership),
            "summary": body_summary(body=organization),
            "drafts": [m for m in methodologies if m.state == State.DRAFT],
            "in_force": [m for m in methodologies if m.state == State.PUBLISHED],
        },
    )


@login_required
def body_methodology_list(request: HttpRequest, body: str) -> HttpResponse:
    _user, organization, membership = _body_member(request, body)
    return render(
        request,
        "ratings/methodologies/body_list.html",
        {
            "body": organization,
            "is_author": is_body_author(membership=membership),
            "page": _page(
                request,
                methodology_list_for_body(body=organization, include_drafts=True),
            ),
        },
    )


@login_required
def body_methodology_create(request: HttpRequest, body: str) -> HttpResponse:
    """A new draft, whole: its text and settings and its content, pre-filled with
    a sound default."""
    user, organization, membership = _body_member(request, body)
    _ensure_author(membership)
    if request.method != "POST":
        form = MethodologyCreateForm(initial=MethodologyCreateForm.defaults())
        return _render_create(request, organization, form)
    form = MethodologyCreateForm(request.POST)
    status = 400
    if form.is_valid():
        data = dict(form.cleaned_data)
        content = {name: data.pop(name) for name in form.CONTENT_FIELDS}

        def create() -> Methodology:
            # A draft is created whole or not at all.
            with transaction.atomic():
                methodology = methodology_create(actor=user, body=organization, **data)
                return methodology_set_content(
                    actor=user, methodology=methodology, **content
                )

        methodology, status = _run(form, create)
        if methodology is not None:
            messages.success(
                request,
                _("The draft %(methodology)s was saved.")
                % {"methodology": methodology},
            )
            return redirect(
                "credit-body-methodology",
                body=organization.slug,
                public_id=methodology.public_id,
            )
    return _render_create(request, organization, form, status=status)


def _render_create(
    request: HttpRequest,
    body: Organization,
    form: MethodologyCreateForm,
    *,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "ratings/methodologies/create.html",
        {"body": body, "form": form, "reference": _reference()},
        status=status,
    )


@login_required
def body_methodology_detail(
    request: HttpRequest, body: str, public_id: uuid.UUID
) -> HttpResponse:
    """A methodology of the body, its history, and for its authors: the content
    editor while it is a draft, publishing, and starting a new version."""
    user, organization, membership = _body_member(request, body)
    methodology = _body_methodology(request, organization, public_id)
    form = None
    status = 200
    if request.method == "POST":
        _ensure_author(membership)
        form = MethodologyContentForm(request.POST)
        status = 400
        if form.is_valid():
            saved, status = _run(
                form,
                lambda: methodology_set_content(
                    actor=user, methodology=methodology, **form.cleaned_data
                ),
            )
            if saved is not None:
                messages.success(request, _("The content of the draft was saved."))
                return redirect(
                    "credit-body-methodology",
                    body=organization.slug,
                    public_id=methodology.public_id,
                )
    return _render_detail(
        request, organization, membership, methodology, form, status=status
    )


def _render_detail(
    request: HttpRequest,
    body: Organization,
    membership: Membership,
    methodology: Methodology,
    form: MethodologyContentForm | None,
    *,
    status: int = 200,
) -> HttpResponse:
    is_author = is_body_author(membership=membership)
    editable = is_author and methodology.state == State.DRAFT
    if form is None and editable:
        content = methodology_content(methodology=methodology)
        # An empty draft starts from the default content.
        form = MethodologyContentForm(
            initial=MethodologyContentForm.initial_from(
                content if content["indicators"] else default_content()
            )
        )
    return render(
        request,
        "ratings/methodologies/body_detail.html",
        {
            "body": body,
            "methodology": methodology,
            "is_author": is_author,
            "editable": editable,
            "form": form,
            "events": methodology_events(methodology=methodology),
            "reference": _reference(),
            **_public_parts(methodology),
        },
        status=status,
    )


@login_required
@require_POST
def body_methodology_publish(
    request: HttpRequest, body: str, public_id: uuid.UUID
) -> HttpResponse:
    """Publish a draft. When it is not whole, the editor shows why, next to the
    part at fault."""
    user, organization, membership = _body_member(request, body)
    methodology = _body_methodology(request, organization, public_id)
    _ensure_author(membership)
    # The draft as stored, in the editor, to show what keeps it from publishing.
    form = MethodologyContentForm(
        MethodologyContentForm.initial_from(
            methodology_content(methodology=methodology)
        )
    )
    form.is_valid()
    published, status = _run(
        form, lambda: methodology_publish(actor=user, methodology=methodology)
    )
    if published is not None:
        messages.success(
            request,
            _("%(methodology)s is published and in force.")
            % {"methodology": published},
        )
        return redirect(
            "credit-body-methodology",
            body=organization.slug,
            public_id=published.public_id,
        )
    return _render_detail(
        request, organization, membership, methodology, form, status=status
    )


@login_required
@require_POST
def body_methodology_new_version(
    request: HttpRequest, body: str, public_id: uuid.UUID
) -> HttpResponse:
    user, organization, membership = _body_member(request, body)
    methodology = _body_methodology(request, organization, public_id)
    _ensure_author(membership)
    try:
        draft = methodology_new_version(actor=user, methodology=methodology)
    except DomainPermissionDenied:
        raise
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(
            "credit-body-methodology",
            body=organization.slug,
            public_id=methodology.public_id,
        )
    messages.success(
        request,
        _("Version %(version)d was started as a draft, copied from version %(from)d.")
        % {"version": draft.version, "from": methodology.version},
    )
    return redirect(
        "credit-body-methodology", body=organization.slug, public_id=draft.public_id
    )


# --- Public methodology pages -----------------------------------------------------


def _public_parts(methodology: Methodology) -> dict[str, Any]:
    """The methodology's texts and content in the reader's language."""
    bands = list(methodology.bands.all())
    measures = measures_by_grade(methodology=methodology)
    return {
        "name": _in_reader_language(methodology.name_en, methodology.name_zh),
        "text": _in_reader_language(methodology.text_en, methodology.text_zh),
        "commitment": _in_reader_language(
            methodology.commitment_en, methodology.commitment_zh
        ),
        "indicators": [
            (indicator, _in_reader_language(indicator.name_en, indicator.name_zh))
            for indicator in methodology.indicators.all()
        ],
        "bands": [
            (
                band,
                _in_reader_language(band.definition_en, band.definition_zh),
                [m for m in measures if m.grade == band.grade],
            )
            for band in bands
        ],
        "overrides": list(methodology.overrides.all()),
        "measures": measures,
    }


def methodology_list_page(request: HttpRequest) -> HttpResponse:
    """Every published methodology, in force and retired."""
    page = _page(request, methodology_list_public())
    return render(
        request,
        "ratings/methodologies/public_list.html",
        {
            "page": page,
            "rows": [(m, _in_reader_language(m.name_en, m.name_zh)) for m in page],
        },
    )


def methodology_detail_page(
    request: HttpRequest, body: str, code: str, version: int
) -> HttpResponse:
    """One version of a methodology, as the public reads it; a draft only for the
    members of its body."""
    methodology = methodology_get_by_version(
        body=body, code=code, version=version, user=request.user
    )
    if methodology is None:
        raise Http404
    return render(
        request,
        "ratings/methodologies/public_detail.html",
        {
            "methodology": methodology,
            "current": methodology_current_version(methodology=methodology),
            **_public_parts(methodology),
        },
    )


# --- The entity's console ---------------------------------------------------------


def _entity_manager(request: HttpRequest, slug: str) -> tuple[User, Organization]:
    """The signed-in owner or administrator of the publisher ``slug``: 404 for an
    unknown publisher, 403 for anyone else."""
    user = signed_in_user(request.user)
    entity = entity_get(slug=slug)
    if entity is None:
        raise Http404
    if not entity_can_manage(user=user, entity=entity):
        raise DomainPermissionDenied(
            _("Only the organisation's owners and administrators manage its ratings.")
        )
    return user, entity


@login_required
def entity_index(request: HttpRequest) -> HttpResponse:
    """The publishers the user manages; straight to the one there is."""
    user = signed_in_user(request.user)
    memberships = list(entity_membership_list(user=user))
    if len(memberships) == 1:
        return redirect(
            "credit-entity-console", entity=memberships[0].organization.slug
        )
    return render(
        request, "ratings/console/entity_index.html", {"memberships": memberships}
    )


@login_required
def entity_console(request: HttpRequest, entity: str) -> HttpResponse:
    """The entity's enrolments, the bodies it may enrol with, and its other work."""
    _user, organization = _entity_manager(request, entity)
    return render(
        request,
        "ratings/console/entity.html",
        {
            "entity": organization,
            "page": _page(request, enrolment_list_for_entity(entity=organization)),
            "bodies": list(bodies_open_for_enrolment(entity=organization)[:100]),
        },
    )


@login_required
def entity_enrol(request: HttpRequest, entity: str, body: str) -> HttpResponse:
    """The body's credit commitment in full, and signing it."""
    user, organization = _entity_manager(request, entity)
    industry_body = industry_body_get(slug=body)
    if industry_body is None:
        raise Http404
    methodology = methodology_in_force(body=industry_body)
    form = SignForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            if (
                methodology is None
                or form.cleaned_data["methodology"] != methodology.public_id
            ):
                form.add_error(
                    None,
                    _(
                        "The body's methodology changed while you read its "
                        "commitment: read the commitment below and sign again."
                    ),
                )
                status = 409
            else:
                enrolment, status = _run(
                    form,
                    lambda: enrolment_sign(
                        actor=user,
                        entity=organization,
                        body=industry_body,
                        language=get_language() or "en",
                    ),
                )
                if enrolment is not None:
                    messages.success(
                        request,
                        _("%(entity)s is enrolled with %(body)s.")
                        % {"entity": organization.name, "body": industry_body.name},
                    )
                    return redirect("credit-entity-console", entity=organization.slug)
    return render(
        request,
        "ratings/console/enrol.html",
        {
            "entity": organization,
            "body": industry_body,
            "methodology": methodology,
            "commitment": (
                _in_reader_language(
                    methodology.commitment_en, methodology.commitment_zh
                )
                if methodology
                else ""
            ),
            "form": form,
        },
        status=status,
    )


def _entity_enrolment(organization: Organization, pk: int) -> Enrolment:
    enrolment = enrolment_list_for_entity(entity=organization).filter(pk=pk).first()
    if enrolment is None:
        raise Http404
    return enrolment


@login_required
def entity_withdraw(request: HttpRequest, entity: str, pk: int) -> HttpResponse:
    """GET: what withdrawing means, and a button; POST: withdraw."""
    user, organization = _entity_manager(request, entity)
    enrolment = _entity_enrolment(organization, pk)
    if request.method == "POST":
        run_action(
            request,
            lambda: enrolment_withdraw(actor=user, enrolment=enrolment),
            _("%(entity)s has withdrawn from the rating of %(body)s.")
            % {"entity": organization.name, "body": enrolment.body.name},
        )
        return redirect("credit-entity-console", entity=organization.slug)
    return render(
        request,
        "ratings/console/withdraw.html",
        {"entity": organization, "enrolment": enrolment},
    )
