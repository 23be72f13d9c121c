"""Certification through the API: schemes, certificates and their states, the
publishers' requests, the public verifier, and the operator's accreditations,
domain requirements and trusted issuers."""

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from config.pagination import paginated_response
from config.site import absolute_url
from marketplace.api.permissions import IsAuthenticated, IsOperator
from marketplace.auth import signed_in_user
from marketplace.credentials import (
    MAX_CREDENTIAL_LENGTH,
    VerificationStatus,
    verify_credential,
)
from marketplace.exceptions import ApplicationError, NotFound, PermissionDenied
from marketplace.models import (
    Accreditation,
    Agent,
    AgentVersion,
    Certificate,
    CertificationEvent,
    CertificationRequest,
    Dimension,
    Domain,
    ImportedCredential,
    Scheme,
    TrustedIssuer,
)
from marketplace.selectors.agents import agent_get, agent_get_visible
from marketplace.selectors.certification import (
    accreditation_get,
    accreditations_of,
    certificate_events,
    certificate_get,
    certificate_list,
    certification_body_get,
    domain_get,
    request_events,
    request_get,
    request_list_for_user,
    request_visible_to,
    scheme_get,
    scheme_get_counted,
    scheme_list_filtered,
    schemes_by_code,
    trusted_issuer_get,
    trusted_issuers,
    version_certifiable_by,
)
from marketplace.selectors.organizations import organization_get
from marketplace.services import certification as certification_services
from marketplace.services import credentials as credential_services
from marketplace.services import recognition

REASON_MAX_LENGTH = 5000
# The verifier's whole request: a credential is capped at 64 KiB and the documents
# that come with it are a few kilobytes, so a larger body is refused unread.
VERIFY_MAX_BYTES = 64 * 1024


def _unknown(field: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [message]})


def _certificate(serial: str) -> Certificate:
    found = certificate_get(serial=serial)
    if found is None:
        raise NotFound()
    return found


def _request(request: Request, public_id: Any) -> CertificationRequest:
    """A request its two sides see; for anyone else it does not exist."""
    found = request_get(public_id=str(public_id))
    if found is None or not request_visible_to(user=request.user, request=found):
        raise NotFound()
    return found


def _version(
    request: Request, publisher: str, agent: str, version: str
) -> AgentVersion:
    found = version_certifiable_by(
        user=request.user, publisher=publisher, agent=agent, version=version
    )
    if found is None:
        raise _unknown("version", _("Unknown version of this agent."))
    return found


class StrictCharField(serializers.CharField):
    """A string, and only a string: a number or a boolean is refused, not turned
    into text."""

    default_error_messages = {"invalid": gettext_lazy("Give a string.")}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time: with its offset from UTC (``Z`` or ``+08:00``)."""

    default_error_messages = {
        "naive": gettext_lazy("Give the offset from UTC, as in 2027-01-01T00:00:00Z."),
    }

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
        return super().to_internal_value(value)


class OptionalScopedRateThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` that lets everything through while the view's scope
    has no rate in ``DEFAULT_THROTTLE_RATES``, instead of failing."""

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return str(rate) if rate else None


# --- Schemes ---------------------------------------------------------------------


class SchemeLevelSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=50)
    name_en = serializers.CharField(max_length=100)
    name_zh = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )


class SchemeOutputSerializer(serializers.Serializer[Scheme]):
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    name_zh = serializers.CharField()
    body = serializers.CharField(source="body.slug")
    body_name = serializers.CharField(source="body.name")
    dimension = serializers.CharField()
    levels = SchemeLevelSerializer(many=True)
    criteria_en = serializers.CharField()
    criteria_zh = serializers.CharField()
    validity_days = serializers.IntegerField()
    active = serializers.BooleanField()
    valid_certificates = serializers.IntegerField(source="valid_count", default=0)
    url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_url(self, scheme: Scheme) -> str:
        return absolute_url(reverse("scheme-detail", kwargs={"code": scheme.code}))


