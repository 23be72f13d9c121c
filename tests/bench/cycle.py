"""The rating-cycle benchmark: one industry body, a published methodology and
100,000 enrolled publishers with a spread of evidence, rated by real Celery
worker processes on PostgreSQL and Redis.

Run as ``python -m tests.bench.cycle --entities 100000`` (``make bench`` runs it
after the store benchmark). It uses a PostgreSQL database of its own
(``BENCH_CYCLE_DATABASE_URL``, default: the store benchmark's database name with
``_cycle`` after it), so that its listings do not change the store search
figures, and a Redis database of its own as the broker (``BENCH_BROKER_URL``,
default ``redis://127.0.0.1:6379/9``).

The data are written in bulk, in batches of 5,000 entities, each batch in one
transaction with its evidence, and kept: the entities are the publishers named
``cb-<number>`` enrolled with the body ``cycle-bench-body`` (the marker), so a
second run reuses them and only adds what is missing. The ratings of earlier
runs are deleted before the cycle starts.

Per entity ``n``: every third is verified; four in five list one agent (and one
in ten of those a second), with some disclosure fields left empty; three in four
listers have reviews (1 to 6, stars spread per entity); one listed agent in ten
holds a certificate; 3% have a substantiated misconduct report with its finding
(a serious one for a third of those, which forces the lowest grade).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
STORE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agentstore_bench"
)
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")

BODY_SLUG = "cycle-bench-body"
CERT_BODY_SLUG = "cycle-bench-lab"
SCHEME_CODE = "cycle-bench-security"
METHODOLOGY_CODE = "bench-credit"
ENTITY_PREFIX = "cb-"
REVIEWERS = 300
BATCH = 5_000

INDICATORS: list[dict[str, Any]] = [
    {
        "code": "findings",
        "category": "misconduct",
        "name_en": "Misconduct findings",
        "weight": "30",
        "source": "findings",
        "normalisation": "penalty_decay",
        "direction": "lower_is_better",
        "params": {"minor": 5, "general": 20, "serious": 60},
    },
    {
        "code": "reviews",
        "category": "consumer",
        "name_en": "Review score",
        "weight": "25",
        "source": "review_score",
        "normalisation": "rate_shrunk",
        "direction": "higher_is_better",
        "params": {"lower": 1, "upper": 5, "prior_weight": 10, "prior_mean": 3.5},
    },
    {
        "code": "disclosure",
        "category": "disclosure",
        "name_en": "Disclosure completeness",
        "weight": "15",
        "source": "disclosure",
        "normalisation": "linear",
        "direction": "higher_is_better",
        "params": {"lower": 0, "upper": 1},
    },
    {
        "code": "certificates",
        "category": "safety",
        "name_en": "Certificates held",
        "weight": "10",
        "source": "certificates_held",
        "normalisation": "linear",
        "direction": "higher_is_better",
        "params": {"lower": 0, "upper": 2},
    },
    {
        "code": "reply-time",
        "category": "cooperation",
        "name_en": "Time to answer reviews",
        "weight": "10",
        "source": "review_reply_time",
        "normalisation": "linear",
        "direction": "lower_is_better",
        "params": {"lower": 0, "upper": 720},
    },
    {
        "code": "verified",
        "category": "governance",
        "name_en": "Verified identity and domain",
        "weight": "10",
        "source": "verification",
        "normalisation": "boolean",
        "direction": "higher_is_better",
    },
]
BANDS: list[dict[str, Any]] = [
    {"grade": grade, "min_score": score, "definition_en": f"{grade}."}
    for grade, score in (("AAA", 90), ("AA", 80), ("A", 70), ("BBB", 60), ("BB", 50))
] + [
    {"grade": grade, "min_score": score, "definition_en": f"{grade}."}
    for grade, score in (("B", 40), ("CCC", 30), ("CC", 20), ("C", 10), ("D", 0))
]
OVERRIDES: list[dict[str, Any]] = [
    {"kind": "force", "condition": "dishonesty_listed", "grade": "D"},
    {"kind": "force", "condition": "severe_finding_open", "grade": "D"},
    {"kind": "cap", "condition": "high_risk_gate_missing", "grade": "BBB"},
]
GRADES = [band["grade"] for band in BANDS]


def cycle_database_url() -> str:
    explicit = os.environ.get("BENCH_CYCLE_DATABASE_URL")
    if explicit:
        return explicit
    parts = urlsplit(STORE_URL)
    return parts._replace(path=parts.path.rstrip("/") + "_cycle").geturl()


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)  # progress


# --- The data ---------------------------------------------------------------------


def _world() -> tuple[Any, Any, Any, Any]:
    """The body, its analyst, the published methodology and the certification
    scheme: made once, found again by their slugs and codes."""
    from django.utils import timezone

    from marketplace.domains import ensure_standard_domains
    from marketplace.models import Membership, Organization, Scheme, User
    from ratings.models import Methodology
    from ratings.services.methodologies import (
        methodology_create,
        methodology_publish,
        methodology_set_content,
    )

    ensure_standard_domains()
    body, _ = Organization.objects.get_or_create(
        slug=BODY_SLUG,
        defaults={
            "name": "Cycle Bench Credit Association",
            "kind": Organization.Kind.INDUSTRY_BODY,
        },
    )
    analyst, _ = User.objects.get_or_create(
        username="cycle-bench-analyst",
        defaults={"email": "cycle-bench-analyst@example.com"},
    )
    Membership.objects.get_or_create(
        user=analyst, organization=body, defaults={"role": Membership.Role.ANALYST}
    )
    methodology = Methodology.objects.filter(
        body=body, code=METHODOLOGY_CODE, state=Methodology.State.PUBLISHED
    ).first()
    if methodology is None:
        methodology = methodology_create(
            actor=analyst,
            body=body,
            code=METHODOLOGY_CODE,
            name_en="Bench developer credit",
            text_en="How the bench rates agent developers.",
            commitment_en="We commit to honest dealing.",
        )
        methodology_set_content(
            actor=analyst,
            methodology=methodology,
            indicators=INDICATORS,
            bands=BANDS,
            overrides=OVERRIDES,
        )
        methodology = methodology_publish(actor=analyst, methodology=methodology)
    lab, _ = Organization.objects.get_or_create(
        slug=CERT_BODY_SLUG,
        defaults={
            "name": "Cycle Bench Lab",
            "kind": Organization.Kind.CERTIFICATION_BODY,
            "verified_at": timezone.now(),
        },
    )
    scheme, _ = Scheme.objects.get_or_create(
        code=SCHEME_CODE,
        defaults={
            "body": lab,
            "name_en": "Bench security",
            "name_zh": "基准安全",
            "dimension": "security",
            "levels": ["basic"],
            "criteria_en": "Bench criteria.",
        },
    )
    return body, analyst, methodology, scheme


def _reviewers() -> list[int]:
    from marketplace.models import User

    names = [f"cycle-bench-reviewer-{i}" for i in range(REVIEWERS)]
    have = set(
        User.objects.filter(username__in=names).values_list("username", flat=True)
    )
    User.objects.bulk_create(
        User(username=name, email=f"{name}@example.com", password="!")
        for name in names
        if name not in have
    )
    return list(
        User.objects.filter(username__in=names)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _load_batch(
    *,
    first: int,
    size: int,
    body: Any,
    methodology: Any,
    scheme: Any,
    reviewers: list[int],
    domains: list[Any],
) -> None:
    from django.db import transaction
    from django.utils import timezone

    from marketplace.declarations import digest
    from marketplace.models import (
        Agent,
        AgentVersion,
        Certificate,
        Organization,
        Review,
    )
    from ratings.models import Enrolment, Finding, MisconductReport, ReportEvent

    now = timezone.now()
    numbers = range(first, first + size)
    with transaction.atomic():
        entities = Organization.objects.bulk_create(
            [
                Organization(
                    name=f"Cycle Bench Publisher {n}",
                    slug=f"{ENTITY_PREFIX}{n:06d}",
                    domain=f"{ENTITY_PREFIX}{n:06d}.example.com",
                    kind=Organization.Kind.PUBLISHER,
                    verified_at=now if n % 3 == 0 else None,
                    domain_verified_at=now if n % 3 == 0 else None,
                )
                for n in numbers
            ],
            batch_size=BATCH,
        )
        Enrolment.objects.bulk_create(
            [
                Enrolment(
                    entity=entity,
                    body=body,
                    methodology=methodology,
                    commitment_text=methodology.commitment_en,
                )
                for entity in entities
            ],
            batch_size=BATCH,
        )
        # Listings: four entities in five list an agent, one in ten of those two.
        agents: list[Agent] = []
        declarations: list[dict[str, Any]] = []
        for n, entity in zip(numbers, entities, strict=True):
            if n % 5 == 4:
                continue
            for k in range(2 if n % 10 == 1 else 1):
                domain = domains[(n + k) % len(domains)]
                declaration = {
                    "skills": [{"id": "main", "name": "Main", "tags": []}],
                    "inputModes": ["text/plain"],
                    "outputModes": ["text/plain"],
                    "protocols": [{"type": "mcp"}],
                    "endpoint": f"https://{entity.domain}/agent-{k}",
                    "deployment": "cloud",
                    "permissions": [],
                    "dependencies": {},
                }
                declarations.append(declaration)
                agents.append(
                    Agent(
                        publisher=entity,
                        slug=f"agent-{k}",
                        name=f"Bench agent {n}-{k}",
                        summary="A benchmark agent.",
                        description="" if n % 7 == 0 else "Does benchmark work.",
                        domain=domain,
                        homepage="" if n % 4 == 0 else f"https://{entity.domain}/",
                        privacy_policy_url=f"https://{entity.domain}/privacy",
                        terms_url=""
                        if n % 9 == 0
                        else f"https://{entity.domain}/terms",
                        age_rating=Agent.AgeRating.AGE_18,
                        filing_number=(
                            "BENCH-1" if domain.requires_filing and n % 6 else ""
                        ),
                        protocols=",mcp,",
                        deployment="cloud",
                        published_at=now - timedelta(days=1 + n % 300),
                    )
                )
        Agent.objects.bulk_create(agents, batch_size=BATCH)
        versions = AgentVersion.objects.bulk_create(
            [
                AgentVersion(
                    agent=agent,
                    version="1.0.0",
                    declaration=declaration,
                    declaration_digest=digest(declaration),
                    state=AgentVersion.State.PUBLISHED,
                    submissions=1,
                    submitted_at=now,
                    published_at=now,
                )
                for agent, declaration in zip(agents, declarations, strict=True)
            ],
            batch_size=BATCH,
        )
        for agent, version in zip(agents, versions, strict=True):
            agent.latest_version = version
        Agent.objects.bulk_update(agents, ["latest_version"], batch_size=BATCH)

        # Reviews: three listers in four, 1 to 6 per agent, stars around a
        # typical value of the entity's own.
        reviews = []
        certificates = []
        for agent, version in zip(agents, versions, strict=True):
            n = int(agent.publisher.slug.removeprefix(ENTITY_PREFIX))
            if n % 4 != 3:
                typical = 1 + (n * 7) % 5
                for j in range(1 + (n * 13 + agent.slug.count("1")) % 6):
                    reviews.append(
                        Review(
                            user_id=reviewers[(n + j * 37) % len(reviewers)],
                            agent=agent,
                            version=version,
                            stars=max(1, min(5, typical + (j % 3) - 1)),
                            title="Bench review",
                            body="Written by the benchmark.",
                        )
                    )
            if agent.pk % 10 == 0:
                certificates.append(
                    Certificate(
                        serial=f"CB-{agent.pk}",
                        scheme=scheme,
                        level="basic",
                        version=version,
                        agent=agent,
                        body_id=scheme.body_id,
                        digest=version.declaration_digest,
                        assessor="Bench",
                        report_url="https://lab.example.com/reports/bench",
                        valid_from=now - timedelta(days=30),
                        valid_until=now + timedelta(days=335),
                        status_index=agent.pk,
                        credential="bench",
                        kid="bench",
                    )
                )
        Review.objects.bulk_create(reviews, batch_size=BATCH)
        Certificate.objects.bulk_create(certificates, batch_size=BATCH)

        # Findings: 3% of the entities, a third of them serious.
        tainted = [
            (n, e) for n, e in zip(numbers, entities, strict=True) if n % 33 == 5
        ]
        categories = {
            0: (MisconductReport.Category.CONCEALING_DEFECTS, Finding.Severity.SERIOUS),
            1: (MisconductReport.Category.FALSE_ADVERTISING, Finding.Severity.GENERAL),
            2: (MisconductReport.Category.OTHER, Finding.Severity.MINOR),
        }
        reports = MisconductReport.objects.bulk_create(
            [
                MisconductReport(
                    publisher=entity,
                    category=categories[(n // 33) % 3][0],
                    description="Bench report.",
                    state=MisconductReport.State.SUBSTANTIATED,
                    body=body,
                )
                for n, entity in tainted
            ],
            batch_size=BATCH,
        )
        ReportEvent.objects.bulk_create(
            [
                ReportEvent(
                    report=report,
                    from_state=MisconductReport.State.INVESTIGATING,
                    to_state=MisconductReport.State.SUBSTANTIATED,
                )
                for report in reports
            ],
            batch_size=BATCH,
        )
        Finding.objects.bulk_create(
            [
                Finding(
                    report=report,
                    entity=entity,
                    body=body,
                    category=categories[(n // 33) % 3][0],
                    severity=categories[(n // 33) % 3][1],
                    occurred_at=now - timedelta(days=20 + n % 200),
                    reasons="Bench finding.",
                )
                for report, (n, entity) in zip(reports, tainted, strict=True)
            ],
            batch_size=BATCH,
        )


def load(entities: int) -> tuple[Any, Any, Any]:
    """The world and ``entities`` enrolled publishers with their evidence; what is
    there already is kept. Returns the body, analyst and methodology."""
    from django.db import connection

    from marketplace.models import Domain
    from ratings.models import Enrolment

    body, analyst, methodology, scheme = _world()
    have = Enrolment.objects.filter(
        body=body, entity__slug__startswith=ENTITY_PREFIX
    ).count()
    if have >= entities:
        log(f"{have} benchmark entities are loaded already.")
        return body, analyst, methodology
    reviewers = _reviewers()
    domains = list(Domain.objects.order_by("code"))
    started = time.monotonic()
    made = have
    while made < entities:
        size = min(BATCH, entities - made)
        _load_batch(
            first=made,
            size=size,
            body=body,
            methodology=methodology,
            scheme=scheme,
            reviewers=reviewers,
            domains=domains,
        )
        made += size
        rate = (made - have) / (time.monotonic() - started)
        log(f"{made}/{entities} entities ({rate:,.0f}/s)")
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    log(f"Loaded {entities - have} entities in {time.monotonic() - started:.1f} s.")
    return body, analyst, methodology


def clear_cycles(body: Any) -> None:
    """Forget the cycles of earlier runs (ratings, chunks, events)."""
    from django.db import connection

    from ratings.models import RatingCycle

    cycles = "SELECT id FROM ratings_ratingcycle WHERE body_id = %s"
    with connection.cursor() as cursor:
        for table in ("ratings_creditevent", "ratings_rating", "ratings_cyclechunk"):
            cursor.execute(
                f"DELETE FROM {table} WHERE cycle_id IN ({cycles})", [body.pk]
            )
    RatingCycle.objects.filter(body=body).delete()


# --- Workers ----------------------------------------------------------------------


def start_workers(
    *, workers: int, concurrency: int, database_url: str, logs: Path
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": BROKER_URL,
        "REDIS_URL": "",
    }
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    for number in range(workers):
        pool = (
            ["--pool=solo"]
            if concurrency == 1
            else [
                "--pool=prefork",
                f"--concurrency={concurrency}",
            ]
        )
        out = (logs / f"worker-{number}.log").open("wb")
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    *pool,
                    "--loglevel=WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--hostname",
                    f"cycle-bench-{number}-{uuid.uuid4().hex[:6]}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    return processes


def stop_workers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_ready(processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    from config.celery_app import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError("a benchmark worker stopped; see var/bench/cycle-logs/")
        replies = app.control.ping(timeout=0.5) or []
        names = {name for reply in replies for name in reply}
        if sum(1 for name in names if name.startswith("cycle-bench-")) >= len(
            processes
        ):
            return
    raise RuntimeError("the benchmark workers did not start in time")


# --- Checks -----------------------------------------------------------------------


def check(cycle: Any, entity_ids: set[int], *, sample: int = 2000) -> dict[str, Any]:
    """Every entity exactly one rating; for a sample, contributions that add up
    to the score, a grade that follows the bands (or the overrides, or
    provisional), and a score that recomputes from the stored evidence."""
    from django.db.models import Count

    from ratings import scoring
    from ratings.models import Rating
    from ratings.services.cycles import rating_recompute

    ratings = Rating.objects.filter(cycle=cycle)
    rated = list(ratings.values_list("entity_id", flat=True))
    duplicates = (
        ratings.values("entity").annotate(n=Count("pk")).filter(n__gt=1).count()
    )
    assert duplicates == 0, f"{duplicates} entities rated twice"
    assert len(rated) == len(entity_ids), (len(rated), len(entity_ids))
    assert set(rated) == entity_ids, "the rated entities are not the enrolled ones"
    bands = [(band["grade"], Decimal(band["min_score"])) for band in BANDS]
    checked = 0
    rows = ratings.order_by("?")[:sample]
    for rating in rows.select_related("cycle__methodology"):
        assert sum(Decimal(c["contribution"]) for c in rating.contributions) == (
            rating.score
        ), rating.pk
        forced = [o["grade"] for o in rating.overrides if o["action"] == "force"]
        capped = [o["grade"] for o in rating.overrides if o["action"] == "cap"]
        if forced:
            assert rating.grade in forced, rating.pk
        elif rating.provisional:
            assert rating.grade == scoring.PROVISIONAL_GRADE, rating.pk
        else:
            band = next(grade for grade, least in bands if rating.score >= least)
            for cap in capped:
                if GRADES.index(band) < GRADES.index(cap):
                    band = cap
            assert rating.grade == band, (rating.pk, rating.score, rating.grade)
        if checked < 50:
            again = rating_recompute(rating=rating)
            assert (again.score, again.grade) == (rating.score, rating.grade)
        checked += 1
    grades = Counter(ratings.values_list("grade", flat=True))
    return {
        "one_rating_each": True,
        "sample_checked": checked,
        "recomputed": min(checked, 50),
        "grades": dict(sorted(grades.items(), key=lambda item: -item[1])),
    }


# --- The run ----------------------------------------------------------------------


def run(
    *, entities: int, chunk_size: int, workers: int, concurrency: int
) -> dict[str, Any]:
    """Load (or reuse) the data, run one cycle with real workers, check it."""
    url = cycle_database_url()
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("the cycle benchmark measures PostgreSQL")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_BROKER_URL"] = BROKER_URL
    os.environ["REDIS_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    from config.celery_app import app
    from ratings.models import CycleChunk, Enrolment, RatingCycle
    from ratings.services.cycles import cycle_create

    call_command("migrate", verbosity=0)
    body, analyst, methodology = load(entities)
    clear_cycles(body)
    entity_ids = set(
        Enrolment.objects.filter(body=body, withdrawn_at__isnull=True).values_list(
            "entity_id", flat=True
        )
    )
    app.control.purge()
    processes = start_workers(
        workers=workers,
        concurrency=concurrency,
        database_url=url,
        logs=ROOT / "var" / "bench" / "cycle-logs",
    )
    try:
        wait_ready(processes)
        log(
            f"Rating {len(entity_ids)} entities: {workers} worker(s) x "
            f"concurrency {concurrency}, chunks of {chunk_size}"
        )
        started = time.monotonic()
        cycle = cycle_create(
            actor=analyst, methodology=methodology, chunk_size=chunk_size
        )
        in_review = RatingCycle.objects.filter(
            pk=cycle.pk, state=RatingCycle.State.REVIEW
        )
        deadline = started + 1800
        while not in_review.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the cycle did not reach review in 30 minutes")
            if any(p.poll() is not None for p in processes):
                raise RuntimeError("a benchmark worker stopped during the cycle")
            time.sleep(0.1)
        elapsed = time.monotonic() - started
    finally:
        stop_workers(processes)
        app.control.purge()  # the finaliser's countdown message
    cycle.refresh_from_db()
    assert cycle.scored_at is not None
    assert cycle.started_at is not None
    chunks = CycleChunk.objects.filter(cycle=cycle).count()
    result = {
        "entities": len(entity_ids),
        "chunk_size": chunk_size,
        "chunks": chunks,
        "workers": workers,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "entities_per_second": round(len(entity_ids) / elapsed),
        "scoring_seconds": round(
            (cycle.scored_at - cycle.started_at).total_seconds(), 2
        ),
        "checks": check(cycle, entity_ids),
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    options = parser.parse_args(argv)
    result = run(
        entities=options.entities,
        chunk_size=options.chunk_size,
        workers=options.workers,
        concurrency=options.concurrency,
    )
    out = ROOT / "var" / "bench" / "cycle-results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rating_cycle": result}, indent=2), encoding="utf-8")
    print(json.dumps({"rating_cycle": result}, indent=2))  # the result
    return 0


if __name__ == "__main__":
    sys.exit(main())
