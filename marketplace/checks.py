"""System checks of what the code needs from its environment."""

from typing import Any

from django.core.checks import CheckMessage, Tags, Warning, register
from django.db import connections


@register(Tags.database)
def search_needs_a_utf8_ctype(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """PostgreSQL's text-search parser reads CJK characters as letters only under a
    UTF-8 LC_CTYPE; under "C" Chinese search would find nothing."""
    problems: list[CheckMessage] = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT datctype FROM pg_database WHERE datname = current_database()"
            )
            row = cursor.fetchone()
        ctype = str(row[0]) if row else ""
        if "utf" not in ctype.lower().replace("-", ""):
            problems.append(
                Warning(
                    f"Database {alias!r} has LC_CTYPE {ctype!r}: search cannot read "
                    "Chinese text in it.",
                    hint="Create the database with a UTF-8 locale, e.g. "
                    "CREATE DATABASE ... LC_CTYPE 'C.UTF-8' TEMPLATE template0.",
                    id="marketplace.W001",
                )
            )
    return problems
