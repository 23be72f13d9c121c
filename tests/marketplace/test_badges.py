"""Badge pictures: the flat SVG, the words on it, and the shields.io endpoint JSON
with a validator that refuses what shields refuses."""

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.utils import translation

from marketplace import badges
from marketplace.badges import (
    COLORS,
    MAX_TEXT_LENGTH,
    BadgeState,
    badge_message,
    badge_svg,
    shields_endpoint,
    shields_endpoint_errors,
)

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, see above


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _fills(root: ET.Element) -> list[str]:
    return [r.get("fill", "") for r in root.iter(f"{SVG}rect")]


# --- messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "level", "days_left", "expected"),
    [
        (BadgeState.VALID, "enhanced", None, "enhanced"),
        (BadgeState.VALID, "enhanced", 12, "enhanced"),
        (BadgeState.VALID, "", None, "valid"),
        (BadgeState.EXPIRING, "enhanced", 12, "enhanced · 12 days left"),
        (BadgeState.EXPIRING, "enhanced", 1, "enhanced · 1 day left"),
        (BadgeState.EXPIRING, "enhanced", 0, "enhanced · expires today"),
        (BadgeState.EXPIRING, "enhanced", -3, "enhanced · expires today"),
        (BadgeState.EXPIRING, "L2", None, "L2"),
        (BadgeState.EXPIRED, "enhanced", None, "expired"),
        (BadgeState.SUSPENDED, "enhanced", 12, "suspended"),
        (BadgeState.REVOKED, "", None, "revoked"),
        (BadgeState.NONE, "", None, "none"),
    ],
)
def test_badge_message(
    state: BadgeState, level: str, days_left: int | None, expected: str
) -> None:
    # when
    message = badge_message(state=state, level=level, days_left=days_left)

    # then
    assert message == expected


def test_badge_message_speaks_the_language_given_not_the_active_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a catalogue that shows which language each word was looked up in
    def tagged(context: str, text: str) -> str:
        return f"[{translation.get_language()}]{text}"

    monkeypatch.setattr(badges, "pgettext", tagged)

    # when
    with translation.override("zh-hans"):
        default = badge_message(state=BadgeState.REVOKED)
        chinese = badge_message(state=BadgeState.REVOKED, language="zh-hans")
        unknown = badge_message(state=BadgeState.REVOKED, language="../../etc")

    # then
    assert default == "[en]revoked"
    assert chinese == "[zh-hans]revoked"
    assert unknown == "[en]revoked"


def test_every_state_has_a_shields_color() -> None:
    assert set(COLORS) == set(BadgeState)
    assert COLORS[BadgeState.EXPIRED] == COLORS[BadgeState.NONE] == "#9f9f9f"
    assert COLORS[BadgeState.REVOKED] == "#e05d44"


# --- SVG -----------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(BadgeState))
def test_every_state_renders_a_well_formed_flat_badge(state: BadgeState) -> None:
    # given
    message = badge_message(state=state, level="enhanced", days_left=12)

    # when
    root = _parse(badge_svg(label="security", message=message, color=COLORS[state]))

    # then
    assert root.tag == f"{SVG}svg"
    assert int(root.get("width", "0")) > 0
    assert root.get("height") == "20"
    assert root.get("role") == "img"
    assert root.get("aria-label") == f"security: {message}"
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == f"security: {message}"
    assert _texts(root) == ["security", "security", message, message]
    assert _fills(root)[1:3] == ["#555", COLORS[state]]
    clip = root.find(f"{SVG}clipPath/{SVG}rect")
    assert clip is not None
    assert clip.get("rx") == "3"
    assert root.find(f"{SVG}linearGradient") is not None
    shadow = root.find(f"{SVG}g/{SVG}text")
    assert shadow is not None
    assert shadow.get("fill-opacity") == ".3"
    assert shadow.get("aria-hidden") == "true"


def test_badge_matches_shields_build_passing_badge() -> None:
    """shields.io draws "build | passing" 88 px wide: a 37 px label box, a 51 px
    message box, texts 27 px and 41 px long, centred at 19.5 px and 61.5 px."""
    # when
    svg = badge_svg(label="build", message="passing", color="brightgreen")

    # then
    assert svg == (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" width="88" height="20" '
        'role="img" aria-label="build: passing"><title>build: passing</title>'
        '<linearGradient id="s" x2="0" y2="100%">'
        '<stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        '<clipPath id="r"><rect width="88" height="20" rx="3" fill="#fff"/>'
        '</clipPath><g clip-path="url(#r)">'
        '<rect width="37" height="20" fill="#555"/>'
        '<rect x="37" width="51" height="20" fill="#4c1"/>'
        '<rect width="88" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        '<text aria-hidden="true" x="195" y="150" fill="#010101" '
        'fill-opacity=".3" transform="scale(.1)" textLength="270">build</text>'
        '<text x="195" y="140" transform="scale(.1)" fill="#fff" '
        'textLength="270">build</text>'
        '<text aria-hidden="true" x="615" y="150" fill="#010101" '
        'fill-opacity=".3" transform="scale(.1)" textLength="410">passing</text>'
        '<text x="615" y="140" transform="scale(.1)" fill="#fff" '
        'textLength="410">passing</text></g></svg>'
    )


