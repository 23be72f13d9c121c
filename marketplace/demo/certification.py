"""Certification in the demo store: two accredited bodies and their schemes,
certificates in every state on the demo agents, requests in every state, what the
high-tier domains require, and a credential imported from another platform.

Everything goes through the certification services, as a body's staff, a
publisher's owner and the operator would do it. Requirements are set last, once
every listed agent of a high-tier domain holds a valid certificate of each scheme
its domain will require, so the store stays consistent. Revocations, suspensions
and expiries fall on schemes that no domain requires, so no listing is quarantined.

Idempotent: who gets what is planned from the listed agents alone, so every run
over the same catalogue plans the same, and a planned certificate or request is
made only when the agent holds none of that scheme yet. Accreditations, schemes,
requirements and the trusted issuer that exist are kept as they are.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import cycle

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from config import keys
from marketplace import credentials
from marketplace.models import (
    Accreditation,
    Agent,
    AgentVersion,
    Certificate,
    CertificationRequest,
    Domain,
    ImportedCredential,
    Membership,
    Organization,
    Scheme,
    TrustedIssuer,
    User,
)
from marketplace.selectors.search import listed_agents
from marketplace.services import certification as services
from marketplace.services.recognition import credential_import, trusted_issuer_add

Role = Membership.Role

# --- The bodies and their schemes -----------------------------------------------------


@dataclass(frozen=True)
class BodySpec:
    slug: str
    report_prefix: str  # of the test reports' numbers
    dimensions: tuple[str, ...]
    assessors: tuple[str, ...]  # the people named on the reports

    @property
    def host(self) -> str:
        return f"{self.slug}.example.com"


TRUSTLAB = BodySpec(
    slug="trustlab-cert",
    report_prefix="TL",
    dimensions=("security", "privacy"),
    assessors=("Li Wei", "Zhou Min", "Sun Hao"),
)
HUAXIA = BodySpec(
    slug="cnas-ai-lab",
    report_prefix="HX",
    dimensions=("function", "performance", "compliance"),
    assessors=("Wang Fang", "Chen Jie"),
)
BODIES = (TRUSTLAB, HUAXIA)

# The accreditation the operator suspends, once the body has issued under it: the
# body keeps issuing in its other dimensions.
SUSPENDED_ACCREDITATION = (
    HUAXIA.slug,
    "performance",
    "年度监督审核发现负载测试环境未按期校准，暂停至重新校准。 "
    "The annual surveillance audit found the load-test rig out of calibration; "
    "suspended until it is recalibrated.",
)

LEVELS = [
    {"code": "basic", "name_en": "Basic", "name_zh": "基础级"},
    {"code": "enhanced", "name_en": "Enhanced", "name_zh": "增强级"},
    {"code": "advanced", "name_en": "Advanced", "name_zh": "高级"},
]
LEVEL_CODES = tuple(level["code"] for level in LEVELS)


@dataclass(frozen=True)
class SchemeSpec:
    code: str
    body: str
    dimension: str
    name_en: str
    name_zh: str
    criteria_en: str
    criteria_zh: str
    validity_days: int


SECURITY = "agent-security"
PRIVACY = "personal-info-protection"
FUNCTION = "function-conformance"
PERFORMANCE = "performance-baseline"
MEDICAL = "medical-ai-compliance"

SCHEMES = (
    SchemeSpec(
        code=SECURITY,
        body=TRUSTLAB.slug,
        dimension="security",
        name_en="Agent security assessment",
        name_zh="智能体安全评估",
        criteria_en=(
            "Passes the published test suites for prompt injection, tool misuse, "
            "data exfiltration and permission escalation. Enhanced adds a red-team "
            "exercise of five working days; advanced adds a source review of the "
            "tool layer and a retest every six months."
        ),
        criteria_zh=(
            "通过公开的提示注入、工具滥用、数据外泄和越权测试集。增强级另加五个工作日的"
            "红队演练；高级另加工具层源码审查，并每六个月复测。"
        ),
        validity_days=365,
    ),
    SchemeSpec(
        code=PRIVACY,
        body=TRUSTLAB.slug,
        dimension="privacy",
        name_en="Personal information protection",
        name_zh="个人信息保护认证",
        criteria_en=(
            "Collects only the personal information its declared purposes need, "
            "asks for separate consent for sensitive information, honours deletion "
            "requests within 15 days and keeps no conversation logs beyond its "
            "stated retention period (GB/T 35273)."
        ),
        criteria_zh=(
            "仅收集声明用途所需的个人信息，处理敏感个人信息单独取得同意，"
            "15 日内响应删除请求，对话记录不超过声明的保存期限（GB/T 35273）。"
        ),
        validity_days=365,
    ),
    SchemeSpec(
        code=FUNCTION,
        body=HUAXIA.slug,
        dimension="function",
        name_en="Functional conformance",
        name_zh="功能符合性认证",
        criteria_en=(
            "Every declared skill does what its description says on the lab's task "
            "set: 90% of tasks for basic, 95% for enhanced, 98% for advanced, with "
            "no task completed by an undeclared tool."
        ),
        criteria_zh=(
            "每项声明的技能在实验室任务集上与描述一致：基础级完成 90% 的任务，"
            "增强级 95%，高级 98%，且不得借助未声明的工具完成任务。"
        ),
        validity_days=730,
    ),
    SchemeSpec(
        code=PERFORMANCE,
        body=HUAXIA.slug,
        dimension="performance",
        name_en="Performance baseline",
        name_zh="性能基线认证",
        criteria_en=(
            "Answers within 2 s at the 95th percentile under 50 concurrent sessions "
            "(basic), 200 (enhanced) or 1,000 (advanced), with an error rate below "
            "0.5% over a one-hour run."
        ),
        criteria_zh=(
            "在 50（基础级）、200（增强级）或 1000（高级）个并发会话下，95 分位响应时间"
            "不超过 2 秒，一小时测试内错误率低于 0.5%。"
        ),
        validity_days=180,
    ),
    SchemeSpec(
        code=MEDICAL,
        body=HUAXIA.slug,
        dimension="compliance",
        name_en="Medical AI compliance",
        name_zh="医疗人工智能合规认证",
        criteria_en=(
            "Gives no diagnosis or prescription, refers to a clinician whenever "
            "symptoms call for one, cites its medical sources and meets the rules "
            "on internet medical information services."
        ),
        criteria_zh=(
            "不作诊断、不开处方；症状需要时引导就医；注明医学信息来源；符合互联网医疗"
            "信息服务的相关规定。"
        ),
        validity_days=365,
    ),
)


def required_schemes(domain: Domain) -> tuple[str, ...]:
    """The schemes a listing in ``domain`` must hold in the demo store: the
    security assessment in every high-tier domain, and medical compliance too in
    the medical one."""
    if domain.risk_tier != Domain.RiskTier.HIGH:
        return ()
    return (SECURITY, MEDICAL) if domain.code == "medical" else (SECURITY,)


# --- Certificates and requests beyond the required ones -------------------------------


@dataclass(frozen=True)
class Extra:
    """A certificate or a request for some demo agent: ``fate`` is a
    certificate's end state (valid, expiring, expired, suspended, revoked) or a
    request's (requested, accepted, declined, refused, issued)."""

    fate: str
    scheme: str
    level: str
    reason: str = ""


