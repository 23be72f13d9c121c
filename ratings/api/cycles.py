"""Rating cycles and decisions through the API.

- A body's cycles (read, start), a cycle with its progress, cancelling it, and
  its ratings (filtered by state and grade): for the body's members.
- A rating: the whole of it for the body's members; for the rated entity's
  owners and administrators, its statement of reasons and objection, from the
  notice on (before, it is not there for them: 404). The decisions: review,
  votes, notice, publication, the entity's objection and its answer.
- Declaring a conflict of interest with an entity, for members of an industry
  body.

Every change goes through a service; its refusals answer 400, 403 or 409.
"""

import uuid
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import Conflict, NotFound, PermissionDenied
from config.pagination import paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.models import Organization, User
from ratings.models import CommitteeVote, Objection, Rating, RatingCycle
from ratings.selectors.cycles import (
    PUBLISH_ROLES,
    conflict_kind,
    cycle_get,
    cycle_list,
    cycle_progress,
    cycle_rating_list,
    entity_can_see,
    entity_manages,
    industry_body_by_slug,
    is_conflicted,
    is_industry_body_member,
    methodologies_in_force,
    organization_by_slug,
    rating_events,
    rating_get,
    rating_objection,
    rating_votes,
    role_in,
)
from ratings.services.cycles import (
    DEFAULT_CHUNK_SIZE,
    EARLIEST_MOMENT,
    LATEST_MOMENT,
    MAX_CHUNK_SIZE,
    cycle_cancel,
    cycle_create,
)
from ratings.services.decisions import (
    conflict_declare,
    objection_answer,
    objection_file,
    rating_analyst_review,
    rating_notify,
    rating_publish,
    rating_vote,
)

REASON_MAX = 4000


# --- Access -------------------------------------------------------------------------


def _body_for_member(request: Request, slug: str) -> tuple[User, Organization]:
    user = signed_in_user(request.user)
    body = industry_body_by_slug(slug=slug)
    if body is None:
        raise NotFound()
    if role_in(user=user, organization_id=body.pk) is None:
        raise PermissionDenied(_("Only the body's members see its rating cycles."))
    return user, body


def _cycle_for_member(
    request: Request, public_id: uuid.UUID
) -> tuple[User, RatingCycle]:
    user = signed_in_user(request.user)
    cycle = cycle_get(public_id=public_id)
    if cycle is None:
        raise NotFound()
    if role_in(user=user, organization_id=cycle.body_id) is None:
        raise PermissionDenied(_("Only the body's members see its rating cycles."))
    if cycle.entity_id is not None and is_conflicted(
        user=user, entity_id=cycle.entity_id
    ):
        raise PermissionDenied(
            _(
                "This cycle rates an entity you belong to or declared a conflict of "
                "interest with: you take no part in it."
            ),
            code="conflict_of_interest",
        )
    return user, cycle


def _rating_for(request: Request, pk: int) -> tuple[User, Rating, str]:
    """The rating and the side the caller sees it from: ``body`` for the body's
    members, ``entity`` for the entity's owners and administrators once it was
    notified. A member of the body who belongs to the entity or declared a
    conflict of interest with it gets the entity's side if it may, else 403.
    Anyone else, and the entity before the notice, find nothing."""
    user = signed_in_user(request.user)
    rating = rating_get(pk=pk)
    if rating is None:
        raise NotFound()
    in_body = role_in(user=user, organization_id=rating.cycle.body_id) is not None
    conflict = conflict_kind(user=user, entity_id=rating.entity_id) if in_body else ""
    if in_body and not conflict:
        return user, rating, "body"
    if entity_manages(user=user, entity=rating.entity) and entity_can_see(
        rating=rating
    ):
        return user, rating, "entity"
    if conflict == "declared":
        raise PermissionDenied(
            _(
                "You declared a conflict of interest with this entity: you take no "
                "part in its ratings and do not see them from the body's side."
            ),
            code="conflict_of_interest",
        )
    if conflict:
        raise PermissionDenied(
            _(
                "You belong to the rated entity: you see its ratings only as the "
                "entity does, from the notice on."
            ),
            code="conflict_of_interest",
        )
    raise NotFound()


def _body_side(request: Request, pk: int) -> tuple[User, Rating]:
    """The rating for a decision of the body: the caller must see it from the
    body's side (a conflicted member of the body is refused, 403)."""
    user, rating, side = _rating_for(request, pk)
    if side != "body":
        raise PermissionDenied(
            _("Only the members of the rating body decide on this rating."),
            code="not_of_the_body",
        )
    return user, rating


# --- Serializers ----------------------------------------------------------------------


