"""What using an agent costs, as a version's declaration says in ``pricing``: the
rules the schema cannot say, whether a new version's pricing is worse for someone
who already uses the agent, the words people read, and how to tell that a free
text speaks of money (``charge_terms``, ``mentions_price``).

The rules beside the schema's:

- a free model names no price, period or unit, and a currency only when it sells
  something inside the agent;
- a one-time price has no period or unit, a subscription no unit, usage-based
  pricing no period;
- a paid model's price is more than zero (a price of zero is the free model);
- in-agent purchases, when offered, cost more than zero and ``minPrice`` is at most
  ``maxPrice``; when not offered, they name no prices;
- a free trial belongs to a paid model (a free agent has nothing to try out).

Amounts are compared exactly (``Decimal``); a subscription's price is compared per
day, whatever its period.
"""

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from django.utils.translation import gettext, gettext_noop, ngettext

from marketplace.messages import render_message

FREE = "free"
ONE_TIME = "one_time"
SUBSCRIPTION = "subscription"
USAGE = "usage"
MODELS = (FREE, ONE_TIME, SUBSCRIPTION, USAGE)
PAID_MODELS = frozenset({ONE_TIME, SUBSCRIPTION, USAGE})

# The days a subscription period stands for, to compare prices across periods.
PERIOD_DAYS: dict[str, int] = {"week": 7, "month": 30, "quarter": 91, "year": 365}

# The keys each model may not carry.
_NOT_FOR: dict[str, tuple[str, ...]] = {
    FREE: ("price", "period", "unit"),
    ONE_TIME: ("period", "unit"),
    SUBSCRIPTION: ("unit",),
    USAGE: ("period",),
}


# What a publisher is told to declare when a version declares no pricing: by the
# automated checks of a submitted version and by the disclosure checklist.
DECLARE_PRICING: Final = gettext_noop(
    "Declare the pricing in the version's capability declaration: whether it is "
    "free, has a one-time price, a subscription or usage-based prices, whether it "
    "sells anything inside the agent, and any free trial."
)


def _amount(value: object) -> Decimal | None:
    """The amount ``value`` stands for, or None when it is no finite number."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def pricing_errors(pricing: dict[str, Any]) -> list[tuple[str, str]]:
    """The rules above that ``pricing`` (already valid against the schema) breaks,
    as (path under the declaration, message)."""
    errors: list[tuple[str, str]] = []
    model = pricing.get("model")
    for key in _NOT_FOR.get(str(model), ()):
        if key in pricing:
            errors.append((f"pricing.{key}", f"a {model} pricing model has no {key}"))
    purchases = pricing.get("inAppPurchases") or {}
    offered = purchases.get("offered") is True
    if model == FREE and "currency" in pricing and not offered:
        errors.append(
            (
                "pricing.currency",
                "a free agent that sells nothing inside has no currency",
            )
        )
    if model in PAID_MODELS and "price" in pricing:
        price = _amount(pricing["price"])
        if price is not None and price <= 0:
            errors.append(
                (
                    "pricing.price",
                    "a price of 0 is free: declare the model free instead",
                )
            )
    if offered:
        low = _amount(purchases.get("minPrice"))
        high = _amount(purchases.get("maxPrice"))
        if low is not None and low <= 0:
            errors.append(
                (
                    "pricing.inAppPurchases.minPrice",
                    "in-agent purchases cost more than 0",
                )
            )
        if low is not None and high is not None and low > high:
            errors.append(
                (
                    "pricing.inAppPurchases.maxPrice",
                    "maxPrice is lower than minPrice",
                )
            )
    else:
        for key in ("minPrice", "maxPrice"):
            if key in purchases:
                errors.append(
                    (
                        f"pricing.inAppPurchases.{key}",
                        f"{key} is given but no in-agent purchases are offered",
                    )
                )
    if "freeTrial" in pricing and model not in PAID_MODELS:
        errors.append(
            ("pricing.freeTrial", "a free trial belongs to a paid pricing model")
        )
    return errors


# --- Worse for those who use the agent ------------------------------------------------


@dataclass(frozen=True)
class PricingChange:
    """One way a new version's pricing is worse than the one a user is on: a code,
    a message id (marked with gettext_noop) and its values, translated when shown."""

    code: str
    message: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return render_message(
            self.message,
            {
                key: model_label(value) if key.endswith("_model") else value
                for key, value in self.params.items()
            },
        )


def money(currency: str, amount: object) -> str:
    """An amount with its currency, to the cent: ``CNY 19.90``."""
    return f"{currency} {_amount_only(amount)}".strip()


def _model(pricing: dict[str, Any] | None) -> str:
    return str((pricing or {}).get("model") or "")


def _per_day(pricing: dict[str, Any]) -> Decimal | None:
    price = _amount(pricing.get("price"))
    days = PERIOD_DAYS.get(str(pricing.get("period")))
    if price is None or not days:
        return None
    return price / days


def _price_text(pricing: dict[str, Any]) -> str:
    """The price as ``price_line`` words it, without the model's name."""
    return price_line(pricing, with_model=False)


