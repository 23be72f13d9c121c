"""Misconduct reports through the API: send one (JSON, or multipart with files),
read your own, and, for the operator's reviewers and the bodies' analysts, move
them; the publisher's owners and administrators read the reports under
investigation about it (without who sent them and their evidence) and answer
them."""

import uuid
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import FileResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound
from ratings.api.cycles import BoundedDateTimeField
from ratings.downloads import evidence_response
from ratings.exceptions import InvalidEvidence, UploadTooLarge
from ratings.models import Finding, MisconductReport, ReportEvent, ReportEvidence
from ratings.selectors import (
    report_evidence_get,
    report_get,
    report_list_for_body,
    report_list_for_entity,
    report_list_for_reporter,
    report_sees_evidence,
    report_target,
)
from ratings.services import (
    ANSWER_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    OCCURRED_EARLIEST_YEAR,
    report_entity_answer,
    report_submit,
    report_transition,
)
from ratings.uploads import (
    EvidenceSizeLimit,
    body_too_large_message,
    install_evidence_limit,
    report_body_too_large,
    too_many_files_message,
    unreadable_upload_message,
)


def _report(request: Request, public_id: uuid.UUID) -> MisconductReport:
    report = report_get(public_id=public_id, user=request.user)
    if report is None:
        raise NotFound()
    return report


class FindingOutputSerializer(serializers.Serializer[Finding]):
    category = serializers.CharField()
    severity = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    reasons = serializers.CharField()
    decided_at = serializers.DateTimeField()
    repaired_at = serializers.DateTimeField(allow_null=True)


class ReportOutputSerializer(serializers.Serializer[MisconductReport]):
    public_id = serializers.UUIDField()
    publisher = serializers.CharField(source="publisher.slug")
    agent = serializers.SerializerMethodField()
    category = serializers.CharField()
    description = serializers.CharField()
    evidence_links = serializers.ListField(child=serializers.CharField())
    state = serializers.CharField()
    body = serializers.CharField(source="body.slug", allow_null=True, default=None)
    answer_deadline = serializers.DateTimeField(allow_null=True)
    entity_answer = serializers.CharField()
    entity_answered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_agent(self, report: MisconductReport) -> str | None:
        """``<publisher>/<agent>``, or null for a report about the publisher."""
        if report.agent is None:
            return None
        return f"{report.agent.publisher.slug}/{report.agent.slug}"


class EvidenceOutputSerializer(serializers.Serializer[ReportEvidence]):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    created_at = serializers.DateTimeField()


class EventOutputSerializer(serializers.Serializer[ReportEvent]):
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReportDetailOutputSerializer(ReportOutputSerializer):
    evidence = EvidenceOutputSerializer(many=True, source="evidence.all")
    events = EventOutputSerializer(many=True, source="events.all")
    finding = serializers.SerializerMethodField()

    @extend_schema_field(FindingOutputSerializer(allow_null=True))
    def get_finding(self, report: MisconductReport) -> dict[str, Any] | None:
        finding = Finding.objects.filter(report=report).first()
        return FindingOutputSerializer(finding).data if finding else None


class EntityReportOutputSerializer(ReportDetailOutputSerializer):
    """A report as the publisher's people read it: without its links and files."""

    def to_representation(self, instance: MisconductReport) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        data["evidence_links"] = []
        data["evidence"] = []
        return data


def _detail(request: Request, report: MisconductReport) -> dict[str, Any]:
    """The report as the caller may read it."""
    if report_sees_evidence(user=request.user, report=report):
        return ReportDetailOutputSerializer(report).data
    return EntityReportOutputSerializer(report).data


class EntityListOutputSerializer(ReportOutputSerializer):
    """A report in the publisher's list: without its links."""

    def to_representation(self, instance: MisconductReport) -> dict[str, Any]:
        data = dict(super().to_representation(instance))
        data["evidence_links"] = []
        return data


