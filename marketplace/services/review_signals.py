"""Signs that an agent's reviews may be manipulated: accounts made the same day, a
burst of 5-star or 1-star reviews, reviewers who review only this publisher's agents.
Computed per agent by a Celery task (``marketplace.review_signals_compute``), which
the hourly beat job enqueues for every agent reviewed within the window; stored one
row per kind and replaced each time, so the same reviews give the same rows.
"""

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from marketplace.models import Agent, Review, ReviewSignal

# --- Signs of manipulation ------------------------------------------------------------

# The thresholds are constants so that changing one is a reviewed commit. Every review
# counts, hidden or not: a hidden review is evidence too.

# New accounts and bursts look at the reviews written in the last SIGNAL_WINDOW_DAYS.
SIGNAL_WINDOW_DAYS = 90
# New accounts: reviewers whose accounts were made on one calendar day (the site's
# time zone) form a cluster when there are at least NEW_ACCOUNTS_MIN_CLUSTER of them.
# A real audience signs up over many days; a batch of accounts made to praise or sink
# an agent shares its birthday. Raised when the clustered reviews are at least
# NEW_ACCOUNTS_MIN_COUNT and NEW_ACCOUNTS_MIN_SHARE of the window's reviews.
NEW_ACCOUNTS_MIN_CLUSTER = 3
NEW_ACCOUNTS_MIN_COUNT = 3
NEW_ACCOUNTS_MIN_SHARE = 0.3
# Bursts: the most 5-star (or 1-star) reviews within any BURST_HOURS of the window,
# against the agent's usual number of reviews in as long (its other reviews of the
# window spread over the time it was listed, and never less than BURST_MIN_EXPECTED,
# so that a quiet agent's first few reviews are no burst). Raised at BURST_MIN_COUNT
# reviews that are BURST_FACTOR times the usual or more.
BURST_HOURS = 24
BURST_MIN_COUNT = 5
BURST_MIN_EXPECTED = 1.0
BURST_FACTOR = 5.0
# Single publisher: reviewers with SINGLE_PUBLISHER_MIN_REVIEWS reviews or more, all of
# this publisher's agents (a single review says nothing: most people write one).
# Raised when at least SINGLE_PUBLISHER_MIN_COUNT of them are
# SINGLE_PUBLISHER_MIN_SHARE of the agent's reviewers or more.
SINGLE_PUBLISHER_MIN_REVIEWS = 2
SINGLE_PUBLISHER_MIN_COUNT = 3
SINGLE_PUBLISHER_MIN_SHARE = 0.3


def _new_accounts_signal(
    rows: list[tuple[datetime, int, datetime]],
) -> tuple[float, dict[str, Any]]:
    reviews = len(rows)
    by_day: Counter[date] = Counter(
        timezone.localtime(joined).date() for _written, _stars, joined in rows
    )
    clusters = {
        day: size
        for day, size in sorted(by_day.items())
        if size >= NEW_ACCOUNTS_MIN_CLUSTER
    }
    count = sum(clusters.values())
    share = count / reviews if reviews else 0.0
    return share, {
        "window_days": SIGNAL_WINDOW_DAYS,
        "reviews": reviews,
        "count": count,
        "share": round(share, 4),
        "days": [
            {"day": day.isoformat(), "accounts": size}
            for day, size in sorted(clusters.items(), key=lambda item: -item[1])[:5]
        ],
        "raised": count >= NEW_ACCOUNTS_MIN_COUNT and share >= NEW_ACCOUNTS_MIN_SHARE,
    }


def _densest(times: list[datetime]) -> tuple[int, datetime | None]:
    """The most of ``times`` (sorted) within BURST_HOURS, and when that stretch
    began."""
    span = timedelta(hours=BURST_HOURS)
    best, start, left = 0, None, 0
    for right, moment in enumerate(times):
        while moment - times[left] >= span:
            left += 1
        if right - left + 1 > best:
            best, start = right - left + 1, times[left]
    return best, start