class BoundedDateTimeField(serializers.DateTimeField):
    """A date and time from the start of ``earliest_year`` to the start of
    ``latest_year``, checked on the value as given, before any time-zone
    arithmetic (which fails on far dates)."""

    def __init__(
        self, *, earliest_year: int, latest_year: int = 9000, **kwargs: Any
    ) -> None:
        self.earliest_year = earliest_year
        self.latest_year = latest_year
        super().__init__(**kwargs)

    def enforce_timezone(self, value: datetime) -> datetime:
        if not self.earliest_year <= value.year < self.latest_year:
            raise serializers.ValidationError(
                _("Give a moment from %(earliest)s to %(latest)s.")
                % {
                    "earliest": f"{self.earliest_year}-01-01",
                    "latest": f"{self.latest_year}-01-01",
                },
                code="out_of_range",
            )
        return super().enforce_timezone(value)


class ProgressSerializer(serializers.Serializer[Any]):
    state = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    percent = serializers.IntegerField()
    running = serializers.BooleanField(
        help_text="Whether the cycle still works (scheduled, collecting, scoring)."
    )


class CycleOutputSerializer(serializers.Serializer[RatingCycle]):
    public_id = serializers.UUIDField()
    body = serializers.CharField(source="body.slug")
    methodology = serializers.UUIDField(source="methodology.public_id")
    methodology_code = serializers.CharField(source="methodology.code")
    methodology_version = serializers.IntegerField(source="methodology.version")
    state = serializers.CharField()
    trigger = serializers.CharField()
    entity = serializers.CharField(source="entity.slug", allow_null=True, default=None)
    as_of = serializers.DateTimeField()
    chunk_size = serializers.IntegerField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    started_by = serializers.CharField(
        source="started_by.username", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    scored_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.SerializerMethodField()

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, cycle: RatingCycle) -> dict[str, Any]:
        return dict(ProgressSerializer(cycle_progress(cycle=cycle)).data)


class RatingListOutputSerializer(serializers.Serializer[Rating]):
    id = serializers.IntegerField()
    entity = serializers.CharField(source="entity.slug")
    entity_name = serializers.CharField(source="entity.name")
    score = serializers.DecimalField(max_digits=6, decimal_places=2)
    computed_grade = serializers.CharField()
    grade = serializers.CharField()
    provisional = serializers.BooleanField()
    coverage = serializers.DecimalField(max_digits=5, decimal_places=4)
    state = serializers.CharField()
    outlook = serializers.CharField()
    committee_round = serializers.IntegerField()


class VoteSerializer(serializers.Serializer[CommitteeVote]):
    round = serializers.IntegerField()
    member = serializers.CharField(source="member.username")
    vote = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class ObjectionSerializer(serializers.Serializer[Objection]):
    grounds = serializers.CharField()
    text = serializers.CharField()
    state = serializers.CharField()
    filed_at = serializers.DateTimeField()
    answer = serializers.CharField()
    answered_at = serializers.DateTimeField(allow_null=True)


class EventSerializer(serializers.Serializer[Any]):
    created_at = serializers.DateTimeField()
    actor = serializers.CharField(
        source="actor.username", allow_null=True, default=None
    )
    action = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    payload = serializers.JSONField()


class RatingBodyOutputSerializer(RatingListOutputSerializer):
    """The whole rating, for the body's members."""

    side = serializers.SerializerMethodField()
    cycle = serializers.UUIDField(source="cycle.public_id")
    body = serializers.CharField(source="cycle.body.slug")
    contributions = serializers.JSONField()
    adverse_factors = serializers.JSONField()
    overrides = serializers.JSONField()
    evidence = serializers.JSONField()
    evidence_hash = serializers.CharField()
    analyst = serializers.CharField(
        source="analyst.username", allow_null=True, default=None
    )
    adjustment = serializers.IntegerField()
    adjustment_reason = serializers.CharField()
    chair = serializers.CharField(
        source="chair.username", allow_null=True, default=None
    )
    statement = serializers.JSONField()
    notice_at = serializers.DateTimeField(allow_null=True)
    objection_deadline = serializers.DateTimeField(allow_null=True)
    evidence_deadline = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    votes = serializers.SerializerMethodField()
    objection = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    def get_side(self, rating: Rating) -> str:
        return "body"

    @extend_schema_field(VoteSerializer(many=True))
    def get_votes(self, rating: Rating) -> list[Any]:
        return list(VoteSerializer(rating_votes(rating=rating), many=True).data)  # type: ignore[arg-type]  # many=True takes a list

    @extend_schema_field(ObjectionSerializer(allow_null=True))
    def get_objection(self, rating: Rating) -> dict[str, Any] | None:
        objection = rating_objection(rating=rating)
        return None if objection is None else dict(ObjectionSerializer(objection).data)

    @extend_schema_field(EventSerializer(many=True))
    def get_events(self, rating: Rating) -> list[Any]:
        return list(EventSerializer(rating_events(rating=rating), many=True).data)


