"""Reviews through the API: the public list and summary, writing, the publisher's
reply, flags, and the moderators' queue."""

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import PageNumberPagination, paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound, PermissionDenied
from marketplace.models import Agent, Review, ReviewFlag, ReviewSignal
from marketplace.selectors.agents import agent_get_visible, agent_visible
from marketplace.selectors.reviews import (
    MODERATION_VIEWS,
    moderation_queue,
    review_get,
    review_list_public,
    review_signals_by_agent,
    review_summary,
    review_visible_to,
)
from marketplace.services import reviews as review_services
from marketplace.services.publishing import is_reviewer


def _agent(request: Request, publisher: str, agent: str) -> Agent:
    return agent_get_visible(user=request.user, publisher=publisher, agent=agent)


def _review(request: Request, review_id: int) -> Review:
    found = review_get(review_id=review_id)
    if (
        found is None
        or not review_visible_to(user=request.user, review=found)
        or not agent_visible(user=request.user, agent=found.agent)
    ):
        raise NotFound()
    return found


class ReplyOutputSerializer(serializers.Serializer[Any]):
    publisher = serializers.CharField(source="publisher.slug")
    publisher_name = serializers.CharField(source="publisher.name")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ReviewOutputSerializer(serializers.Serializer[Review]):
    id = serializers.IntegerField(source="pk")
    user = serializers.CharField(source="user.username")
    stars = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()
    version = serializers.CharField(source="version.version")
    state = serializers.CharField()
    edited = serializers.BooleanField(default=False)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    reply = serializers.SerializerMethodField()

    def get_reply(self, review: Review) -> dict[str, Any] | None:
        try:
            reply = review.reply
        except ObjectDoesNotExist:
            return None
        return dict(ReplyOutputSerializer(reply).data)


class StarsCountSerializer(serializers.Serializer[Any]):
    stars = serializers.IntegerField()
    count = serializers.IntegerField()
    percent = serializers.IntegerField()


class ReviewSummaryOutputSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    score = serializers.FloatField()
    distribution = StarsCountSerializer(many=True)


class ReviewCollectionApi(APIView):
    """GET: the agent's visible reviews, newest first; POST: write your review of
    an agent you installed, or edit the one you wrote."""

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class InputSerializer(serializers.Serializer[Any]):
        stars = serializers.IntegerField(min_value=1, max_value=5)
        title = serializers.CharField(max_length=review_services.TITLE_MAX_LENGTH)
        body = serializers.CharField(max_length=review_services.BODY_MAX_LENGTH)

    @extend_schema(responses=ReviewOutputSerializer(many=True))
    def get(self, request: Request, publisher: str, agent: str) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=review_list_public(agent=_agent(request, publisher, agent)),
            serializer_class=ReviewOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={200: ReviewOutputSerializer})
    def post(self, request: Request, publisher: str, agent: str) -> Response:
        found = _agent(request, publisher, agent)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        existed = Review.objects.filter(user=user, agent=found).exists()
        review = review_services.review_submit(
            user=user, agent=found, **data.validated_data
        )
        return Response(
            ReviewOutputSerializer(review_get(review_id=review.pk)).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class ReviewSummaryApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=ReviewSummaryOutputSerializer)
    def get(self, request: Request, publisher: str, agent: str) -> Response:
        summary = review_summary(agent=_agent(request, publisher, agent))
        return Response(ReviewSummaryOutputSerializer(summary).data)


