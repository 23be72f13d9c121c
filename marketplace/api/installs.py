"""Installs through the API: a user's installs and grants, install, revoke,
uninstall, consent to an update; for agent runtimes, the token refresh; for
publishers, token introspection (RFC 7662)."""

import hashlib
import uuid
from typing import Any

from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import paginated_response
from config.parsers import JSONParser
from marketplace.api.permissions import IsAuthenticated
from marketplace.auth import signed_in_user
from marketplace.exceptions import InvalidRefreshSecret
from marketplace.models import Agent, Grant, Install
from marketplace.ratelimit import client_ip
from marketplace.selectors.agents import agent_get_visible
from marketplace.selectors.installs import (
    install_get,
    install_list,
    install_token_introspect,
    pending_version,
)
from marketplace.services import installs as services
from marketplace.tokens import IssuedToken

# Failed token refreshes, each within a minute. Only failures count: a runtime
# refreshes as many installs as it serves. They count per install and client
# address together, so that a stranger who read an install's id (a token's "sub")
# and sends wrong secrets from elsewhere does not lock out the runtime that holds
# the right one; and per client address, whatever the install. Once either limit
# is reached, that address's requests (for that install, or for all) are refused
# with 429 until the window ends, the right secret too. Secrets are 256 random
# bits: the limits curb noise and load, not a guess that could succeed.
REFRESH_FAILURES_PER_INSTALL = 20
REFRESH_FAILURES_PER_ADDRESS = 100
REFRESH_WINDOW = 60


def _failure_keys(request: Request, install_id: uuid.UUID) -> list[tuple[str, int]]:
    address = hashlib.sha256(client_ip(request._request).encode()).hexdigest()[:32]
    return [
        (
            f"ratelimit:install-token-failed:{install_id}:{address}",
            REFRESH_FAILURES_PER_INSTALL,
        ),
        (
            f"ratelimit:install-token-failed-address:{address}",
            REFRESH_FAILURES_PER_ADDRESS,
        ),
    ]


def _refresh_blocked(request: Request, install_id: uuid.UUID) -> bool:
    return any(
        int(cache.get(key) or 0) >= limit
        for key, limit in _failure_keys(request, install_id)
    )


def _refresh_failed(request: Request, install_id: uuid.UUID) -> None:
    for key, _limit in _failure_keys(request, install_id):
        cache.add(key, 0, timeout=REFRESH_WINDOW)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=REFRESH_WINDOW)


_DIGEST_HELP = (
    "The declaration digest of the version whose permissions the user was shown "
    "(the agent version's declaration_digest). When given, a consent to any other "
    "version is refused with 409 agent_changed."
)


def _digest_field(help_text: str = _DIGEST_HELP) -> serializers.CharField:
    return serializers.CharField(required=False, max_length=64, help_text=help_text)


def _confirm_autonomous_field() -> serializers.BooleanField:
    return serializers.BooleanField(
        required=False,
        default=False,
        help_text="The user's second confirmation that the agent may act on its own "
        "with the autonomous scopes granted. Minors and users in the elder-friendly "
        "mode need it: without it, granting such a scope is refused with 400 "
        "autonomous_confirmation_needed, whose details list the scopes "
        "(autonomous_scopes).",
    )


def _scopes_field() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.CharField(max_length=100),
        max_length=100,
        allow_empty=True,
        help_text="The scopes granted: every required one, and the optional ones "
        "chosen.",
    )


class GrantOutputSerializer(serializers.Serializer[Grant]):
    scope = serializers.CharField()
    authority = serializers.CharField()
    granted_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class InstallOutputSerializer(serializers.Serializer[Install]):
    id = serializers.UUIDField(source="public_id")
    agent = serializers.CharField(source="agent.identifier")
    publisher = serializers.CharField(source="agent.publisher.slug")
    agent_slug = serializers.CharField(source="agent.slug")
    agent_name = serializers.CharField(source="agent.name")
    version = serializers.CharField(source="version.version")
    state = serializers.CharField()
    grants = GrantOutputSerializer(source="live_grants", many=True)
    update_pending = serializers.SerializerMethodField(
        help_text="The newer version waiting for the user's consent, if any."
    )
    update_pending_digest = serializers.SerializerMethodField(
        help_text="The declaration digest of that version, to send with the consent."
    )
    created_at = serializers.DateTimeField()
    uninstalled_at = serializers.DateTimeField(allow_null=True)

    def get_update_pending(self, install: Install) -> str | None:
        pending = pending_version(install)
        return pending.version if pending is not None else None

    def get_update_pending_digest(self, install: Install) -> str | None:
        pending = pending_version(install)
        return pending.declaration_digest if pending is not None else None


class InstallTokenOutputSerializer(serializers.Serializer[IssuedToken]):
    access_token = serializers.CharField(source="token")
    token_type = serializers.SerializerMethodField()
    expires_in = serializers.IntegerField()
    scope = serializers.CharField(source="claims.scope")
    install_id = serializers.CharField(source="claims.install_id")

    def get_token_type(self, token: IssuedToken) -> str:
        return "Bearer"


def _install(request: Request, public_id: uuid.UUID) -> Install:
    return install_get(user=signed_in_user(request.user), public_id=public_id)


def _agent(request: Request, publisher: str, agent: str) -> Agent:
    return agent_get_visible(user=request.user, publisher=publisher, agent=agent)


