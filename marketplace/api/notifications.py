"""The inbox through the API: the caller's notifications, and marking them read."""

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound
from marketplace.models import Notification
from marketplace.selectors.notifications import notification_list
from marketplace.services.notifications import notification_mark_read


class NotificationListApi(APIView):
    """The caller's notifications, newest first; ``?unread=true`` for the unread
    ones. ``text`` is the message in the request's language."""

    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer[Any]):
        unread = serializers.BooleanField(required=False, default=False)

    class OutputSerializer(serializers.Serializer[Notification]):
        id = serializers.IntegerField()
        kind = serializers.CharField()
        text = serializers.CharField()
        link = serializers.CharField()
        created_at = serializers.DateTimeField()
        read_at = serializers.DateTimeField(allow_null=True)

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=notification_list(
                user=signed_in_user(request.user), **filters.validated_data
            ),
            serializer_class=self.OutputSerializer,
        )


class NotificationReadApi(APIView):
    """Mark notifications read: those of ``ids`` (all of them the caller's), or
    every one with ``{"all": true}``."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        ids = serializers.ListField(
            # At most 18 digits: larger numbers are no notification's, and too
            # large for the database to compare.
            child=serializers.IntegerField(min_value=1, max_value=10**18 - 1),
            required=False,
            max_length=100,
        )
        all = serializers.BooleanField(required=False, default=False)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if bool(attrs.get("ids")) == bool(attrs["all"]):
                raise serializers.ValidationError(
                    _("Give either the ids to mark, or all: true.")
                )
            return attrs

    class OutputSerializer(serializers.Serializer[Any]):
        marked = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        user = signed_in_user(request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids: list[int] | None = None
        if not data.validated_data["all"]:
            ids = sorted(set(data.validated_data["ids"]))
            if notification_list(user=user).filter(pk__in=ids).count() != len(ids):
                raise NotFound(_("Some of these notifications do not exist."))
        marked = notification_mark_read(user=user, notification_ids=ids)
        return Response(self.OutputSerializer({"marked": marked}).data)
