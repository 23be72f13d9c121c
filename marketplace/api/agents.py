"""The registry through the API: agents, versions, submission, checks and review."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from marketplace import credit, declarations, disclosure
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound
from marketplace.models import (
    Agent,
    AgentVersion,
    CheckResult,
    Deployment,
    Domain,
    PricingModel,
)
from marketplace.selectors import search
from marketplace.selectors.agents import (
    agent_get,
    agent_visible,
    can_see_drafts,
    domain_list,
    review_queue,
    version_checks,
    version_get,
    version_list,
)
from marketplace.selectors.organizations import is_operator, organization_get
from marketplace.services import agents as agent_services
from marketplace.services import publishing


def _agent(request: Request, publisher: str, agent: str) -> Agent:
    found = agent_get(publisher=publisher, agent=agent)
    if found is None or not agent_visible(user=request.user, agent=found):
        raise NotFound()
    return found


def _version(
    request: Request, publisher: str, agent: str, version: str
) -> AgentVersion:
    found = version_get(
        agent=_agent(request, publisher, agent), version=version, user=request.user
    )
    if found is None:
        raise NotFound()
    return found


def _domain(code: str) -> Domain:
    domain = Domain.objects.filter(code=code).first()
    if domain is None:
        raise serializers.ValidationError({"domain": ["Unknown domain."]})
    return domain


class DomainOutputSerializer(serializers.Serializer[Domain]):
    code = serializers.CharField()
    name_en = serializers.CharField()
    name_zh = serializers.CharField()
    risk_tier = serializers.CharField()
    requires_filing = serializers.BooleanField()


class DomainListApi(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=DomainOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=domain_list(),
            serializer_class=DomainOutputSerializer,
        )


class AgentOutputSerializer(serializers.Serializer[Agent]):
    identifier = serializers.CharField()
    publisher = serializers.CharField(source="publisher.slug")
    publisher_verified = serializers.BooleanField(source="publisher.is_verified")
    slug = serializers.CharField()
    name = serializers.CharField()
    summary = serializers.CharField()
    description = serializers.CharField()
    domain = serializers.CharField(source="domain.code")
    risk_tier = serializers.CharField(source="domain.risk_tier")
    tags = serializers.ListField(child=serializers.CharField())
    homepage = serializers.URLField()
    privacy_policy_url = serializers.URLField()
    terms_url = serializers.URLField()
    age_rating = serializers.CharField()
    anti_addiction_measures = serializers.CharField()
    filing_number = serializers.CharField()
    status = serializers.CharField()
    publisher_credit_grade = serializers.CharField(source="publisher.credit_grade")
    publisher_credit_outlook = serializers.CharField(source="publisher.credit_outlook")
    publisher_on_watch = serializers.BooleanField(source="publisher.credit_on_watch")
    publisher_dishonesty_listed = serializers.BooleanField(
        source="publisher.dishonesty_listed"
    )
    publisher_credit_suspended = serializers.BooleanField(
        source="publisher.credit_suspended"
    )
    publisher_credit_badge = serializers.BooleanField(source="publisher.credit_badge")
    protocols = serializers.ListField(
        source="protocol_list", child=serializers.CharField()
    )
    deployment = serializers.CharField()
    latest_version = serializers.CharField(
        source="latest_version.version", allow_null=True, default=None
    )
    rating_count = serializers.IntegerField()
    rating_mean = serializers.FloatField(allow_null=True)
    install_count = serializers.IntegerField()
    online = serializers.BooleanField(allow_null=True)
    liveness_checked_at = serializers.DateTimeField(allow_null=True)
    ipv6_ready = serializers.BooleanField(allow_null=True)
    # The latest published version's pricing model; empty when it declares none.
    pricing_model = serializers.CharField()
    created_at = serializers.DateTimeField()


class AgentFieldsSerializer(serializers.Serializer[Any]):
    """The editable fields of a listing."""

    name = serializers.CharField(max_length=200)
    summary = serializers.CharField(max_length=300)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=20000
    )
    domain = serializers.CharField(max_length=50)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=20
    )
    homepage = serializers.URLField(required=False, allow_blank=True)
    privacy_policy_url = serializers.URLField(required=False, allow_blank=True)
    terms_url = serializers.URLField(required=False, allow_blank=True)
    age_rating = serializers.ChoiceField(
        choices=Agent.AgeRating.choices, required=False
    )
    anti_addiction_measures = serializers.CharField(
        required=False, allow_blank=True, max_length=5000
    )
    filing_number = serializers.CharField(
        required=False, allow_blank=True, max_length=100
    )


class AgentCollectionApi(APIView):
    """GET: the published agents matching a search and filters, as the store's
    search page finds them; POST: a new agent of a publisher the caller is a member
    of."""

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class FilterSerializer(serializers.Serializer[Any]):
        q = serializers.CharField(required=False, max_length=200, allow_blank=True)
        publisher = serializers.SlugField(required=False)
        domain = serializers.SlugField(required=False)
        risk_tier = serializers.ChoiceField(
            choices=Domain.RiskTier.choices, required=False
        )
        protocol = serializers.ChoiceField(
            choices=declarations.PROTOCOL_CHOICES, required=False
        )
        deployment = serializers.ChoiceField(choices=Deployment.choices, required=False)
        verified = serializers.BooleanField(required=False)
        online = serializers.BooleanField(required=False)
        min_rating = serializers.FloatField(
            required=False, min_value=1.0, max_value=5.0
        )
        min_grade = serializers.ChoiceField(choices=credit.GRADES, required=False)
        hide_dishonesty_listed = serializers.BooleanField(
            required=False,
            help_text="Leave out publishers on the dishonesty list.",
        )
        credit_badge = serializers.BooleanField(
            required=False,
            help_text="Only publishers holding the top-grade store badge.",
        )
        pricing = serializers.MultipleChoiceField(
            choices=PricingModel.choices,
            required=False,
            help_text="Pricing models, repeated for several: any of them matches.",
        )
        ipv6 = serializers.BooleanField(
            required=False,
            help_text="Only agents whose endpoint answered over IPv6.",
        )
        sort = serializers.ChoiceField(
            choices=list(search.SORTS), required=False, default="relevance"
        )

    class InputSerializer(AgentFieldsSerializer):
        publisher = serializers.SlugField()
        slug = serializers.CharField(max_length=50)

    @extend_schema(
        parameters=[FilterSerializer], responses=AgentOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=search.agent_search(**filters.validated_data),
            serializer_class=AgentOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: AgentOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        publisher = organization_get(slug=fields.pop("publisher"))
        if publisher is None:
            raise serializers.ValidationError({"publisher": ["Unknown organisation."]})
        fields["domain"] = _domain(fields["domain"])
        agent = agent_services.agent_create(
            actor=signed_in_user(request.user), publisher=publisher, **fields
        )
        return Response(
            AgentOutputSerializer(agent).data, status=status.HTTP_201_CREATED
        )


class AgentDetailApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class InputSerializer(AgentFieldsSerializer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, partial=True, **kwargs)

    @extend_schema(responses=AgentOutputSerializer)
    def get(self, request: Request, publisher: str, agent: str) -> Response:
        return Response(AgentOutputSerializer(_agent(request, publisher, agent)).data)

    @extend_schema(request=InputSerializer, responses=AgentOutputSerializer)
    def patch(self, request: Request, publisher: str, agent: str) -> Response:
        found = _agent(request, publisher, agent)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "domain" in fields:
            fields["domain"] = _domain(fields["domain"])
        updated = agent_services.agent_update(
            actor=signed_in_user(request.user), agent=found, **fields
        )
        return Response(AgentOutputSerializer(updated).data)


class VersionOutputSerializer(serializers.Serializer[AgentVersion]):
    version = serializers.CharField()
    state = serializers.CharField()
    changelog = serializers.CharField()
    declaration = serializers.JSONField()
    declaration_digest = serializers.CharField()
    # The declaration's pricing; null for a version that declares none.
    pricing = serializers.JSONField(
        source="declaration.pricing", allow_null=True, default=None
    )
    submissions = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)


class VersionCollectionApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class InputSerializer(serializers.Serializer[Any]):
        version = serializers.CharField(max_length=64)
        changelog = serializers.CharField(required=False, allow_blank=True, default="")
        declaration = serializers.JSONField()

    @extend_schema(responses=VersionOutputSerializer(many=True))
    def get(self, request: Request, publisher: str, agent: str) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=version_list(
                agent=_agent(request, publisher, agent), user=request.user
            ),
            serializer_class=VersionOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: VersionOutputSerializer})
    def post(self, request: Request, publisher: str, agent: str) -> Response:
        found = _agent(request, publisher, agent)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = agent_services.version_create(
            actor=signed_in_user(request.user), agent=found, **data.validated_data
        )
        return Response(
            VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED
        )


class VersionDetailApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class InputSerializer(serializers.Serializer[Any]):
        changelog = serializers.CharField(allow_blank=True)
        declaration = serializers.JSONField()

    @extend_schema(responses=VersionOutputSerializer)
    def get(
        self, request: Request, publisher: str, agent: str, version: str
    ) -> Response:
        return Response(
            VersionOutputSerializer(_version(request, publisher, agent, version)).data
        )

    @extend_schema(request=InputSerializer, responses=VersionOutputSerializer)
    def put(
        self, request: Request, publisher: str, agent: str, version: str
    ) -> Response:
        found = _version(request, publisher, agent, version)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = agent_services.version_update(
            actor=signed_in_user(request.user), version=found, **data.validated_data
        )
        return Response(VersionOutputSerializer(updated).data)


class VersionSubmitApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=VersionOutputSerializer)
    def post(
        self, request: Request, publisher: str, agent: str, version: str
    ) -> Response:
        submitted = publishing.version_submit(
            actor=signed_in_user(request.user),
            version=_version(request, publisher, agent, version),
        )
        return Response(VersionOutputSerializer(submitted).data)


class CheckOutputSerializer(serializers.Serializer[CheckResult]):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    reason = serializers.CharField(source="reason_text")
    run = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class VersionChecksApi(APIView):
    """The latest automated checks of a version: for the publisher and reviewers."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CheckOutputSerializer(many=True))
    def get(
        self, request: Request, publisher: str, agent: str, version: str
    ) -> Response:
        found = _version(request, publisher, agent, version)
        if not can_see_drafts(user=request.user, agent=found.agent):
            raise NotFound()
        return Response(
            [
                CheckOutputSerializer(result).data
                for result in version_checks(version=found)
            ]
        )


class VersionReviewApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        verdict = serializers.ChoiceField(choices=["approve", "reject"])
        reasons = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=InputSerializer, responses=VersionOutputSerializer)
    def post(
        self, request: Request, publisher: str, agent: str, version: str
    ) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reviewed = publishing.version_review(
            actor=signed_in_user(request.user),
            version=_version(request, publisher, agent, version),
            **data.validated_data,
        )
        return Response(VersionOutputSerializer(reviewed).data)


class VersionYankApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        reason = serializers.CharField(max_length=1000)

    @extend_schema(request=InputSerializer, responses=VersionOutputSerializer)
    def post(
        self, request: Request, publisher: str, agent: str, version: str
    ) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        yanked = publishing.version_yank(
            actor=signed_in_user(request.user),
            version=_version(request, publisher, agent, version),
            reason=data.validated_data["reason"],
        )
        return Response(VersionOutputSerializer(yanked).data)


class ReviewQueueApi(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(VersionOutputSerializer):
        publisher = serializers.CharField(source="agent.publisher.slug")
        agent = serializers.CharField(source="agent.slug")
        # Marks of the publisher's credit standing: a credit restriction calls for
        # a close manual review; fast-track versions come first in the queue.
        credit_review = serializers.BooleanField()
        fast_track = serializers.BooleanField()

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=review_queue(actor=signed_in_user(request.user)),
            serializer_class=self.OutputSerializer,
        )


