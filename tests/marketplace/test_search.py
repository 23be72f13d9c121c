"""Store search: the tokeniser, and the selector on whichever database runs the
suite (SQLite under ``make test``, PostgreSQL under ``make test-services``): both must
find the same agents."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from marketplace import credit
from marketplace.models import Agent, AgentVersion
from marketplace.search import query_tokens, token_text, tokens
from marketplace.selectors.search import agent_search, search_facets
from tests.marketplace.factories import AgentVersionFactory, DomainFactory

State = AgentVersion.State

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (pg_trgm): runs under make test-services",
)


def _published(**agent: Any) -> Agent:
    version = AgentVersionFactory.create(
        state=State.PUBLISHED, **{f"agent__{k}": v for k, v in agent.items()}
    )
    return version.agent


def _names(**criteria: Any) -> list[str]:
    return [agent.name for agent in agent_search(**criteria)]


# The tokeniser


def test_cjk_text_becomes_bigrams_and_the_last_character_of_each_run() -> None:
    assert tokens("天气预报") == ["天气", "气预", "预报", "报"]
    assert tokens("查 天气") == ["查", "天气", "气"]


def test_latin_words_are_normalised_and_split_from_cjk() -> None:
    assert tokens("ＧＰＴ-4o助手 Straße") == ["gpt", "4o", "助手", "手", "strasse"]


def test_a_query_asks_for_bigrams_not_the_characters_they_cover() -> None:
    assert query_tokens("天气预报") == ["天气", "气预", "预报"]
    assert query_tokens("报") == ["报"]
    assert query_tokens("Hotels, hotels!") == ["hotels"]
    assert query_tokens("   ") == []


def test_stored_tokens_are_unique_and_each_follows_a_space() -> None:
    assert token_text(["旅行 travel", "Travel 旅行"]) == " 旅行 行 travel"


def test_a_long_query_keeps_a_bounded_number_of_tokens() -> None:
    assert len(query_tokens(" ".join(f"word{i}" for i in range(100)))) == 12


# The selector: the same answers on both databases


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("天气", ["天气预报助手"]),
        ("天气预报", ["天气预报助手"]),
        ("预报助手", ["天气预报助手"]),
        ("报", ["天气预报助手"]),  # a character that ends a bigram run
        ("邮件", ["邮件管家"]),
        ("预报邮件", []),  # both bigrams must be there, and 报邮 is not
        ("HOTEL", ["Travel planner"]),  # a word's beginning
        ("ｔｒａｖｅｌ", ["Travel planner"]),  # full-width letters
        ("travel hotels", ["Travel planner"]),
        ("travel 邮件", []),
        ("otels", []),  # tokens match from their start only
    ],
)
def test_search_finds_the_same_agents_on_every_database(
    query: str, expected: list[str]
) -> None:
    # given
    _published(name="天气预报助手", summary="每天早上告诉你明天的天气")
    _published(name="邮件管家", summary="自动回复客户邮件")
    _published(name="Travel planner", summary="Plans trips and books hotels")
    # when
    found = _names(q=query)
    # then
    assert found == expected


@pytest.mark.django_db
def test_a_match_in_the_name_ranks_above_a_match_in_the_text() -> None:
    # given
    _published(name="Aardvark helper", summary="Translates invoices")
    _published(name="Invoice reader", summary="Reads scanned paper")
    # when
    found = _names(q="invoice", sort="relevance")
    # then
    assert found == ["Invoice reader", "Aardvark helper"]


@pytest.mark.django_db
def test_search_sorts_by_rating_installs_and_newest() -> None:
    # given
    now = timezone.now()
    old = _published(name="Old")
    new = _published(name="New")
    Agent.objects.filter(pk=old.pk).update(
        rating_score=4.6, install_count=10, published_at=now - timedelta(days=9)
    )
    Agent.objects.filter(pk=new.pk).update(
        rating_score=3.9, install_count=99, published_at=now
    )
    # then
    assert _names(sort="rating") == ["Old", "New"]
    assert _names(sort="installs") == ["New", "Old"]
    assert _names(sort="newest") == ["New", "Old"]
    assert _names(sort="name") == ["New", "Old"]


@pytest.mark.django_db
def test_search_filters_by_minimum_rating_and_publisher_grade() -> None:
    # given
    good = _published(name="Good")
    poor = _published(name="Poor")
    unrated = _published(name="Unrated")
    Agent.objects.filter(pk=good.pk).update(rating_mean=4.7, rating_count=30)
    Agent.objects.filter(pk=poor.pk).update(rating_mean=2.1, rating_count=5)
    for agent, grade in ((good, "AA"), (poor, "B")):
        publisher = agent.publisher
        publisher.credit_grade = grade
        publisher.credit_grade_rank = credit.grade_rank(grade)
        publisher.save()
    # then
    assert _names(min_rating=4.0) == ["Good"]
    assert _names(min_grade="A") == ["Good"]
    assert _names(min_grade="B") == ["Good", "Poor"]
    assert unrated.name not in _names(min_grade="C")


@pytest.mark.django_db
def test_each_facet_ignores_its_own_filter() -> None:
    # given
    finance = DomainFactory.create(code="finance", name_en="Finance", name_zh="金融")
    _published(name="Ledger", domain=finance)
    _published(name="Mailer")
    # when
    facets = search_facets(domain="finance")
    # then
    assert {row["domain__code"]: row["count"] for row in facets["domain"]} == {
        "finance": 1,
        "office": 1,
    }
    assert [row["count"] for row in facets["deployment"]] == [1]


@pytest.mark.django_db
def test_the_tokens_follow_the_listing_when_it_changes() -> None:
    # given
    from marketplace.services.agents import agent_refresh_listing

    agent = _published(name="Alpha")
    # when
    Agent.objects.filter(pk=agent.pk).update(name="Beta 贝塔")
    agent.refresh_from_db()
    agent_refresh_listing(agent=agent)
    # then
    assert _names(q="beta") == ["Beta 贝塔"]
    assert _names(q="贝塔") == ["Beta 贝塔"]
    assert _names(q="alpha") == []


@pytest.mark.django_db
@needs_postgresql
def test_names_are_found_despite_a_typo_on_postgresql() -> None:
    # given
    _published(name="Weather forecaster", summary="Daily forecasts")
    _published(name="Invoice reader", summary="Reads invoices")
    # when
    found = _names(q="wether")
    # then
    assert found == ["Weather forecaster"]


@pytest.mark.django_db
@needs_postgresql
def test_postgresql_answers_from_the_indexed_vector() -> None:
    # given
    _published(name="天气预报助手")
    sql = str(agent_search(q="天气").query)
    # then
    assert '"search_vector" @@' in sql
    assert "to_tsquery" in sql


def test_the_protocol_choices_are_the_schemas() -> None:
    from marketplace import declarations

    schema = declarations.schema()
    enum = schema["properties"]["protocols"]["items"]["properties"]["type"]["enum"]
    assert [code for code, _ in declarations.PROTOCOL_CHOICES] == enum


@pytest.mark.django_db
def test_the_store_front_shelves() -> None:
    # given
    verified = _published(name="Verified best")
    plain = _published(name="Plain")
    few = _published(name="Few ratings")
    publisher = verified.publisher
    publisher.verified_at = timezone.now()
    publisher.save()
    Agent.objects.filter(pk=verified.pk).update(rating_score=4.9, rating_count=40)
    Agent.objects.filter(pk=plain.pk).update(rating_score=4.1, rating_count=5)
    Agent.objects.filter(pk=few.pk).update(rating_score=4.95, rating_count=1)
    # when
    from marketplace.selectors.search import store_front

    store = store_front()
    # then
    assert [a.name for a in store.featured] == ["Verified best"]
    assert [a.name for a in store.top_rated] == ["Verified best", "Plain"]
    assert len(store.newest) == 3
    assert sum(row["count"] for row in store.domains) == 3


@pytest.mark.django_db
def test_the_home_page_runs_a_constant_number_of_queries(client: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    counts = []
    for extra in (1, 12):
        for _ in range(extra):
            agent = _published()
            Agent.objects.filter(pk=agent.pk).update(rating_count=9, rating_score=4)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert "Top rated" in response.content.decode()


@pytest.mark.django_db
def test_facets_without_their_filters_share_one_query(
    django_assert_num_queries: Any,
) -> None:
    # given
    _published(name="One")
    # then: the domains, one grouped query for the three facets, and one more per
    # facet filter set
    with django_assert_num_queries(2):
        search_facets(q="")
    with django_assert_num_queries(3):
        search_facets(domain="office")
    with django_assert_num_queries(4):
        search_facets(domain="office", deployment="cloud")


@pytest.mark.django_db
def test_counts_stop_at_the_cap_and_pages_go_on(client: Any, monkeypatch: Any) -> None:
    # given
    from config.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 3)
    for index in range(5):
        _published(name=f"Agent {index}")
    # when
    page = client.get("/agents/").content.decode()
    first = client.get("/api/v1/agents/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    # then
    assert "More than 3 agents found" in page
    assert (first["count"], first["count_capped"]) == (3, True)
    assert [row["name"] for row in first["results"] + second["results"]] == [
        f"Agent {index}" for index in range(4)
    ]
    assert [row["name"] for row in third["results"]] == ["Agent 4"]
    assert third["next"] is None
    assert client.get("/api/v1/agents/", {"page": 9}).status_code == 404
    assert client.get("/api/v1/agents/", {"page": "x"}).status_code == 404
    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 10)
    assert client.get("/api/v1/agents/").json()["count_capped"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["3", "99999999999999999999", "-1", "x"])
def test_pages_past_the_end_of_a_capped_count_are_not_errors(
    client: Any, monkeypatch: Any, number: str
) -> None:
    # given
    from config.pagination import CappedPaginator

    monkeypatch.setattr(CappedPaginator, "COUNT_CAP", 2)
    monkeypatch.setattr(CappedPaginator, "MAX_ROWS", 40)
    for _ in range(5):
        _published()
    # when
    page = client.get("/agents/", {"page": number})
    api = client.get("/api/v1/agents/", {"page": number})
    # then: the page shows a page that exists; the API says there is none
    assert page.status_code == 200
    assert api.status_code == 404


@pytest.mark.django_db
@needs_postgresql
@pytest.mark.parametrize(
    "text",
    [
        "天气预报 Weather",
        "ジョン・スミス゠テスト",
        "ラーメン屋さん、ゝゞ",
        "한국어 검색 테스트",
        "ＧＰＴ-4o助手 Straße v1.2 e-mail",
        "𠀀𠀁 ext-B 漢字",
    ],
)
def test_postgresql_reads_the_tokens_as_the_tokeniser_wrote_them(text: str) -> None:
    # given: the tokens as stored, and as PostgreSQL's parser reads them back
    stored = token_text([text]).split()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tsvector_to_array(to_tsvector('simple', %s))", [" ".join(stored)]
        )
        (lexemes,) = cursor.fetchone()
    # then: the same set, so both databases match the same agents
    assert sorted(lexemes) == sorted(stored)


@pytest.mark.django_db
@needs_postgresql
def test_the_database_check_accepts_a_utf8_ctype() -> None:
    from marketplace.checks import search_needs_a_utf8_ctype

    assert search_needs_a_utf8_ctype(databases=["default"]) == []