def _levels(levels: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [dict(level) for level in levels]


class SchemeListApi(APIView):
    """The certification schemes, by code, with how many valid certificates each
    has."""

    permission_classes = [AllowAny]

    class FilterSerializer(serializers.Serializer[Any]):
        body = serializers.SlugField(required=False)
        dimension = serializers.ChoiceField(choices=Dimension.choices, required=False)
        active = serializers.BooleanField(required=False, allow_null=True, default=None)

    @extend_schema(
        parameters=[FilterSerializer], responses=SchemeOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        body = None
        if "body" in filters.validated_data:
            body = certification_body_get(slug=filters.validated_data["body"])
            if body is None:
                raise _unknown("body", _("Unknown certification body."))
        return paginated_response(
            request=request,
            view=self,
            queryset=scheme_list_filtered(
                body=body,
                dimension=filters.validated_data.get("dimension", ""),
                active=filters.validated_data["active"],
            ),
            serializer_class=SchemeOutputSerializer,
        )


class SchemeCreateApi(APIView):
    """A new scheme of a certification body, in a dimension it is accredited for:
    for the body's owners and administrators."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        code = serializers.SlugField(max_length=50)
        name_en = serializers.CharField(max_length=200)
        name_zh = serializers.CharField(max_length=200)
        dimension = serializers.ChoiceField(choices=Dimension.choices)
        levels = serializers.ListField(
            child=SchemeLevelSerializer(), min_length=1, max_length=5
        )
        criteria_en = serializers.CharField(max_length=20000)
        criteria_zh = serializers.CharField(
            max_length=20000, required=False, allow_blank=True, default=""
        )
        validity_days = serializers.IntegerField(
            min_value=1, max_value=3660, required=False, default=365
        )

    @extend_schema(request=InputSerializer, responses={201: SchemeOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        body = certification_body_get(slug=slug)
        if body is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields["levels"] = _levels(fields["levels"])
        scheme = certification_services.scheme_create(
            actor=signed_in_user(request.user), body=body, **fields
        )
        return Response(
            SchemeOutputSerializer(scheme_get_counted(code=scheme.code)).data,
            status=status.HTTP_201_CREATED,
        )


class SchemeDetailApi(APIView):
    """GET: a scheme; PATCH: change its names, criteria, validity, levels or
    whether it takes new certificates (its code and dimension never change)."""

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class InputSerializer(serializers.Serializer[Any]):
        name_en = serializers.CharField(max_length=200)
        name_zh = serializers.CharField(max_length=200)
        levels = serializers.ListField(
            child=SchemeLevelSerializer(), min_length=1, max_length=5
        )
        criteria_en = serializers.CharField(max_length=20000)
        criteria_zh = serializers.CharField(max_length=20000, allow_blank=True)
        validity_days = serializers.IntegerField(min_value=1, max_value=3660)
        active = serializers.BooleanField()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, partial=True, **kwargs)

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            initial = self.initial_data if isinstance(self.initial_data, dict) else {}
            fixed = sorted({"code", "dimension", "body"} & set(initial))
            if fixed:
                message = _("The code, dimension and body of a scheme never change.")
                raise serializers.ValidationError({name: [message] for name in fixed})
            if not attrs:
                raise serializers.ValidationError(
                    _("Give at least one field to change.")
                )
            return attrs

    @extend_schema(responses=SchemeOutputSerializer)
    def get(self, request: Request, code: str) -> Response:
        found = scheme_get_counted(code=code)
        if found is None:
            raise NotFound()
        return Response(SchemeOutputSerializer(found).data)

    @extend_schema(request=InputSerializer, responses=SchemeOutputSerializer)
    def patch(self, request: Request, code: str) -> Response:
        found = scheme_get(code=code)
        if found is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "levels" in fields:
            fields["levels"] = _levels(fields["levels"])
        certification_services.scheme_update(
            actor=signed_in_user(request.user), scheme=found, **fields
        )
        return Response(SchemeOutputSerializer(scheme_get_counted(code=code)).data)


# --- Certificates ----------------------------------------------------------------


class CertificateOutputSerializer(serializers.Serializer[Certificate]):
    """A certificate. Of an agent never published, only the agent's name is
    public: its address and identifier are null unless the context says
    ``full`` (for the issuing body's staff)."""

    serial = serializers.CharField()
    state = serializers.CharField()
    state_reason = serializers.CharField()
    scheme = serializers.CharField(source="scheme.code")
    scheme_name = serializers.CharField(source="scheme.name")
    dimension = serializers.CharField(source="scheme.dimension")
    level = serializers.CharField()
    level_name = serializers.SerializerMethodField()
    body = serializers.CharField(source="body.slug")
    body_name = serializers.CharField(source="body.name")
    publisher = serializers.CharField(source="agent.publisher.slug", allow_null=True)
    agent = serializers.CharField(source="agent.slug", allow_null=True)
    agent_name = serializers.CharField(source="agent.name")
    agent_identifier = serializers.CharField(source="agent.identifier", allow_null=True)
    version = serializers.CharField(source="version.version")
    digest = serializers.CharField()
    assessor = serializers.CharField()
    valid_from = serializers.DateTimeField()
    valid_until = serializers.DateTimeField()
    url = serializers.SerializerMethodField()
    credential_url = serializers.SerializerMethodField()
    report_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: Certificate) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if instance.agent.published_at is None and not self.context.get("full"):
            data.update(publisher=None, agent=None, agent_identifier=None)
        return data

    def get_level_name(self, certificate: Certificate) -> str:
        return certificate.scheme.level_name(certificate.level)

    def get_url(self, certificate: Certificate) -> str:
        return credential_services.certificate_url(certificate.serial)

    def get_credential_url(self, certificate: Certificate) -> str:
        return absolute_url(
            reverse("certificate-credential", kwargs={"serial": certificate.serial})
        )

    def get_report_url(self, certificate: Certificate) -> str:
        """Where the test report is: the uploaded file, or a redirect to the
        body's copy."""
        return absolute_url(
            reverse("certificate-report", kwargs={"serial": certificate.serial})
        )


class CertificateEventOutputSerializer(serializers.Serializer[CertificationEvent]):
    action = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class CredentialStatusSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    status_list = serializers.URLField()


class CertificateDetailOutputSerializer(CertificateOutputSerializer):
    """A certificate with where its status is published and its history (actions,
    states and reasons; not who acted)."""

    report_sha256 = serializers.CharField()
    extends = serializers.CharField(
        source="extends.serial", allow_null=True, default=None
    )
    credential_status = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    @extend_schema_field(CredentialStatusSerializer)
    def get_credential_status(self, certificate: Certificate) -> dict[str, Any]:
        return {
            "index": certificate.status_index,
            "status_list": credential_services.status_list_url(),
        }

    @extend_schema_field(CertificateEventOutputSerializer(many=True))
    def get_events(self, certificate: Certificate) -> list[dict[str, Any]]:
        return [
            dict(CertificateEventOutputSerializer(event).data)
            for event in certificate_events(certificate=certificate)
        ]


def _certificate_detail(certificate: Certificate) -> dict[str, Any]:
    """The certificate in full, for the issuing body's staff who changed it."""
    return dict(
        CertificateDetailOutputSerializer(
            _certificate(certificate.serial), context={"full": True}
        ).data
    )


class CertificateCollectionApi(APIView):
    """GET: certificates, newest first (public records); POST: issue one, as an
    owner, administrator or assessor of the scheme's body (JSON, or multipart to
    upload the test report as ``report_file``)."""

    def get_permissions(self) -> list[Any]:
        return [AllowAny()] if self.request.method == "GET" else [IsAuthenticated()]

    class FilterSerializer(serializers.Serializer[Any]):
        agent = serializers.RegexField(
            r"^[-a-zA-Z0-9_]+/[-a-zA-Z0-9_]+$",
            required=False,
            max_length=101,
            help_text="publisher/agent",
        )
        publisher = serializers.SlugField(required=False)
        body = serializers.SlugField(required=False)
        scheme = serializers.SlugField(required=False)
        state = serializers.ChoiceField(
            choices=Certificate.State.choices, required=False
        )

    class InputSerializer(serializers.Serializer[Any]):
        publisher = serializers.SlugField()
        agent = serializers.SlugField()
        version = serializers.CharField(max_length=64)
        scheme = serializers.SlugField(max_length=50)
        level = serializers.CharField(max_length=50)
        assessor = serializers.CharField(max_length=200)
        report_url = serializers.URLField(
            max_length=500, required=False, allow_blank=True, default=""
        )
        report_file = serializers.FileField(required=False, allow_null=True)
        request = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        parameters=[FilterSerializer], responses=CertificateOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        given = filters.validated_data
        found: dict[str, Any] = {}
        if "agent" in given:
            publisher, agent = given["agent"].split("/")
            named = agent_get(publisher=publisher, agent=agent)
            # An agent never published is as unknown here as one that does not exist.
            published = named is not None and named.published_at is not None
            found["agent"] = named if published else None
        if "publisher" in given:
            found["publisher"] = organization_get(slug=given["publisher"])
        if "body" in given:
            found["body"] = certification_body_get(slug=given["body"])
        if "scheme" in given:
            found["scheme"] = scheme_get(code=given["scheme"])
        messages = {
            "agent": _("Unknown agent."),
            "publisher": _("Unknown publisher."),
            "body": _("Unknown certification body."),
            "scheme": _("Unknown scheme."),
        }
        unknown = {name: [messages[name]] for name, value in found.items() if not value}
        if unknown:
            raise serializers.ValidationError(unknown)
        return paginated_response(
            request=request,
            view=self,
            queryset=certificate_list(state=given.get("state"), **found),
            serializer_class=CertificateOutputSerializer,
        )

    @extend_schema(
        request={
            "application/json": InputSerializer,
            "multipart/form-data": InputSerializer,
        },
        responses={201: CertificateDetailOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        user = signed_in_user(request.user)
        scheme = scheme_get(code=given["scheme"])
        if scheme is None:
            raise _unknown("scheme", _("Unknown scheme."))
        # Only the body's issuers learn anything about versions that are not public.
        if not certification_services.can_issue(user=user, body=scheme.body):
            raise PermissionDenied(
                _(
                    "Only the body's owners, administrators and assessors issue "
                    "certificates."
                )
            )
        version = _version(
            request, given["publisher"], given["agent"], given["version"]
        )
        certification_request = None
        if given.get("request") is not None:
            certification_request = request_get(public_id=str(given["request"]))
            if certification_request is None or not request_visible_to(
                user=user, request=certification_request
            ):
                raise _unknown("request", _("Unknown request."))
        certificate = certification_services.certificate_issue(
            actor=user,
            version=version,
            scheme=scheme,
            level=given["level"],
            assessor=given["assessor"],
            report_url=given["report_url"],
            report_file=given.get("report_file"),
            request=certification_request,
        )
        return Response(
            _certificate_detail(certificate), status=status.HTTP_201_CREATED
        )


class CertificateDetailApi(APIView):
    """A certificate, with its credential's address, where its status is published
    and its history."""

    permission_classes = [AllowAny]

    @extend_schema(responses=CertificateDetailOutputSerializer)
    def get(self, request: Request, serial: str) -> Response:
        return Response(CertificateDetailOutputSerializer(_certificate(serial)).data)


class CertificationReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=REASON_MAX_LENGTH)


class CertificationOptionalReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, default=""
    )


class CertificateSuspendApi(APIView):
    """Suspend a valid certificate, with the reason (the issuing body's owners,
    administrators and assessors)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationReasonSerializer,
        responses=CertificateDetailOutputSerializer,
    )
    def post(self, request: Request, serial: str) -> Response:
        found = _certificate(serial)
        data = CertificationReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        certificate = certification_services.certificate_suspend(
            actor=signed_in_user(request.user),
            certificate=found,
            reason=data.validated_data["reason"],
        )
        return Response(_certificate_detail(certificate))


class CertificateReinstateApi(APIView):
    """Make a suspended certificate valid again, while its validity lasts."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationOptionalReasonSerializer,
        responses=CertificateDetailOutputSerializer,
    )
    def post(self, request: Request, serial: str) -> Response:
        found = _certificate(serial)
        data = CertificationOptionalReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        certificate = certification_services.certificate_reinstate(
            actor=signed_in_user(request.user),
            certificate=found,
            reason=data.validated_data["reason"],
        )
        return Response(_certificate_detail(certificate))


class CertificateRevokeApi(APIView):
    """Revoke a certificate for good, with the reason; a listing that needed it is
    suspended."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationReasonSerializer,
        responses=CertificateDetailOutputSerializer,
    )
    def post(self, request: Request, serial: str) -> Response:
        found = _certificate(serial)
        data = CertificationReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        certificate = certification_services.certificate_revoke(
            actor=signed_in_user(request.user),
            certificate=found,
            reason=data.validated_data["reason"],
        )
        return Response(_certificate_detail(certificate))


class CertificateExtendApi(APIView):
    """Carry a valid certificate over to another version of the same agent: a new
    certificate that ends when this one does."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        version = serializers.CharField(max_length=64)

    @extend_schema(
        request=InputSerializer, responses={201: CertificateDetailOutputSerializer}
    )
    def post(self, request: Request, serial: str) -> Response:
        found = _certificate(serial)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request.user)
        if not certification_services.can_issue(user=user, body=found.body):
            raise PermissionDenied(
                _(
                    "Only the issuing body's owners, administrators and assessors "
                    "change its certificates."
                )
            )
        version = _version(
            request,
            found.agent.publisher.slug,
            found.agent.slug,
            data.validated_data["version"],
        )
        extended = certification_services.certificate_extend(
            actor=user, certificate=found, version=version
        )
        return Response(_certificate_detail(extended), status=status.HTTP_201_CREATED)


