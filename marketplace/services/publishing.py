"""The publishing pipeline of an agent version:

    draft -> submitted -> (automated checks) -> in_review -> published | rejected
    rejected -> submitted            (resubmitted once the listing is fixed)
    published -> yanked              (by the publisher)
    published -> recalled            (by a regulator or industry body, later)

Every move goes through ``version_transition``: a compare-and-set UPDATE, so two
workers or two reviewers cannot both move the same version, and an event row.
"""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace import declarations
from marketplace.exceptions import (
    ApplicationError,
    Conflict,
    InvalidTransition,
    PermissionDenied,
)
from marketplace.models import (
    Agent,
    AgentEvent,
    AgentVersion,
    CheckResult,
    Membership,
    Organization,
    ProhibitedClaim,
    ReviewDecision,
    Scheme,
    User,
)
from marketplace.pricing import DECLARE_PRICING
from marketplace.selectors.certification import missing_requirements
from marketplace.selectors.organizations import is_operator, membership_role
from marketplace.services.agents import agent_refresh_listing, ensure_editor
from marketplace.services.agreements import publisher_agreement_ensure_accepted
from marketplace.services.aic import agent_assign_aic
from marketplace.services.badges import badges_refresh_agent

State = AgentVersion.State
Role = Membership.Role

TRANSITIONS: dict[str, frozenset[str]] = {
    State.DRAFT: frozenset({State.SUBMITTED}),
    State.SUBMITTED: frozenset({State.IN_REVIEW, State.REJECTED}),
    State.IN_REVIEW: frozenset({State.PUBLISHED, State.REJECTED}),
    State.REJECTED: frozenset({State.SUBMITTED}),
    State.PUBLISHED: frozenset({State.YANKED, State.RECALLED}),
    State.YANKED: frozenset(),
    State.RECALLED: frozenset(),
}


def version_transition(
    *,
    version: AgentVersion,
    to: str,
    actor: User | None,
    action: str,
    **payload: Any,
) -> AgentVersion:
    """Move ``version`` from its current state to ``to``, if the table allows it and
    nobody moved it first. Call inside a transaction."""
    source = version.state
    if to not in TRANSITIONS[source]:
        raise InvalidTransition(
            _("A %(from)s version cannot become %(to)s.")
            % {"from": State(source).label, "to": State(to).label}
        )
    now = timezone.now()
    changes: dict[str, Any] = {"state": to}
    if to == State.SUBMITTED:
        changes["submitted_at"] = now
    if to == State.PUBLISHED:
        changes["published_at"] = now
    moved = AgentVersion.objects.filter(pk=version.pk, state=source).update(**changes)
    if not moved:
        raise InvalidTransition(
            _("This version was changed meanwhile; reload and retry.")
        )
    AgentEvent.objects.create(
        agent_id=version.agent_id,
        version=version,
        actor=actor,
        action=action,
        from_state=source,
        to_state=to,
        payload=payload,
    )
    version.refresh_from_db()
    if State.PUBLISHED in (source, to):
        agent_refresh_listing(
            agent=Agent.objects.select_related("publisher", "domain").get(
                pk=version.agent_id
            )
        )
        # The badges follow the latest published version's certificates.
        badges_refresh_agent(agent_id=version.agent_id)
    return version


def ensure_publishing_allowed(*, publisher: Organization) -> None:
    """Refuses new versions while a credit sanction blocks the publisher's
    publishing (``Organization.publishing_restriction``, set by the ratings app)."""
    if publisher.publishing_restriction == Organization.PublishingRestriction.BLOCKED:
        raise Conflict(
            _(
                "%(publisher)s is under a credit sanction that blocks new versions: "
                "no version can be submitted until the sanction is lifted."
            )
            % {"publisher": publisher.name},
            code="publishing_blocked",
        )