CERTIFICATE_FATES = frozenset({"valid", "expiring", "expired", "suspended", "revoked"})

EXTRAS = (
    Extra("valid", PRIVACY, "basic"),
    Extra("valid", PRIVACY, "enhanced"),
    Extra("valid", PRIVACY, "advanced"),
    Extra("valid", FUNCTION, "basic"),
    Extra("valid", FUNCTION, "enhanced"),
    Extra("valid", FUNCTION, "advanced"),
    Extra("valid", PERFORMANCE, "basic"),
    Extra("valid", PERFORMANCE, "enhanced"),
    Extra("valid", PERFORMANCE, "advanced"),
    Extra("valid", SECURITY, "enhanced"),
    Extra("valid", SECURITY, "basic"),
    Extra("expiring", PRIVACY, "basic"),
    Extra("expiring", FUNCTION, "enhanced"),
    Extra("expiring", PERFORMANCE, "basic"),
    Extra(
        "suspended",
        PRIVACY,
        "enhanced",
        "抽查发现对话记录保存超过声明期限，整改期间暂停。 "
        "A spot check found conversation logs kept beyond the declared retention "
        "period; suspended while this is fixed.",
    ),
    Extra(
        "suspended",
        FUNCTION,
        "basic",
        "发布者报告的缺陷使一项技能在复测中失败，修复前暂停。 "
        "A defect the publisher reported makes one skill fail the retest; "
        "suspended until the fix is verified.",
    ),
    Extra(
        "revoked",
        FUNCTION,
        "basic",
        "所提交版本与受测版本的依赖不一致。 "
        "The submitted version's dependencies differ from those of the version "
        "that was tested.",
    ),
    Extra(
        "revoked",
        PERFORMANCE,
        "enhanced",
        "负载测试数据经复核不可复现。 "
        "The load-test results could not be reproduced on review.",
    ),
    Extra("expired", PRIVACY, "basic"),
    Extra("expired", FUNCTION, "basic"),
    Extra("requested", SECURITY, "basic"),
    Extra("requested", FUNCTION, "enhanced"),
    Extra("accepted", PRIVACY, "basic"),
    Extra("accepted", FUNCTION, "advanced"),
    Extra(
        "declined",
        PRIVACY,
        "advanced",
        "高级认证需提供数据流转图和第三方共享清单，请补充后重新申请。 "
        "The advanced level needs the data-flow diagram and the list of third "
        "parties data is shared with; please ask again with them.",
    ),
    Extra(
        "refused",
        FUNCTION,
        "advanced",
        "任务集完成率为 93.5%，未达到高级要求的 98%。 "
        "The agent completed 93.5% of the task set; the advanced level needs 98%.",
    ),
    Extra("issued", PRIVACY, "enhanced"),
    Extra("issued", FUNCTION, "basic"),
)
REQUEST_MESSAGE = (
    "我们希望在下个版本发布前完成认证，测试账号已随申请提供。 "
    "We would like the certificate before our next release; test accounts come "
    "with this request."
)
EXPIRING_IN = timedelta(days=10)
EXPIRED_IN = timedelta(minutes=1)

