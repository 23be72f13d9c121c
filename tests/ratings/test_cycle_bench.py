"""The rating-cycle benchmark's own parts (``tests/bench/cycle.py``), small and on
the test database: the generator writes its world once and adds only what is
missing, and the checks pass on a cycle run here and fail on a broken one."""

import pytest
from django.db.models import Count

from marketplace.models import Agent, Certificate, Organization, Review
from ratings.models import Enrolment, Finding, Rating, RatingCycle
from ratings.services.cycles import chunk_run, cycle_create, cycle_start
from tests.bench import cycle as bench

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "entities": Organization.objects.filter(
            slug__startswith=bench.ENTITY_PREFIX
        ).count(),
        "enrolments": Enrolment.objects.count(),
        "agents": Agent.objects.count(),
        "reviews": Review.objects.count(),
        "certificates": Certificate.objects.count(),
        "findings": Finding.objects.count(),
    }


def test_the_generator_writes_its_world_once_and_adds_what_is_missing() -> None:
    # given
    bench.load(60)
    first = _counts()
    # when
    bench.load(60)
    # then nothing new
    assert _counts() == first
    assert first["entities"] == first["enrolments"] == 60
    # four entities in five list an agent, one in ten of those two
    assert first["agents"] == 48 + 6
    assert first["reviews"] > first["agents"]
    assert first["findings"] == 2  # entities 5 (serious) and 38 (general)
    assert first["certificates"] > 0
    # and a larger run adds only the missing entities
    bench.load(70)
    assert _counts()["enrolments"] == 70
    assert not (
        Organization.objects.filter(slug__startswith=bench.ENTITY_PREFIX)
        .values("slug")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .exists()
    )


def _rated_cycle() -> tuple[RatingCycle, set[int]]:
    body, analyst, methodology = bench.load(70)
    cycle = cycle_create(actor=analyst, methodology=methodology, chunk_size=25)
    cycle_start(cycle_id=cycle.pk)
    for index in range(3):
        chunk_run(cycle_id=cycle.pk, index=index)
    cycle.refresh_from_db()
    entity_ids = set(
        Enrolment.objects.filter(body=body).values_list("entity_id", flat=True)
    )
    return cycle, entity_ids


def test_the_checks_pass_on_a_complete_cycle() -> None:
    # given
    cycle, entity_ids = _rated_cycle()
    assert cycle.state == RatingCycle.State.REVIEW
    # when
    result = bench.check(cycle, entity_ids)
    # then
    assert result["sample_checked"] == 70
    assert result["recomputed"] == 50
    assert sum(result["grades"].values()) == 70
    assert "D" in result["grades"]  # the serious finding forces it
    assert len(result["grades"]) >= 4


def test_the_checks_fail_on_a_missing_or_wrong_rating() -> None:
    cycle, entity_ids = _rated_cycle()
    ratings = Rating.objects.filter(cycle=cycle)
    # a wrong grade
    rating = ratings.filter(provisional=False, overrides=[]).first()
    assert rating is not None
    Rating.objects.filter(pk=rating.pk).update(
        grade="AAA" if rating.grade != "AAA" else "D"
    )
    with pytest.raises(AssertionError):
        bench.check(cycle, entity_ids)
    # a missing rating
    Rating.objects.filter(pk=rating.pk).delete()
    with pytest.raises(AssertionError, match="70"):
        bench.check(cycle, entity_ids)


def test_a_second_run_starts_from_a_clean_slate() -> None:
    cycle, _entity_ids = _rated_cycle()
    bench.clear_cycles(cycle.body)
    assert not RatingCycle.objects.filter(body=cycle.body).exists()
    assert not Rating.objects.exists()
    assert Enrolment.objects.filter(body=cycle.body).count() == 70
