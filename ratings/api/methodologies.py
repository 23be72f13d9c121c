"""Methodologies and enrolment through the API: a body's methodologies (read;
write a draft, set its content, publish it, start a new version), the public list
of published methodologies, and an entity's enrolments (read, sign, withdraw)."""

import uuid
from typing import Any

from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from config.site import absolute_url
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound, PermissionDenied
from marketplace.models import Organization
from ratings.models import Enrolment, Methodology
from ratings.selectors.methodologies import (
    enrolment_get,
    enrolment_list_for_entity,
    entity_can_manage,
    entity_get,
    industry_body_get,
    membership_in,
    methodology_content,
    methodology_get,
    methodology_list_for_body,
    methodology_list_public,
)
from ratings.services.methodologies import (
    enrolment_sign,
    enrolment_withdraw,
    methodology_create,
    methodology_new_version,
    methodology_publish,
    methodology_set_content,
)
from ratings.views.methodologies import COMMITMENT_MAX_LENGTH, TEXT_MAX_LENGTH

State = Methodology.State


def _body(slug: str) -> Organization:
    body = industry_body_get(slug=slug)
    if body is None:
        raise NotFound()
    return body


def _methodology(request: Request, public_id: uuid.UUID) -> Methodology:
    """A methodology the caller may see (a draft only for its body's members)."""
    methodology = methodology_get(public_id=public_id, user=request.user)
    if methodology is None:
        raise NotFound()
    return methodology


def _managed_entity(request: Request, slug: str) -> Organization:
    entity = entity_get(slug=slug)
    if entity is None:
        raise NotFound()
    if not entity_can_manage(user=request.user, entity=entity):
        raise PermissionDenied(
            _("Only the organisation's owners and administrators manage its ratings.")
        )
    return entity


# --- Serializers ------------------------------------------------------------------


class MethodologyOutputSerializer(serializers.Serializer[Methodology]):
    public_id = serializers.UUIDField()
    body = serializers.CharField(source="body.slug")
    body_name = serializers.CharField(source="body.name")
    code = serializers.CharField()
    version = serializers.IntegerField()
    name_en = serializers.CharField()
    name_zh = serializers.CharField()
    state = serializers.CharField()
    published_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    def get_url(self, methodology: Methodology) -> str | None:
        """The public page (null for a draft)."""
        if methodology.state == State.DRAFT:
            return None
        return absolute_url(
            reverse(
                "credit-methodology-detail",
                kwargs={
                    "body": methodology.body.slug,
                    "code": methodology.code,
                    "version": methodology.version,
                },
            )
        )


class MethodologyIndicatorSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    category = serializers.CharField()
    name_en = serializers.CharField()
    name_zh = serializers.CharField()
    weight = serializers.CharField()
    # The serializer's metaclass takes its fields out of the class, so this field
    # does not replace Field.source.
    source = serializers.CharField()  # type: ignore[assignment]
    normalisation = serializers.CharField()
    direction = serializers.CharField()
    params = serializers.DictField()


class MethodologyBandSerializer(serializers.Serializer[Any]):
    grade = serializers.CharField()
    min_score = serializers.CharField()
    definition_en = serializers.CharField()
    definition_zh = serializers.CharField()


class MethodologyOverrideSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    condition = serializers.CharField()
    grade = serializers.CharField()


class MethodologyMeasureSerializer(serializers.Serializer[Any]):
    grade = serializers.CharField()
    kind = serializers.CharField()
    duration_days = serializers.IntegerField()
    repair_after_days = serializers.IntegerField()