class RatingEntityOutputSerializer(serializers.Serializer[Rating]):
    """The rating as the rated entity reads it: its statement of reasons."""

    id = serializers.IntegerField()
    side = serializers.SerializerMethodField()
    body = serializers.CharField(source="cycle.body.slug")
    body_name = serializers.CharField(source="cycle.body.name")
    grade = serializers.CharField()
    state = serializers.CharField()
    statement = serializers.JSONField()
    notice_at = serializers.DateTimeField(allow_null=True)
    objection_deadline = serializers.DateTimeField(allow_null=True)
    evidence_deadline = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    objection = serializers.SerializerMethodField()

    def get_side(self, rating: Rating) -> str:
        return "entity"

    @extend_schema_field(ObjectionSerializer(allow_null=True))
    def get_objection(self, rating: Rating) -> dict[str, Any] | None:
        objection = rating_objection(rating=rating)
        return None if objection is None else dict(ObjectionSerializer(objection).data)


def _body_view(pk: int) -> dict[str, Any]:
    rating = rating_get(pk=pk)
    assert rating is not None  # noqa: S101  # read just before
    return dict(RatingBodyOutputSerializer(rating).data)


# --- Cycles -------------------------------------------------------------------------


class BodyCycleListApi(APIView):
    """GET: the body's cycles, newest first. POST: start a cycle of a published
    methodology of the body (the one in force unless ``methodology`` says which)
    over its enrolled entities, with the evidence as it stood at ``as_of`` (now
    by default); owners, administrators and analysts."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        methodology = serializers.UUIDField(required=False)
        as_of = BoundedDateTimeField(
            earliest_year=EARLIEST_MOMENT.year,
            latest_year=LATEST_MOMENT.year,
            required=False,
        )
        scheduled_for = BoundedDateTimeField(
            earliest_year=EARLIEST_MOMENT.year,
            latest_year=LATEST_MOMENT.year,
            required=False,
        )
        chunk_size = serializers.IntegerField(
            min_value=1,
            max_value=MAX_CHUNK_SIZE,
            required=False,
            default=DEFAULT_CHUNK_SIZE,
        )

    @extend_schema(responses=CycleOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        _user, body = _body_for_member(request, slug)
        return paginated_response(
            request=request,
            view=self,
            queryset=cycle_list(body=body),
            serializer_class=CycleOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: CycleOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        user, body = _body_for_member(request, slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        in_force = methodologies_in_force(body=body)
        wanted = data.validated_data.get("methodology")
        methodology = (
            in_force.filter(public_id=wanted).first() if wanted else in_force.first()
        )
        if methodology is None:
            if wanted:
                raise serializers.ValidationError(
                    {"methodology": [_("The body has no such published methodology.")]}
                )
            raise Conflict(
                _("The body has no published methodology to rate with."),
                code="no_methodology",
            )
        cycle = cycle_create(
            actor=user,
            methodology=methodology,
            as_of=data.validated_data.get("as_of"),
            chunk_size=data.validated_data["chunk_size"],
            scheduled_for=data.validated_data.get("scheduled_for"),
        )
        found = cycle_get(public_id=cycle.public_id)
        return Response(
            CycleOutputSerializer(found).data, status=status.HTTP_201_CREATED
        )


class CycleDetailApi(APIView):
    """A cycle with its progress (``progress.running`` turns false once done)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CycleOutputSerializer)
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        _user, cycle = _cycle_for_member(request, public_id)
        return Response(CycleOutputSerializer(cycle).data)


class CycleCancelApi(APIView):
    """Stop a cycle before review; 409 once it reached review."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=CycleOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user, cycle = _cycle_for_member(request, public_id)
        cycle_cancel(actor=user, cycle=cycle)
        return Response(CycleOutputSerializer(cycle_get(public_id=public_id)).data)


class CycleRatingListApi(APIView):
    """The cycle's ratings by entity name, narrowed by ``state`` and ``grade``."""

    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer[Any]):
        state = serializers.ChoiceField(choices=Rating.State.choices, required=False)
        grade = serializers.CharField(max_length=8, required=False)

    @extend_schema(
        parameters=[FilterSerializer], responses=RatingListOutputSerializer(many=True)
    )
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        user, cycle = _cycle_for_member(request, public_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=cycle_rating_list(
                cycle=cycle,
                viewer=user,
                state=filters.validated_data.get("state", ""),
                grade=filters.validated_data.get("grade", ""),
            ),
            serializer_class=RatingListOutputSerializer,
        )


# --- Ratings ------------------------------------------------------------------------


