"""Give a certification body a new signing key (for example after a suspected
leak, or on a schedule). The old key is retired, not deleted: it stays in
/.well-known/jwks.json so that the credentials it signed still verify."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.models import Organization
from marketplace.services.credentials import issuer_key_rotate


class Command(BaseCommand):
    help = (
        "Rotate a certification body's signing key: new certificates are signed with "
        "a new Ed25519 key; the retired key stays published."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("body", help="the certification body's short name (slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        body = Organization.objects.filter(
            slug=options["body"], kind=Organization.Kind.CERTIFICATION_BODY
        ).first()
        if body is None:
            raise CommandError(f"No certification body {options['body']!r}.")
        key = issuer_key_rotate(organization=body)
        self.stdout.write(f"{body.slug}: now signing with key {key.kid}")