class MethodologyDetailOutputSerializer(MethodologyOutputSerializer):
    text_en = serializers.CharField()
    text_zh = serializers.CharField()
    commitment_en = serializers.CharField()
    commitment_zh = serializers.CharField()
    coverage_threshold = serializers.DecimalField(max_digits=3, decimal_places=2)
    validity_days = serializers.IntegerField()
    objection_days = serializers.IntegerField()
    evidence_days = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    indicators = serializers.SerializerMethodField()
    bands = serializers.SerializerMethodField()
    overrides = serializers.SerializerMethodField()
    measures = serializers.SerializerMethodField()

    @extend_schema_field(MethodologyIndicatorSerializer(many=True))
    def get_indicators(self, methodology: Methodology) -> list[dict[str, Any]]:
        return self._content(methodology)["indicators"]

    @extend_schema_field(MethodologyBandSerializer(many=True))
    def get_bands(self, methodology: Methodology) -> list[dict[str, Any]]:
        return self._content(methodology)["bands"]

    @extend_schema_field(MethodologyOverrideSerializer(many=True))
    def get_overrides(self, methodology: Methodology) -> list[dict[str, Any]]:
        return self._content(methodology)["overrides"]

    @extend_schema_field(MethodologyMeasureSerializer(many=True))
    def get_measures(self, methodology: Methodology) -> list[dict[str, Any]]:
        return self._content(methodology)["measures"]

    def _content(self, methodology: Methodology) -> dict[str, list[dict[str, Any]]]:
        cache: dict[int, dict[str, list[dict[str, Any]]]] = self.context.setdefault(
            "content", {}
        )
        if methodology.pk not in cache:
            cache[methodology.pk] = methodology_content(methodology=methodology)
        return cache[methodology.pk]


class EnrolmentOutputSerializer(serializers.Serializer[Enrolment]):
    id = serializers.IntegerField()
    entity = serializers.CharField(source="entity.slug")
    body = serializers.CharField(source="body.slug")
    body_name = serializers.CharField(source="body.name")
    methodology = serializers.SerializerMethodField()
    commitment_text = serializers.CharField()
    signed_by = serializers.CharField(
        source="signed_by.username", allow_null=True, default=None
    )
    signed_at = serializers.DateTimeField()
    withdrawn_at = serializers.DateTimeField(allow_null=True)
    withdrawn_by = serializers.CharField(
        source="withdrawn_by.username", allow_null=True, default=None
    )
    active = serializers.SerializerMethodField()

    def get_methodology(self, enrolment: Enrolment) -> str:
        """``<code> v<version>`` of the methodology in force when signed."""
        return str(enrolment.methodology)

    def get_active(self, enrolment: Enrolment) -> bool:
        return enrolment.withdrawn_at is None


# --- A body's methodologies -------------------------------------------------------


class BodyMethodologyListApi(APIView):
    """GET: the body's methodologies, by code, newest version first (drafts only
    for the body's members). POST: a new draft (version 1 of ``code``, or its next
    version), for the body's owners, administrators and analysts; set its content
    with PUT on the methodology."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    class InputSerializer(serializers.Serializer[Any]):
        code = serializers.SlugField(max_length=50)
        name_en = serializers.CharField(max_length=200)
        name_zh = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )
        text_en = serializers.CharField(max_length=TEXT_MAX_LENGTH)
        text_zh = serializers.CharField(
            max_length=TEXT_MAX_LENGTH, required=False, allow_blank=True, default=""
        )
        commitment_en = serializers.CharField(max_length=COMMITMENT_MAX_LENGTH)
        commitment_zh = serializers.CharField(
            max_length=COMMITMENT_MAX_LENGTH,
            required=False,
            allow_blank=True,
            default="",
        )
        coverage_threshold = serializers.DecimalField(
            max_digits=3, decimal_places=2, min_value=0, max_value=1, required=False
        )
        validity_days = serializers.IntegerField(
            min_value=1, max_value=3650, required=False
        )
        objection_days = serializers.IntegerField(
            min_value=1, max_value=60, required=False
        )
        evidence_days = serializers.IntegerField(
            min_value=1, max_value=60, required=False
        )

    @extend_schema(responses=MethodologyOutputSerializer(many=True))
    def get(self, request: Request, body: str) -> Response:
        organization = _body(body)
        members = (
            membership_in(user=request.user, organization=organization) is not None
        )
        return paginated_response(
            request=request,
            view=self,
            queryset=methodology_list_for_body(
                body=organization, include_drafts=members
            ),
            serializer_class=MethodologyOutputSerializer,
        )

    @extend_schema(
        request=InputSerializer, responses={201: MethodologyDetailOutputSerializer}
    )
    def post(self, request: Request, body: str) -> Response:
        user = signed_in_user(request.user)
        organization = _body(body)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = methodology_create(
            actor=user, body=organization, **data.validated_data
        )
        return Response(
            MethodologyDetailOutputSerializer(
                _methodology(request, created.public_id)
            ).data,
            status=status.HTTP_201_CREATED,
        )


class MethodologyDetailApi(APIView):
    """GET: a methodology with its content (a draft only for its body's members).
    PUT: replace a draft's content (indicators, grade scale, override rules and
    grade measures) as a whole; 409 once it is published."""

    permission_classes = [IsAuthenticatedOrReadOnly]

    class InputSerializer(serializers.Serializer[Any]):
        indicators = serializers.ListField(child=serializers.DictField())
        bands = serializers.ListField(child=serializers.DictField())
        overrides = serializers.ListField(
            child=serializers.DictField(), required=False, default=list
        )
        measures = serializers.ListField(
            child=serializers.DictField(), required=False, default=list
        )

    @extend_schema(responses=MethodologyDetailOutputSerializer)
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return Response(
            MethodologyDetailOutputSerializer(_methodology(request, public_id)).data
        )

    @extend_schema(request=InputSerializer, responses=MethodologyDetailOutputSerializer)
    def put(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        methodology = _methodology(request, public_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        methodology_set_content(
            actor=user, methodology=methodology, **data.validated_data
        )
        return Response(
            MethodologyDetailOutputSerializer(_methodology(request, public_id)).data
        )


class MethodologyPublishApi(APIView):
    """Publish a whole draft; the body's earlier published version of the same
    code is retired."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=MethodologyDetailOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        methodology = _methodology(request, public_id)
        methodology_publish(actor=user, methodology=methodology)
        return Response(
            MethodologyDetailOutputSerializer(_methodology(request, public_id)).data
        )


