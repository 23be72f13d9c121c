"""Builders for certification tests: accredited bodies with their staff, schemes
and certificates, all made through the services."""

from dataclasses import dataclass
from typing import Any

from marketplace.models import (
    AgentVersion,
    Certificate,
    Membership,
    Organization,
    Scheme,
    User,
)
from marketplace.services.certification import (
    accreditation_grant,
    certificate_issue,
    certification_request_create,
    certification_request_respond,
    scheme_create,
)
from tests.marketplace.factories import (
    AgentVersionFactory,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
)

LEVELS = [
    {"code": "basic", "name_en": "Basic", "name_zh": "基础级"},
    {"code": "enhanced", "name_en": "Enhanced", "name_zh": "增强级"},
    {"code": "advanced", "name_en": "Advanced", "name_zh": "高级"},
]


@dataclass
class Body:
    organization: Organization
    owner: User
    assessor: User
    member: User


def make_operator() -> User:
    """A member of the platform operator who may accredit."""
    user = UserFactory.create()
    operator = Organization.objects.filter(kind=Organization.Kind.OPERATOR).first()
    if operator is None:
        operator = OrganizationFactory.create(
            kind=Organization.Kind.OPERATOR, slug="operator", name="Operator"
        )
    MembershipFactory.create(
        user=user, organization=operator, role=Membership.Role.ADMIN
    )
    return user


def make_body(
    *, accredited: tuple[str, ...] = ("security",), operator: User | None = None
) -> Body:
    """A certification body with an owner, an assessor and a plain member,
    accredited for ``accredited``."""
    organization = OrganizationFactory.create(kind=Organization.Kind.CERTIFICATION_BODY)
    owner, assessor, member = UserFactory.create_batch(3)
    for user, role in (
        (owner, Membership.Role.OWNER),
        (assessor, Membership.Role.ASSESSOR),
        (member, Membership.Role.MEMBER),
    ):
        MembershipFactory.create(user=user, organization=organization, role=role)
    if accredited:
        operator = operator or make_operator()
        for dimension in accredited:
            accreditation_grant(actor=operator, body=organization, dimension=dimension)
    return Body(
        organization=organization, owner=owner, assessor=assessor, member=member
    )


def make_scheme(
    body: Body, *, code: str = "", dimension: str = "security", **fields: Any
) -> Scheme:
    values: dict[str, Any] = {
        "name_en": "Agent security baseline",
        "name_zh": "智能体安全基线",
        "levels": LEVELS,
        "criteria_en": "Passes the published security test suite.",
        "criteria_zh": "通过公开的安全测试集。",
        "validity_days": 365,
    }
    values.update(fields)
    return scheme_create(
        actor=body.owner,
        body=body.organization,
        code=code or f"{body.organization.slug}-{dimension}",
        dimension=dimension,
        **values,
    )


def make_version(**fields: Any) -> AgentVersion:
    """A published version, by default, with a publisher member."""
    fields.setdefault("state", AgentVersion.State.PUBLISHED)
    return AgentVersionFactory.create(**fields)


def make_certificate(
    body: Body,
    scheme: Scheme,
    version: AgentVersion | None = None,
    *,
    level: str = "basic",
    **fields: Any,
) -> Certificate:
    fields.setdefault("report_url", "https://lab.example.com/reports/1.pdf")
    return certificate_issue(
        actor=body.assessor,
        version=version or make_version(),
        scheme=scheme,
        level=level,
        assessor="Li Wei",
        **fields,
    )


def certify_on_request(
    body: Body,
    scheme: Scheme,
    version: AgentVersion,
    *,
    level: str = "basic",
    **fields: Any,
) -> Certificate:
    """Certify an unpublished version the way it happens: its publisher asks, the
    body accepts, then issues."""
    publisher_member = UserFactory.create()
    MembershipFactory.create(
        user=publisher_member,
        organization=version.agent.publisher,
        role=Membership.Role.MEMBER,
    )
    request = certification_request_create(
        actor=publisher_member, version=version, scheme=scheme, level=level
    )
    certification_request_respond(actor=body.assessor, request=request, accept=True)
    return make_certificate(
        body, scheme, version, level=level, request=request, **fields
    )