def test_same_badge_same_bytes() -> None:
    # given
    args: dict[str, Any] = {
        "label": "隐私 privacy",
        "message": badge_message(
            state=BadgeState.EXPIRING, level="enhanced", days_left=3
        ),
        "color": COLORS[BadgeState.EXPIRING],
    }

    # when
    first = badge_svg(**args)
    with translation.override("zh-hans"):
        second = badge_svg(**args)

    # then
    assert first.encode() == second.encode()


def test_xml_specials_are_escaped() -> None:
    # given
    label = "<&>"
    message = "\"quoted\" & 'single' </svg>"

    # when
    svg = badge_svg(label=label, message=message, color="#e05d44")
    root = _parse(svg)

    # then
    assert "<&>" not in svg
    assert "</svg>" not in svg[:-6]
    assert "&lt;&amp;&gt;" in svg
    assert "&quot;quoted&quot;" in svg
    assert "&apos;single&apos;" in svg
    assert root.get("aria-label") == f"{label}: {message}"
    assert _texts(root) == [label, label, message, message]


def test_characters_xml_cannot_carry_are_dropped() -> None:
    # when
    root = _parse(badge_svg(label="a\x00b\x1bc", message="x\ny", color="#4c1"))

    # then
    assert _texts(root)[0] == "abc"
    assert _texts(root)[2] == "x y"


def _width(label: str, message: str = "x") -> int:
    return int(
        _parse(badge_svg(label=label, message=message, color="#4c1")).get("width", "0")
    )


def test_cjk_labels_are_measured_wide() -> None:
    # given: two CJK characters count 11 px each, rounded up to an odd 23 px
    ascii_width = _width("ab")
    cjk_width = _width("安全")

    # then
    assert cjk_width > ascii_width
    assert cjk_width - _width("") == 23 + 2 * 5
    assert _width("安全认证") > _width("安全")


def test_accented_letters_are_as_wide_as_their_letter() -> None:
    assert _width("securite") == _width("sécurité")


def test_wider_characters_make_wider_badges() -> None:
    assert _width("iiii") < _width("mmmm") < _width("WWWWW")


def test_long_texts_are_cut_with_an_ellipsis() -> None:
    # given
    label = "scheme " * 100

    # when
    root = _parse(badge_svg(label=label, message="m" * 500, color="#4c1"))

    # then
    label_text, message_text = _texts(root)[0], _texts(root)[2]
    assert len(label_text) <= MAX_TEXT_LENGTH
    assert label_text.endswith("…")
    assert len(message_text) == MAX_TEXT_LENGTH
    assert int(root.get("width", "0")) < 2 * MAX_TEXT_LENGTH * 11 + 30


def test_empty_label_draws_the_message_box_alone() -> None:
    # when
    root = _parse(badge_svg(label="", message="none", color="#9f9f9f"))

    # then
    assert root.get("aria-label") == "none"
    assert _texts(root) == ["none", "none"]
    assert _fills(root)[1] == _fills(root)[2] == "#9f9f9f"


def test_light_backgrounds_get_dark_text() -> None:
    # when
    root = _parse(badge_svg(label="a", message="b", color="#ffffff"))

    # then
    fills = [t.get("fill") for t in root.iter(f"{SVG}text")]
    assert fills == ["#010101", "#fff", "#ccc", "#333"]


@pytest.mark.parametrize("color", ["4c1", "#44CC11", "lightgrey", "inactive"])
def test_colors_are_normalised(color: str) -> None:
    root = _parse(badge_svg(label="a", message="b", color=color))

    assert _fills(root)[2].startswith("#")


@pytest.mark.parametrize("color", ["", "url(#x)", "#12", 'red" onload="x'])
def test_unknown_colors_are_refused(color: str) -> None:
    with pytest.raises(ValueError, match="colour"):
        badge_svg(label="a", message="b", color=color)


# --- shields endpoint ----------------------------------------------------------------


@pytest.mark.parametrize("state", list(BadgeState))
def test_endpoint_json_of_every_state_passes_shields_rules(state: BadgeState) -> None:
    # given
    document = shields_endpoint(
        label="security",
        message=badge_message(state=state, level="enhanced", days_left=5),
        color=COLORS[state],
        is_error=state == BadgeState.REVOKED,
    )

    # when
    errors = shields_endpoint_errors(json.loads(json.dumps(document)))

    # then
    assert errors == []
    assert document["schemaVersion"] == 1
    assert document["color"] == COLORS[state]


