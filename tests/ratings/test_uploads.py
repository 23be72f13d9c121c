from io import BytesIO
from typing import Any

import pytest
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    SkipFile,
)
from django.http.multipartparser import MultiPartParser
from django.test.client import (
    BOUNDARY,
    MULTIPART_CONTENT,
    RequestFactory,
    encode_multipart,
)

from ratings.uploads import (
    EvidenceSizeLimit,
    install_evidence_limit,
    report_body_too_large,
    report_upload_limit,
)
from tests.ratings.factories import PNG


class Recorder(FileUploadHandler):
    """Counts the bytes of each file that reach the handlers after the limit."""

    def __init__(self) -> None:
        super().__init__()
        self.received: dict[str, int] = {}

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        name = self.file_name or ""
        self.received[name] = self.received.get(name, 0) + len(raw_data)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _parse(data: dict[str, Any], handlers: list[FileUploadHandler]) -> tuple[Any, Any]:
    body = encode_multipart(BOUNDARY, data)
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    return MultiPartParser(meta, BytesIO(body), handlers).parse()


def test_a_file_over_the_limit_is_dropped_while_it_streams(settings: Any) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    limit = EvidenceSizeLimit()
    recorder = Recorder()
    small = BytesIO(PNG + b"\x00" * (1000 - len(PNG)))
    small.name = "small.png"
    big = BytesIO(PNG + b"\x00" * 200_000)
    big.name = "big.png"

    # when
    fields, files = _parse(
        {"description": "x", "files": [big, small]},
        [limit, recorder, MemoryFileUploadHandler()],
    )

    # then
    assert fields["description"] == "x"
    assert [upload.name for upload in files.getlist("files")] == ["small.png"]
    assert limit.too_large == ["big.png"]
    assert limit.messages() == ["big.png is larger than 1000\xa0bytes."]
    # Nothing of the large file went further than the limit.
    assert recorder.received.get("big.png", 0) <= 1000
    assert recorder.received["small.png"] == 1000


def test_a_file_declared_over_the_limit_is_dropped_at_once(settings: Any) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    limit = EvidenceSizeLimit()

    # when / then
    with pytest.raises(SkipFile):
        limit.new_file("files", "big.png", "image/png", 5000)
    assert limit.too_large == ["big.png"]


@pytest.mark.parametrize(
    ("length", "too_large"),
    [("", False), ("abc", False), ("100", False), (None, False), ("LIMIT+1", True)],
)
def test_the_body_is_judged_by_its_declared_length(
    settings: Any, length: str | None, too_large: bool
) -> None:
    # given
    settings.REPORT_EVIDENCE_MAX_BYTES = 1000
    request = RequestFactory().post("/report/", data=b"", content_type="text/plain")
    if length is None:
        request.META.pop("CONTENT_LENGTH", None)
    else:
        request.META["CONTENT_LENGTH"] = (
            str(report_upload_limit() + 1) if length == "LIMIT+1" else length
        )

    # when / then
    assert report_body_too_large(request) is too_large


def test_the_limit_goes_first_among_the_upload_handlers() -> None:
    request = RequestFactory().post("/report/")
    handler = install_evidence_limit(request)
    assert request.upload_handlers[0] is handler
    assert len(request.upload_handlers) > 1
