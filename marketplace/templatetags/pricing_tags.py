"""Pricing as people read it, for the store's pages (see ``marketplace.pricing``)."""

from typing import Any

from django import template

from marketplace import pricing

register = template.Library()


@register.filter
def pricing_lines(declared: Any) -> list[str]:
    """The lines of a declaration's ``pricing``; none when it declares none."""
    return pricing.pricing_lines(declared if isinstance(declared, dict) else None)


@register.filter
def pricing_label(declared: Any) -> str:
    """A short label for a search result; empty when no pricing is declared."""
    return pricing.pricing_label(declared if isinstance(declared, dict) else None)
