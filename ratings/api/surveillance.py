"""Rating watches through the API: a body's watches (open, overdue or resolved),
opening one by hand, and resolving one.

The body's owners, administrators, analysts and committee members read them;
the services decide who may act (403), what the state allows (409) and what the
input must be (400); a missing body or watch answers 404."""

import uuid
from typing import Any

from django.utils import timezone
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
from ratings.models import Rating, Watch
from ratings.selectors.surveillance import (
    watch_body_role,
    watch_get,
    watch_list_for_body,
)
from ratings.services.surveillance import (
    DETAIL_MAX_LENGTH,
    watch_open,
    watch_resolve,
)


class WatchOutputSerializer(serializers.Serializer[Watch]):
    public_id = serializers.UUIDField()
    entity = serializers.CharField(source="entity.slug")
    entity_name = serializers.CharField(source="entity.name")
    body = serializers.CharField(source="body.slug")
    reason = serializers.CharField()
    detail = serializers.CharField()
    rating = serializers.IntegerField(source="rating_id", allow_null=True)
    grade = serializers.CharField(source="rating.grade", allow_null=True, default=None)
    # The grade of the rating published since the watch opened (its watch
    # cycle's), None until one is: the watch is upgraded or downgraded by it.
    grade_since = serializers.CharField(allow_null=True, default=None)
    opened_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    overdue = serializers.SerializerMethodField()
    resolution = serializers.CharField()
    resolution_reason = serializers.CharField()
    resolved_at = serializers.DateTimeField(allow_null=True)

    def get_overdue(self, watch: Watch) -> bool:
        return watch.resolved_at is None and watch.due_at < timezone.now()


class WatchFilterSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(
        choices=["open", "overdue", "resolved"], required=False, default="open"
    )


def _body(slug: str) -> Organization:
    body = organization_get(slug=slug)
    if body is None or body.kind != Organization.Kind.INDUSTRY_BODY:
        raise NotFound()
    return body


def _ensure_viewer(request: Request, body: Organization) -> None:
    if watch_body_role(user=request.user, body=body) is None:
        raise PermissionDenied(
            _("Only the people of %(body)s see its watches.") % {"body": body.name}
        )


class BodyWatchListApi(APIView):
    """GET: the body's watches, ``?state=open`` (default; soonest due first),
    ``overdue`` or ``resolved``. POST: put an entity enrolled with the body on
    watch by hand (an analyst's call), with what happened; the watch already open
    is returned (200) instead of a second one (201)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        entity = serializers.SlugField(max_length=60)
        detail = serializers.CharField(max_length=DETAIL_MAX_LENGTH)

    @extend_schema(
        parameters=[WatchFilterSerializer],
        responses=WatchOutputSerializer(many=True),
    )
    def get(self, request: Request, slug: str) -> Response:
        body = _body(slug)
        _ensure_viewer(request, body)
        filters = WatchFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=watch_list_for_body(
                body=body, state=filters.validated_data["state"]
            ),
            serializer_class=WatchOutputSerializer,
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: WatchOutputSerializer, 200: WatchOutputSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        user = signed_in_user(request.user)
        body = _body(slug)
        _ensure_viewer(request, body)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entity = organization_get(slug=data.validated_data["entity"])
        if entity is None:
            raise serializers.ValidationError(
                {"entity": [_("There is no such entity.")]}
            )
        before = Watch.objects.filter(
            entity=entity, body=body, resolved_at__isnull=True
        ).first()
        watch = watch_open(
            entity=entity,
            body=body,
            reason=Watch.Reason.ANALYST,
            detail=data.validated_data["detail"],
            actor=user,
        )
        watch = watch_get(public_id=watch.public_id) or watch
        return Response(
            WatchOutputSerializer(watch).data,
            status=status.HTTP_200_OK if before else status.HTTP_201_CREATED,
        )


class WatchResolveApi(APIView):
    """Resolve an open watch, with ``reason``. A watch moves no grade: its watch
    cycle rates the entity again and that rating is published the normal way.
    ``upgrade`` or ``downgrade`` once a rating published since the watch opened
    (``grade_since``) is higher or lower than the rating watched (``grade``),
    409 until then; ``affirm`` when none was published or its grade is the same.
    ``grade`` (the grade the caller expects to stand) and ``outlook`` (for the
    current rating) are optional. By an impartial analyst, owner or
    administrator of the body; 409 once resolved."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        resolution = serializers.ChoiceField(choices=Watch.Resolution.choices)
        reason = serializers.CharField(max_length=2000)
        grade = serializers.CharField(max_length=8, required=False)
        outlook = serializers.ChoiceField(
            choices=Rating.Outlook.choices, required=False
        )

    @extend_schema(request=InputSerializer, responses=WatchOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        watch = watch_get(public_id=public_id)
        if watch is None or watch_body_role(user=user, body=watch.body) is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        watch_resolve(
            actor=user,
            watch=watch,
            resolution=fields["resolution"],
            reason=fields["reason"],
            grade=fields.get("grade"),
            outlook=fields.get("outlook"),
        )
        resolved = watch_get(public_id=watch.public_id)
        return Response(WatchOutputSerializer(resolved).data)