# --- Another platform whose credentials the store recognises --------------------------

REGISTRY_NAME = "Open Agent Registry (EU)"
REGISTRY_URL = "https://eu.open-agent-registry.example"
REGISTRY_ISSUER = f"{REGISTRY_URL}/issuer"
# The registry's signing key is derived from this constant, so every demo store
# trusts the same public key.
REGISTRY_SEED = hashlib.sha256(b"agent-store demo: Open Agent Registry (EU)").digest()


def registry_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(REGISTRY_SEED)


def registry_public_key() -> str:
    raw = registry_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return keys.b64url(raw)


# --- Loading --------------------------------------------------------------------------


@dataclass
class _Body:
    spec: BodySpec
    organization: Organization
    owner: User  # defines the schemes
    issuer: User  # answers requests and issues: an assessor when there is one
    reports: int  # report numbers used so far
    assessors: Iterator[str] = field(init=False)

    def __post_init__(self) -> None:
        self.assessors = cycle(self.spec.assessors)

    def report_url(self) -> str:
        self.reports += 1
        year = timezone.now().year
        return (
            f"https://{self.spec.host}/reports/"
            f"{self.spec.report_prefix}-{year}-{self.reports:04d}.pdf"
        )


@transaction.atomic
def load_certification(*, operator: User) -> int:
    """Certify the demo store (load the catalogue and the bodies' organisations
    first): accreditations, schemes, certificates, requests, the high-tier
    domains' requirements and an imported credential. ``operator`` is a member of
    the platform operator. Idempotent; returns how many accreditations, schemes,
    requests, certificates, trusted issuers and imported credentials it created."""
    return _Loader(operator=operator).run()


