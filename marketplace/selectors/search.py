"""The store's search: which published agents match a query and the filters, in
what order, and how they fall into facets.

Matching is token-based (marketplace/search.py) and gives the same agents on both
databases, typo tolerance aside, which only PostgreSQL has. PostgreSQL answers from
the GIN-indexed ``search_vector`` column (migration 0008) and ranks by ``ts_rank``
with the name weighing most; when nothing matches, it finds names a typo away through
pg_trgm's word similarity. SQLite compares the stored tokens with ``LIKE`` and ranks
agents whose name holds the query first.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVectorField,
    TrigramWordSimilarity,
)
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Expression,
    F,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.sql.compiler import SQLCompiler

from marketplace import credit
from marketplace.models import Agent, Domain
from marketplace.search import has_cjk, normalise_text, query_tokens

SORTS: dict[str, tuple[Any, ...]] = {
    "relevance": (F("relevance").desc(), "name", "pk"),
    "rating": ("-rating_score", "pk"),
    "installs": ("-install_count", "pk"),
    "newest": ("-published_at", "-pk"),
    "name": ("name", "pk"),
}
# Typo tolerance looks at names for queries of at least this many letters and at
# most this many words.
TYPO_MIN_LENGTH = 4
TYPO_MAX_WORDS = 2


def listed_agents(*, include_suspended: bool = False) -> QuerySet[Agent]:
    """Agents with a published version that are not quarantined and whose
    publisher is not suspended by a credit sanction. ``include_suspended`` keeps
    the suspended publishers' agents, for the lookup of an identifier: those who
    installed such an agent still learn what it is (and that it is suspended)."""
    agents = (
        Agent.objects.filter(latest_version__isnull=False)
        .exclude(status=Agent.Status.QUARANTINED)
        .select_related("publisher", "domain", "latest_version")
    )
    if not include_suspended:
        agents = agents.filter(publisher__credit_suspended=False)
    return agents


# Credit measures in the store's order: a publisher downranked by a credit sanction
# has its agents after the others under relevance (the default sort, also when there
# is no query to rank) and on the store front's shelves. A sort the user picks
# (rating, installs, newest, name) is their own order and is kept as asked.
DOWNRANKED_LAST = F("publisher__store_downranked").asc()


@dataclass(frozen=True)
class _Query:
    tokens: list[str]
    # The whole query, for trigram similarity with names; empty when it does not
    # apply (CJK text, or too short for a typo to be told from another word).
    fuzzy: str

    @property
    def tsquery(self) -> str:
        return " & ".join(f"'{token}':*" for token in self.tokens)


def _parse(q: str) -> _Query:
    tokens = query_tokens(q)
    text = normalise_text(q)
    fuzzy = (
        text
        if len(text) >= TYPO_MIN_LENGTH
        and len(text.split()) <= TYPO_MAX_WORDS
        and not has_cjk(text)
        else ""
    )
    return _Query(tokens=tokens, fuzzy=fuzzy)


class StoredSearchVector(Expression):
    """The generated ``search_vector`` column, which the model does not declare
    (Django would try to write it)."""

    output_field = SearchVectorField()

    def as_sql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, list[Any]]:
        table = compiler.quote_name_unless_alias(Agent._meta.db_table)
        return f"{table}.{connection.ops.quote_name('search_vector')}", []


class WordSimilar(Func):
    """``query <% name``: some stretch of the name is within pg_trgm's word
    similarity threshold of the query. The operator form uses the trigram index."""

    arg_joiner = " <%% "
    template = "(%(expressions)s)"
    output_field = BooleanField()


def _match_postgresql(agents: QuerySet[Agent], query: _Query) -> QuerySet[Agent]:
    """Agents whose tokens match; when none does, agents whose name is one typo
    away. (Trigram matching beside a query that has matches only adds noise, and
    costs a scan when a query's trigrams are common.)"""
    tsquery = SearchQuery(query.tsquery, config="simple", search_type="raw")
    exact = agents.alias(search_vector=StoredSearchVector()).filter(
        search_vector=tsquery
    )
    if query.fuzzy and not _matches_any(exact):
        return agents.filter(WordSimilar(Value(query.fuzzy), F("name"))).annotate(
            relevance=TrigramWordSimilarity(query.fuzzy, "name")
        )
    return exact.annotate(relevance=SearchRank(F("search_vector"), tsquery))


def _matches_any(agents: QuerySet[Agent]) -> bool:
    """Whether any agent matches. Not ``exists()``: with LIMIT 1 the planner bets
    that a sequential scan soon meets a row, and for a token that matches nothing it
    reads the whole table; a limit of a thousand keeps it on the GIN index."""
    return agents.order_by().values("pk")[:1000].count() > 0


def _match_like(agents: QuerySet[Agent], query: _Query) -> QuerySet[Agent]:
    in_name = Q()
    for token in query.tokens:
        agents = agents.filter(search_text__contains=f" {token}")
        in_name &= Q(search_name__contains=f" {token}")
    return agents.annotate(
        relevance=Case(When(in_name, then=Value(1.0)), default=Value(0.0))
    )


def agent_search(
    *,
    q: str = "",
    domain: str = "",
    risk_tier: str = "",
    protocol: str = "",
    deployment: str = "",
    publisher: str = "",
    verified: bool = False,
    online: bool = False,
    min_rating: float | None = None,
    min_grade: str = "",
    hide_dishonesty_listed: bool = False,
    credit_badge: bool = False,
    pricing: Sequence[str] = (),
    ipv6: bool = False,
    sort: str = "relevance",
) -> QuerySet[Agent]:
    """Published agents matching every token of ``q`` and every filter given.
    ``hide_dishonesty_listed`` leaves out publishers on the dishonesty list;
    ``credit_badge`` keeps only publishers holding the top-grade store badge;
    ``pricing`` keeps agents of any of the pricing models named; ``ipv6`` keeps
    agents whose endpoint answered over IPv6 at the last probe."""
    agents = listed_agents()
    downranked_last = sort == "relevance"
    query = _parse(q)
    if query.tokens:
        if connection.vendor == "postgresql":
            agents = _match_postgresql(agents, query)
        else:
            agents = _match_like(agents, query)
    else:
        agents = agents.annotate(relevance=Value(0.0))
        if sort == "relevance":
            sort = "name"  # nothing to rank: the store's default order
    if domain:
        agents = agents.filter(domain__code=domain)
    if risk_tier:
        agents = agents.filter(domain__risk_tier=risk_tier)
    if protocol:
        agents = agents.filter(protocols__contains=f",{protocol},")
    if deployment:
        agents = agents.filter(deployment=deployment)
    if publisher:
        agents = agents.filter(publisher__slug=publisher)
    if verified:
        agents = agents.filter(publisher__verified_at__isnull=False)
    if online:
        agents = agents.filter(online=True)
    if min_rating is not None:
        agents = agents.filter(rating_mean__gte=min_rating)
    if min_grade:
        agents = agents.filter(
            publisher__credit_grade_rank__gte=credit.grade_rank(min_grade)
        )
    if hide_dishonesty_listed:
        agents = agents.filter(publisher__dishonesty_listed=False)
    if credit_badge:
        agents = agents.filter(publisher__credit_badge=True)
    if pricing:
        agents = agents.filter(pricing_model__in=list(pricing))
    if ipv6:
        agents = agents.filter(ipv6_ready=True)
    order = SORTS.get(sort, SORTS["relevance"])
    if downranked_last:
        order = (DOWNRANKED_LAST, *order)
    return agents.order_by(*order)


FACETS = ("domain", "risk_tier", "deployment", "pricing")


def search_facets(**criteria: Any) -> dict[str, list[dict[str, Any]]]:
    """How many agents matching ``criteria`` (the arguments of ``agent_search``)
    fall in each domain, risk tier, deployment mode and pricing model. Each facet
    ignores its own filter, so that it shows the choices beside the one made. Facets
    whose filter is not set share one grouped query; each one that is set costs one
    more, and the domains' names one in all."""
    counts: dict[str, dict[tuple[Any, ...], int]] = {name: {} for name in FACETS}
    groups: dict[str, list[str]] = {}
    for name in FACETS:
        key = name if criteria.get(name) else ""
        groups.setdefault(key, []).append(name)
    domains = {domain.pk: domain for domain in Domain.objects.all()}
    for ignored, names in groups.items():
        others = {k: v for k, v in criteria.items() if k != ignored}
        # Grouped on the agent table alone (a covering index serves the store
        # without a query); the few domains are read once, above.
        rows = (
            agent_search(**others)
            .order_by()
            .values("domain_id", "deployment", "pricing_model")
            .annotate(count=Count("*"))
        )
        for row in rows:
            domain = domains[row["domain_id"]]
            described = {
                "domain__code": domain.code,
                "domain__name_en": domain.name_en,
                "domain__name_zh": domain.name_zh,
                "domain__risk_tier": domain.risk_tier,
                "deployment": row["deployment"],
                "pricing_model": row["pricing_model"],
            }
            for name in names:
                value = _FACET_KEYS[name](described)
                counts[name][value] = counts[name].get(value, 0) + row["count"]
    return {
        "domain": sorted(
            (
                {
                    "domain__code": code,
                    "domain__name_en": name_en,
                    "domain__name_zh": name_zh,
                    "count": count,
                }
                for (code, name_en, name_zh), count in counts["domain"].items()
            ),
            key=lambda row: (-row["count"], row["domain__code"]),
        ),
        "risk_tier": sorted(
            (
                {"domain__risk_tier": tier, "count": count}
                for (tier,), count in counts["risk_tier"].items()
            ),
            key=lambda row: row["domain__risk_tier"],
        ),
        "deployment": sorted(
            (
                {"deployment": deployment, "count": count}
                for (deployment,), count in counts["deployment"].items()
                if deployment
            ),
            key=lambda row: (-row["count"], row["deployment"]),
        ),
        "pricing": sorted(
            (
                {"pricing_model": model, "count": count}
                for (model,), count in counts["pricing"].items()
                if model
            ),
            key=lambda row: (-row["count"], row["pricing_model"]),
        ),
    }


_FACET_KEYS: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "domain": lambda row: (
        row["domain__code"],
        row["domain__name_en"],
        row["domain__name_zh"],
    ),
    "risk_tier": lambda row: (row["domain__risk_tier"],),
    "deployment": lambda row: (row["deployment"],),
    "pricing": lambda row: (row["pricing_model"],),
}


@dataclass(frozen=True)
class StoreFront:
    featured: list[Agent]
    newest: list[Agent]
    top_rated: list[Agent]
    domains: list[dict[str, Any]]


# An agent needs this many ratings to appear among the top rated.
TOP_RATED_MIN_RATINGS = 5


def store_front(*, size: int = 6) -> StoreFront:
    """The home page's shelves: featured (verified publishers' best-rated agents),
    the newest, the top rated, and the domains with how many agents each has. Five
    queries whatever the size."""
    listed = listed_agents()
    return StoreFront(
        featured=list(
            listed.filter(publisher__verified_at__isnull=False).order_by(
                DOWNRANKED_LAST, "-rating_score", "-install_count", "pk"
            )[:size]
        ),
        newest=list(listed.order_by(DOWNRANKED_LAST, *SORTS["newest"])[:size]),
        top_rated=list(
            listed.filter(rating_count__gte=TOP_RATED_MIN_RATINGS).order_by(
                DOWNRANKED_LAST, *SORTS["rating"]
            )[:size]
        ),
        domains=search_facets()["domain"],
    )
