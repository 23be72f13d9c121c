from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.exceptions import ApplicationError
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.forms import TOO_MANY_SIGN_INS
from marketplace.models import Membership, User
from marketplace.ratelimit import login_blocked
from marketplace.selectors.organizations import membership_list_for_user
from marketplace.services.accounts import user_update_profile


class InvalidCredentials(ApplicationError):
    code = "invalid_credentials"


class TokenApi(APIView):
    """Exchange a user name (or e-mail) and password for an API token; DELETE
    revokes the token used. Send it as ``Authorization: Token <key>``."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "POST" else [IsAuthenticated()]

    class InputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=4096, trim_whitespace=False)

    class OutputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if login_blocked(
            request=request._request, username=data.validated_data["username"]
        ):
            raise Throttled(detail=str(TOO_MANY_SIGN_INS))
        user = authenticate(request._request, **data.validated_data)
        if user is None:
            raise InvalidCredentials(_("The user name or password is not correct."))
        token, _created = Token.objects.get_or_create(user=user)
        return Response(self.OutputSerializer({"token": token.key}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=signed_in_user(request.user)).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    """GET: the caller's account; PATCH: change its settings (the fields sent)."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        birth_year = serializers.IntegerField(
            required=False, allow_null=True, min_value=1900, max_value=2100
        )
        preferred_language = serializers.ChoiceField(
            required=False, allow_blank=True, choices=[]
        )
        elder_mode = serializers.BooleanField(
            required=False,
            help_text="Larger type, plainer pages, and a second confirmation before "
            "an agent may act on its own.",
        )
        daily_use_reminder_minutes = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=5,
            max_value=1440,
            help_text="After this many minutes of use a day, agents are asked to "
            "remind the user (their install tokens carry it); null for none.",
        )

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.fields["preferred_language"].choices = [  # type: ignore[attr-defined]  # a ChoiceField
                code for code, _name in settings.LANGUAGES
            ]

    class MembershipSerializer(serializers.Serializer[Membership]):
        organization = serializers.CharField(source="organization.slug")
        organization_name = serializers.CharField(source="organization.name")
        kind = serializers.CharField(source="organization.kind")
        role = serializers.CharField()

    class OutputSerializer(serializers.Serializer[User]):
        username = serializers.CharField()
        email = serializers.EmailField()
        birth_year = serializers.IntegerField(allow_null=True)
        preferred_language = serializers.CharField()
        elder_mode = serializers.BooleanField()
        daily_use_reminder_minutes = serializers.IntegerField(allow_null=True)
        memberships = serializers.SerializerMethodField()

        def get_memberships(self, user: User) -> list[dict[str, Any]]:
            return [
                MeApi.MembershipSerializer(membership).data
                for membership in membership_list_for_user(user=user)
            ]

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer(signed_in_user(request.user)).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        changes = data.validated_data
        user_update_profile(
            user=user,
            birth_year=changes.get("birth_year", user.birth_year),
            preferred_language=changes.get(
                "preferred_language", user.preferred_language
            ),
            elder_mode=changes.get("elder_mode", user.elder_mode),
            daily_use_reminder_minutes=changes.get(
                "daily_use_reminder_minutes", user.daily_use_reminder_minutes
            ),
        )
        return Response(self.OutputSerializer(user).data)