class _Loader:
    """Plans who gets which certificate or request from the listed agents alone,
    so that every run plans the same; then does what the database does not hold
    yet."""

    def __init__(self, *, operator: User) -> None:
        self.operator = operator
        self.created = 0
        self.bodies = _bodies()
        self.schemes: dict[str, Scheme] = {}
        self.issuable: set[str] = set()  # schemes whose body may issue now
        self.planned: set[tuple[int, int]] = set()  # (agent, scheme)
        self.held: set[tuple[int, int]] = set()  # with a certificate or request
        self.ending: list[Certificate] = []  # issued to expire at once
        self.owners: dict[int, User] = {}

    def run(self) -> int:
        self._accredit()
        self._define_schemes()
        agents = list(listed_agents().order_by("slug", "publisher__slug", "pk"))
        self._load_held(agents)
        self._load_owners(agents)
        levels = cycle(LEVEL_CODES)
        for agent in agents:
            for code in required_schemes(agent.domain):
                level = next(levels)
                if self._plan(agent, code):
                    self._certify(agent, code, level)
        self._extend(agents)
        self._extras(agents)
        self._expire()
        self._require()
        self._suspend_accreditation()
        self._recognise(agents)
        return self.created

    # Bodies and schemes.

    def _accredit(self) -> None:
        granted = set(Accreditation.objects.values_list("body_id", "dimension"))
        for body in self.bodies.values():
            for dimension in body.spec.dimensions:
                if (body.organization.pk, dimension) not in granted:
                    services.accreditation_grant(
                        actor=self.operator,
                        body=body.organization,
                        dimension=dimension,
                    )
                    self.created += 1

    def _define_schemes(self) -> None:
        existing = {s.code: s for s in Scheme.objects.select_related("body")}
        for spec in SCHEMES:
            body = self.bodies[spec.body]
            scheme = existing.get(spec.code)
            if scheme is None:
                scheme = services.scheme_create(
                    actor=body.owner,
                    body=body.organization,
                    code=spec.code,
                    name_en=spec.name_en,
                    name_zh=spec.name_zh,
                    dimension=spec.dimension,
                    levels=LEVELS,
                    criteria_en=spec.criteria_en,
                    criteria_zh=spec.criteria_zh,
                    validity_days=spec.validity_days,
                )
                self.created += 1
            elif scheme.body_id != body.organization.pk:
                raise RuntimeError(
                    f"The scheme code {spec.code} belongs to another body; the demo "
                    "certification cannot be loaded."
                )
            self.schemes[spec.code] = scheme
        active = set(
            Accreditation.objects.filter(state=Accreditation.State.ACTIVE).values_list(
                "body_id", "dimension"
            )
        )
        self.issuable = {
            code
            for code, scheme in self.schemes.items()
            if (scheme.body_id, scheme.dimension) in active
        }

    def _body_of(self, code: str) -> _Body:
        scheme = self.schemes[code]
        return next(
            body
            for body in self.bodies.values()
            if body.organization.pk == scheme.body_id
        )

    # What the agents hold, and who asks for them.

    def _load_held(self, agents: list[Agent]) -> None:
        ids = [agent.pk for agent in agents]
        self.held = set(
            Certificate.objects.filter(agent_id__in=ids).values_list(
                "agent_id", "scheme_id"
            )
        ) | set(
            CertificationRequest.objects.filter(version__agent_id__in=ids).values_list(
                "version__agent_id", "scheme_id"
            )
        )

    def _load_owners(self, agents: list[Agent]) -> None:
        memberships = (
            Membership.objects.filter(
                organization_id__in={agent.publisher_id for agent in agents},
                role=Role.OWNER,
            )
            .select_related("user")
            .order_by("-pk")
        )
        self.owners = {m.organization_id: m.user for m in memberships}

    def _plan(self, agent: Agent, code: str) -> bool:
        """Give the agent a certificate or request of the scheme in the plan,
        unless the plan gave it one already."""
        pair = (agent.pk, self.schemes[code].pk)
        if pair in self.planned:
            return False
        self.planned.add(pair)
        return True

    def _due(self, agent: Agent, code: str) -> bool:
        """Whether a planned certificate or request is still to be made: the
        agent holds none of the scheme and its body may issue."""
        return (
            code in self.issuable and (agent.pk, self.schemes[code].pk) not in self.held
        )

    # Certificates.

    def _certify(
        self,
        agent: Agent,
        code: str,
        level: str,
        *,
        ends: timedelta | None = None,
        version: AgentVersion | None = None,
        request: CertificationRequest | None = None,
    ) -> Certificate | None:
        """Issue a certificate of scheme ``code`` to the agent's listed version (or
        ``version``) unless it is done; with ``ends``, backdated so that it ends
        that long from now."""
        if request is None and not self._due(agent, code):
            return None
        scheme = self.schemes[code]
        body = self._body_of(code)
        valid_from = (
            timezone.now() + ends - timedelta(days=scheme.validity_days)
            if ends is not None
            else None
        )
        certificate = services.certificate_issue(
            actor=body.issuer,
            version=version or _listed_version(agent),
            scheme=scheme,
            level=level,
            assessor=next(body.assessors),
            report_url=body.report_url(),
            request=request,
            valid_from=valid_from,
        )
        self.held.add((agent.pk, scheme.pk))
        self.created += 1
        return certificate

    def _extend(self, agents: list[Agent]) -> None:
        """Carry a certificate of an earlier version over to the listed one, for
        the first agent with two published versions (the demo catalogue
        publishes one version of each, so usually there is none)."""
        twice = set(
            AgentVersion.objects.filter(
                agent_id__in=[agent.pk for agent in agents],
                state=AgentVersion.State.PUBLISHED,
            )
            .values("agent_id")
            .annotate(published=Count("pk"))
            .filter(published__gte=2)
            .values_list("agent_id", flat=True)
        )
        agent = next((a for a in agents if a.pk in twice), None)
        if agent is None or not self._plan(agent, FUNCTION):
            return
        earlier = (
            agent.versions.filter(state=AgentVersion.State.PUBLISHED)
            .exclude(pk=_listed_version(agent).pk)
            .order_by("-published_at", "-pk")
            .first()
        )
        certificate = self._certify(agent, FUNCTION, "enhanced", version=earlier)
        if certificate is not None:
            services.certificate_extend(
                actor=self._body_of(FUNCTION).issuer,
                certificate=certificate,
                version=_listed_version(agent),
            )
            self.created += 1

    def _extras(self, agents: list[Agent]) -> None:
        """Hand out ``EXTRAS`` in turn to the next agent the plan has not given
        that scheme, so that they spread over publishers and domains."""
        cursor = 0
        for extra in EXTRAS:
            for step in range(len(agents)):
                agent = agents[(cursor + step) % len(agents)]
                if self._plan(agent, extra.scheme):
                    cursor += step + 1
                    if self._due(agent, extra.scheme):
                        self._extra(agent, extra)
                    break

    def _extra(self, agent: Agent, extra: Extra) -> None:
        if extra.fate not in CERTIFICATE_FATES:
            self._request(agent, extra)
            return
        ends = {"expiring": EXPIRING_IN, "expired": EXPIRED_IN}.get(extra.fate)
        certificate = self._certify(agent, extra.scheme, extra.level, ends=ends)
        if certificate is None:
            return
        issuer = self._body_of(extra.scheme).issuer
        if extra.fate == "suspended":
            services.certificate_suspend(
                actor=issuer, certificate=certificate, reason=extra.reason
            )
        elif extra.fate == "revoked":
            services.certificate_revoke(
                actor=issuer, certificate=certificate, reason=extra.reason
            )
        elif extra.fate == "expired":
            self.ending.append(certificate)

    def _request(self, agent: Agent, extra: Extra) -> None:
        owner = self.owners.get(agent.publisher_id)
        if owner is None:
            return
        scheme = self.schemes[extra.scheme]
        request = services.certification_request_create(
            actor=owner,
            version=_listed_version(agent),
            scheme=scheme,
            level=extra.level,
            message=REQUEST_MESSAGE,
        )
        self.held.add((agent.pk, scheme.pk))
        self.created += 1
        if extra.fate == "requested":
            return
        issuer = self._body_of(extra.scheme).issuer
        request = services.certification_request_respond(
            actor=issuer,
            request=request,
            accept=extra.fate != "declined",
            reason=extra.reason if extra.fate == "declined" else "",
        )
        if extra.fate == "refused":
            services.certification_request_refuse(
                actor=issuer, request=request, reason=extra.reason
            )
        elif extra.fate == "issued":
            self._certify(agent, extra.scheme, extra.level, request=request)

    def _expire(self) -> None:
        """Expire the certificates issued to end a minute from now, as the beat
        job will once that minute has passed."""
        if self.ending:
            moment = max(c.valid_until for c in self.ending) + timedelta(seconds=1)
            services.certificate_expire_due(now=moment)

    # The operator's side.

    def _require(self) -> None:
        for domain in Domain.objects.filter(risk_tier=Domain.RiskTier.HIGH):
            wanted = {self.schemes[code].pk for code in required_schemes(domain)}
            current = set(domain.required_schemes.values_list("pk", flat=True))
            if current != wanted:
                services.domain_set_requirements(
                    actor=self.operator,
                    domain=domain,
                    schemes=[s for s in self.schemes.values() if s.pk in wanted],
                    dimensions=list(domain.required_dimensions or []),
                )

    def _suspend_accreditation(self) -> None:
        """Suspend the accreditation once; an operator who reinstated it since is
        not overruled."""
        slug, dimension, reason = SUSPENDED_ACCREDITATION
        accreditation = Accreditation.objects.get(
            body=self.bodies[slug].organization, dimension=dimension
        )
        suspended_before = accreditation.events.filter(
            to_state=Accreditation.State.SUSPENDED
        ).exists()
        if accreditation.state == Accreditation.State.ACTIVE and not suspended_before:
            services.accreditation_set_state(
                actor=self.operator,
                accreditation=accreditation,
                state=Accreditation.State.SUSPENDED,
                reason=reason,
            )

    def _recognise(self, agents: list[Agent]) -> None:
        """Trust the registry's key and import a credential it issued to the
        first demo agent."""
        public_key = registry_public_key()
        kid = keys.okp_thumbprint(public_key)
        issuer = TrustedIssuer.objects.filter(
            issuer_id=REGISTRY_ISSUER, kid=kid
        ).first()
        if issuer is None:
            issuer = trusted_issuer_add(
                actor=self.operator,
                name=REGISTRY_NAME,
                issuer_id=REGISTRY_ISSUER,
                public_key=public_key,
                platform_url=REGISTRY_URL,
            )
            self.created += 1
        if not agents or issuer.revoked_at is not None:
            return
        agent = min(agents, key=lambda a: a.pk)
        owner = self.owners.get(agent.publisher_id)
        credential_id = registry_credential_id(agent)
        if (
            owner is None
            or ImportedCredential.objects.filter(
                issuer=issuer, credential_id=credential_id
            ).exists()
        ):
            return
        credential_import(
            actor=owner, agent=agent, token=registry_credential(agent=agent, kid=kid)
        )
        self.created += 1