class ReviewReplyApi(APIView):
    """The publisher's reply to a review (again to edit it): for its members."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.CharField(max_length=review_services.REPLY_MAX_LENGTH)

    @extend_schema(request=InputSerializer, responses=ReplyOutputSerializer)
    def post(self, request: Request, review_id: int) -> Response:
        found = _review(request, review_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reply = review_services.review_reply(
            actor=signed_in_user(request.user), review=found, **data.validated_data
        )
        return Response(ReplyOutputSerializer(reply).data)


class ReviewFlagApi(APIView):
    """Report a review to the moderators (once; not your own)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.ChoiceField(choices=ReviewFlag.Reason.choices)
        note = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=review_services.FLAG_NOTE_MAX_LENGTH,
        )

    class OutputSerializer(serializers.Serializer[ReviewFlag]):
        review = serializers.IntegerField(source="review_id")
        reason = serializers.CharField()
        note = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, review_id: int) -> Response:
        found = _review(request, review_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        flag = review_services.review_flag(
            user=signed_in_user(request.user), review=found, **data.validated_data
        )
        return Response(
            self.OutputSerializer(flag).data, status=status.HTTP_201_CREATED
        )


class SignalOutputSerializer(serializers.Serializer[ReviewSignal]):
    kind = serializers.CharField()
    score = serializers.FloatField()
    raised = serializers.SerializerMethodField()
    details = serializers.JSONField()
    computed_at = serializers.DateTimeField()

    def get_raised(self, signal: ReviewSignal) -> bool:
        return bool(signal.details.get("raised"))


class FlagOutputSerializer(serializers.Serializer[ReviewFlag]):
    user = serializers.CharField(source="user.username")
    reason = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()


class ModerationReviewOutputSerializer(ReviewOutputSerializer):
    publisher = serializers.CharField(source="agent.publisher.slug")
    agent = serializers.CharField(source="agent.slug")
    open_flags = serializers.IntegerField()
    flags = FlagOutputSerializer(source="open_flag_list", many=True)
    agent_signals = serializers.SerializerMethodField()

    def get_agent_signals(self, review: Review) -> list[dict[str, Any]]:
        signals: dict[int, list[ReviewSignal]] = self.context.get("signals", {})
        return [
            dict(SignalOutputSerializer(signal).data)
            for signal in signals.get(review.agent_id, [])
        ]


class ModerationReviewListApi(APIView):
    """The moderators' queue: flagged reviews, most flagged first
    (``?view=hidden``: the hidden reviews), with the signs of manipulation of each
    review's agent."""

    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer[Any]):
        view = serializers.ChoiceField(
            choices=list(MODERATION_VIEWS), required=False, default="flagged"
        )

    @extend_schema(
        parameters=[FilterSerializer],
        responses=ModerationReviewOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queue = moderation_queue(
            actor=signed_in_user(request.user), view=filters.validated_data["view"]
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(queue, request, view=self) or []
        signals = review_signals_by_agent(agent_ids=[r.agent_id for r in page])
        data = ModerationReviewOutputSerializer(
            page,  # type: ignore[arg-type]  # many=True takes a list
            many=True,
            context={"signals": signals},
        ).data
        return paginator.get_paginated_response(data)


class ModerationInputSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=review_services.REASON_MAX_LENGTH)


def _moderate(request: Request, review_id: int, action: str) -> Response:
    user = signed_in_user(request.user)
    if not is_reviewer(user):
        raise PermissionDenied(_("Only the operator's reviewers moderate reviews."))
    found = review_get(review_id=review_id)
    if found is None:
        raise NotFound()
    data = ModerationInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    service = {
        "hide": review_services.review_hide,
        "restore": review_services.review_restore,
        "dismiss": review_services.review_flags_dismiss,
    }[action]
    moderated = service(
        actor=user,
        review=found,
        reason=data.validated_data["reason"],
    )
    return Response(ReviewOutputSerializer(review_get(review_id=moderated.pk)).data)


class ModerationReviewHideApi(APIView):
    """Hide a review, with the reason (the author is told)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ModerationInputSerializer, responses=ReviewOutputSerializer)
    def post(self, request: Request, review_id: int) -> Response:
        return _moderate(request, review_id, "hide")


class ModerationReviewRestoreApi(APIView):
    """Show a hidden review again, with the reason (the author is told)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ModerationInputSerializer, responses=ReviewOutputSerializer)
    def post(self, request: Request, review_id: int) -> Response:
        return _moderate(request, review_id, "restore")


class ModerationReviewDismissApi(APIView):
    """Keep a flagged review as it is and close its open flags."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=ModerationInputSerializer, responses=ReviewOutputSerializer)
    def post(self, request: Request, review_id: int) -> Response:
        return _moderate(request, review_id, "dismiss")
