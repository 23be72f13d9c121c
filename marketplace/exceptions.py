"""Errors of the marketplace's rules. Each maps to an HTTP status through
config.exceptions.ApplicationError."""

from config.exceptions import ApplicationError, Conflict, NotFound, PermissionDenied

__all__ = [
    "ApplicationError",
    "Conflict",
    "InvitationNotUsable",
    "NotFound",
    "PermissionDenied",
]


class InvitationNotUsable(ApplicationError):
    code = "invitation_not_usable"
