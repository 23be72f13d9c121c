"""Reports change state only through ``ratings.services`` (which records each move
and tells the reporter): the admin shows them, their evidence and their history."""

from django.contrib import admin

from marketplace.admin import ReadOnlyAdminMixin
from ratings.models import (
    CommitteeVote,
    ConflictOfInterest,
    CreditEvent,
    CycleChunk,
    Enrolment,
    Finding,
    GradeBand,
    GradeMeasure,
    Indicator,
    Methodology,
    MisconductReport,
    Objection,
    OverrideRule,
    Rating,
    RatingCycle,
    RepairApplication,
    ReportEvent,
    ReportEvidence,
    Sanction,
    Watch,
)


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


# Methodologies and enrolments change only through ratings.services.methodologies.


class IndicatorInline(ReadOnlyAdminMixin, admin.TabularInline[Indicator, Methodology]):
    model = Indicator
    extra = 0
    fields = ["code", "category", "weight", "source", "normalisation", "direction"]
    readonly_fields = [
        "code",
        "category",
        "weight",
        "source",
        "normalisation",
        "direction",
    ]


class GradeBandInline(ReadOnlyAdminMixin, admin.TabularInline[GradeBand, Methodology]):
    model = GradeBand
    extra = 0
    fields = ["grade", "min_score", "definition_en"]
    readonly_fields = ["grade", "min_score", "definition_en"]


class OverrideRuleInline(
    ReadOnlyAdminMixin, admin.TabularInline[OverrideRule, Methodology]
):
    model = OverrideRule
    extra = 0
    fields = ["kind", "condition", "grade"]
    readonly_fields = ["kind", "condition", "grade"]


@admin.register(Methodology)
class MethodologyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Methodology]):
    list_display = ["code", "version", "body", "state", "published_at"]
    list_filter = ["state"]
    search_fields = ["code", "name_en", "name_zh", "body__slug"]
    list_select_related = ["body"]
    inlines = [IndicatorInline, GradeBandInline, OverrideRuleInline]


@admin.register(Indicator)
class IndicatorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Indicator]):
    list_display = ["code", "methodology", "category", "weight"]
    search_fields = ["code", "methodology__code"]
    list_select_related = ["methodology"]


@admin.register(GradeBand)
class GradeBandAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[GradeBand]):
    list_display = ["grade", "min_score", "methodology"]
    search_fields = ["methodology__code"]
    list_select_related = ["methodology"]


@admin.register(OverrideRule)
class OverrideRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[OverrideRule]):
    list_display = ["kind", "condition", "grade", "methodology"]
    search_fields = ["methodology__code"]
    list_select_related = ["methodology"]


@admin.register(Enrolment)
class EnrolmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Enrolment]):
    list_display = ["entity", "body", "signed_at", "withdrawn_at"]
    search_fields = ["entity__slug", "body__slug"]
    list_select_related = ["entity", "body"]


@admin.register(CreditEvent)
class CreditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CreditEvent]):
    list_display = ["created_at", "action", "actor"]
    list_filter = ["action"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"


# Cycles and ratings change only through the rating services and their tasks.


@admin.register(RatingCycle)
class RatingCycleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[RatingCycle]):
    list_display = ["public_id", "methodology", "state", "total", "done", "created_at"]
    list_filter = ["state", "trigger"]
    search_fields = ["methodology__code", "body__slug"]
    list_select_related = ["methodology", "body"]


@admin.register(CycleChunk)
class CycleChunkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CycleChunk]):
    list_display = ["cycle", "index", "attempts", "done_at"]
    list_select_related = ["cycle"]


@admin.register(Rating)
class RatingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Rating]):
    list_display = ["entity", "grade", "score", "state", "cycle", "created_at"]
    list_filter = ["state", "grade", "provisional"]
    search_fields = ["entity__slug", "evidence_hash"]
    list_select_related = ["entity", "cycle"]


@admin.register(CommitteeVote)
class CommitteeVoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CommitteeVote]):
    list_display = ["rating", "round", "member", "vote", "created_at"]
    list_filter = ["vote"]
    list_select_related = ["rating", "member"]


@admin.register(ConflictOfInterest)
class ConflictOfInterestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ConflictOfInterest]):
    list_display = ["user", "entity", "declared_at"]
    list_select_related = ["user", "entity"]


@admin.register(Objection)
class ObjectionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Objection]):
    list_display = ["rating", "grounds", "state", "filed_at", "answered_at"]
    list_filter = ["state", "grounds"]
    list_select_related = ["rating"]


@admin.register(GradeMeasure)
class GradeMeasureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[GradeMeasure]):
    list_display = ["grade", "kind", "duration_days", "methodology"]
    list_filter = ["kind"]
    list_select_related = ["methodology"]


# Findings, watches, sanctions and credit repair change only through their
# services, which record each decision with who and when.


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Finding]):
    list_display = ["entity", "category", "severity", "occurred_at", "repaired_at"]
    list_filter = ["severity", "category"]
    search_fields = ["entity__slug"]
    list_select_related = ["entity"]


@admin.register(Watch)
class WatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Watch]):
    list_display = ["entity", "body", "reason", "opened_at", "due_at", "resolution"]
    list_filter = ["reason", "resolution"]
    search_fields = ["entity__slug", "body__slug"]
    list_select_related = ["entity", "body"]


@admin.register(Sanction)
class SanctionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Sanction]):
    list_display = ["entity", "body", "kind", "state", "starts_at", "ends_at"]
    list_filter = ["kind", "state"]
    search_fields = ["entity__slug", "body__slug"]
    list_select_related = ["entity", "body"]


@admin.register(RepairApplication)
class RepairApplicationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[RepairApplication]):
    list_display = ["sanction", "state", "applied_at", "decided_at"]
    list_filter = ["state"]
    list_select_related = ["sanction"]
