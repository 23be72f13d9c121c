"""make bench: load 100,000 agents into a PostgreSQL database of its own and measure
store search and the agent list endpoint; then rate 100,000 enrolled publishers in
one rating cycle with real Celery workers (``tests/bench/cycle.py``).

``python -m tests.bench.run --only store`` or ``--only cycle`` runs one of the two;
``--entities``, ``--chunk-size``, ``--workers`` and ``--concurrency`` size the cycle.

Run as ``python -m tests.bench.run`` with BENCH_DATABASE_URL (default: the local
server's agentstore_bench). Requests go through Django's test client in this process
(no HTTP server, no network), one at a time: the figures are the application's own
cost per request, database included.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/agentstore_bench"
)
AGENTS = int(os.environ.get("BENCH_AGENTS", "100000"))
ROOT = Path(__file__).resolve().parents[2]

QUERIES = {
    "en": ["mail", "travel", "invoice assistant", "health", "chess coach", "podcast"],
    "zh": ["邮件", "旅行", "发票助手", "健康", "象棋教练", "育儿"],
}
# Misspelt names: found by trigram word similarity.
TYPOS = ["invioce", "podcsat", "fitnes", "tutr"]
REPEAT = 5


def ensure_database() -> None:
    import psycopg

    parts = urlsplit(URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 1),
        "p95_ms": round(percentile(samples, 0.95) * 1000, 1),
        "n": len(samples),
    }


def cycle_bench(options: argparse.Namespace) -> dict[str, object] | None:
    """The rating-cycle benchmark, in a process of its own (its own database and
    workers); its figures, or None when it failed (its error is shown)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.bench.cycle",
            f"--entities={options.entities}",
            f"--chunk-size={options.chunk_size}",
            f"--workers={options.workers}",
            f"--concurrency={options.concurrency}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode:
        print("the rating-cycle benchmark failed", file=sys.stderr)
        return None
    result: dict[str, object] = json.loads(completed.stdout)["rating_cycle"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="make bench")
    parser.add_argument("--only", choices=("store", "cycle"))
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2)
    options = parser.parse_args(argv)
    if options.only == "cycle":
        cycle = cycle_bench(options)
        if cycle is None:
            return 1
        print(json.dumps({"rating_cycle": cycle}, indent=2))
        return 0
    if not URL.startswith(("postgres://", "postgresql://")):
        print("make bench measures PostgreSQL: set BENCH_DATABASE_URL", file=sys.stderr)
        return 2
    ensure_database()
    os.environ["DATABASE_URL"] = URL
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from marketplace.selectors.search import agent_search

    call_command("migrate", verbosity=0)
    call_command("generate_agents", agents=AGENTS)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would, for index-only scans

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    results: dict[str, object] = {"agents": AGENTS}
    for language, queries in QUERIES.items():
        samples = []
        matches = {}
        for query in queries:
            client.get("/agents/", {"q": query})  # warm
            for _ in range(REPEAT):
                started = time.perf_counter()
                response = client.get("/agents/", {"q": query})
                samples.append(time.perf_counter() - started)
            assert response.status_code == 200
            matches[query] = agent_search(q=query).count()
        results[f"search_page_{language}"] = {**summary(samples), "matches": matches}

    # Typo-tolerant name search (pg_trgm) and the store's other orders.
    for label, params in (
        ("search_page_typo", [{"q": q} for q in TYPOS]),
        ("search_page_sorted", [{"sort": s} for s in ("rating", "installs", "newest")]),
        ("search_api", [{"q": q} for q in QUERIES["en"] + QUERIES["zh"]]),
    ):
        samples = []
        path = "/api/v1/agents/" if label == "search_api" else "/agents/"
        for query_params in params:
            client.get(path, query_params)  # warm
            for _ in range(REPEAT):
                started = time.perf_counter()
                response = client.get(path, query_params)
                samples.append(time.perf_counter() - started)
            assert response.status_code == 200
        results[label] = summary(samples)

    samples = []
    for _ in range(10):
        client.get("/api/v1/agents/?page_size=20")
    started_all = time.perf_counter()
    for page in range(1, 201):
        started = time.perf_counter()
        response = client.get(f"/api/v1/agents/?page={page}&page_size=20")
        assert response.status_code == 200
        samples.append(time.perf_counter() - started)
    elapsed = time.perf_counter() - started_all
    results["agent_list_api"] = {
        **summary(samples),
        "requests_per_second": round(len(samples) / elapsed, 1),
    }

    if options.only is None:
        results["rating_cycle"] = cycle_bench(options)

    out = ROOT / "var" / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
