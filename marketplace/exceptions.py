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
