"""The capability declaration of an agent version: its JSON Schema, validation with
errors that point at the offending field, and the digest that certificates bind to."""

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypedDict
from urllib.parse import urlsplit

import rfc8785
from jsonschema import Draft202012Validator, FormatChecker

from marketplace.pricing import pricing_errors

SCHEMA_PATH = (
    Path(__file__).resolve().parent / "schemas" / "capability-declaration.json"
)


# The interface protocols a declaration can name (the schema's enum), with the
# names people know them by.
PROTOCOL_CHOICES: list[tuple[str, str]] = [
    ("a2a", "A2A"),
    ("mcp", "MCP"),
    ("aip", "AIP (ACPs)"),
    ("openapi", "OpenAPI"),
    ("anp", "ANP"),
    ("other", "Other"),
]


class DeclarationError(TypedDict):
    path: str  # JSON Pointer-like dotted path, e.g. "skills.0.id"; "" for the root
    message: str


def schema() -> dict[str, Any]:
    return _schema()


@cache
def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


_formats = FormatChecker(formats=())


@_formats.checks("uri", raises=ValueError)
def _is_absolute_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an absolute http(s) URL")
    return True


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema(), format_checker=_formats)


def validate(declaration: object) -> list[DeclarationError]:
    """Every way the declaration breaks the schema, and the rules the schema cannot
    say (no scope or skill id twice; pricing that holds together, see
    ``marketplace.pricing``), in order."""
    errors: list[DeclarationError] = [
        {
            "path": ".".join(str(part) for part in error.absolute_path),
            "message": error.message,
        }
        for error in sorted(
            _validator().iter_errors(declaration),
            key=lambda e: list(map(str, e.absolute_path)),
        )
    ]
    if errors or not isinstance(declaration, dict):
        return errors
    requested = [p["scope"] for p in declaration["permissions"]]
    seen: set[str] = set()
    for index, scope in enumerate(requested):
        if scope in seen:
            errors.append(
                {
                    "path": f"permissions.{index}.scope",
                    "message": f"{scope} is requested twice",
                }
            )
        seen.add(scope)
    skill_ids: set[str] = set()
    for index, skill in enumerate(declaration["skills"]):
        if skill["id"] in skill_ids:
            errors.append(
                {
                    "path": f"skills.{index}.id",
                    "message": f"{skill['id']} is used twice",
                }
            )
        skill_ids.add(skill["id"])
    pricing = declaration.get("pricing")
    if isinstance(pricing, dict):
        errors.extend(
            {"path": path, "message": message}
            for path, message in pricing_errors(pricing)
        )
    return errors


def permission_mismatches(declaration: dict[str, Any]) -> list[str]:
    """Where the requested permissions and what the skills say they use disagree."""
    requested = {p["scope"] for p in declaration.get("permissions", [])}
    used: dict[str, list[str]] = {}
    for skill in declaration.get("skills", []):
        for scope in skill.get("permissions", []):
            used.setdefault(scope, []).append(skill["id"])
    problems = [
        f"skill {', '.join(skills)} uses {scope}, which is not requested"
        for scope, skills in sorted(used.items())
        if scope not in requested
    ]
    problems += [
        f"{scope} is requested but no skill uses it"
        for scope in sorted(requested - used.keys())
    ]
    return problems


def is_companion(declaration: Mapping[str, Any]) -> bool:
    """Whether the declaration declares a companion or emotional-support agent:
    its ``wellbeing`` object says ``"companion": true`` (nothing else counts)."""
    wellbeing = declaration.get("wellbeing")
    return isinstance(wellbeing, dict) and wellbeing.get("companion") is True


def canonical(declaration: Any) -> bytes:
    """RFC 8785 (JCS) canonical form."""
    return rfc8785.dumps(declaration)


def digest(declaration: Any) -> str:
    """Lower-case hex SHA-256 of the canonical declaration."""
    return hashlib.sha256(canonical(declaration)).hexdigest()