def registry_credential_id(agent: Agent) -> str:
    return f"{REGISTRY_URL}/credentials/{agent.publisher.slug}/{agent.slug}"


def registry_credential(*, agent: Agent, kid: str, now: datetime | None = None) -> str:
    """The VC-JWT the registry issued to the agent's listed version: its
    transparency label, valid for a year from a month ago."""
    version = _listed_version(agent)
    issued = (now or timezone.now()) - timedelta(days=30)
    profile = {"id": REGISTRY_ISSUER, "type": ["Profile"], "name": REGISTRY_NAME}
    achievement = credentials.achievement(
        achievement_id=f"{REGISTRY_URL}/achievements/transparency",
        name="EU AI Act transparency label",
        description=(
            "The agent tells users they are talking to an AI system and marks "
            "the content it generates."
        ),
        criteria="Meets the registry's transparency checklist (AI Act, Art. 50).",
        level=1,
        dimension="compliance",
        creator=profile,
    )
    credential = credentials.certificate_credential(
        credential_id=registry_credential_id(agent),
        name=f"Transparency label: {agent.name} {version.version}",
        issuer=profile,
        achievement=achievement,
        subject_id=agent.identifier,
        subject_name=agent.name,
        version=version.version,
        digest_hex=version.declaration_digest,
        valid_from=issued,
        valid_until=issued + timedelta(days=365),
        status_index=agent.pk % credentials.STATUS_LIST_SIZE,
        status_list_url=f"{REGISTRY_URL}/status/list.json",
    )
    return credentials.vc_jwt_sign(credential=credential, key=registry_key(), kid=kid)


