"""Errors of the ratings app's rules; each maps to an HTTP status through
config.exceptions.ApplicationError."""

from config.exceptions import ApplicationError, PermissionDenied


class InvalidEvidence(ApplicationError):
    """An attached file or link that a report cannot take; ``details`` names the
    field (``files`` or ``evidence_links``) and the item at fault."""

    code = "invalid_evidence"


class TooManyReports(ApplicationError):
    """The user sent many reports lately."""

    code = "too_many_reports"
    status_code = 429


class EmailNotConfirmed(PermissionDenied):
    """Reports are taken from confirmed e-mail addresses only."""

    code = "email_not_confirmed"


class UploadTooLarge(ApplicationError):
    """A request to send a report that is larger than its files and fields may
    be; refused before its body is read."""

    code = "upload_too_large"
    status_code = 413
