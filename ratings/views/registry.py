"""The public credit registry.

- ``/credit/``: the rated entities (one row per current rating) with filters by
  grade (at least or exactly), industry body and name.
- ``/credit/<publisher>/``: an entity's credit profile: per body its current
  grade and what it means, outlook, watch, validity, methodology, the indicator
  breakdown and the grade history (both as SVG charts with a table beside),
  then its findings and sanctions.
- ``/credit/<publisher>.json``: the same profile as stable JSON
  (``ratings.selectors.registry.credit_document``).
- ``/credit/dishonesty-list/`` and ``.json``: the dishonesty list in force.

Everything here is public and read-only. Bad filters answer 400 with the
form's messages; a page number that is not one gives the first page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from config.pagination import CappedPaginator
from config.site import absolute_url
from marketplace.credit import GRADES
from marketplace.models import Organization
from marketplace.views.registry import public
from ratings.charts import Bar, GradePoint, contribution_bars_svg, grade_history_svg
from ratings.models import Indicator, Sanction
from ratings.selectors.registry import (
    MATCH_CHOICES,
    MATCH_EXACTLY,
    BodyRating,
    CreditProfile,
    IndicatorRow,
    credit_document,
    credit_profile,
    entity_is_public,
    rating_bodies,
    registry_dishonesty_list,
    registry_entity_get,
    registry_list,
)

PAGE_SIZE = 25
CACHE_SECONDS = 300


def _reader_text(english: str, chinese: str) -> str:
    """The Chinese text for a reader of Chinese when there is one, else the
    English."""
    return chinese if (get_language() or "").startswith("zh") and chinese else english


class RegistryFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Name"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"class": "form-control", "type": "search"}),
    )
    grade = forms.ChoiceField(
        label=gettext_lazy("Grade"),
        required=False,
        choices=[("", gettext_lazy("Any grade")), *((g, g) for g in GRADES)],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    match = forms.ChoiceField(
        label=gettext_lazy("Grade match"),
        required=False,
        choices=MATCH_CHOICES,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    body = forms.ChoiceField(
        label=gettext_lazy("Industry body"),
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies = {b.slug: b for b in rating_bodies()}
        self.fields["body"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
            ("", _("Any body")),
            *((slug, body.name) for slug, body in self.bodies.items()),
        ]

    def filters(self) -> dict[str, Any]:
        """What ``registry_list`` takes, from the cleaned data."""
        data = self.cleaned_data
        grade = data.get("grade") or None
        exactly = data.get("match") == MATCH_EXACTLY
        return {
            "q": data.get("q") or None,
            "grade": grade if exactly else None,
            "min_grade": None if exactly else grade,
            "body": self.bodies.get(data.get("body") or ""),
        }


def _page(request: HttpRequest, rows: Any) -> Any:
    return CappedPaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k != "page"])


@require_safe
def registry_page(request: HttpRequest) -> HttpResponse:
    """The rated entities, by name."""
    form = RegistryFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(
            request,
            "ratings/registry/list.html",
            {"form": form, "page": None, "query": ""},
            status=400,
        )
    filters = form.filters() if form.is_bound else {}
    page = _page(request, registry_list(**filters))
    return render(
        request,
        "ratings/registry/list.html",
        {"form": form, "page": page, "query": _query_without_page(request)},
    )


# --- The profile page -------------------------------------------------------------


@dataclass(frozen=True)
class ShownIndicator:
    row: IndicatorRow
    name: str
    category: str


@dataclass(frozen=True)
class ShownBody:
    """A body's part of the profile page, in the reader's language."""

    entry: BodyRating
    definition: str
    methodology_name: str
    indicators: list[ShownIndicator]
    history_chart: SafeString
    breakdown_chart: SafeString | None


def _category_label(value: str) -> str:
    try:
        return str(Indicator.Category(value).label)
    except ValueError:
        return value


def _day(value: Any) -> str:
    return date_format(timezone.localtime(value), "Y-m-d")


def _history_chart(entry: BodyRating) -> SafeString:
    ordered = list(reversed(entry.history))
    points = [
        GradePoint(
            at=timezone.localtime(rating.published_at or rating.created_at),
            grade=rating.grade,
            label=_("%(grade)s, published %(date)s (%(state)s)")
            % {
                "grade": rating.grade,
                "date": _day(rating.published_at or rating.created_at),
                "state": rating.get_state_display(),
            },
        )
        for rating in ordered
    ]
    steps = "; ".join(
        _("%(grade)s from %(date)s")
        % {"grade": r.grade, "date": _day(r.published_at or r.created_at)}
        for r in ordered
    )
    return grade_history_svg(
        points=points,
        scale=entry.scale,
        title=_("Grade history by %(body)s") % {"body": entry.body.name},
        desc=_(
            "A step line of the grades %(body)s published, best grade at the "
            "top: %(steps)s."
        )
        % {"body": entry.body.name, "steps": steps},
        chart_id=f"grade-history-{entry.body.slug}",
    )


def _breakdown_chart(
    entry: BodyRating, indicators: list[ShownIndicator]
) -> SafeString | None:
    if entry.current is None or not indicators:
        return None
    return contribution_bars_svg(
        bars=[
            Bar(
                label=shown.name,
                contribution=(
                    None if shown.row.value is None else shown.row.contribution
                ),
                maximum=shown.row.maximum,
            )
            for shown in indicators
        ],
        title=_("Indicator breakdown of the score %(score)s")
        % {"score": entry.current.score},
        desc=_(
            "Horizontal bars: what each indicator contributed to the score of "
            "%(score)s, drawn over the most its weight allows. The table beside "
            "gives the figures."
        )
        % {"score": entry.current.score},
        chart_id=f"breakdown-{entry.body.slug}",
        no_data=_("no data"),
    )


def _shown_body(entry: BodyRating) -> ShownBody:
    methodology = (entry.current or entry.latest).cycle.methodology
    indicators = [
        ShownIndicator(
            row=row,
            name=_reader_text(row.name_en, row.name_zh),
            category=_category_label(row.category),
        )
        for row in entry.indicators
    ]
    return ShownBody(
        entry=entry,
        definition=(
            _reader_text(entry.band.definition_en, entry.band.definition_zh)
            if entry.band
            else ""
        ),
        methodology_name=_reader_text(methodology.name_en, methodology.name_zh),
        indicators=indicators,
        history_chart=_history_chart(entry),
        breakdown_chart=_breakdown_chart(entry, indicators),
    )


def _public_profile(publisher: str) -> CreditProfile:
    entity = registry_entity_get(slug=publisher)
    if entity is None:
        raise Http404
    profile = credit_profile(entity=entity)
    if not entity_is_public(entity=entity, profile=profile):
        raise Http404
    return profile


@require_safe
def profile_page(request: HttpRequest, publisher: str) -> HttpResponse:
    """An entity's credit profile; a publisher never rated gets a page saying
    so, an unknown organisation 404."""
    profile = _public_profile(publisher)
    return render(
        request,
        "ratings/registry/profile.html",
        {
            "entity": profile.entity,
            "profile": profile,
            "bodies": [_shown_body(entry) for entry in profile.bodies],
            "is_publisher": profile.entity.kind == Organization.Kind.PUBLISHER,
        },
    )


def _json(data: object, *, status: int = 200) -> JsonResponse:
    return public(
        JsonResponse(
            data,
            status=status,
            safe=False,
            json_dumps_params={"ensure_ascii": False},
        ),
        max_age=CACHE_SECONDS,
    )


@require_safe
def profile_json(request: HttpRequest, publisher: str) -> JsonResponse:
    """The stable JSON of the profile (see ``credit_document``); an unknown
    organisation answers 404 in JSON, so that other sites read it alike."""
    entity = registry_entity_get(slug=publisher)
    profile = credit_profile(entity=entity) if entity is not None else None
    if (
        entity is None
        or profile is None
        or not entity_is_public(entity=entity, profile=profile)
    ):
        return _json({"detail": _("No such publisher.")}, status=404)
    return _json(credit_document(profile=profile))


# --- The dishonesty list ----------------------------------------------------------


def sanction_row(sanction: Sanction) -> dict[str, Any]:
    """A listed sanction in the dishonesty list's JSON."""
    return {
        "entity": {
            "slug": sanction.entity.slug,
            "name": sanction.entity.name,
            "credit_profile_url": absolute_url(
                reverse("credit-profile", kwargs={"publisher": sanction.entity.slug})
            ),
        },
        "body": {"slug": sanction.body.slug, "name": sanction.body.name},
        "grade": sanction.rating.grade,
        "reason": sanction.reason,
        "starts_at": sanction.starts_at.isoformat(),
        "ends_at": sanction.ends_at.isoformat(),
    }


@require_safe
def dishonesty_list_page(request: HttpRequest) -> HttpResponse:
    """The entities on a dishonesty list now, newest first."""
    return render(
        request,
        "ratings/registry/dishonesty_list.html",
        {"page": _page(request, registry_dishonesty_list()), "query": ""},
    )


@require_safe
def dishonesty_list_json(request: HttpRequest) -> JsonResponse:
    """The dishonesty list in force as JSON, ``PAGE_SIZE`` entries a page
    (``?page=``; a page that is not a number gives the first):
    ``{"count", "page", "pages", "next", "previous", "results": [{"entity":
    {"slug", "name", "credit_profile_url"}, "body": {"slug", "name"}, "grade",
    "reason", "starts_at", "ends_at"}], "generated_at"}``."""
    page = _page(request, registry_dishonesty_list())
    here = absolute_url(reverse("credit-dishonesty-list-json"))

    def link(number: int) -> str:
        return f"{here}?{urlencode({'page': number})}"

    return _json(
        {
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": (
                link(page.previous_page_number()) if page.has_previous() else None
            ),
            "results": [sanction_row(s) for s in page],
            "generated_at": timezone.now().isoformat(),
        }
    )