def test_endpoint_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="message"):
        shields_endpoint(label="a", message="", color="#4c1")
    with pytest.raises(ValueError, match="cache_seconds"):
        shields_endpoint(label="a", message="b", color="#4c1", cache_seconds=-1)


VALID: dict[str, Any] = {"schemaVersion": 1, "label": "hey", "message": "yo"}


@pytest.mark.parametrize(
    ("document", "refused_key"),
    [
        ({**VALID, "extra": "keys"}, "extra"),
        ({**VALID, "schemaVersion": 2}, "schemaVersion"),
        ({**VALID, "schemaVersion": True}, "schemaVersion"),
        ({"label": "hey", "message": "yo"}, "schemaVersion"),
        ({"schemaVersion": 1, "label": "hey"}, "message"),
        ({**VALID, "message": ""}, "message"),
        ({**VALID, "message": 3}, "message"),
        ({"schemaVersion": 1, "message": "yo"}, "label"),
        ({**VALID, "label": None}, "label"),
        ({**VALID, "cacheSeconds": -1}, "cacheSeconds"),
        ({**VALID, "cacheSeconds": 1.5}, "cacheSeconds"),
        ({**VALID, "cacheSeconds": True}, "cacheSeconds"),
        ({**VALID, "cacheSeconds": "soon"}, "cacheSeconds"),
        ({**VALID, "cacheSeconds": 2**60}, "cacheSeconds"),
        ({**VALID, "cacheSeconds": float("inf")}, "cacheSeconds"),
        ({**VALID, "isError": "yes"}, "isError"),
        ({**VALID, "isError": 1}, "isError"),
        ({**VALID, "isError": None}, "isError"),
        ({**VALID, "color": ""}, "color"),
        ({**VALID, "labelColor": 5}, "labelColor"),
        ({**VALID, "style": ""}, "style"),
        ({**VALID, "logoColor": "blue"}, "logoColor"),
        ({**VALID, "logoSvg": "<svg/>", "logoColor": "blue"}, "logoColor"),
        ({**VALID, "logoWidth": 30}, "logoWidth"),
        ({**VALID, "namedLogo": "npm", "logoWidth": "wide"}, "logoWidth"),
        ({**VALID, "namedLogo": "npm", "logoSvg": "<svg/>"}, "logoSvg"),
    ],
)
def test_shields_rules_refuse(document: dict[str, Any], refused_key: str) -> None:
    # when
    errors = shields_endpoint_errors(document)

    # then
    assert errors
    assert any(error.startswith(f"{refused_key}: ") for error in errors)


@pytest.mark.parametrize("document", [None, [], "json", 1])
def test_shields_rules_refuse_what_is_not_an_object(document: object) -> None:
    assert shields_endpoint_errors(document)


def test_shields_rules_report_every_error_in_schema_order() -> None:
    """As shields' own test reports "invalid properties: schemaVersion, label,
    message" for ``{"schemaVersion": -1}`` and "extra, bogus" for unknown keys."""
    # when
    missing = shields_endpoint_errors({"schemaVersion": -1})
    unknown = shields_endpoint_errors({**VALID, "extra": "keys", "bogus": True})

    # then
    assert [e.split(":")[0] for e in missing] == ["schemaVersion", "label", "message"]
    assert [e.split(":")[0] for e in unknown] == ["extra", "bogus"]


@pytest.mark.parametrize(
    "document",
    [
        VALID,
        {**VALID, "label": ""},
        {**VALID, "color": "#f0dcc3", "labelColor": "#e6e6fa"},
        {**VALID, "isError": True},
        {**VALID, "isError": "false"},
        {**VALID, "cacheSeconds": 0},
        {**VALID, "cacheSeconds": 500.0},
        {**VALID, "cacheSeconds": "300"},
        {**VALID, "schemaVersion": "1"},
        {**VALID, "namedLogo": "npm", "logoColor": "blue", "logoSize": "auto"},
        {**VALID, "logoSvg": "<svg/>", "logoWidth": 30},
        {**VALID, "namedLogo": "npm", "logoPosition": -3},
        {**VALID, "style": "for-the-badge"},
    ],
)
def test_shields_rules_accept(document: dict[str, Any]) -> None:
    assert shields_endpoint_errors(document) == []


def test_width_table_covers_printable_ascii_without_duplicates() -> None:
    # given
    listed = "".join(badges._WIDTH_GROUPS.values())

    # then
    assert all(chr(code) in badges._WIDTHS for code in range(32, 127))
    assert len(listed) == len(set(listed))
