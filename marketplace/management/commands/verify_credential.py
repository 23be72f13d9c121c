"""Verify a certificate offline, from files: the signed credential (VC-JWT), the
issuer's JWKS and the status list credential it names. No network access; the
exit code says whether the certificate is valid."""

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
    no_translations,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.credentials import (
    MAX_CREDENTIAL_LENGTH,
    MAX_STATUS_LIST_BYTES,
    Verification,
    VerificationStatus,
    verify_credential,
)

# A JWKS or a status list credential is a few kilobytes; a status list's encoded
# bits are at most a little over MAX_STATUS_LIST_BYTES.
MAX_JSON_FILE_BYTES = MAX_STATUS_LIST_BYTES + 64 * 1024
EXIT_NOT_VALID = 1
EXIT_UNREADABLE = 2


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Django's option order, with the description's paragraphs kept."""


class Command(BaseCommand):
    help = """Verify a certificate offline and print its status.

A certificate is an Open Badges 3.0 credential signed as a VC-JWT with Ed25519
(EdDSA). This command reads local files only and makes no network requests. Fetch
the files first:

  CREDENTIAL_FILE  the certificate's VC-JWT (compact JWS), as served at
                   /certificates/<serial>/credential.jwt
  --jwks           the issuing site's public keys, /.well-known/jwks.json
  --status-list    the status list credential that the certificate names in
                   credentialStatus.statusListCredential, served at
                   /certificates/status-list.json; repeat the option for a
                   credential that names several lists

It checks the form of the token, the signature against the key named by the
token's "kid", that the JWT claims (iss, jti, sub, nbf, exp) agree with the
credential, the validity period, the status list's own eddsa-jcs-2022 proof, and
the certificate's entry in that one list. Each certificate has two bits there
(statusSize 2): 0 valid, 1 suspended, 2 revoked, 3 not in use; the meanings are
taken from the certificate's signed statusMessage. One-bit revocation and
suspension lists, as other issuers publish them, are read as well.

Statuses: valid, expired, suspended, revoked, invalid (malformed, unknown key,
bad signature, claims that disagree, not yet valid) and unknown (the signature
holds but the status list was not given, its proof fails, or it gives a value
whose message is not understood).

Exit codes: 0 valid; 1 any other status; 2 a file could not be read or --at is
not a date-time with a time zone."""

    def create_parser(
        self, prog_name: str, subcommand: str, **kwargs: Any
    ) -> CommandParser:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "credential_file",
            metavar="CREDENTIAL_FILE",
            help="File holding the certificate's VC-JWT.",
        )
        parser.add_argument(
            "--jwks",
            required=True,
            metavar="FILE",
            help="File holding the issuer's JWKS (/.well-known/jwks.json).",
        )
        parser.add_argument(
            "--status-list",
            action="append",
            default=[],
            dest="status_lists",
            metavar="FILE",
            help="File holding the status list credential the certificate names "
            "(/certificates/status-list.json); repeat for each list it names.",
        )
        parser.add_argument(
            "--at",
            metavar="TIME",
            help="Check as of this time, e.g. 2027-01-01T00:00:00Z (default: now).",
        )
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the result as JSON: status, reasons, kid and credential.",
        )

    # Reports in English, whatever the site's language: the command is for outside
    # verifiers and scripts.
    @no_translations
    def handle(self, *args: Any, **options: Any) -> None:
        token = _read_text(Path(options["credential_file"]), MAX_CREDENTIAL_LENGTH)
        jwks = _read_json(Path(options["jwks"]))
        status_lists = [_read_json(Path(name)) for name in options["status_lists"]]
        now = _moment(options["at"]) if options["at"] else timezone.now()
        result = verify_credential(
            token=token.strip(), jwks=jwks, status_lists=status_lists, now=now
        )
        if options["json"]:
            self.stdout.write(json.dumps(_as_json(result), indent=2, sort_keys=True))
        else:
            self._write_text(result)
        if result.status != VerificationStatus.VALID:
            raise SystemExit(EXIT_NOT_VALID)

    def _write_text(self, result: Verification) -> None:
        style = (
            self.style.SUCCESS
            if result.status == VerificationStatus.VALID
            else self.style.ERROR
        )
        self.stdout.write(style(str(result.status)))
        for reason in result.reasons:
            self.stdout.write(f"- {reason}")
        credential = result.credential or {}
        subject = credential.get("credentialSubject")
        details = {
            _("credential"): credential.get("id"),
            _("issuer"): _name_or_id(credential.get("issuer")),
            _("subject"): subject.get("id") if isinstance(subject, dict) else None,
            _("achievement"): _name_or_id(
                subject.get("achievement") if isinstance(subject, dict) else None
            ),
            _("valid from"): credential.get("validFrom"),
            _("valid until"): credential.get("validUntil"),
            _("key"): result.kid,
        }
        for label, value in details.items():
            if isinstance(value, str):
                # JSON-quoted: the values come from the file, not from us.
                self.stdout.write(f"{label}: {json.dumps(value)}")


def _name_or_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("name", "id"):
            if isinstance(value.get(key), str):
                return str(value[key])
    return None


def _as_json(result: Verification) -> dict[str, Any]:
    return {
        "status": str(result.status),
        "reasons": result.reasons,
        "kid": result.kid,
        "credential": result.credential,
    }


def _read_bytes(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit + 1)
    except OSError as error:
        raise CommandError(
            _("Cannot read %(path)s: %(error)s")
            % {"path": path, "error": error.strerror or error},
            returncode=EXIT_UNREADABLE,
        ) from error


def _read_text(path: Path, limit: int) -> str:
    # Read one character past the limit: a longer token is refused as invalid
    # without reading the rest of the file.
    return _read_bytes(path, limit).decode("utf-8", errors="replace")


def _read_json(path: Path) -> Any:
    data = _read_bytes(path, MAX_JSON_FILE_BYTES)
    if len(data) > MAX_JSON_FILE_BYTES:
        raise CommandError(
            _("%(path)s is larger than %(limit)d bytes.")
            % {"path": path, "limit": MAX_JSON_FILE_BYTES},
            returncode=EXIT_UNREADABLE,
        )
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        raise CommandError(
            _("%(path)s is not JSON: %(error)s") % {"path": path, "error": error},
            returncode=EXIT_UNREADABLE,
        ) from error


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise CommandError(
            _("--at %(time)s is not a date-time such as 2027-01-01T00:00:00Z.")
            % {"time": json.dumps(text)},
            returncode=EXIT_UNREADABLE,
        ) from error
    if moment.tzinfo is None:
        raise CommandError(
            _("--at %(time)s has no time zone; add one, such as Z for UTC.")
            % {"time": json.dumps(text)},
            returncode=EXIT_UNREADABLE,
        )
    return moment
