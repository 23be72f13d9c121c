"""Load many published agents in bulk, for benchmarks: `--agents 100000` takes a
minute or two on PostgreSQL. It writes rows directly (bulk inserts), not through the
publishing services, and marks what it made with the publisher prefix "bench-".

The agents get rating summaries without reviews: a histogram of stars, and the count,
mean and Bayesian score that the reviews service would derive from it (so that
``rating_count`` is the histogram's sum). ``recount_ratings`` resets them to their
reviews, that is to none."""

import math
import random
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from marketplace.declarations import digest
from marketplace.domains import ensure_standard_domains
from marketplace.models import Agent, AgentVersion, Deployment, Domain, Organization
from marketplace.search import token_text

WORDS_EN = [
    "mail",
    "meeting",
    "contract",
    "travel",
    "recipe",
    "repair",
    "story",
    "music",
    "math",
    "speaking",
    "news",
    "health",
    "expense",
    "bus",
    "invoice",
    "legal",
    "tutor",
    "translate",
    "schedule",
    "shopping",
    "weather",
    "fitness",
    "insurance",
    "loan",
    "tax",
    "hotel",
    "flight",
    "code",
    "review",
    "design",
    "photo",
    "video",
    "podcast",
    "garden",
    "pet",
    "baby",
    "elder",
    "care",
    "reading",
    "writing",
    "chess",
    "poetry",
    "history",
]
WORDS_ZH = [
    "邮件",
    "会议",
    "合同",
    "旅行",
    "菜谱",
    "维修",
    "故事",
    "音乐",
    "数学",
    "口语",
    "新闻",
    "健康",
    "记账",
    "公交",
    "发票",
    "法律",
    "辅导",
    "翻译",
    "日程",
    "购物",
    "天气",
    "健身",
    "保险",
    "贷款",
    "税务",
    "酒店",
    "航班",
    "代码",
    "设计",
    "照片",
    "视频",
    "播客",
    "园艺",
    "宠物",
    "育儿",
    "养老",
    "阅读",
    "写作",
    "象棋",
    "诗词",
    "历史",
]
ROLES = [
    ("助手", "assistant"),
    ("顾问", "advisor"),
    ("管家", "butler"),
    ("教练", "coach"),
]
PROTOCOLS = ["a2a", "mcp", "aip", "openapi", "anp"]
# How far a generated agent's stars stray from its typical rating.
STARS_SPREAD = 0.9
DEPLOYMENTS = Deployment.values


