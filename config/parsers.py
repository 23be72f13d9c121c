"""The API's JSON parser: DRF's, with every malformed body answered as a parse
error (400) rather than a server error."""

from collections.abc import Mapping
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's ``JSONParser``. Python's decoder recurses once per nested array or
    object, so a small body of deeply nested brackets raises ``RecursionError``,
    which DRF lets through as a 500; it is a parse error here, as is any
    ``ValueError`` (a bad document or a body that is not in its charset)."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as error:
            raise ParseError(
                _("JSON parse error - the document is nested too deeply.")
            ) from error
        except ValueError as error:
            raise ParseError(
                _("JSON parse error - %(error)s") % {"error": error}
            ) from error
