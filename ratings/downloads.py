"""How an evidence file leaves the site: one response for the report's page and the
API, so that both send the same headers. Who may download it is the caller's to
check (``ratings.selectors.report_get``)."""

from pathlib import PurePosixPath

from django.http import FileResponse

from marketplace.exceptions import NotFound
from ratings.models import ReportEvidence
from ratings.services import EVIDENCE_TYPES

# Other names of the suffix a type's stored copy gets.
_SUFFIXES: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg"}),
}


def evidence_filename(evidence: ReportEvidence) -> str:
    """The name the file is saved under: the uploaded name without folders or
    characters that cannot be printed, ending with the suffix of the type found in
    the file's bytes (``notes.html`` of plain text is saved as ``notes.html.txt``),
    so that opening the saved file never runs it as something else."""
    name = PurePosixPath(evidence.original_name.replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    suffix = EVIDENCE_TYPES.get(evidence.content_type, ".bin")
    allowed = _SUFFIXES.get(evidence.content_type, frozenset({suffix}))
    stem = name[:200] or "evidence"
    if PurePosixPath(stem).suffix.lower() in allowed:
        return stem
    return f"{stem}{suffix}"


def evidence_response(evidence: ReportEvidence) -> FileResponse:
    """The file as a download that the browser neither shows nor guesses the type
    of, nor keeps in a shared cache; NotFound when the stored file is gone."""
    try:
        handle = evidence.file.open("rb")
    except FileNotFoundError:
        raise NotFound() from None
    content_type = (
        evidence.content_type
        if evidence.content_type in EVIDENCE_TYPES
        else "application/octet-stream"
    )
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=evidence_filename(evidence),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
