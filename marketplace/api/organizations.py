from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import NotFound
from marketplace.models import Invitation, Membership, Organization, PublisherKey, User
from marketplace.selectors.organizations import (
    invitation_list_pending,
    membership_list,
    organization_domain_claim_get,
    organization_get,
    organization_list,
)
from marketplace.services import domain_control
from marketplace.services import organizations as services


def _organization(slug: str) -> Organization:
    organization = organization_get(slug=slug)
    if organization is None:
        raise NotFound()
    return organization


def _user(request: Request) -> User:
    return signed_in_user(request.user)


class OrganizationOutputSerializer(serializers.Serializer[Organization]):
    slug = serializers.CharField()
    name = serializers.CharField()
    verified = serializers.BooleanField(source="is_verified")
    kind = serializers.ChoiceField(choices=Organization.Kind.choices)
    description = serializers.CharField()
    website = serializers.URLField()
    domain = serializers.CharField(
        source="verified_domain",
        allow_null=True,
        help_text="The web domain the organisation proved it controls, if any.",
    )
    domain_verified_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class DomainInstructionsSerializer(
    serializers.Serializer[domain_control.DomainInstructions]
):
    txt_name = serializers.CharField()
    txt_value = serializers.CharField()
    file_url = serializers.URLField()
    file_content = serializers.CharField()


class DomainClaimOutputSerializer(serializers.Serializer[Organization]):
    """An organisation's domain claim, its token and what to publish: for its
    owners and administrators."""

    domain = serializers.CharField()
    token = serializers.CharField(source="domain_token")
    verified_at = serializers.DateTimeField(
        source="domain_verified_at", allow_null=True
    )
    checked_at = serializers.DateTimeField(source="domain_checked_at", allow_null=True)
    check_errors = serializers.SerializerMethodField(
        help_text="Why the last check failed, as stable codes."
    )
    check_reasons = serializers.SerializerMethodField(
        help_text="Why the last check failed, in the request's language."
    )
    instructions = serializers.SerializerMethodField(
        help_text="The TXT record or the file to publish, either one."
    )

    def get_check_errors(self, organization: Organization) -> list[str]:
        return organization.domain_check_error.split()

    def get_check_reasons(self, organization: Organization) -> list[str]:
        return domain_control.domain_check_reasons(organization=organization)

    @extend_schema_field(DomainInstructionsSerializer(allow_null=True))
    def get_instructions(self, organization: Organization) -> dict[str, Any] | None:
        instructions = domain_control.domain_instructions(organization=organization)
        if instructions is None:
            return None
        return dict(DomainInstructionsSerializer(instructions).data)


