"""Errors of the marketplace's rules. Each maps to an HTTP status through
config.exceptions.ApplicationError."""

from config.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied

__all__ = [
    "ApplicationError",
    "Conflict",
    "DomainCheckTooSoon",
    "InvalidRole",
    "InvitationNotUsable",
    "NotFound",
    "PermissionDenied",
]


class InvitationNotUsable(ApplicationError):
    code = "invitation_not_usable"


class InvalidRole(ApplicationError):
    """A role that this kind of organisation does not have."""

    code = "invalid_role"


class InvalidDeclaration(ApplicationError):
    """The capability declaration breaks its schema; ``details`` names each field."""

    code = "invalid_declaration"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class InvalidAgentCard(ApplicationError):
    """An uploaded A2A Agent Card is malformed or its signature does not verify;
    ``details`` names the part at fault."""

    code = "invalid_agent_card"


class DomainCheckTooSoon(ApplicationError):
    """A check of the organisation's domain was asked for moments ago."""

    code = "domain_check_too_soon"
    status_code = 429


class InstallNotAllowed(ApplicationError):
    """The user may not install this agent (yet): an unconfirmed e-mail address, or
    an age rating above the age they declared (or no age declared)."""

    code = "install_not_allowed"
    status_code = 403


class InvalidConsent(ApplicationError):
    """The scopes granted do not fit the declaration: a required scope left out, or
    a scope the agent does not ask for; ``details["scopes"]`` says which."""

    code = "invalid_consent"


class InvalidRefreshSecret(ApplicationError):
    """An install token was asked for with an unknown install, a wrong secret or an
    uninstalled install (which of them is not told)."""

    code = "invalid_grant"
    status_code = 401


class ReviewNotAllowed(PermissionDenied):
    """The user may not review this agent: no install of it, or a member of its
    publisher."""

    code = "review_not_allowed"


class TooManyRequests(ApplicationError):
    """A user wrote too many reviews or flags in a short time."""

    code = "too_many_requests"
    status_code = 429


class AgreementsNotAccepted(PermissionDenied):
    """A new version of one of the site's documents (its rules, the user service
    agreement, the privacy policy) is in force and the user has not accepted it
    yet; the message names the documents and where to accept them."""

    code = "agreements_not_accepted"


class PublisherAgreementNotAccepted(PermissionDenied):
    """The publisher has not accepted the publisher agreement in force; an owner
    or administrator accepts it in the console."""

    code = "publisher_agreement_not_accepted"


class AutonomousConfirmationNeeded(ApplicationError):
    """A minor or a user in the elder-friendly mode grants scopes that let the agent
    act on its own without confirming it a second time; ``details`` names the
    confirmation (``confirm_autonomous``) and lists the scopes
    (``autonomous_scopes``). A 400: the request lacks a confirmation, as it would
    lack a field; nothing in the install's state is at odds with it."""

    code = "autonomous_confirmation_needed"
