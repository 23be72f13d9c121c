"""The site's own documents through the API: those in force, those the caller has
still to accept, accepting them, the caller's history, and a publisher accepting the
publisher agreement."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound
from marketplace.models import AgreementAcceptance, AgreementVersion
from marketplace.selectors.agreements import (
    agreement_acceptance_list,
    agreement_in_force_list,
    agreement_pending_list,
)
from marketplace.selectors.organizations import organization_get
from marketplace.services.agreements import (
    agreements_accept,
    publisher_agreement_accept,
)


class AgreementVersionSerializer(serializers.Serializer[AgreementVersion]):
    """A version of a document; ``title``, ``body`` and ``summary`` (what changed
    since the version before) in the request's language."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    number = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField()
    summary = serializers.CharField()
    published_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, version: AgreementVersion) -> str:
        return reverse(
            "agreement-version",
            kwargs={"kind": version.kind, "number": version.number},
        )


class AcceptanceSerializer(serializers.Serializer[AgreementAcceptance]):
    version = serializers.IntegerField(source="version_id")
    kind = serializers.CharField(source="version.kind")
    number = serializers.IntegerField(source="version.number")
    title = serializers.CharField(source="version.title")
    organization = serializers.CharField(
        source="organization.slug", allow_null=True, default=None
    )
    # Named as the model names it; DRF takes declared fields off the class, so it
    # does not hide the serializer's own ``context``.
    context = serializers.CharField()  # type: ignore[assignment]
    accepted_at = serializers.DateTimeField()


class AgreementListApi(APIView):
    """The documents in force (public)."""

    permission_classes = [AllowAny]

    @extend_schema(responses=AgreementVersionSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(
            [AgreementVersionSerializer(v).data for v in agreement_in_force_list()]
        )


class AgreementPendingApi(APIView):
    """The documents in force the caller has not accepted: until they do, installs,
    reviews and reports answer 403 ``agreements_not_accepted``."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=AgreementVersionSerializer(many=True))
    def get(self, request: Request) -> Response:
        pending = agreement_pending_list(user=signed_in_user(request.user))
        return Response([AgreementVersionSerializer(v).data for v in pending])


class AgreementAcceptApi(APIView):
    """Accept versions in force, by id (those of ``pending``). Accepting one again
    changes nothing."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        versions = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=10**18 - 1),
            min_length=1,
            max_length=20,
        )

    @extend_schema(request=InputSerializer, responses=AcceptanceSerializer(many=True))
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        acceptances = agreements_accept(
            user=signed_in_user(request.user),
            version_ids=data.validated_data["versions"],
            context=AgreementAcceptance.Context.API,
        )
        return Response([AcceptanceSerializer(a).data for a in acceptances])


class AgreementHistoryApi(APIView):
    """Every version the caller accepted, for themselves or for a publisher, newest
    first, a page at a time."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=AcceptanceSerializer(many=True))
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=agreement_acceptance_list(user=signed_in_user(request.user)),
            serializer_class=AcceptanceSerializer,
        )


class PublisherAgreementAcceptApi(APIView):
    """An owner or administrator accepts the publisher agreement in force for the
    publisher; needed before its first submission."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: AcceptanceSerializer})
    def post(self, request: Request, slug: str) -> Response:
        organization = organization_get(slug=slug)
        if organization is None:
            raise NotFound()
        acceptance = publisher_agreement_accept(
            actor=signed_in_user(request.user), organization=organization
        )
        return Response(
            AcceptanceSerializer(acceptance).data, status=status.HTTP_201_CREATED
        )
