"""Limits on what a report's page or API request uploads, applied before and while
the body is read. Django would otherwise keep every file of any size in memory or a
temporary file before the service (``ratings.services``) could refuse it.

- ``report_body_too_large``: the whole body, by its Content-Length, before anything
  is read: at most ``FILES_MAX`` files of ``REPORT_EVIDENCE_MAX_BYTES`` and the
  form's fields.
- ``EvidenceSizeLimit``: each file, while it streams in; a file that grows past
  ``REPORT_EVIDENCE_MAX_BYTES`` is skipped and named in ``too_large``.
- ``DATA_UPLOAD_MAX_NUMBER_FILES`` (the settings) stops the parser at the file after
  the ``FILES_MAX``-th.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from ratings.services import FILES_MAX, evidence_too_large_message

# Room for the fields besides the files: a description of 5,000 characters and ten
# links of 2,000 (up to four bytes each in UTF-8), the CSRF token and the multipart
# headers of every part.
FIELDS_ALLOWANCE = 128 * 1024


def report_upload_limit() -> int:
    """The most bytes a request that sends a report may have."""
    return int(FILES_MAX * settings.REPORT_EVIDENCE_MAX_BYTES + FIELDS_ALLOWANCE)


def report_body_too_large(request: HttpRequest) -> bool:
    """Whether the request's declared length is over ``report_upload_limit``.
    Without a valid length Django reads no body at all, so there is nothing to
    stop."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return False
    return length > report_upload_limit()


def body_too_large_message() -> str:
    return _(
        "The upload is too large: attach at most %(max)d files of at most %(size)s "
        "each."
    ) % {"max": FILES_MAX, "size": filesizeformat(settings.REPORT_EVIDENCE_MAX_BYTES)}


def too_many_files_message() -> str:
    return _("Attach at most %(max)d files.") % {"max": FILES_MAX}


def unreadable_upload_message() -> str:
    return _("The upload could not be read; send the form again.")


class EvidenceSizeLimit(FileUploadHandler):
    """Hands each file on to the next handlers (memory, then temporary file) until
    it grows past ``REPORT_EVIDENCE_MAX_BYTES``; then the rest of that file is read
    and dropped, the file is left out of ``request.FILES`` and its name goes to
    ``too_large``. Installed first by ``install_evidence_limit``."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = int(settings.REPORT_EVIDENCE_MAX_BYTES)
        self.too_large: list[str] = []

    def new_file(
        self,
        field_name: str,
        file_name: str,
        content_type: str,
        content_length: int | None,
        charset: str | None = None,
        content_type_extra: dict[str, bytes] | None = None,
    ) -> None:
        super().new_file(
            field_name,
            file_name,
            content_type,
            content_length,
            charset,
            content_type_extra,
        )
        if content_length is not None and content_length > self.limit:
            self._skip()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self._skip()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        # The next handlers make the uploaded file.
        return None

    def _skip(self) -> None:
        self.too_large.append(self.file_name or "")
        raise SkipFile

    def messages(self) -> list[str]:
        """One message for each file that was too large."""
        return [evidence_too_large_message(name) for name in self.too_large]


def install_evidence_limit(request: HttpRequest) -> EvidenceSizeLimit:
    """Put an ``EvidenceSizeLimit`` before the request's upload handlers. Call it
    before anything reads ``request.POST`` or ``request.FILES`` (a page view that
    does must be exempt from the CSRF middleware, and check the token itself
    afterwards)."""
    handler = EvidenceSizeLimit(request)
    request.upload_handlers = [handler, *request.upload_handlers]
    return handler
