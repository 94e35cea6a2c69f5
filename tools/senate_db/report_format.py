"""Formatting of the Senate report's values (text and HTML): one function per kind of value,
each showing ``NONE`` for NULL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

NONE = "–"


def fmt_amount(value: Any) -> str:
    """An amount in the unit of its class: whole numbers with separators, small ones to 0.1."""
    if value is None:
        return NONE
    number = Decimal(value)
    if number == number.to_integral_value() or abs(number) >= 100:
        return f"{round(number):,}"
    return f"{number:,.1f}"


def fmt_count(value: Any) -> str:
    return NONE if value is None else f"{int(value):,}"


def fmt_usd(value: Any) -> str:
    return NONE if value is None else f"${Decimal(value):,.2f}"


def fmt_pct(value: Any) -> str:
    """A fraction as a percentage to 0.01 % (the report views keep fractions to 4 decimals)."""
    return NONE if value is None else f"{Decimal(value) * 100:.2f} %"


def fmt_score(value: Any) -> str:
    return NONE if value is None else f"{Decimal(value):.2f}"


def fmt_weight(value: Any) -> str:
    return NONE if value is None else f"{Decimal(value):+.2f}"


def fmt_roi(value: Any) -> str:
    """KG edges per token, e.g. ``2.12e-03`` (``0`` when nothing was gained)."""
    if value is None:
        return NONE
    return "0" if value == 0 else f"{float(value):.2e}"


def fmt_signed(value: Any) -> str:
    if value is None:
        return NONE
    text = fmt_amount(value)
    return text if text.startswith("-") or Decimal(value) == 0 else "+" + text


def fmt_bool(value: Any) -> str:
    return NONE if value is None else ("yes" if value else "no")


def fmt_text(value: Any) -> str:
    return NONE if value is None else str(value)


def fmt_whole_pct(value: Any) -> str:
    """A fraction as a whole percentage (``1.44`` -> ``144 %``)."""
    return NONE if value is None else f"{Decimal(value) * 100:.0f} %"


def fmt_local_hour(value: Any) -> str:
    """A local wall-clock time (policy time zone) to the hour, with its weekday."""
    if value is None:
        return NONE
    if isinstance(value, dt.datetime):
        return value.strftime("%a %Y-%m-%d %H:00")
    return str(value)


def fmt_when(value: Any) -> str:
    if value is None:
        return NONE
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def fmt_short(limit: int) -> Callable[[Any], str]:
    def short(value: Any) -> str:
        text = fmt_text(value)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return short