@transaction.atomic
def version_submit(*, actor: User, version: AgentVersion) -> AgentVersion:
    """Submit a draft (or resubmit a rejected version); the checks run in the
    background once this commits."""
    version = AgentVersion.objects.select_related("agent__publisher").get(pk=version.pk)
    ensure_editor(actor=actor, agent_or_publisher=version.agent)
    ensure_publishing_allowed(publisher=version.agent.publisher)
    publisher_agreement_ensure_accepted(organization=version.agent.publisher)
    version = version_transition(
        version=version, to=State.SUBMITTED, actor=actor, action="submitted"
    )
    AgentVersion.objects.filter(pk=version.pk).update(
        submissions=version.submissions + 1
    )
    from marketplace.tasks import version_run_checks as version_run_checks_task

    version_run_checks_task.delay_on_commit(version_id=version.pk)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    version.refresh_from_db()
    return version


# --- The automated checks ---------------------------------------------------------

# A check returns whether it passed and, if not, its reason as a message id (marked
# with gettext_noop) and the values for its placeholders: the reason is translated
# when it is shown, into the reader's language, not the worker's.
CheckOutcome = tuple[bool, str, dict[str, Any]]
PASSED: CheckOutcome = (True, "", {})


def _check_declaration(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    errors = declarations.validate(declaration)
    if errors:
        problems = "; ".join(
            f"{e['path'] or '(root)'}: {e['message']}" for e in errors[:10]
        )
        return (
            False,
            gettext_noop("The capability declaration is not valid: %(problems)s"),
            {"problems": problems},
        )
    return PASSED


def _check_policies(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    if not agent.privacy_policy_url and not agent.terms_url:
        return (
            False,
            gettext_noop(
                "The listing has no privacy policy URL and no terms of service URL."
            ),
            {},
        )
    if not agent.privacy_policy_url:
        return False, gettext_noop("The listing has no privacy policy URL."), {}
    if not agent.terms_url:
        return False, gettext_noop("The listing has no terms of service URL."), {}
    return PASSED


def _check_endpoint(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    endpoint = str(declaration.get("endpoint", ""))
    if not endpoint.startswith("https://") or len(endpoint) <= len("https://"):
        return (
            False,
            gettext_noop("The endpoint %(endpoint)s is not an https:// URL."),
            {"endpoint": endpoint or "-"},
        )
    return PASSED


def _check_filing(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    if agent.domain.requires_filing and not agent.filing_number.strip():
        return (
            False,
            gettext_noop(
                "Agents in the domain %(domain)s need a filing number; the listing "
                "has none."
            ),
            {"domain": agent.domain.code},
        )
    return PASSED


def _check_minors(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    if agent.for_minors and not agent.anti_addiction_measures.strip():
        return (
            False,
            gettext_noop(
                "The agent is rated %(rating)s, so minors may use it: declare its "
                "anti-addiction measures."
            ),
            {"rating": agent.age_rating},
        )
    return PASSED


def _check_claims(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    text = " ".join(
        [agent.name, agent.summary, agent.description]
        + [
            f"{skill.get('name', '')} {skill.get('description', '')}"
            for skill in declaration.get("skills", [])
        ]
    ).casefold()
    found = [
        claim.phrase
        for claim in ProhibitedClaim.objects.order_by("phrase")
        if claim.phrase.casefold() in text
    ]
    if found:
        return (
            False,
            gettext_noop("The listing makes prohibited claims: %(claims)s."),
            {"claims": ", ".join(f"“{phrase}”" for phrase in found)},
        )
    return PASSED


def _check_permissions(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    problems = declarations.permission_mismatches(declaration)
    if problems:
        return (
            False,
            gettext_noop("Requested permissions and skills disagree: %(problems)s."),
            {"problems": "; ".join(problems)},
        )
    return PASSED


def _check_pricing(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    if not isinstance(declaration.get("pricing"), dict):
        return (False, DECLARE_PRICING, {})
    return PASSED


# The safeguards a companion or emotional-support agent declares, with the names a
# publisher reads when one is missing.
COMPANION_SAFEGUARDS: dict[str, str] = {
    "usageReminderMinutes": gettext_noop("usage reminders"),
    "sessionLimitMinutes": gettext_noop("a session limit"),
    "humanHelp": gettext_noop("a way to reach human help"),
    "neverClaimsHuman": gettext_noop("a commitment never to claim to be human"),
}


def missing_companion_safeguards(declaration: Mapping[str, Any]) -> list[str]:
    """The safeguard keys a companion agent's declaration lacks (none for an agent
    that is not a companion, as ``declarations.is_companion`` tells): each must be
    given, and ``neverClaimsHuman`` true."""
    if not declarations.is_companion(declaration):
        return []
    wellbeing = declaration["wellbeing"]
    missing = []
    for key in COMPANION_SAFEGUARDS:
        value = wellbeing.get(key)
        if key == "neverClaimsHuman":
            if value is not True:
                missing.append(key)
        elif value is None or (isinstance(value, str) and not value.strip()):
            missing.append(key)
    return missing


def _check_companion(agent: Agent, declaration: dict[str, Any]) -> CheckOutcome:
    missing = missing_companion_safeguards(declaration)
    if missing:
        return (
            False,
            gettext_noop(
                "This is a companion or emotional-support agent, so it must declare "
                "its safeguards against dependence; missing: %(missing)s."
            ),
            # A list of message ids: CheckResult.reason_text translates each.
            {"missing": [COMPANION_SAFEGUARDS[key] for key in missing]},
        )
    return PASSED


def _check_certificates(version: AgentVersion) -> CheckOutcome:
    missing = missing_requirements(version=version)
    if not missing:
        return PASSED
    codes = [item for item in missing if not item.startswith("dimension:")]
    names = dict(Scheme.objects.filter(code__in=codes).values_list("code", "name_en"))
    described = [f"{code} ({names.get(code, code)})" for code in codes] + [
        f"dimension {item.split(':', 1)[1]}"
        for item in missing
        if item.startswith("dimension:")
    ]
    return (
        False,
        gettext_noop(
            "Agents in the domain %(domain)s need a valid certificate of each "
            "required scheme bound to this version; missing: %(missing)s."
        ),
        {"domain": version.agent.domain.code, "missing": ", ".join(described)},
    )


# Checks of the version itself (what it holds), after those of its listing.
VERSION_CHECKS = {
    "required_certificates": _check_certificates,
}

CHECKS = {
    "declaration_valid": _check_declaration,
    "privacy_and_terms": _check_policies,
    "endpoint_https": _check_endpoint,
    "filing_number": _check_filing,
    "minors_protection": _check_minors,
    "prohibited_claims": _check_claims,
    "permissions_match_skills": _check_permissions,
    "pricing_disclosed": _check_pricing,
    "companion_safeguards": _check_companion,
}


# The publisher's credit standing, as the ratings app sets it on the organisation,
# is recorded with the checks when it bears on the review: a block fails the version
# (the sanction may have come after it was submitted), a restriction sends it to
# manual review marked as such, and a top grade's fast-track review marks it for the
# front of the queue. A publisher without any of them gets no such result.
CREDIT_CHECK = "credit_standing"


def _check_credit_standing(version: AgentVersion) -> tuple[CheckOutcome, str] | None:
    """The credit standing's outcome and the measure it records, or None."""
    publisher = version.agent.publisher
    restriction = publisher.publishing_restriction
    if restriction == Organization.PublishingRestriction.BLOCKED:
        outcome: CheckOutcome = (
            False,
            gettext_noop(
                "%(publisher)s is under a credit sanction that blocks new versions."
            ),
            {"publisher": publisher.name},
        )
        return outcome, "blocked"
    if restriction == Organization.PublishingRestriction.REVIEW:
        outcome = (
            True,
            gettext_noop(
                "Credit restriction: manual review. A credit sanction on "
                "%(publisher)s requires a reviewer to examine every new version."
            ),
            {"publisher": publisher.name},
        )
        return outcome, "review"
    if publisher.fast_track_review:
        outcome = (
            True,
            gettext_noop("Fast-track review: %(publisher)s holds a top credit grade."),
            {"publisher": publisher.name},
        )
        return outcome, "fast_track"
    return None


@transaction.atomic
def version_run_checks(*, version_id: int) -> str | None:
    """Run every automated check of a submitted version once per submission, then
    send it to review or reject it with the reasons. Idempotent: a version that has
    moved on is left alone. Returns the new state, or None."""
    version = (
        AgentVersion.objects.select_for_update()
        .select_related("agent__domain", "agent__publisher")
        .filter(pk=version_id, state=State.SUBMITTED)
        .first()
    )
    if version is None:
        return None
    run = version.submissions or 1
    results = [
        CheckResult(
            version=version,
            run=run,
            name=name,
            passed=passed,
            reason=reason,
            params=params,
        )
        for name, check in CHECKS.items()
        for passed, reason, params in [check(version.agent, version.declaration)]
    ] + [
        CheckResult(
            version=version,
            run=run,
            name=name,
            passed=passed,
            reason=reason,
            params=params,
        )
        for name, version_check in VERSION_CHECKS.items()
        for passed, reason, params in [version_check(version)]
    ]
    standing = _check_credit_standing(version)
    credit: dict[str, str] = {}
    if standing is not None:
        (passed, reason, params), measure = standing
        results.append(
            CheckResult(
                version=version,
                run=run,
                name=CREDIT_CHECK,
                passed=passed,
                reason=reason,
                params=params,
            )
        )
        credit = {"credit_measure": measure}
    CheckResult.objects.bulk_create(results, ignore_conflicts=True)
    failed = [result for result in results if not result.passed]
    if failed:
        version_transition(
            version=version,
            to=State.REJECTED,
            actor=None,
            action="checks_failed",
            run=run,
            failed=[result.name for result in failed],
            **credit,
        )
    else:
        version_transition(
            version=version,
            to=State.IN_REVIEW,
            actor=None,
            action="checks_passed",
            run=run,
            **credit,
        )
    return version.state


# --- Review, yank, status markers ---------------------------------------------------


def is_reviewer(user: User) -> bool:
    return Membership.objects.filter(
        user=user,
        role=Role.REVIEWER,
        organization__kind=Organization.Kind.OPERATOR,
    ).exists()


@transaction.atomic
def version_review(
    *, actor: User, version: AgentVersion, verdict: str, reasons: str = ""
) -> AgentVersion:
    version = AgentVersion.objects.select_related("agent__publisher").get(pk=version.pk)
    if not is_reviewer(actor):
        raise PermissionDenied(_("Only the operator's reviewers review listings."))
    if membership_role(user=actor, organization=version.agent.publisher) is not None:
        raise PermissionDenied(
            _("You belong to %(publisher)s, so you cannot review its agents.")
            % {"publisher": version.agent.publisher.name},
            code="conflict_of_interest",
        )
    if verdict not in ReviewDecision.Verdict.values:
        raise ApplicationError(
            _("Choose to approve or to reject."), code="invalid_verdict"
        )
    if verdict == ReviewDecision.Verdict.REJECT and not reasons.strip():
        raise ApplicationError(
            _("Give the publisher the reasons for the rejection."),
            details={"reasons": [_("Required when rejecting.")]},
        )
    to = (
        State.PUBLISHED if verdict == ReviewDecision.Verdict.APPROVE else State.REJECTED
    )
    if (
        to == State.PUBLISHED
        and version.agent.publisher.publishing_restriction
        == Organization.PublishingRestriction.BLOCKED
    ):
        # A credit sanction imposed since the version was submitted.
        raise Conflict(
            _(
                "%(publisher)s is under a credit sanction that blocks new versions; "
                "reject this version or wait until the sanction is lifted."
            )
            % {"publisher": version.agent.publisher.name},
            code="publishing_blocked",
        )
    if to == State.PUBLISHED:
        # A required certificate may have been revoked, suspended or have expired
        # since the checks ran.
        missing = missing_requirements(version=version)
        if missing:
            raise ApplicationError(
                _(
                    "The version no longer holds the certificates its domain "
                    "requires (%(missing)s); reject it or wait for them."
                )
                % {"missing": ", ".join(missing)},
                code="certificates_missing",
            )
    version = version_transition(
        version=version,
        to=to,
        actor=actor,
        action="published" if to == State.PUBLISHED else "rejected",
        reasons=reasons,
    )
    ReviewDecision.objects.create(
        version=version, reviewer=actor, verdict=verdict, reasons=reasons
    )
    if to == State.PUBLISHED:
        # The first approval gives the agent its ACPs identity code, if the operator
        # holds an arc; later approvals leave the code as it is.
        agent_assign_aic(agent=version.agent, actor=actor)
        # Installs move to the new version only as far as their grants cover it,
        # in the background once this commits.
        from marketplace.tasks import (
            installs_follow_version as installs_follow_version_task,
        )

        installs_follow_version_task.delay_on_commit(version_id=version.pk)  # type: ignore[attr-defined]  # DjangoTask's, not in celery-types
    return version


@transaction.atomic
def version_yank(*, actor: User, version: AgentVersion, reason: str) -> AgentVersion:
    """Withdraw a published version: it stays readable by its exact number but is no
    longer offered."""
    version = AgentVersion.objects.select_related("agent__publisher").get(pk=version.pk)
    if membership_role(user=actor, organization=version.agent.publisher) not in (
        Role.OWNER,
        Role.ADMIN,
    ):
        raise PermissionDenied(
            _("Only owners and administrators of the publisher can yank versions.")
        )
    return version_transition(
        version=version, to=State.YANKED, actor=actor, action="yanked", reason=reason
    )


PUBLISHER_STATUSES = frozenset(
    {Agent.Status.ACTIVE, Agent.Status.DEPRECATED, Agent.Status.ARCHIVED}
)


@transaction.atomic
def agent_set_status(
    *, actor: User, agent: Agent, status: str, reason: str = ""
) -> Agent:
    """Set a listing's status marker. Its publisher's owners and administrators move
    it between active, deprecated and archived; only the operator quarantines a
    listing or lifts a quarantine."""
    agent = (
        Agent.objects.select_for_update().select_related("publisher").get(pk=agent.pk)
    )
    if status not in Agent.Status.values:
        raise ApplicationError(
            _("Unknown status."), details={"status": [_("Unknown status.")]}
        )
    operator = is_operator(actor)
    if not operator:
        if membership_role(user=actor, organization=agent.publisher) not in (
            Role.OWNER,
            Role.ADMIN,
        ):
            raise PermissionDenied(
                _(
                    "Only the publisher's owners and administrators, or the operator, "
                    "change a listing's status."
                )
            )
        if agent.status == Agent.Status.QUARANTINED or status not in PUBLISHER_STATUSES:
            raise PermissionDenied(
                _("Only the operator quarantines a listing or lifts a quarantine."),
                code="operator_only",
            )
    if status == Agent.Status.QUARANTINED and not reason.strip():
        raise ApplicationError(
            _("Say why the listing is quarantined."),
            details={"reason": [_("Required when quarantining.")]},
        )
    previous = agent.status
    if previous == status:
        return agent
    Agent.objects.filter(pk=agent.pk).update(status=status)
    AgentEvent.objects.create(
        agent=agent,
        actor=actor,
        action="status_changed",
        from_state=previous,
        to_state=status,
        payload={"reason": reason},
    )
    agent.refresh_from_db()
    return agent
