"""Certification badges as pictures: the SVG an agent's page (or any other site)
embeds, and the JSON that shields.io's endpoint badge reads.

Pure functions, no models: the caller works out the state (``BadgeState``) and
passes it in. The state names are those of ``Badge.State`` plus ``expiring``, a
valid certificate close to its end, which is read from the dates when the badge
is drawn.

Badges are shown on other sites, so their words follow the ``language`` given to
``badge_message`` (English unless told), never the language of the request that
happens to be active.

The SVG is shields.io's "flat" style, built the way shields' badge-maker builds it
(``badge-maker/lib/badge-renderers.js``): 20 px high, a rounded clip (rx 3), a grey
label box and a coloured message box under a faint gradient, 11 px Verdana text
with a 1 px shadow. The output depends on nothing but the arguments, so the same
badge is always the same bytes and can carry an ETag.
"""

import math
import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final, TypedDict

from django.utils import translation
from django.utils.translation import npgettext, pgettext


class BadgeState(StrEnum):
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    NONE = "none"


# shields' named colours (``badge-maker/lib/color.js``). An expired certificate is
# shown in lightgrey, like "none", and not in red: it lapsed, nothing was found
# against the agent. Red is kept for revocation, which is a finding.
COLORS: Final[Mapping[BadgeState, str]] = MappingProxyType(
    {
        BadgeState.VALID: "#4c1",  # brightgreen
        BadgeState.EXPIRING: "#dfb317",  # yellow
        BadgeState.SUSPENDED: "#fe7d37",  # orange
        BadgeState.REVOKED: "#e05d44",  # red
        BadgeState.EXPIRED: "#9f9f9f",  # lightgrey
        BadgeState.NONE: "#9f9f9f",  # lightgrey
    }
)

LABEL_COLOR: Final = "#555"  # shields' grey

# Longer labels and messages are cut, with an ellipsis, so that no name can make
# a huge badge.
MAX_TEXT_LENGTH: Final = 64


def badge_message(
    *,
    state: BadgeState,
    level: str = "",
    days_left: int | None = None,
    language: str = "en",
) -> str:
    """The right-hand text of a badge: the level while the certificate holds
    ("enhanced", or "enhanced · 12 days left" when it is about to expire), else the
    state ("expired", "suspended", "revoked", "none").

    ``language`` is a language code of the site (``settings.LANGUAGES``); any other
    gives English.
    """
    with translation.override(_supported_language(language)):
        if state in (BadgeState.VALID, BadgeState.EXPIRING):
            shown = level or pgettext("badge state", "valid")
            if state == BadgeState.VALID or days_left is None:
                return shown
            days = max(days_left, 0)
            if days == 0:
                left = pgettext("badge countdown", "expires today")
            else:
                left = npgettext(
                    "badge countdown",
                    "%(count)d day left",
                    "%(count)d days left",
                    days,
                ) % {"count": days}
            return f"{shown} · {left}"
        words = {
            BadgeState.EXPIRED: pgettext("badge state", "expired"),
            BadgeState.SUSPENDED: pgettext("badge state", "suspended"),
            BadgeState.REVOKED: pgettext("badge state", "revoked"),
            BadgeState.NONE: pgettext("badge state", "none"),
        }
        return words[state]


def _supported_language(language: str) -> str:
    try:
        return translation.get_supported_language_variant(language)
    except LookupError:
        return "en"


# --- SVG ------------------------------------------------------------------------

_HEIGHT: Final = 20
_PADDING: Final = 5  # each side of a text
_FONT_FAMILY: Final = "Verdana,Geneva,DejaVu Sans,sans-serif"

