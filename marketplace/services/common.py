from django.db import IntegrityError, models, transaction

from marketplace.exceptions import Conflict


def insert_unique(instance: models.Model, *, field: str, message: str) -> None:
    """Insert a row whose uniqueness ``full_clean`` has already checked. A concurrent
    insert of the same value can still win the race; the database's constraint then
    refuses this one, which becomes a 409 on ``field`` instead of a 500."""
    try:
        with transaction.atomic():
            instance.save(force_insert=True)
    except IntegrityError:
        raise Conflict(message, details={field: [message]}) from None
