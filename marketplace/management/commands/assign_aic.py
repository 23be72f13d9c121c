"""Give an ACPs identity code to every agent that was published before the operator
set ACPS_REGISTRAR_OID. Agents that have a code keep it; running the command again
changes nothing."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from marketplace.models import Agent
from marketplace.services.aic import agent_assign_aic


class Command(BaseCommand):
    help = "Assign ACPs identity codes to published agents that have none."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.ACPS_REGISTRAR_OID:
            raise CommandError(
                "ACPS_REGISTRAR_OID is not set: there is no arc to assign codes under."
            )
        missing = list(
            Agent.objects.filter(aic__isnull=True, published_at__isnull=False)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        assigned = 0
        for pk in missing:
            # One transaction per agent: an interrupted run keeps what it assigned.
            if agent_assign_aic(agent=Agent(pk=pk), actor=None):
                assigned += 1
        self.stdout.write(f"Assigned {assigned} ACPs identity code(s).")