class Command(BaseCommand):
    help = "Bulk-load published agents for benchmarks (publishers named bench-*)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agents", type=int, default=100_000)
        parser.add_argument("--per-publisher", type=int, default=100)
        parser.add_argument("--batch", type=int, default=5_000)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, **options: Any) -> None:
        total: int = options["agents"]
        per_publisher: int = max(1, options["per_publisher"])
        batch: int = max(100, options["batch"])
        rng = random.Random(options["seed"])  # noqa: S311  (test data, not secrets)
        ensure_standard_domains()
        domains = list(Domain.objects.order_by("code"))
        existing = Agent.objects.filter(publisher__slug__startswith="bench-").count()
        if existing >= total:
            self.stdout.write(f"{existing} benchmark agents are loaded already.")
            return
        started = time.monotonic()
        made = existing
        while made < total:
            size = min(batch, total - made)
            self._load(rng, domains, first=made, size=size, per_publisher=per_publisher)
            made += size
            rate = (made - existing) / (time.monotonic() - started)
            self.stdout.write(f"{made}/{total} agents ({rate:,.0f}/s)")
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {total - existing} agents "
                f"in {time.monotonic() - started:.1f} s."
            )
        )

    @staticmethod
    def _ratings(rng: random.Random) -> dict[str, Any]:
        """Believable summaries: most agents have few ratings, some have many; each
        agent's stars cluster around its typical rating. The histogram sums to the
        count, and the mean and score are computed from it as the reviews service
        computes them."""
        count = min(int(rng.paretovariate(1.2)) - 1, 100_000)
        if count == 0:
            return {"install_count": rng.randint(0, 50)}
        typical = min(5.0, max(1.0, rng.gauss(4.0, 0.6)))
        weights = [
            math.exp(-(((stars - typical) / STARS_SPREAD) ** 2) / 2)
            for stars in range(1, 6)
        ]
        drawn = Counter(rng.choices(range(1, 6), weights=weights, k=count))
        histogram = {f"rating_{stars}": drawn[stars] for stars in range(1, 6)}
        total = sum(stars * drawn[stars] for stars in range(1, 6))
        weight = float(settings.REVIEW_PRIOR_WEIGHT)
        prior = weight * float(settings.REVIEW_PRIOR_MEAN)
        return {
            **histogram,
            "rating_count": count,
            "rating_mean": float(total) / float(count),
            "rating_score": (prior + float(total)) / (weight + float(count)),
            "install_count": count * rng.randint(3, 30),
        }

    @transaction.atomic
    def _load(
        self,
        rng: random.Random,
        domains: list[Domain],
        *,
        first: int,
        size: int,
        per_publisher: int,
    ) -> None:
        numbers = range(first // per_publisher, (first + size - 1) // per_publisher + 1)
        publishers = {
            number: Organization.objects.get_or_create(
                slug=f"bench-{number:05d}",
                defaults={
                    "name": f"Bench Publisher {number}",
                    "kind": Organization.Kind.PUBLISHER,
                },
            )[0]
            for number in numbers
        }
        now = timezone.now()
        agents, declarations = [], []
        for index in range(first, first + size):
            zh, en = rng.choice(WORDS_ZH), rng.choice(WORDS_EN)
            role_zh, role_en = rng.choice(ROLES)
            protocols = sorted(rng.sample(PROTOCOLS, rng.randint(1, 2)))
            deployment = rng.choice(DEPLOYMENTS)
            name = f"{zh}{role_zh} {en.title()} {role_en.title()} {index}"
            other_zh, other_en = rng.choice(WORDS_ZH), rng.choice(WORDS_EN)
            summary = f"{zh}{other_zh}相关服务 Helps with {en} and {other_en}"
            domain = rng.choice(domains)
            domain_names = (domain.name_en, domain.name_zh)
            skill = {
                "id": "main",
                "name": f"{zh} {en}",
                "description": summary,
                "tags": [en],
            }
            declaration = {
                "skills": [skill],
                "inputModes": ["text/plain"],
                "outputModes": ["text/plain"],
                "protocols": [{"type": p} for p in protocols],
                "endpoint": f"https://bench.example.com/{index}",
                "deployment": deployment,
                "permissions": [],
                "dependencies": {},
            }
            declarations.append(declaration)
            agents.append(
                Agent(
                    publisher=publishers[index // per_publisher],
                    slug=f"agent-{index}",
                    name=name,
                    summary=summary,
                    domain=domain,
                    tags=[en],
                    privacy_policy_url="https://bench.example.com/privacy",
                    terms_url="https://bench.example.com/terms",
                    age_rating=Agent.AgeRating.AGE_18,
                    filing_number="BENCH-1" if domain.requires_filing else "",
                    protocols="".join(f",{p}" for p in protocols) + ",",
                    deployment=deployment,
                    search_name=token_text([name]),
                    search_text=token_text(
                        (name, summary, en, str(skill["name"]), *domain_names)
                    ),
                    published_at=now - timedelta(minutes=rng.randint(0, 525_600)),
                    **self._ratings(rng),
                )
            )
        Agent.objects.bulk_create(agents, batch_size=1000)
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
            batch_size=1000,
        )
        for agent, version in zip(agents, versions, strict=True):
            agent.latest_version = version
        Agent.objects.bulk_update(agents, ["latest_version"], batch_size=1000)