class RatingDetailApi(APIView):
    """The rating: the whole of it for the body's members (``side`` is
    ``body``); its statement of reasons and objection for the entity's owners
    and administrators from the notice on (``side`` is ``entity``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=RatingBodyOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        _user, rating, side = _rating_for(request, pk)
        if side == "entity":
            return Response(RatingEntityOutputSerializer(rating).data)
        return Response(RatingBodyOutputSerializer(rating).data)


class RatingReviewApi(APIView):
    """The analyst's review of a computed rating: ``adjustment`` moves the grade
    one notch (-1, 0, 1), with a ``reason`` when it does; ``outlook`` says which
    way it may move (stable by default)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        adjustment = serializers.ChoiceField(choices=[-1, 0, 1], default=0)
        reason = serializers.CharField(
            max_length=REASON_MAX, required=False, allow_blank=True, default=""
        )
        outlook = serializers.ChoiceField(
            choices=Rating.Outlook.choices, default=Rating.Outlook.STABLE
        )

    @extend_schema(request=InputSerializer, responses=RatingBodyOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        user, rating = _body_side(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating_analyst_review(
            actor=user,
            rating=rating,
            adjustment=int(data.validated_data["adjustment"]),
            reason=data.validated_data["reason"],
            outlook=data.validated_data["outlook"],
        )
        return Response(_body_view(pk))


class RatingVoteApi(APIView):
    """A committee member's vote in the current round: ``approve`` or
    ``reject`` (send back); ``chair`` takes the round's chair."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        vote = serializers.ChoiceField(choices=CommitteeVote.Vote.choices)
        reason = serializers.CharField(
            max_length=REASON_MAX, required=False, allow_blank=True, default=""
        )
        chair = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={201: RatingBodyOutputSerializer})
    def post(self, request: Request, pk: int) -> Response:
        user, rating = _body_side(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating_vote(actor=user, rating=rating, **data.validated_data)
        return Response(_body_view(pk), status=status.HTTP_201_CREATED)


class RatingNotifyApi(APIView):
    """Send the entity the statement of reasons; the objection window opens."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=RatingBodyOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        user, rating = _body_side(request, pk)
        rating_notify(actor=user, rating=rating)
        return Response(_body_view(pk))


class RatingPublishApi(APIView):
    """Publish a rating whose objection window closed (or whose objection was
    rejected); for the body's analysts, committee members and administrators
    without a conflict of interest."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=RatingBodyOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        user, rating = _body_side(request, pk)
        if role_in(user=user, organization_id=rating.cycle.body_id) not in (
            PUBLISH_ROLES
        ):
            raise PermissionDenied(
                _(
                    "Only the body's analysts, committee members and administrators "
                    "publish."
                )
            )
        if is_conflicted(user=user, entity_id=rating.entity_id):
            raise PermissionDenied(
                _("You declared a conflict of interest with this entity."),
                code="conflict_of_interest",
            )
        rating_publish(actor=user, rating=rating)
        return Response(_body_view(pk))


class RatingObjectionApi(APIView):
    """The entity's objection to a rating under notice, before its deadline, on
    ``grounds`` of new facts or misread evidence."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        grounds = serializers.ChoiceField(choices=Objection.Grounds.choices)
        text = serializers.CharField(max_length=10_000)

    @extend_schema(
        request=InputSerializer, responses={201: RatingEntityOutputSerializer}
    )
    def post(self, request: Request, pk: int) -> Response:
        user, rating, _side = _rating_for(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        objection_file(actor=user, rating=rating, **data.validated_data)
        return Response(
            RatingEntityOutputSerializer(rating_get(pk=pk)).data,
            status=status.HTTP_201_CREATED,
        )


class ObjectionAnswerApi(APIView):
    """Answer the objection with reasons once the committee decided again."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        answer = serializers.CharField(max_length=REASON_MAX)

    @extend_schema(request=InputSerializer, responses=RatingBodyOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        user, rating = _body_side(request, pk)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        objection_answer(
            actor=user, rating=rating, answer=data.validated_data["answer"]
        )
        return Response(_body_view(pk))


class ConflictDeclareApi(APIView):
    """Declare a conflict of interest with an entity (members of an industry
    body): from then on, no part in its ratings."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        entity = serializers.SlugField(max_length=50)
        reason = serializers.CharField(max_length=REASON_MAX)

    class OutputSerializer(serializers.Serializer[Any]):
        entity = serializers.CharField(source="entity.slug")
        reason = serializers.CharField()
        declared_at = serializers.DateTimeField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        user = signed_in_user(request.user)
        if not is_industry_body_member(user=user):
            raise PermissionDenied(
                _("Only the members of an industry body declare conflicts of interest.")
            )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entity = organization_by_slug(slug=data.validated_data["entity"])
        if entity is None:
            raise serializers.ValidationError(
                {"entity": [_("There is no such organisation.")]}
            )
        conflict = conflict_declare(
            actor=user, entity=entity, reason=data.validated_data["reason"]
        )
        return Response(
            self.OutputSerializer(conflict).data, status=status.HTTP_201_CREATED
        )