class VersionImportApi(APIView):
    """A new draft version from an A2A Agent Card (v1.0, or v0.3 field names)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        card = serializers.JSONField()
        deployment = serializers.ChoiceField(
            choices=Deployment.choices, default=Deployment.CLOUD
        )

    @extend_schema(request=InputSerializer, responses={201: VersionOutputSerializer})
    def post(self, request: Request, publisher: str, agent: str) -> Response:
        found = _agent(request, publisher, agent)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = agent_services.version_import_card(
            actor=signed_in_user(request.user), agent=found, **data.validated_data
        )
        return Response(
            VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED
        )


class AgentStatusApi(APIView):
    """Set the listing's status marker (active, deprecated, archived; quarantined
    by the operator only)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=Agent.Status.choices)
        reason = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=2000
        )

    @extend_schema(request=InputSerializer, responses=AgentOutputSerializer)
    def post(self, request: Request, publisher: str, agent: str) -> Response:
        found = agent_get(publisher=publisher, agent=agent)
        user = signed_in_user(request.user)
        # The operator reaches quarantined listings too; others only what they see.
        if found is None or not (
            is_operator(user) or agent_visible(user=user, agent=found)
        ):
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = publishing.agent_set_status(
            actor=user, agent=found, **data.validated_data
        )
        return Response(AgentOutputSerializer(updated).data)


class DisclosureItemSerializer(serializers.Serializer[Any]):
    key = serializers.CharField()
    # A field named like Field.label: the serializer's metaclass takes it out of
    # the class attributes, so the two never meet.
    label = serializers.CharField()  # type: ignore[assignment]
    applies = serializers.BooleanField()
    present = serializers.BooleanField()
    consistent = serializers.BooleanField()
    done = serializers.BooleanField()
    hint = serializers.CharField()


class AgentDisclosureApi(APIView):
    """The listing's disclosure checklist: which of the fields and documents it
    must disclose are present and consistent, with a hint for each that is not,
    and the share complete. For the publisher's members and the platform operator;
    403 for anyone else."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        version = serializers.CharField(allow_null=True)
        version_state = serializers.CharField(allow_null=True)
        items = DisclosureItemSerializer(many=True)
        done = serializers.IntegerField()
        applicable = serializers.IntegerField()
        share = serializers.DecimalField(
            max_digits=5, decimal_places=4, allow_null=True
        )

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, publisher: str, agent: str) -> Response:
        user = signed_in_user(request.user)
        found = agent_get(publisher=publisher, agent=agent)
        # A listing the caller may not see at all is unknown to them.
        if found is None or not (
            is_operator(user) or agent_visible(user=user, agent=found)
        ):
            raise NotFound()
        result = disclosure.disclosure_get(actor=user, agent=found)
        return Response(self.OutputSerializer(result).data)