# Advance widths of Verdana at 11 px, in tenths of a pixel, for printable ASCII
# and the few other characters our own messages use. They agree with the font's
# metrics to 0.1 px for every character narrower than 10 px; "m" is 10.7 px as
# shields' measuring library (anafanafo) has it.
_WIDTH_GROUPS: Final[dict[int, str]] = {
    30: "'il",
    38: "j",
    39: " f\u00a0",
    40: ",.\u00b7",
    43: "!t",
    46: "I",
    47: "r",
    50: '"()-/:;J[\\]|',
    57: "cs",
    58: "z",
    60: "?",
    61: "L",
    63: "F",
    65: "kvxy",
    66: "Pae",
    67: "o",
    68: "TY",
    69: "bdgpq",
    70: "$*0123456789E_`hnu{}",
    75: "ABSVXZ",
    76: "KR",
    77: "C",
    80: "&",
    81: "U",
    82: "N",
    83: "H",
    85: "DG",
    87: "OQ",
    90: "#+<=>^w~",
    93: "M",
    107: "m",
    110: "@W",
    120: "%",
}
_WIDTHS: Final[dict[str, int]] = {
    char: width for width, chars in _WIDTH_GROUPS.items() for char in chars
}
# Wide characters (CJK, emoji) and anything else the table does not know count
# as 11 px: a badge may come out a little wide, never too narrow for its text.
_OTHER_WIDTH: Final = 110

# Characters XML 1.0 does not allow even when escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("[\t\n\r]")

_NAMED_COLORS: Final[dict[str, str]] = {
    "brightgreen": "#4c1",
    "success": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "important": "#fe7d37",
    "red": "#e05d44",
    "critical": "#e05d44",
    "blue": "#007ec6",
    "informational": "#007ec6",
    "grey": "#555",
    "gray": "#555",
    "lightgrey": "#9f9f9f",
    "lightgray": "#9f9f9f",
    "inactive": "#9f9f9f",
}
_HEX_COLOR = re.compile(r"#?((?:[0-9a-f]{3}){1,2})", re.IGNORECASE)


def badge_svg(
    *, label: str, message: str, color: str, label_color: str = LABEL_COLOR
) -> str:
    """The flat badge as an SVG document.

    ``color`` and ``label_color`` are hex colours (``#4c1``, ``4c1``, ``#44cc11``)
    or shields' named colours (``brightgreen``, ``lightgrey`` …); anything else is
    a programming error and raises ValueError. With an empty label the badge is
    the message box alone, as on shields.
    """
    label = _fit(label)
    message = _fit(message)
    color = _svg_color(color)
    label_color = _svg_color(label_color)

    has_label = bool(label)
    if not has_label:
        label_color = color
    label_width = _text_width(label)
    left_width = label_width + 2 * _PADDING if has_label else 0
    message_margin = left_width - (1 if message else 0) + (0 if has_label else 1)
    message_width = _text_width(message)
    right_width = message_width + 2 * _PADDING
    width = left_width + right_width
    accessible = _escape(f"{label}: {message}" if has_label else message)
    label_text = _render_text(
        label, margin=1, width=label_width, background=label_color
    )
    message_text = _render_text(
        message, margin=message_margin, width=message_width, background=color
    )

    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width}" height="{_HEIGHT}" role="img" aria-label="{accessible}">'
        f"<title>{accessible}</title>"
        '<linearGradient id="s" x2="0" y2="100%">'
        '<stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/>'
        "</linearGradient>"
        '<clipPath id="r">'
        f'<rect width="{width}" height="{_HEIGHT}" rx="3" fill="#fff"/>'
        "</clipPath>"
        '<g clip-path="url(#r)">'
        f'<rect width="{left_width}" height="{_HEIGHT}" fill="{label_color}"/>'
        f'<rect x="{left_width}" width="{right_width}" height="{_HEIGHT}" '
        f'fill="{color}"/>'
        f'<rect width="{width}" height="{_HEIGHT}" fill="url(#s)"/>'
        "</g>"
        f'<g fill="#fff" text-anchor="middle" font-family="{_FONT_FAMILY}" '
        'text-rendering="geometricPrecision" font-size="110">'
        f"{label_text}{message_text}"
        "</g>"
        "</svg>"
    )


def _render_text(text: str, *, margin: int, width: int, background: str) -> str:
    """A text and its shadow, drawn at ten times the size and scaled down, as
    shields does for sharper hinting."""
    if not text:
        return ""
    # ``width`` is odd, so the centre falls on a whole number of tenths.
    x = 10 * (margin + _PADDING) + 5 * width
    fill, shadow = _text_colors(background)
    escaped = _escape(text)
    return (
        f'<text aria-hidden="true" x="{x}" y="150" fill="{shadow}" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{10 * width}">{escaped}</text>'
        f'<text x="{x}" y="140" transform="scale(.1)" fill="{fill}" '
        f'textLength="{10 * width}">{escaped}</text>'
    )