def pricing_worse(
    old: dict[str, Any] | None, new: dict[str, Any] | None
) -> list[PricingChange]:
    """What got worse, going from ``old`` to ``new`` pricing, for someone who already
    uses the agent (empty when nothing did). A version without pricing (published
    before pricing was declared) counts as free to those who use it: moving from it
    to a free version is not worse, to a paid one is."""
    old = old or {}
    new = new or {}
    old_model = _model(old) or FREE
    new_model = _model(new) or FREE
    changes: list[PricingChange] = []
    if new_model in PAID_MODELS:
        if old_model == FREE:
            changes.append(
                PricingChange(
                    "now_paid",
                    gettext_noop("It is no longer free: %(price)s."),
                    {"price": _price_text(new)},
                )
            )
        elif old_model != new_model:
            changes.append(
                PricingChange(
                    "model_changed",
                    gettext_noop(
                        "It changes from %(old_model)s to %(new_model)s pricing: "
                        "%(price)s."
                    ),
                    {
                        "old_model": old_model,
                        "new_model": new_model,
                        "price": _price_text(new),
                    },
                )
            )
        elif old.get("currency") != new.get("currency"):
            changes.append(
                PricingChange(
                    "currency_changed",
                    gettext_noop(
                        "It is now charged in %(new)s instead of %(old)s: %(price)s."
                    ),
                    {
                        "old": str(old.get("currency", "")),
                        "new": str(new.get("currency", "")),
                        "price": _price_text(new),
                    },
                )
            )
        elif _higher(old, new):
            changes.append(
                PricingChange(
                    "price_raised",
                    gettext_noop("The price goes up from %(old)s to %(new)s."),
                    {"old": _price_text(old), "new": _price_text(new)},
                )
            )
    changes.extend(_purchases_worse(old, new))
    old_trial = old.get("freeTrial") or {}
    new_trial = new.get("freeTrial") or {}
    if (
        new_model in PAID_MODELS
        and new_trial.get("afterTrial") == "converts"
        and old_trial.get("afterTrial") == "stops"
    ):
        changes.append(
            PricingChange(
                "trial_converts",
                gettext_noop(
                    "When the free trial ends, the paid plan now starts by itself; "
                    "before, the agent stopped until you chose to pay."
                ),
            )
        )
    return changes