# Where two operations share one URL (GET lists, POST creates), they share one
# APIView: one class per URL, each method with its own nested serializers.
class OrganizationCollectionApi(APIView):
    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class FilterSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(
            choices=Organization.Kind.choices, required=False
        )
        q = serializers.CharField(required=False, max_length=100)

    class OutputSerializer(OrganizationOutputSerializer):
        member_count = serializers.IntegerField()

    @extend_schema(parameters=[FilterSerializer], responses=OutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        organizations = organization_list(**filters.validated_data)
        return paginated_response(
            request=request,
            view=self,
            queryset=organizations,
            serializer_class=self.OutputSerializer,
        )

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=200)
        slug = serializers.CharField(max_length=50)
        kind = serializers.ChoiceField(choices=Organization.Kind.choices)
        description = serializers.CharField(
            required=False, allow_blank=True, default=""
        )
        website = serializers.URLField(required=False, allow_blank=True, default="")
        contact_email = serializers.EmailField(
            required=False, allow_blank=True, default=""
        )

    @extend_schema(
        request=InputSerializer, responses={201: OrganizationOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_create(
            actor=_user(request), **data.validated_data
        )
        return Response(
            OrganizationOutputSerializer(organization).data,
            status=status.HTTP_201_CREATED,
        )


class OrganizationDetailApi(APIView):
    """An organisation's public details; its owners and administrators also get
    the domain claim with its token."""

    permission_classes = [AllowAny]

    class OutputSerializer(OrganizationOutputSerializer):
        domain_claim = DomainClaimOutputSerializer(
            source="*",
            required=False,
            help_text="Only for the organisation's owners and administrators.",
        )

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request, slug: str) -> Response:
        organization = _organization(slug)
        claim = organization_domain_claim_get(
            actor=request.user, organization=organization
        )
        if claim is None:
            return Response(OrganizationOutputSerializer(organization).data)
        return Response(self.OutputSerializer(claim).data)


class MembershipOutputSerializer(serializers.Serializer[Membership]):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    created_at = serializers.DateTimeField()


class MembershipCollectionApi(APIView):
    """The members of an organisation: for its members only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MembershipOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        members = membership_list(
            organization=_organization(slug), actor=_user(request)
        )
        return paginated_response(
            request=request,
            view=self,
            queryset=members,
            serializer_class=MembershipOutputSerializer,
        )


class MembershipDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        role = serializers.ChoiceField(choices=Membership.Role.choices)

    def _membership(
        self, request: Request, slug: str, membership_id: int
    ) -> Membership:
        organization = _organization(slug)
        # Non-members learn nothing about who is a member.
        membership_list(organization=organization, actor=_user(request))
        return get_object_or_404(
            Membership.objects.select_related("user", "organization"),
            pk=membership_id,
            organization=organization,
        )

    @extend_schema(request=InputSerializer, responses=MembershipOutputSerializer)
    def patch(self, request: Request, slug: str, membership_id: int) -> Response:
        membership = self._membership(request, slug, membership_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_change_role(
            actor=_user(request),
            membership=membership,
            role=data.validated_data["role"],
        )
        return Response(MembershipOutputSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, membership_id: int) -> Response:
        membership = self._membership(request, slug, membership_id)
        services.membership_remove(actor=_user(request), membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationOutputSerializer(serializers.Serializer[Invitation]):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    state = serializers.ChoiceField(choices=Invitation.State.choices)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class InvitationCollectionApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=InvitationOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        invitations = invitation_list_pending(
            organization=_organization(slug), actor=_user(request)
        )
        return paginated_response(
            request=request,
            view=self,
            queryset=invitations,
            serializer_class=InvitationOutputSerializer,
        )

    class InputSerializer(serializers.Serializer[Any]):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=Membership.Role.choices)

    @extend_schema(request=InputSerializer, responses={201: InvitationOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            actor=_user(request),
            organization=_organization(slug),
            **data.validated_data,
        )
        return Response(
            InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED
        )


class InvitationRevokeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=InvitationOutputSerializer)
    def post(self, request: Request, slug: str, invitation_id: int) -> Response:
        organization = _organization(slug)
        invitation_list_pending(organization=organization, actor=_user(request))
        invitation = get_object_or_404(
            Invitation.objects.select_related("organization"),
            pk=invitation_id,
            organization=organization,
        )
        invitation = services.invitation_revoke(
            actor=_user(request), invitation=invitation
        )
        return Response(InvitationOutputSerializer(invitation).data)


class InvitationAcceptApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={201: MembershipOutputSerializer})
    def post(self, request: Request, token: str) -> Response:
        invitation = services.invitation_from_token(token=token)
        membership = services.invitation_accept(
            actor=_user(request), invitation=invitation
        )
        return Response(
            MembershipOutputSerializer(membership).data, status=status.HTTP_201_CREATED
        )


class PublisherKeyOutputSerializer(serializers.Serializer[PublisherKey]):
    id = serializers.IntegerField()
    kid = serializers.CharField()
    public_key = serializers.CharField()
    name = serializers.CharField(source="label")
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class PublisherKeyCollectionApi(APIView):
    """An organisation's Ed25519 keys: listed to its members, added by its owners
    and administrators."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        public_key = serializers.CharField(max_length=100)
        name = serializers.CharField(max_length=100, required=False, default="")

    @extend_schema(responses=PublisherKeyOutputSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        organization = _organization(slug)
        membership_list(organization=organization, actor=_user(request))
        return paginated_response(
            request=request,
            view=self,
            queryset=organization.keys.order_by("-created_at", "pk"),
            serializer_class=PublisherKeyOutputSerializer,
        )

    @extend_schema(
        request=InputSerializer, responses={201: PublisherKeyOutputSerializer}
    )
    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = services.publisher_key_add(
            actor=_user(request),
            organization=_organization(slug),
            public_key=data.validated_data["public_key"],
            label=data.validated_data["name"],
        )
        return Response(
            PublisherKeyOutputSerializer(key).data, status=status.HTTP_201_CREATED
        )


class OrganizationRegistrationApi(APIView):
    """Record the business registration (owners and administrators)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        country = serializers.CharField(max_length=2, default="CN")
        number = serializers.CharField(max_length=50)

    @extend_schema(request=InputSerializer, responses=OrganizationOutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = services.organization_set_registration(
            actor=_user(request),
            organization=_organization(slug),
            **data.validated_data,
        )
        return Response(OrganizationOutputSerializer(organization).data)


class OrganizationVerifyApi(APIView):
    """Mark the organisation verified (the platform operator)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=OrganizationOutputSerializer)
    def post(self, request: Request, slug: str) -> Response:
        organization = services.organization_verify(
            actor=_user(request), organization=_organization(slug)
        )
        return Response(OrganizationOutputSerializer(organization).data)


class OrganizationDomainApi(APIView):
    """Claim a web domain (owners and administrators): the answer says what to
    publish to prove control of it."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        domain = serializers.CharField(max_length=300)

    @extend_schema(request=InputSerializer, responses=DomainClaimOutputSerializer)
    def put(self, request: Request, slug: str) -> Response:
        organization = _organization(slug)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        organization = domain_control.organization_claim_domain(
            actor=_user(request),
            organization=organization,
            domain=data.validated_data["domain"],
        )
        return Response(DomainClaimOutputSerializer(organization).data)


class OrganizationDomainCheckApi(APIView):
    """Ask for the claimed domain to be checked; the check runs in the background
    and its outcome shows in the organisation's domain claim."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={202: DomainClaimOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        organization = _organization(slug)
        domain_control.organization_request_domain_check(
            actor=_user(request), organization=organization
        )
        organization.refresh_from_db()
        return Response(
            DomainClaimOutputSerializer(organization).data,
            status=status.HTTP_202_ACCEPTED,
        )