def _fit(text: str) -> str:
    """The text with what XML cannot carry removed, on one line, and cut to
    ``MAX_TEXT_LENGTH`` characters."""
    text = _LINE_BREAKS.sub(" ", _NOT_XML.sub("", text))
    if len(text) > MAX_TEXT_LENGTH:
        text = text[: MAX_TEXT_LENGTH - 1].rstrip() + "…"
    return text


def _char_width(char: str) -> int:
    if char in _WIDTHS:
        return _WIDTHS[char]
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return _OTHER_WIDTH
    # A Latin letter with marks ("é", "ß" stays as it is) is as wide as its letter.
    base = unicodedata.normalize("NFD", char)[0]
    return _WIDTHS.get(base, _OTHER_WIDTH)


def _text_width(text: str) -> int:
    """Pixels the text takes, as shields rounds it: the measured width cut to whole
    pixels, then up to an odd number so that the text centres on a pixel."""
    if not text:
        return 0
    pixels = sum(_char_width(char) for char in text) // 10
    return pixels if pixels % 2 else pixels + 1


def _svg_color(color: str) -> str:
    named = _NAMED_COLORS.get(color.lower())
    if named:
        return named
    match = _HEX_COLOR.fullmatch(color)
    if match is None:
        raise ValueError(f"{color!r} is neither a hex colour nor one of shields' names")
    return f"#{match.group(1).lower()}"


def _text_colors(background: str) -> tuple[str, str]:
    """White text with a dark shadow on dark boxes, dark text with a light shadow
    on light ones, at shields' threshold of brightness 0.69."""
    digits = background.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    brightness = round((red * 299 + green * 587 + blue * 114) / 255000, 2)
    return ("#fff", "#010101") if brightness <= 0.69 else ("#333", "#ccc")


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


# --- shields.io endpoint -----------------------------------------------------------


# The keys are camelCase because shields names them so.
class ShieldsEndpoint(TypedDict):
    schemaVersion: int
    label: str
    message: str
    color: str
    isError: bool
    cacheSeconds: int


def shields_endpoint(
    *,
    label: str,
    message: str,
    color: str,
    cache_seconds: int = 300,
    is_error: bool = False,
) -> ShieldsEndpoint:
    """The JSON for ``https://img.shields.io/endpoint?url=…``, with only the keys
    shields allows (it refuses a document with any other). Label and message are
    cut as on our own SVG. An empty message or a negative cache time is a
    programming error and raises ValueError; shields would refuse either."""
    message = _fit(message)
    if not message:
        raise ValueError("a shields badge needs a message")
    if cache_seconds < 0:
        raise ValueError("cache_seconds must not be negative")
    return {
        "schemaVersion": 1,
        "label": _fit(label),
        "message": message,
        "color": _svg_color(color),
        "isError": is_error,
        "cacheSeconds": cache_seconds,
    }


_MAX_SAFE_INTEGER: Final = 2**53 - 1
_JOI_NUMERIC = re.compile(
    r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?\s*", re.I
)

# The schema's keys in its order; unknown keys are refused.
_STRING_KEYS: Final = ("color", "labelColor", "namedLogo", "logoSvg", "style")
_ENDPOINT_KEYS: Final = frozenset(
    {
        "schemaVersion",
        "label",
        "message",
        "isError",
        "logoColor",
        "logoSize",
        "logoWidth",
        "logoPosition",
        "cacheSeconds",
        *_STRING_KEYS,
    }
)