def _higher(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` costs more than ``old``, of the same paid model and currency
    (a unit that changed cannot be compared: that counts as more)."""
    model = _model(new)
    if model == SUBSCRIPTION:
        before, after = _per_day(old), _per_day(new)
    else:
        before, after = _amount(old.get("price")), _amount(new.get("price"))
    if before is None or after is None:
        return True
    if (
        model == USAGE
        and str(old.get("unit", "")).strip().casefold()
        != str(new.get("unit", "")).strip().casefold()
    ):
        return True
    return after > before


def _purchases_worse(old: dict[str, Any], new: dict[str, Any]) -> list[PricingChange]:
    before = old.get("inAppPurchases") or {}
    after = new.get("inAppPurchases") or {}
    if after.get("offered") is not True:
        return []
    currency = str(new.get("currency", ""))
    low, high = after.get("minPrice"), after.get("maxPrice")
    if before.get("offered") is not True:
        return [
            PricingChange(
                "purchases_added",
                gettext_noop("It now sells in-agent purchases: %(low)s – %(high)s."),
                {"low": money(currency, low), "high": money(currency, high)},
            )
        ]
    old_high = _amount(before.get("maxPrice"))
    new_high = _amount(high)
    if old.get("currency") != new.get("currency") or (
        old_high is not None and new_high is not None and new_high > old_high
    ):
        return [
            PricingChange(
                "purchases_raised",
                gettext_noop(
                    "In-agent purchases now cost up to %(new)s (before: up to %(old)s)."
                ),
                {
                    "old": money(str(old.get("currency", "")), before.get("maxPrice")),
                    "new": money(currency, high),
                },
            )
        ]
    return []


# --- Words for people -----------------------------------------------------------------


def model_label(model: str) -> str:
    from marketplace.models.agents import PricingModel

    try:
        return str(PricingModel(model).label)
    except ValueError:
        return model


_SUBSCRIPTION_PRICES: dict[str, str] = {
    "week": gettext_noop("%(price)s per week"),
    "month": gettext_noop("%(price)s per month"),
    "quarter": gettext_noop("%(price)s per quarter"),
    "year": gettext_noop("%(price)s per year"),
}


def price_line(pricing: dict[str, Any], *, with_model: bool = True) -> str:
    """The model and its price in a line: "Subscription: CNY 19.90 per month"
    (without the model's name when ``with_model`` is false)."""
    model = _model(pricing)
    currency = str(pricing.get("currency", ""))
    price = money(currency, pricing.get("price"))
    if model == ONE_TIME:
        text = gettext("%(price)s once") % {"price": price}
    elif model == SUBSCRIPTION:
        period = str(pricing.get("period", ""))
        text = gettext(_SUBSCRIPTION_PRICES.get(period, "%(price)s")) % {"price": price}
    elif model == USAGE:
        text = gettext("%(price)s per %(unit)s") % {
            "price": price,
            "unit": pricing.get("unit", ""),
        }
    else:
        return gettext("Free")
    if not with_model:
        return text
    return gettext("%(model)s: %(price)s") % {
        "model": model_label(model),
        "price": text,
    }


def pricing_lines(pricing: dict[str, Any] | None) -> list[str]:
    """The pricing for people, a line each: the model and price, in-agent
    purchases, the free trial. Empty when the version declares none."""
    if not isinstance(pricing, dict) or not pricing.get("model"):
        return []
    lines = [price_line(pricing)]
    purchases = pricing.get("inAppPurchases") or {}
    if purchases.get("offered") is True:
        currency = str(pricing.get("currency", ""))
        lines.append(
            gettext("In-agent purchases: %(low)s – %(high)s")
            % {
                "low": money(currency, purchases.get("minPrice")),
                "high": _amount_only(purchases.get("maxPrice")),
            }
        )
    else:
        lines.append(gettext("In-agent purchases: none"))
    trial = pricing.get("freeTrial")
    if isinstance(trial, dict) and trial.get("days"):
        days = int(trial["days"])
        if trial.get("afterTrial") == "converts":
            message = (
                ngettext(
                    "Free trial: %(days)d day, then the subscription starts by itself",
                    "Free trial: %(days)d days, then the subscription starts by itself",
                    days,
                )
                if _model(pricing) == SUBSCRIPTION
                else ngettext(
                    "Free trial: %(days)d day, then the paid plan starts by itself",
                    "Free trial: %(days)d days, then the paid plan starts by itself",
                    days,
                )
            )
        else:
            message = ngettext(
                "Free trial: %(days)d day, then it stops until you choose to pay",
                "Free trial: %(days)d days, then it stops until you choose to pay",
                days,
            )
        lines.append(message % {"days": days})
    return lines


def _amount_only(amount: object) -> str:
    """An amount to the cent, without its currency: ``19.90``."""
    value = _amount(amount)
    return f"{value:.2f}" if value is not None else str(amount)


def pricing_label(pricing: dict[str, Any] | None) -> str:
    """A short label for a search result: "Free", "CNY 19.90 per month"..., with
    a mark when it sells inside the agent; empty when no pricing is declared."""
    if not isinstance(pricing, dict) or not pricing.get("model"):
        return ""
    label = price_line(pricing, with_model=False)
    if (pricing.get("inAppPurchases") or {}).get("offered") is True:
        label = gettext("%(price)s, with in-agent purchases") % {"price": label}
    return label


# --- Money talk in free text ----------------------------------------------------------
#
# Two signs that a text speaks of money: words about paying (``charge_terms``), read in
# reviews and misconduct reports of a listing declared free, and amounts of money
# (``mentions_price``), read in a free listing's own description and skills.

# Words that speak of paying. Chinese has no spaces between words, so its terms are
# found anywhere in the text; English terms only as whole words, with no Latin
# letter or digit either side ("fee" but not "feedback", "paid" but not "unpaid").
CHARGE_TERMS_ZH: Final = (
    "自动续费",
    "自动扣费",
    "会员费",
    "订阅费",
    "收费",
    "扣费",
    "扣款",
    "付费",
    "充值",
    "续费",
    "乱扣",
    "计费",
    "退款",
    "内购",
)
CHARGE_TERMS_EN: Final = (
    "in-app purchase",
    "in-app purchases",
    "in-agent purchase",
    "in-agent purchases",
    "auto-renew",
    "auto-renewal",
    "auto-renews",
    "charge",
    "charged",
    "charges",
    "charging",
    "fee",
    "fees",
    "paid",
    "payment",
    "payments",
    "billed",
    "billing",
    "subscription",
    "subscriptions",
    "refund",
    "refunds",
    "paywall",
)

# Longest first, so that 自动续费 is found as itself and not as 续费.
_CHARGES: Final = re.compile(
    "|".join(
        [re.escape(term) for term in sorted(CHARGE_TERMS_ZH, key=len, reverse=True)]
        + [
            rf"(?<![A-Za-z0-9_-]){re.escape(term)}(?![A-Za-z0-9_-])"
            for term in sorted(CHARGE_TERMS_EN, key=len, reverse=True)
        ]
    ),
    re.IGNORECASE,
)

# Characters of text kept either side of the first word found.
EXCERPT_CONTEXT: Final = 80


def charge_terms(text: str) -> tuple[list[str], str]:
    """The words about charges found in ``text`` (each once, in order, lower case)
    and an excerpt around the first; ``([], "")`` when there is none."""
    found: list[str] = []
    first: re.Match[str] | None = None
    for match in _CHARGES.finditer(text or ""):
        first = first or match
        term = match.group(0).casefold()
        if term not in found:
            found.append(term)
    if first is None:
        return [], ""
    start = max(0, first.start() - EXCERPT_CONTEXT)
    end = min(len(text), first.end() + EXCERPT_CONTEXT)
    excerpt = text[start:end].strip()
    return found, ("…" if start else "") + excerpt + ("…" if end < len(text) else "")


# What a price looks like in a text: an amount after a currency sign or code ("¥30",
# "$ 4.99", "USD 10"), or before a currency word or code ("30元", "10 USD"). Amounts
# of zero ("0元") say nothing is charged and do not count.
_TEXT_AMOUNT = r"(\d[\d,]*(?:\.\d+)?)"
_PRICE_PATTERNS: Final = (
    re.compile(r"[¥￥$€£]\s?" + _TEXT_AMOUNT),
    re.compile(r"\b(?:USD|CNY|RMB|EUR|GBP)\s?" + _TEXT_AMOUNT, re.IGNORECASE),
    re.compile(
        _TEXT_AMOUNT + r"\s?(?:元|美元|(?:USD|CNY|RMB|EUR|GBP)\b)", re.IGNORECASE
    ),
)


def mentions_price(text: str) -> bool:
    """Whether ``text`` names an amount of money above zero."""
    for pattern in _PRICE_PATTERNS:
        for match in pattern.finditer(text or ""):
            amount = _amount(match.group(1).replace(",", ""))
            if amount is not None and amount > 0:
                return True
    return False
