"""Celery tasks of the ratings app: thin, idempotent, keyed by ids.

Every task is safe to run twice (compare-and-set state moves, ratings written on
the unique (cycle, entity) key), so they are acknowledged late: a task whose
worker dies is delivered again. A lost connection to the database is retried
with backoff.
"""

from typing import Any

from celery import shared_task
from django.db import OperationalError

# A lost database connection (a restart, a failover) is worth trying again.
_TRANSIENT = (OperationalError,)


@shared_task(
    name="ratings.cycle_start",
    soft_time_limit=120,
    time_limit=180,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def cycle_start(*, cycle_id: int, **kwargs: Any) -> int | None:
    from ratings.services.cycles import cycle_start

    cycle = cycle_start(cycle_id=cycle_id)
    return None if cycle is None else cycle.total


@shared_task(
    name="ratings.chunk_run",
    soft_time_limit=240,
    time_limit=300,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def chunk_run(*, cycle_id: int, index: int, **kwargs: Any) -> int:
    from ratings.services.cycles import chunk_run

    return chunk_run(cycle_id=cycle_id, index=index)


@shared_task(
    name="ratings.cycle_finalise",
    soft_time_limit=60,
    time_limit=120,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def cycle_finalise(*, cycle_id: int, **kwargs: Any) -> str | None:
    from ratings.services.cycles import cycle_finalise

    cycle = cycle_finalise(cycle_id=cycle_id)
    return None if cycle is None else cycle.state


@shared_task(
    name="ratings.cycle_sweep_stuck",
    soft_time_limit=60,
    time_limit=120,
    acks_late=True,
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def cycle_sweep_stuck(**kwargs: Any) -> int:
    from ratings.services.cycles import cycle_sweep_stuck

    return cycle_sweep_stuck()