def shields_endpoint_errors(document: object) -> list[str]:
    """What shields.io would refuse in an endpoint document; an empty list means
    it takes it. Each error is ``"<key>: <problem>"``, in the schema's key order,
    then unknown keys. The messages are English diagnostics, as shields' are.

    The rules are those of ``endpointSchema`` in ``services/endpoint-common.js`` of
    badges/shields, which ``services/endpoint/endpoint.service.js`` applies to what
    it fetches (``validateEndpointData`` with ``allowAndStripUnknownKeys: false``,
    through ``core/base-service/validate.js``: Joi with its defaults, so values are
    converted where Joi converts them, and ``abortEarly: false``, so every error is
    reported):

    - ``schemaVersion``: the number 1 (``schemaVersion: 1``). The Joi literal
      alone would let the key be left out; shields' documentation says it is
      required, and so do we.
    - ``label``: a string, may be empty, required.
    - ``message``: a non-empty string, required.
    - ``color``, ``labelColor``, ``namedLogo``, ``logoSvg``, ``style``: non-empty
      strings when present; ``namedLogo`` and ``logoSvg`` not both (``oxor``).
    - ``isError``: a boolean (Joi also takes the strings "true" and "false").
    - ``logoColor``, ``logoSize``: non-empty strings, allowed only with a
      ``namedLogo``.
    - ``logoWidth``, ``logoPosition`` (kept for old documents; it does nothing):
      numbers, allowed only with a ``namedLogo`` or a ``logoSvg``.
    - ``cacheSeconds``: an integer >= 0 (the endpoint badge itself caches for at
      least 300 s).
    - Numbers may also be given as numeric strings, as Joi converts them; they must
      be finite and within JavaScript's safe integers. Any other key is refused.
    """
    if document is None:
        return ["document: is required"]
    if not isinstance(document, dict):
        return ["document: must be an object"]
    errors: list[str] = []

    def problem(key: str, text: str) -> None:
        errors.append(f"{key}: {text}")

    if "schemaVersion" not in document:
        problem("schemaVersion", "is required")
    elif _joi_number(document["schemaVersion"]) != 1:
        problem("schemaVersion", "must be 1")

    if "label" not in document:
        problem("label", "is required")
    elif not isinstance(document["label"], str):
        problem("label", "must be a string")

    if "message" not in document:
        problem("message", "is required")
    elif not _is_joi_string(document["message"]):
        problem("message", "must be a non-empty string")

    for key in _STRING_KEYS[:2]:
        if key in document and not _is_joi_string(document[key]):
            problem(key, "must be a non-empty string")

    if "isError" in document and _joi_boolean(document["isError"]) is None:
        problem("isError", "must be a boolean")

    for key in _STRING_KEYS[2:4]:
        if key in document and not _is_joi_string(document[key]):
            problem(key, "must be a non-empty string")

    named_logo = _is_joi_string(document.get("namedLogo"))
    any_logo = named_logo or _is_joi_string(document.get("logoSvg"))
    for key in ("logoColor", "logoSize"):
        if key not in document:
            continue
        if not named_logo:
            problem(key, "is only allowed with namedLogo")
        elif not _is_joi_string(document[key]):
            problem(key, "must be a non-empty string")

    for key in ("logoWidth", "logoPosition"):
        if key not in document:
            continue
        if not any_logo:
            problem(key, "is only allowed with namedLogo or logoSvg")
        elif _joi_number(document[key]) is None:
            problem(key, "must be a number")

    if "style" in document and not _is_joi_string(document["style"]):
        problem("style", "must be a non-empty string")

    if "cacheSeconds" in document:
        seconds = _joi_number(document["cacheSeconds"])
        if seconds is None or seconds != int(seconds) or seconds < 0:
            problem("cacheSeconds", "must be an integer >= 0")

    for key in document:
        if key not in _ENDPOINT_KEYS:
            problem(str(key), "is not allowed")

    if "namedLogo" in document and "logoSvg" in document:
        problem("logoSvg", "is not allowed together with namedLogo")
    return errors


def _is_joi_string(value: object) -> bool:
    """``Joi.string()``: a string, and not the empty one."""
    return isinstance(value, str) and value != ""


def _joi_boolean(value: object) -> bool | None:
    """The boolean ``Joi.boolean()`` makes of the value, or None if it refuses it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _joi_number(value: object) -> float | None:
    """The number ``Joi.number()`` makes of the value (numbers, and strings that
    spell one), or None if it refuses it. Booleans are not numbers here."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= _MAX_SAFE_INTEGER else None
    if isinstance(value, str):
        if not _JOI_NUMERIC.fullmatch(value):
            return None
        value = float(value)
    if isinstance(value, float) and math.isfinite(value):
        return value if abs(value) <= _MAX_SAFE_INTEGER else None
    return None