class ReportCollectionApi(APIView):
    """GET: the reports the caller sent, newest first. POST: a report about a
    publisher (``publisher``) or one of its agents (``agent``:
    ``<publisher>/<agent>``), as JSON, or as multipart with up to five ``files``
    (PNG, JPEG, PDF or UTF-8 text). A request larger than the files and fields
    may be is refused with 413 before it is read."""

    permission_classes = [IsAuthenticated]
    evidence_limit: EvidenceSizeLimit | None = None

    class InputSerializer(serializers.Serializer[Any]):
        agent = serializers.CharField(required=False, max_length=120)
        publisher = serializers.SlugField(required=False, max_length=60)
        category = serializers.ChoiceField(choices=MisconductReport.Category.choices)
        description = serializers.CharField(max_length=DESCRIPTION_MAX_LENGTH)
        evidence_links = serializers.ListField(
            child=serializers.CharField(max_length=2000, allow_blank=True),
            required=False,
            default=list,
        )
        files = serializers.ListField(
            child=serializers.FileField(allow_empty_file=True),
            required=False,
            default=list,
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if bool(attrs.get("agent")) == bool(attrs.get("publisher")):
                raise serializers.ValidationError(
                    _("Give either the agent or the publisher the report is about.")
                )
            return attrs

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Before authentication, whose CSRF check may read the body.
        if request.method == "POST":
            if report_body_too_large(request._request):
                raise UploadTooLarge(body_too_large_message())
            self.evidence_limit = install_evidence_limit(request._request)
        super().initial(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> Response:
        """Errors of reading the upload in the API's error format."""
        if isinstance(exc, RequestDataTooBig):
            exc = UploadTooLarge(body_too_large_message())
        elif isinstance(exc, TooManyFilesSent):
            message = too_many_files_message()
            exc = InvalidEvidence(message, details={"files": [message]})
        elif isinstance(exc, MultiPartParserError):
            exc = InvalidEvidence(unreadable_upload_message())
        return super().handle_exception(exc)

    SCOPES = ("sent", "about", "assigned")

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "scope",
                str,
                enum=list(SCOPES),
                description=(
                    "sent (default): the reports the caller sent; about: those "
                    "under investigation about organisations the caller owns or "
                    "administers; assigned: those the caller's bodies investigate."
                ),
            )
        ],
        responses=ReportOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        user = signed_in_user(request.user)
        scope = request.query_params.get("scope", "sent")
        if scope not in self.SCOPES:
            raise serializers.ValidationError(
                {"scope": [_("Choose sent, about or assigned.")]}
            )
        if scope == "about":
            queryset = report_list_for_entity(user=user)
            serializer_class: type[ReportOutputSerializer] = EntityListOutputSerializer
        elif scope == "assigned":
            queryset = report_list_for_body(user=user)
            serializer_class = ReportOutputSerializer
        else:
            queryset = report_list_for_reporter(user=user)
            serializer_class = ReportOutputSerializer
        return paginated_response(
            request=request,
            view=self,
            queryset=queryset,
            serializer_class=serializer_class,
        )

    @extend_schema(
        request={
            "application/json": InputSerializer,
            "multipart/form-data": InputSerializer,
        },
        responses={201: ReportDetailOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        user = signed_in_user(request.user)
        data = self.InputSerializer(data=request.data)
        too_large = self.evidence_limit.messages() if self.evidence_limit else []
        if too_large:
            # Files skipped while they streamed in are not in request.data.
            raise InvalidEvidence(too_large[0], details={"files": too_large})
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        target = report_target(
            user=user,
            agent=fields.get("agent", ""),
            publisher=fields.get("publisher", ""),
        )
        if target is None:
            field = "agent" if fields.get("agent") else "publisher"
            raise serializers.ValidationError(
                {field: [_("There is no such agent or publisher.")]}
            )
        publisher, agent = target
        report = report_submit(
            reporter=user,
            publisher=publisher,
            agent=agent,
            category=fields["category"],
            description=fields["description"],
            evidence_links=fields["evidence_links"],
            files=fields["files"],
        )
        return Response(_detail(request, report), status=status.HTTP_201_CREATED)


class ReportDetailApi(APIView):
    """A report with its evidence and history: for its reporter and the operator's
    reviewers (404 for anyone else)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ReportDetailOutputSerializer)
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return Response(_detail(request, _report(request, public_id)))


class ReportEvidenceDownloadApi(APIView):
    """One evidence file of a report, as it was uploaded."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(
        self, request: Request, public_id: uuid.UUID, evidence_id: int
    ) -> FileResponse:
        report = _report(request, public_id)
        if not report_sees_evidence(user=request.user, report=report):
            raise NotFound()
        evidence = report_evidence_get(report=report, evidence_id=evidence_id)
        if evidence is None:
            raise NotFound()
        return evidence_response(evidence)


class ReportTransitionApi(APIView):
    """Move a report (the operator's reviewers: to ``triaged`` or ``dismissed``,
    with a ``note`` when dismissing). ``expected_state``, if given, is the state
    the caller saw: the move fails with 409 if the report has moved since."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        to = serializers.ChoiceField(choices=MisconductReport.State.choices)
        note = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH
        )
        expected_state = serializers.ChoiceField(
            choices=MisconductReport.State.choices, required=False
        )
        severity = serializers.ChoiceField(
            choices=Finding.Severity.choices, required=False
        )
        category = serializers.ChoiceField(
            choices=MisconductReport.Category.choices, required=False
        )
        occurred_at = BoundedDateTimeField(
            earliest_year=OCCURRED_EARLIEST_YEAR, required=False
        )

    @extend_schema(request=InputSerializer, responses=ReportDetailOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        report = _report(request, public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        if "expected_state" in fields:
            report.state = fields["expected_state"]
        moved = report_transition(
            report=report,
            to=fields["to"],
            actor=user,
            note=fields["note"],
            severity=fields.get("severity", ""),
            category=fields.get("category", ""),
            occurred_at=fields.get("occurred_at"),
        )
        return Response(_detail(request, moved))


class ReportAnswerApi(APIView):
    """The publisher's answer to a report under investigation: by one of its
    owners or administrators, once, before ``answer_deadline`` (409 after it, or
    a second time)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        text = serializers.CharField(max_length=ANSWER_MAX_LENGTH)

    @extend_schema(request=InputSerializer, responses=EntityReportOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        report = _report(request, public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answered = report_entity_answer(
            actor=user, report=report, text=data.validated_data["text"]
        )
        return Response(_detail(request, answered))
