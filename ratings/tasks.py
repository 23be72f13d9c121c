"""Celery tasks of the ratings app: thin, idempotent, keyed by ids.

Every task is safe to run twice (compare-and-set state moves, ratings written on
the unique (cycle, entity) key), so they are acknowledged late: a task whose
worker dies is delivered again. A lost connection to the database is retried
with backoff.
"""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Task, shared_task
from django.db import OperationalError

P = ParamSpec("P")
R = TypeVar("R")


def _rating_task(
    name: str, *, soft_time_limit: int, time_limit: int
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """Acknowledged late, and retried with backoff when the database connection
    is lost (a restart, a failover)."""
    return shared_task(
        name=name,
        soft_time_limit=soft_time_limit,
        time_limit=time_limit,
        acks_late=True,
        autoretry_for=(OperationalError,),
        retry_backoff=True,
        retry_jitter=True,
        max_retries=5,
    )


@_rating_task("ratings.cycle_start", soft_time_limit=120, time_limit=180)
def cycle_start(*, cycle_id: int, **kwargs: Any) -> int | None:
    from ratings.services.cycles import cycle_start

    cycle = cycle_start(cycle_id=cycle_id)
    return None if cycle is None else cycle.total


@_rating_task("ratings.chunk_run", soft_time_limit=240, time_limit=300)
def chunk_run(*, cycle_id: int, index: int, **kwargs: Any) -> int:
    from ratings.services.cycles import chunk_run

    return chunk_run(cycle_id=cycle_id, index=index)


@_rating_task("ratings.cycle_finalise", soft_time_limit=60, time_limit=120)
def cycle_finalise(*, cycle_id: int, **kwargs: Any) -> str | None:
    from ratings.services.cycles import cycle_finalise

    cycle = cycle_finalise(cycle_id=cycle_id)
    return None if cycle is None else cycle.state


@_rating_task("ratings.cycle_sweep_stuck", soft_time_limit=60, time_limit=120)
def cycle_sweep_stuck(**kwargs: Any) -> int:
    from ratings.services.cycles import cycle_sweep_stuck

    return cycle_sweep_stuck()


@_rating_task("ratings.cycles_start_due", soft_time_limit=60, time_limit=120)
def cycles_start_due(**kwargs: Any) -> int:
    from ratings.services.cycles import cycles_start_due

    return cycles_start_due()


@_rating_task("ratings.ratings_publish_due", soft_time_limit=120, time_limit=180)
def ratings_publish_due(**kwargs: Any) -> int:
    from ratings.services.decisions import ratings_publish_due

    return ratings_publish_due()


@_rating_task("ratings.sanctions_expire", soft_time_limit=120, time_limit=180)
def sanctions_expire(**kwargs: Any) -> int:
    from ratings.services.sanctions import sanctions_expire

    return sanctions_expire()


@_rating_task("ratings.watch_scan", soft_time_limit=120, time_limit=180)
def watch_scan(**kwargs: Any) -> int:
    from ratings.services.surveillance import watch_scan

    return watch_scan()


@_rating_task("ratings.watch_remind_overdue", soft_time_limit=60, time_limit=120)
def watch_remind_overdue(**kwargs: Any) -> int:
    from ratings.services.surveillance import watch_remind_overdue

    return watch_remind_overdue()


@_rating_task("ratings.ratings_expire", soft_time_limit=120, time_limit=180)
def ratings_expire(**kwargs: Any) -> int:
    from ratings.services.surveillance import ratings_expire

    return ratings_expire()
