"""Sanctions and credit repair through the API: a body's sanctions, imposing
one on a published rating, an entity's sanctions with their repair
applications, applying for repair and deciding it.

The services decide who may do what (403), what the state allows (409) and
what the input must be (400); a missing object answers 404."""

import uuid
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound, PermissionDenied
from marketplace.models import Organization
from marketplace.selectors.organizations import organization_get
from ratings.models import RepairApplication, Sanction
from ratings.models.surveillance import SANCTION_KIND_CHOICES
from ratings.selectors.sanctions import (
    can_see_body_sanctions,
    can_see_entity_sanctions,
    rating_get,
    repair_get,
    sanction_get,
    sanction_list,
    sanction_list_with_repairs,
)
from ratings.services import LINK_MAX_LENGTH, LINKS_MAX
from ratings.services.repair import (
    ACTIONS_MAX_LENGTH,
    repair_apply,
    repair_decide,
)
from ratings.services.sanctions import (
    REASON_MAX_LENGTH,
    sanction_impose,
)

SANCTION_CHOICES = SANCTION_KIND_CHOICES


class SanctionOutputSerializer(serializers.Serializer[Sanction]):
    public_id = serializers.UUIDField()
    entity = serializers.CharField(source="entity.slug")
    entity_name = serializers.CharField(source="entity.name")
    body = serializers.CharField(source="body.slug")
    body_name = serializers.CharField(source="body.name")
    rating = serializers.IntegerField(source="rating_id")
    grade = serializers.CharField(source="rating.grade")
    kind = serializers.CharField()
    state = serializers.CharField()
    reason = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    repairable_from = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class RepairOutputSerializer(serializers.Serializer[RepairApplication]):
    public_id = serializers.UUIDField()
    sanction = serializers.UUIDField(source="sanction.public_id")
    state = serializers.CharField()
    corrective_actions = serializers.CharField()
    evidence_links = serializers.ListField(child=serializers.CharField())
    applied_at = serializers.DateTimeField()
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)


class RepairBriefSerializer(serializers.Serializer[RepairApplication]):
    """An application inside its sanction."""

    public_id = serializers.UUIDField()
    state = serializers.CharField()
    corrective_actions = serializers.CharField()
    evidence_links = serializers.ListField(child=serializers.CharField())
    applied_at = serializers.DateTimeField()
    decision_reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)


class EntitySanctionOutputSerializer(SanctionOutputSerializer):
    repairs = RepairBriefSerializer(many=True, source="repairs.all")


class StateFilterSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=Sanction.State.choices, required=False)


def _organization(slug: str) -> Organization:
    found = organization_get(slug=slug)
    if found is None:
        raise NotFound()
    return found


class BodySanctionListApi(APIView):
    """The sanctions a body imposed, newest first, for its owners,
    administrators, analysts and committee members; ``?state=`` filters."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[StateFilterSerializer],
        responses=SanctionOutputSerializer(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        body = _organization(slug)
        if body.kind != Organization.Kind.INDUSTRY_BODY:
            raise NotFound()
        if not can_see_body_sanctions(user=signed_in_user(request.user), body=body):
            raise PermissionDenied(
                _("Only the people of %(body)s see its sanctions.")
                % {"body": body.name}
            )
        filters = StateFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        state = filters.validated_data.get("state")
        return paginated_response(
            request=request,
            view=self,
            queryset=sanction_list(body=body, states=[state] if state else None),
            serializer_class=SanctionOutputSerializer,
        )


class EntitySanctionListApi(APIView):
    """An entity's sanctions, newest first, with their credit repair
    applications and the decisions, for the entity's members."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=EntitySanctionOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        entity = _organization(slug)
        if not can_see_entity_sanctions(
            user=signed_in_user(request.user), entity=entity
        ):
            raise PermissionDenied(
                _("Only the members of %(entity)s see its sanctions.")
                % {"entity": entity.name}
            )
        return paginated_response(
            request=request,
            view=self,
            queryset=sanction_list_with_repairs(entity=entity),
            serializer_class=EntitySanctionOutputSerializer,
        )


class RatingSanctionImposeApi(APIView):
    """An owner, administrator or committee member of the rating's body,
    impartial to the entity, imposes a sanction the methodology sets for the
    grade of the published rating. ``ends_at`` defaults to the measure's
    period."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(choices=SANCTION_CHOICES)
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH)
        ends_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema(request=InputSerializer, responses={201: SanctionOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = signed_in_user(request.user)
        rating = rating_get(rating_id=pk)
        if rating is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sanction = sanction_impose(
            actor=user,
            rating=rating,
            kind=data.validated_data["kind"],
            reason=data.validated_data["reason"],
            ends_at=data.validated_data.get("ends_at"),
        )
        sanction = sanction_get(public_id=sanction.public_id) or sanction
        return Response(
            SanctionOutputSerializer(sanction).data, status=status.HTTP_201_CREATED
        )


class SanctionRepairApplyApi(APIView):
    """The entity's owner or administrator applies for credit repair of an
    active sanction once its minimum period has passed."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        corrective_actions = serializers.CharField(max_length=ACTIONS_MAX_LENGTH)
        evidence_links = serializers.ListField(
            child=serializers.CharField(max_length=LINK_MAX_LENGTH),
            max_length=LINKS_MAX,
            required=False,
            default=list,
        )

    @extend_schema(request=InputSerializer, responses={201: RepairOutputSerializer})
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        sanction = sanction_get(public_id=public_id)
        if sanction is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application = repair_apply(
            actor=user,
            sanction=sanction,
            corrective_actions=data.validated_data["corrective_actions"],
            evidence_links=data.validated_data["evidence_links"],
        )
        return Response(
            RepairOutputSerializer(application).data, status=status.HTTP_201_CREATED
        )


class RepairDecideApi(APIView):
    """An owner, administrator or committee member of the sanction's body,
    impartial to the entity, grants (the sanction is lifted) or refuses a
    pending credit repair, with reasons."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        grant = serializers.BooleanField()
        reason = serializers.CharField(max_length=REASON_MAX_LENGTH)

    @extend_schema(request=InputSerializer, responses=RepairOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        application = repair_get(public_id=public_id)
        if application is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = repair_decide(
            actor=user,
            application=application,
            grant=data.validated_data["grant"],
            reason=data.validated_data["reason"],
        )
        return Response(RepairOutputSerializer(decided).data)
