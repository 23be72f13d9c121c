"""Migrations that change data, run against the test database."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("marketplace", "0010_listed_facets_index")]
AFTER = [("marketplace", "0011_verified_domain_unique")]


@pytest.mark.django_db(transaction=True)
def test_a_domain_verified_twice_stays_with_the_first_to_verify_it() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        # given: before the constraint, two organisations verified one domain
        old = executor.loader.project_state(BEFORE).apps
        Organization = old.get_model("marketplace", "Organization")

        def organization(slug: str, domain: str, day: int | None) -> int:
            return int(
                Organization.objects.create(
                    name=slug,
                    slug=slug,
                    kind="publisher",
                    domain=domain,
                    domain_verified_at=(
                        None if day is None else datetime(2026, 1, day, tzinfo=UTC)
                    ),
                ).pk
            )

        second = organization("second", "mingde-ai.cn", 2)
        first = organization("first", "mingde-ai.cn", 1)
        claimant = organization("claimant", "mingde-ai.cn", None)
        other = organization("other", "other.cn", 3)
        # when
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        # then: the first keeps it, the second is told why it lost it
        new = executor.loader.project_state(AFTER).apps
        rows = dict(
            new.get_model("marketplace", "Organization")
            .objects.filter(pk__in=[first, second, claimant, other])
            .values_list("pk", "domain_verified_at")
        )
        assert rows[first] == datetime(2026, 1, 1, tzinfo=UTC)
        assert rows[second] is None
        assert rows[claimant] is None
        assert rows[other] == datetime(2026, 1, 3, tzinfo=UTC)
        errors = new.get_model("marketplace", "Organization").objects.get(pk=second)
        assert errors.domain_check_error == "domain_taken"
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