class MethodologyNewVersionApi(APIView):
    """Start the next version of a methodology: a draft copy of it."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: MethodologyDetailOutputSerializer})
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        methodology = _methodology(request, public_id)
        draft = methodology_new_version(actor=user, methodology=methodology)
        return Response(
            MethodologyDetailOutputSerializer(
                _methodology(request, draft.public_id)
            ).data,
            status=status.HTTP_201_CREATED,
        )


class MethodologyListApi(APIView):
    """Every published methodology (in force and retired; never drafts), in force
    first. ``body`` (a slug) and ``state`` (published or retired) narrow it."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer[Any]):
        body = serializers.SlugField(required=False, max_length=50)
        state = serializers.ChoiceField(
            choices=[
                (State.PUBLISHED.value, State.PUBLISHED.label),
                (State.RETIRED.value, State.RETIRED.label),
            ],
            required=False,
        )

    @extend_schema(
        parameters=[FilterSerializer],
        responses=MethodologyOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=methodology_list_public(
                body=filters.validated_data.get("body", ""),
                state=filters.validated_data.get("state", ""),
            ),
            serializer_class=MethodologyOutputSerializer,
        )


# --- An entity's enrolments -------------------------------------------------------


class EntityEnrolmentListApi(APIView):
    """GET: the entity's enrolments, active first. POST: sign the credit
    commitment of ``body``'s methodology in force (in the request's language when
    the body wrote it in that language). For the entity's owners and
    administrators."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.SlugField(max_length=50)

    @extend_schema(responses=EnrolmentOutputSerializer(many=True))
    def get(self, request: Request, entity: str) -> Response:
        organization = _managed_entity(request, entity)
        return paginated_response(
            request=request,
            view=self,
            queryset=enrolment_list_for_entity(entity=organization),
            serializer_class=EnrolmentOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: EnrolmentOutputSerializer})
    def post(self, request: Request, entity: str) -> Response:
        user = signed_in_user(request.user)
        organization = _managed_entity(request, entity)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = industry_body_get(slug=data.validated_data["body"])
        if body is None:
            raise serializers.ValidationError(
                {"body": [_("There is no such industry body.")]}
            )
        enrolment = enrolment_sign(
            actor=user, entity=organization, body=body, language=get_language() or "en"
        )
        return Response(
            EnrolmentOutputSerializer(enrolment).data, status=status.HTTP_201_CREATED
        )


class EnrolmentWithdrawApi(APIView):
    """End an enrolment (the entity's owners and administrators): no future
    ratings; its history stays public. 409 while the entity is on the body's
    watch, has a rating being decided or under notice or objection, has a
    misconduct report the body is triaging or investigating, or is under its
    sanction."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=EnrolmentOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        user = signed_in_user(request.user)
        enrolment = enrolment_get(pk=pk)
        # Outside the entity, an enrolment is not there to act on.
        if (
            enrolment is None
            or membership_in(user=user, organization=enrolment.entity) is None
        ):
            raise NotFound()
        withdrawn = enrolment_withdraw(actor=user, enrolment=enrolment)
        return Response(EnrolmentOutputSerializer(withdrawn).data)