def _listed_version(agent: Agent) -> AgentVersion:
    version = agent.latest_version
    if version is None:  # listed agents have one
        raise RuntimeError(f"{agent} has no published version.")
    return version


def _bodies() -> dict[str, _Body]:
    """The demo bodies with who acts for them; they must exist (the demo_data
    command makes them, with their owners and assessors)."""
    organizations = {
        org.slug: org
        for org in Organization.objects.filter(
            slug__in=[spec.slug for spec in BODIES],
            kind=Organization.Kind.CERTIFICATION_BODY,
        )
    }
    missing = [spec.slug for spec in BODIES if spec.slug not in organizations]
    if missing:
        raise RuntimeError(
            "The demo certification bodies are missing: " + ", ".join(missing)
        )
    bodies: dict[str, _Body] = {}
    for spec in BODIES:
        organization = organizations[spec.slug]
        roles = {
            m.role: m.user
            for m in Membership.objects.filter(organization=organization)
            .select_related("user")
            .order_by("-pk")
        }
        owner = roles.get(Role.OWNER) or roles.get(Role.ADMIN)
        if owner is None:
            raise RuntimeError(f"The demo body {spec.slug} has no owner.")
        bodies[spec.slug] = _Body(
            spec=spec,
            organization=organization,
            owner=owner,
            issuer=roles.get(Role.ASSESSOR) or owner,
            reports=Certificate.objects.filter(body=organization).count(),
        )
    return bodies