class CertificateVerifyApi(APIView):
    """Verify a certificate's credential (a VC-JWT), as an outside verifier would:
    against the site's keys and status lists, or those given. Anyone may ask; every
    verdict is a 200, and only a malformed request is refused."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [OptionalScopedRateThrottle]
    throttle_scope = "certificate_verify"

    class InputSerializer(serializers.Serializer[Any]):
        credential = StrictCharField(
            max_length=MAX_CREDENTIAL_LENGTH, trim_whitespace=True
        )
        jwks = serializers.DictField(required=False)
        status_lists = serializers.ListField(
            child=serializers.DictField(), required=False, max_length=8
        )
        at = AwareDateTimeField(required=False)

    class OutputSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=[s.value for s in VerificationStatus])
        reasons = serializers.ListField(child=serializers.CharField())
        credential = serializers.JSONField(allow_null=True)
        kid = serializers.CharField(allow_null=True)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > VERIFY_MAX_BYTES:
            raise ApplicationError(
                _("The request is larger than %(size)d KiB.")
                % {"size": VERIFY_MAX_BYTES // 1024},
                code="request_too_large",
            )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        jwks = given["jwks"] if "jwks" in given else credential_services.jwks()
        if "status_lists" in given:
            status_lists = given["status_lists"]
        else:
            status_lists = [credential_services.status_list_document()]
        result = verify_credential(
            token=given["credential"],
            jwks=jwks,
            status_lists=status_lists,
            now=given.get("at") or timezone.now(),
        )
        return Response(
            self.OutputSerializer(
                {
                    "status": str(result.status),
                    "reasons": result.reasons,
                    "credential": result.credential,
                    "kid": result.kid,
                }
            ).data
        )


# --- Requests ----------------------------------------------------------------------


class RequestEventOutputSerializer(serializers.Serializer[CertificationEvent]):
    action = serializers.CharField()
    actor = serializers.CharField(
        source="actor.username", allow_null=True, default=None
    )
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class CertificationRequestOutputSerializer(
    serializers.Serializer[CertificationRequest]
):
    id = serializers.UUIDField(source="public_id")
    state = serializers.CharField()
    publisher = serializers.CharField(source="version.agent.publisher.slug")
    agent = serializers.CharField(source="version.agent.slug")
    agent_name = serializers.CharField(source="version.agent.name")
    version = serializers.CharField(source="version.version")
    scheme = serializers.CharField(source="scheme.code")
    scheme_name = serializers.CharField(source="scheme.name")
    body = serializers.CharField(source="scheme.body.slug")
    body_name = serializers.CharField(source="scheme.body.name")
    level = serializers.CharField()
    message = serializers.CharField()
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CertificationRequestDetailOutputSerializer(CertificationRequestOutputSerializer):
    events = serializers.SerializerMethodField()

    @extend_schema_field(RequestEventOutputSerializer(many=True))
    def get_events(self, request: CertificationRequest) -> list[dict[str, Any]]:
        return [
            dict(RequestEventOutputSerializer(event).data)
            for event in request_events(request=request)
        ]


def _request_detail(certification_request: CertificationRequest) -> dict[str, Any]:
    found = request_get(public_id=str(certification_request.public_id))
    return dict(CertificationRequestDetailOutputSerializer(found).data)


class CertificationRequestCollectionApi(APIView):
    """GET: the requests the caller sees, to the bodies they belong to
    (``side=body``) or from their publishers (``side=publisher``), or both; POST:
    ask a body to certify a version of one of your publisher's agents."""

    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer[Any]):
        side = serializers.ChoiceField(
            choices=["body", "publisher"], required=False, default=""
        )
        state = serializers.ChoiceField(
            choices=CertificationRequest.State.choices, required=False, default=""
        )

    class InputSerializer(serializers.Serializer[Any]):
        publisher = serializers.SlugField()
        agent = serializers.SlugField()
        version = serializers.CharField(max_length=64)
        scheme = serializers.SlugField(max_length=50)
        level = serializers.CharField(max_length=50)
        message = serializers.CharField(
            max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        parameters=[FilterSerializer],
        responses=CertificationRequestOutputSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return paginated_response(
            request=request,
            view=self,
            queryset=request_list_for_user(
                user=signed_in_user(request.user), **filters.validated_data
            ),
            serializer_class=CertificationRequestOutputSerializer,
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: CertificationRequestDetailOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        scheme = scheme_get(code=given["scheme"])
        if scheme is None:
            raise _unknown("scheme", _("Unknown scheme."))
        version = _version(
            request, given["publisher"], given["agent"], given["version"]
        )
        created = certification_services.certification_request_create(
            actor=signed_in_user(request.user),
            version=version,
            scheme=scheme,
            level=given["level"],
            message=given["message"],
        )
        return Response(_request_detail(created), status=status.HTTP_201_CREATED)


class CertificationRequestDetailApi(APIView):
    """A request and its history: for the body's members and the publisher's."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=CertificationRequestDetailOutputSerializer)
    def get(self, request: Request, public_id: Any) -> Response:
        return Response(
            CertificationRequestDetailOutputSerializer(
                _request(request, public_id)
            ).data
        )


def _answer(
    request: Request, public_id: Any, serializer: type[serializers.Serializer[Any]]
) -> tuple[CertificationRequest, str]:
    found = _request(request, public_id)
    data = serializer(data=request.data)
    data.is_valid(raise_exception=True)
    return found, data.validated_data["reason"]


class CertificationRequestAcceptApi(APIView):
    """The body takes the request on and starts assessing."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationOptionalReasonSerializer,
        responses=CertificationRequestDetailOutputSerializer,
    )
    def post(self, request: Request, public_id: Any) -> Response:
        found, reason = _answer(
            request, public_id, CertificationOptionalReasonSerializer
        )
        answered = certification_services.certification_request_respond(
            actor=signed_in_user(request.user),
            request=found,
            accept=True,
            reason=reason,
        )
        return Response(_request_detail(answered))


class CertificationRequestDeclineApi(APIView):
    """The body declines the request, with its reasons."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationReasonSerializer,
        responses=CertificationRequestDetailOutputSerializer,
    )
    def post(self, request: Request, public_id: Any) -> Response:
        found, reason = _answer(request, public_id, CertificationReasonSerializer)
        answered = certification_services.certification_request_respond(
            actor=signed_in_user(request.user),
            request=found,
            accept=False,
            reason=reason,
        )
        return Response(_request_detail(answered))


class CertificationRequestRefuseApi(APIView):
    """The body assessed the version and refuses the certificate, with its
    reasons."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationReasonSerializer,
        responses=CertificationRequestDetailOutputSerializer,
    )
    def post(self, request: Request, public_id: Any) -> Response:
        found, reason = _answer(request, public_id, CertificationReasonSerializer)
        refused = certification_services.certification_request_refuse(
            actor=signed_in_user(request.user), request=found, reason=reason
        )
        return Response(_request_detail(refused))