class InstallCollectionApi(APIView):
    """GET: the caller's installs with their live grants; POST: install an agent,
    granting the scopes listed (every required one). The answer carries the
    install's refresh secret, shown this once, and a first token."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        publisher = serializers.SlugField()
        agent = serializers.SlugField()
        scopes = _scopes_field()
        declaration_digest = _digest_field()
        confirm_autonomous = _confirm_autonomous_field()

    class OutputSerializer(serializers.Serializer[Any]):
        install = InstallOutputSerializer()
        refresh_secret = serializers.CharField()
        token = InstallTokenOutputSerializer()

    @extend_schema(responses=InstallOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=install_list(user=signed_in_user(request.user)),
            serializer_class=InstallOutputSerializer,
        )

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        result = services.install_create(
            user=user,
            agent=_agent(
                request, data.validated_data["publisher"], data.validated_data["agent"]
            ),
            granted_scopes=data.validated_data["scopes"],
            declaration_digest=data.validated_data.get("declaration_digest"),
            autonomous_confirmed=data.validated_data["confirm_autonomous"],
        )
        body = self.OutputSerializer(
            {
                "install": install_get(user=user, public_id=result.install.public_id),
                "refresh_secret": result.refresh_secret,
                "token": result.token,
            }
        ).data
        return Response(
            body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
        )


class InstallDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=InstallOutputSerializer)
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return Response(InstallOutputSerializer(_install(request, public_id)).data)


class GrantRevokeApi(APIView):
    """Revoke one scope of an install, at once (a required one too: the agent then
    loses it)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=InstallOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID, scope: str) -> Response:
        user = signed_in_user(request.user)
        install = _install(request, public_id)
        services.grant_revoke(actor=user, install=install, scope=scope)
        return Response(
            InstallOutputSerializer(install_get(user=user, public_id=public_id)).data
        )


class InstallUninstallApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=InstallOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        user = signed_in_user(request.user)
        services.install_uninstall(actor=user, install=_install(request, public_id))
        return Response(
            InstallOutputSerializer(install_get(user=user, public_id=public_id)).data
        )


class InstallConsentApi(APIView):
    """Consent to the agent's latest version: the scopes listed are granted (every
    required one), the others revoked."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        scopes = _scopes_field()
        declaration_digest = _digest_field(
            _DIGEST_HELP + " Required when the latest version's pricing is worse "
            "than that of the version in use (the user must have been shown it): "
            "without it, 400 pricing_not_shown."
        )
        confirm_autonomous = _confirm_autonomous_field()

    @extend_schema(request=InputSerializer, responses=InstallOutputSerializer)
    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        services.install_consent(
            actor=user,
            install=_install(request, public_id),
            granted_scopes=data.validated_data["scopes"],
            declaration_digest=data.validated_data.get("declaration_digest"),
            autonomous_confirmed=data.validated_data["confirm_autonomous"],
        )
        return Response(
            InstallOutputSerializer(install_get(user=user, public_id=public_id)).data
        )


class InstallTokenApi(APIView):
    """For an agent's runtime: a new install token, carrying the scopes granted now,
    for the install's id and refresh secret. No user session."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        # Any spelling of a UUID is read as the one install it names.
        install_id = serializers.UUIDField(
            error_messages={"invalid": gettext_lazy("The install id must be a UUID.")}
        )
        refresh_secret = serializers.CharField(max_length=200, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses=InstallTokenOutputSerializer)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        install_id: uuid.UUID = data.validated_data["install_id"]
        if _refresh_blocked(request, install_id):
            raise Throttled(
                wait=REFRESH_WINDOW,
                detail=_("Too many failed token requests; wait a minute and retry."),
            )
        try:
            token = services.install_token_refresh(
                install_id=str(install_id),
                refresh_secret=data.validated_data["refresh_secret"],
            )
        except InvalidRefreshSecret:
            _refresh_failed(request, install_id)
            raise
        return Response(
            InstallTokenOutputSerializer(token).data,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )


class InstallIntrospectApi(APIView):
    """Token introspection (RFC 7662), form-encoded ``token=…``, for members of the
    publisher of the token's agent: whether the token is active and which of its
    scopes are still granted. Anyone else learns ``{"active": false}``."""

    permission_classes = [IsAuthenticated]
    parser_classes = [FormParser, JSONParser]

    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(trim_whitespace=True)
        token_type_hint = serializers.CharField(required=False, allow_blank=True)

    class OutputSerializer(serializers.Serializer[Any]):
        active = serializers.BooleanField()
        scope = serializers.CharField(required=False)
        client_id = serializers.CharField(required=False)
        aud = serializers.CharField(required=False)
        sub = serializers.CharField(required=False)
        iss = serializers.CharField(required=False)
        exp = serializers.IntegerField(required=False)
        iat = serializers.IntegerField(required=False)
        jti = serializers.CharField(required=False)
        token_type = serializers.CharField(required=False)
        install_id = serializers.CharField(required=False)
        scopes = serializers.DictField(child=serializers.BooleanField(), required=False)
        daily_use_reminder = serializers.IntegerField(
            required=False,
            help_text="The minutes of use a day after which the user wants to be "
            "reminded, as the token carries it (absent when it carries none).",
        )

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answer = install_token_introspect(
            caller=request.user, token=data.validated_data["token"]
        )
        return Response(dict(answer), headers={"Cache-Control": "no-store"})