def _burst_signal(
    rows: list[tuple[datetime, int, datetime]], *, listed_since: datetime, now: datetime
) -> tuple[float, dict[str, Any]]:
    window_start = now - timedelta(days=SIGNAL_WINDOW_DAYS)
    hours = max(
        float(BURST_HOURS),
        (now - max(window_start, listed_since)).total_seconds() / 3600,
    )
    details: dict[str, Any] = {"window_days": SIGNAL_WINDOW_DAYS, "hours": BURST_HOURS}
    strongest = 0.0
    raised = False
    for stars in (5, 1):
        count, start = _densest(
            sorted(written for written, given, _joined in rows if given == stars)
        )
        others = len(rows) - count
        expected = max(others / hours * BURST_HOURS, BURST_MIN_EXPECTED)
        ratio = count / expected
        strongest = max(strongest, ratio)
        raised = raised or (count >= BURST_MIN_COUNT and ratio >= BURST_FACTOR)
        details[f"stars_{stars}"] = {
            "count": count,
            "start": start.isoformat() if start else None,
            "expected": round(expected, 4),
            "ratio": round(ratio, 4),
        }
    details["raised"] = raised
    return strongest, details


def _single_publisher_signal(*, agent: Agent) -> tuple[float, dict[str, Any]]:
    reviewers = Review.objects.filter(agent=agent).values("user_id")
    totals = (
        Review.objects.filter(user_id__in=reviewers)
        .values("user_id")
        .annotate(
            total=Count("pk"),
            here=Count("pk", filter=Q(agent__publisher_id=agent.publisher_id)),
        )
        .order_by()
    )
    count = everyone = 0
    for row in totals:
        everyone += 1
        if row["total"] >= SINGLE_PUBLISHER_MIN_REVIEWS and row["here"] == row["total"]:
            count += 1
    share = count / everyone if everyone else 0.0
    return share, {
        "reviewers": everyone,
        "count": count,
        "share": round(share, 4),
        "raised": count >= SINGLE_PUBLISHER_MIN_COUNT
        and share >= SINGLE_PUBLISHER_MIN_SHARE,
    }


@transaction.atomic
def review_signals_compute(
    *, agent_id: int, now: datetime | None = None
) -> list[ReviewSignal]:
    """Compute the agent's signs of review manipulation and store them, one row per
    kind (replaced each time). The same reviews give the same signals."""
    now = now or timezone.now()
    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return []
    rows = list(
        Review.objects.filter(
            agent=agent, created_at__gte=now - timedelta(days=SIGNAL_WINDOW_DAYS)
        )
        .order_by("created_at", "pk")
        .values_list("created_at", "stars", "user__date_joined")
    )
    listed_since = agent.published_at or agent.created_at
    kinds = ReviewSignal.Kind
    computed = {
        kinds.NEW_ACCOUNTS: _new_accounts_signal(rows),
        kinds.BURST: _burst_signal(rows, listed_since=listed_since, now=now),
        kinds.SINGLE_PUBLISHER: _single_publisher_signal(agent=agent),
    }
    signals = [
        ReviewSignal(
            agent=agent,
            kind=kind,
            score=round(score, 4),
            details=details,
            computed_at=now,
        )
        for kind, (score, details) in computed.items()
    ]
    ReviewSignal.objects.bulk_create(
        signals,
        update_conflicts=True,
        unique_fields=["agent", "kind"],
        update_fields=["score", "details", "computed_at"],
    )
    return signals


def review_signals_agents_due(*, now: datetime | None = None) -> list[int]:
    """The agents whose signals the hourly job recomputes: those reviewed within the
    window, and those whose stored signals still count reviews of the window (so
    that they fade as the window moves on; once they count none, they stay put)."""
    now = now or timezone.now()
    recent = (
        Review.objects.filter(created_at__gte=now - timedelta(days=SIGNAL_WINDOW_DAYS))
        .values_list("agent_id", flat=True)
        .order_by()
        .distinct()
    )
    fading = (
        ReviewSignal.objects.filter(
            kind=ReviewSignal.Kind.NEW_ACCOUNTS, details__reviews__gt=0
        )
        .values_list("agent_id", flat=True)
        .order_by()
    )
    return sorted(set(recent) | set(fading))
