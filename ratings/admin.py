"""Reports change state only through ``ratings.services`` (which records each move
and tells the reporter): the admin shows them, their evidence and their history."""

from django.contrib import admin

from marketplace.admin import ReadOnlyAdminMixin
from ratings.models import MisconductReport, ReportEvent, ReportEvidence


class ReportEvidenceInline(
    ReadOnlyAdminMixin, admin.TabularInline[ReportEvidence, MisconductReport]
):
    model = ReportEvidence
    extra = 0
    # The file itself is served by the report's page, to those who may see it.
    fields = ["original_name", "content_type", "size", "sha256", "created_at"]
    readonly_fields = ["original_name", "content_type", "size", "sha256", "created_at"]


class ReportEventInline(
    ReadOnlyAdminMixin, admin.TabularInline[ReportEvent, MisconductReport]
):
    model = ReportEvent
    extra = 0
    fields = ["created_at", "from_state", "to_state", "actor", "note"]
    readonly_fields = ["created_at", "from_state", "to_state", "actor", "note"]


@admin.register(MisconductReport)
class MisconductReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[MisconductReport]):
    list_display = [
        "public_id",
        "publisher",
        "agent",
        "category",
        "state",
        "created_at",
    ]
    list_filter = ["state", "category"]
    search_fields = [
        "public_id",
        "publisher__name",
        "publisher__slug",
        "agent__slug",
        "reporter__username",
        "description",
    ]
    list_select_related = ["publisher", "agent__publisher"]
    date_hierarchy = "created_at"
    inlines = [ReportEvidenceInline, ReportEventInline]


@admin.register(ReportEvidence)
class ReportEvidenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReportEvidence]):
    list_display = ["original_name", "report", "content_type", "size", "created_at"]
    list_filter = ["content_type"]
    search_fields = ["original_name", "sha256", "report__public_id"]
    list_select_related = ["report"]
    exclude = ["file"]


@admin.register(ReportEvent)
class ReportEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReportEvent]):
    list_display = ["created_at", "report", "from_state", "to_state", "actor"]
    list_filter = ["to_state"]
    search_fields = ["report__public_id", "actor__username", "note"]
    list_select_related = ["report", "actor"]
    date_hierarchy = "created_at"