class CertificationRequestWithdrawApi(APIView):
    """The publisher withdraws its request."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        request=CertificationOptionalReasonSerializer,
        responses=CertificationRequestDetailOutputSerializer,
    )
    def post(self, request: Request, public_id: Any) -> Response:
        found, reason = _answer(
            request, public_id, CertificationOptionalReasonSerializer
        )
        withdrawn = certification_services.certification_request_withdraw(
            actor=signed_in_user(request.user), request=found, reason=reason
        )
        return Response(_request_detail(withdrawn))


# --- The operator: accreditations, domain requirements, trusted issuers -------------


class AccreditationOutputSerializer(serializers.Serializer[Accreditation]):
    id = serializers.IntegerField(source="pk")
    body = serializers.CharField(source="body.slug")
    body_name = serializers.CharField(source="body.name")
    dimension = serializers.CharField()
    state = serializers.CharField()
    reason = serializers.CharField()
    granted_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AccreditationCreateApi(APIView):
    """Accredit a certification body for a dimension, or make its suspended or
    withdrawn accreditation active again (the operator)."""

    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.SlugField()
        dimension = serializers.ChoiceField(choices=Dimension.choices)
        reason = serializers.CharField(
            max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, default=""
        )

    @extend_schema(
        request=InputSerializer,
        responses={
            200: AccreditationOutputSerializer,
            201: AccreditationOutputSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        body = organization_get(slug=given["body"])
        if body is None:
            raise _unknown("body", _("Unknown certification body."))
        existed = (
            accreditations_of(body=body).filter(dimension=given["dimension"]).exists()
        )
        accreditation = certification_services.accreditation_grant(
            actor=signed_in_user(request.user),
            body=body,
            dimension=given["dimension"],
            reason=given["reason"],
        )
        return Response(
            AccreditationOutputSerializer(accreditation).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class AccreditationStateApi(APIView):
    """Suspend, withdraw or reinstate an accreditation, with the reason (the
    operator). What the body issued stays as it is."""

    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer[Any]):
        state = serializers.ChoiceField(choices=Accreditation.State.choices)
        reason = serializers.CharField(
            max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, default=""
        )

    @extend_schema(request=InputSerializer, responses=AccreditationOutputSerializer)
    def post(self, request: Request, accreditation_id: int) -> Response:
        found = accreditation_get(accreditation_id=accreditation_id)
        if found is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changed = certification_services.accreditation_set_state(
            actor=signed_in_user(request.user),
            accreditation=found,
            **data.validated_data,
        )
        return Response(
            AccreditationOutputSerializer(
                accreditation_get(accreditation_id=changed.pk)
            ).data
        )


class DomainRequirementsApi(APIView):
    """Set what a listing in a domain must be certified for before it is
    published: schemes by code and dimensions (the operator). Replaces both."""

    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer[Any]):
        schemes = serializers.ListField(
            child=serializers.SlugField(max_length=50), max_length=50
        )
        # Checked by the service; a plain list keeps one name for the dimensions'
        # enum in the schema.
        dimensions = serializers.ListField(
            child=serializers.CharField(max_length=16),
            max_length=len(Dimension.choices),
            help_text="Any of: " + ", ".join(Dimension.values),
        )

    class OutputSerializer(serializers.Serializer[Domain]):
        code = serializers.CharField()
        required_schemes = serializers.SerializerMethodField()
        required_dimensions = serializers.ListField(child=serializers.CharField())

        def get_required_schemes(self, domain: Domain) -> list[str]:
            return sorted(scheme.code for scheme in domain.required_schemes.all())

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def put(self, request: Request, code: str) -> Response:
        domain = domain_get(code=code)
        if domain is None:
            raise NotFound()
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = list(dict.fromkeys(data.validated_data["schemes"]))
        schemes = schemes_by_code(codes=codes)
        unknown = [code for code in codes if code not in schemes]
        if unknown:
            raise _unknown(
                "schemes",
                _("Unknown schemes: %(codes)s.") % {"codes": ", ".join(unknown)},
            )
        updated = certification_services.domain_set_requirements(
            actor=signed_in_user(request.user),
            domain=domain,
            schemes=list(schemes.values()),
            dimensions=data.validated_data["dimensions"],
        )
        return Response(self.OutputSerializer(updated).data)


class TrustedIssuerOutputSerializer(serializers.Serializer[TrustedIssuer]):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    platform_url = serializers.CharField()
    issuer_id = serializers.CharField()
    kid = serializers.CharField()
    public_key = serializers.CharField()
    created_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField(allow_null=True)


class TrustedIssuerCollectionApi(APIView):
    """GET: the other platforms' issuer keys the store trusts; POST: trust one more
    (the operator)."""

    permission_classes = [IsOperator]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=200)
        issuer_id = serializers.CharField(max_length=500)
        public_key = serializers.CharField(max_length=64)
        kid = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )
        platform_url = serializers.URLField(
            max_length=200, required=False, allow_blank=True, default=""
        )

    @extend_schema(responses=TrustedIssuerOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        return paginated_response(
            request=request,
            view=self,
            queryset=trusted_issuers(),
            serializer_class=TrustedIssuerOutputSerializer,
        )

    @extend_schema(
        request=InputSerializer, responses={201: TrustedIssuerOutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        issuer = recognition.trusted_issuer_add(
            actor=signed_in_user(request.user), **data.validated_data
        )
        return Response(
            TrustedIssuerOutputSerializer(issuer).data, status=status.HTTP_201_CREATED
        )


class TrustedIssuerRevokeApi(APIView):
    """Stop trusting an issuer key: the credentials imported with it are no longer
    shown (the operator)."""

    permission_classes = [IsOperator]

    @extend_schema(request=None, responses=TrustedIssuerOutputSerializer)
    def post(self, request: Request, issuer_id: int) -> Response:
        found = trusted_issuer_get(issuer_id=issuer_id)
        if found is None:
            raise NotFound()
        revoked = recognition.trusted_issuer_revoke(
            actor=signed_in_user(request.user), issuer=found
        )
        return Response(TrustedIssuerOutputSerializer(revoked).data)


class ImportedCredentialOutputSerializer(serializers.Serializer[ImportedCredential]):
    id = serializers.IntegerField(source="pk")
    issuer = serializers.CharField(source="issuer.name")
    issuer_id = serializers.CharField(source="issuer.issuer_id")
    platform_url = serializers.CharField(source="issuer.platform_url")
    credential_id = serializers.CharField()
    name = serializers.CharField()
    achievement = serializers.CharField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class CredentialImportApi(APIView):
    """Import a credential another platform issued to one of your publisher's
    agents: it must verify against a trusted issuer's key and name the agent."""

    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        credential = StrictCharField(max_length=MAX_CREDENTIAL_LENGTH)

    @extend_schema(
        request=InputSerializer, responses={201: ImportedCredentialOutputSerializer}
    )
    def post(self, request: Request, publisher: str, agent: str) -> Response:
        found: Agent = agent_get_visible(
            user=request.user, publisher=publisher, agent=agent
        )
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        imported = recognition.credential_import(
            actor=signed_in_user(request.user),
            agent=found,
            token=data.validated_data["credential"],
        )
        return Response(
            ImportedCredentialOutputSerializer(imported).data,
            status=status.HTTP_201_CREATED,
        )
