"""Recompute every agent's rating summary (count, histogram, mean and Bayesian score)
from its visible reviews, in batches of agents, each batch one transaction and one
UPDATE. The reviews service keeps the summaries as reviews change; this sets right
what changed around it (accounts deleted with their reviews, rows loaded in bulk)
and applies a new REVIEW_PRIOR_WEIGHT or REVIEW_PRIOR_MEAN to every agent."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from marketplace.models import Agent
from marketplace.services.reviews import agent_rating_recount_many


class Command(BaseCommand):
    help = "Recompute the rating summaries of all agents from their visible reviews."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", type=int, default=500, help="Agents per transaction."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        batch: int = max(1, options["batch"])
        total = Agent.objects.count()
        started = time.monotonic()
        done = fixed = 0
        last = 0
        while True:
            ids = list(
                Agent.objects.filter(pk__gt=last)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            fixed += agent_rating_recount_many(agent_ids=ids)
            done += len(ids)
            last = ids[-1]
            self.stdout.write(f"{done}/{total} agents, {fixed} corrected")
        self.stdout.write(
            self.style.SUCCESS(
                f"Recounted {done} agents in {time.monotonic() - started:.1f} s; "
                f"{fixed} had a wrong summary."
            )
        )
