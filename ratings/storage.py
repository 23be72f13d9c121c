"""Where evidence files live: outside MEDIA_ROOT, with no public URL. Only a view
that checks who is asking serves them (``ratings.views.reports.report_evidence``)."""

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage


class PrivateStorage(FileSystemStorage):
    """A file system storage under ``REPORT_EVIDENCE_ROOT`` that gives no URL for
    its files. The root is read from the settings on every use (plain properties,
    not cached ones), so that a test can move it."""

    @property
    def base_location(self) -> str:
        return str(settings.REPORT_EVIDENCE_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise ValueError("Evidence files have no public URL.")


_storage = PrivateStorage()


def evidence_storage() -> PrivateStorage:
    return _storage
