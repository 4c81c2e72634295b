"""Amounts of money for people: minor units (what the database, the API and the
gateway use) formatted in the viewer's locale.

Babel is not a dependency, so this is a small formatter of our own: each supported
language says where the currency sign goes and which separators it uses, and the
currency's exponent (JPY 0, EUR 2, BHD 3, ...) says how many decimals there are.
Unknown locales fall back to English.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from booking.core.currency import minor_exponent

__all__ = ["format_money", "minor_exponent", "normalize_locale"]

_NBSP = "\u00a0"
_NARROW_NBSP = "\u202f"


@dataclass(frozen=True)
class _Style:
    group: str
    decimal: str
    sign_first: bool
    space: str  # between the sign and the number


_STYLES = MappingProxyType(
    {
        "en": _Style(",", ".", True, ""),
        "de": _Style(".", ",", False, _NBSP),
        "fr": _Style(_NARROW_NBSP, ",", False, _NBSP),
        "es": _Style(".", ",", False, _NBSP),
        "it": _Style(".", ",", False, _NBSP),
        "nl": _Style(".", ",", True, _NBSP),
        "pt": _Style(".", ",", False, _NBSP),
        "sv": _Style(_NBSP, ",", False, _NBSP),
        "ja": _Style(",", ".", True, ""),
    }
)
# Currency signs people recognise; any other currency is written as its code.
_SIGNS = MappingProxyType({"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"})
_KRONA = ("SEK", "NOK", "DKK")


def normalize_locale(locale: str | None) -> str:
    """The supported language of a locale setting (``de-AT`` → ``de``; unknown → ``en``)."""
    language = (locale or "en").replace("_", "-").split("-", 1)[0].lower()
    return language if language in _STYLES else "en"


def _group(digits: str, separator: str) -> str:
    parts = []
    while len(digits) > 3:
        digits, tail = digits[:-3], digits[-3:]
        parts.append(tail)
    parts.append(digits)
    return separator.join(reversed(parts))


def format_money(amount: int, currency: str, locale: str | None = "en") -> str:
    """``amount`` minor units of ``currency`` for a reader of ``locale``:
    ``(123456, "EUR", "en")`` → "€1,234.56", ``(123456, "EUR", "de")`` → "1.234,56 €",
    ``(1500, "JPY", "en")`` → "¥1,500", ``(1234, "BHD", "en")`` → "BHD 1.234".
    Assumes an integer amount and a three-letter code (any case)."""
    currency = currency.upper()
    language = normalize_locale(locale)
    style = _STYLES[language]
    exponent = minor_exponent(currency)
    negative = amount < 0
    value = Decimal(abs(amount)).scaleb(-exponent)
    whole, _, fraction = f"{value:.{exponent}f}".partition(".")
    number = _group(whole, style.group)
    if exponent:
        number += style.decimal + fraction
    sign = _SIGNS.get(currency)
    if language == "sv" and currency in _KRONA:
        sign = "kr"  # Swedes read "kr" for the Scandinavian crowns; others see the code
    if sign is None:
        text = f"{currency}{_NBSP}{number}" if style.sign_first else f"{number}{_NBSP}{currency}"
    elif style.sign_first:
        text = f"{sign}{style.space}{number}"
    else:
        text = f"{number}{style.space}{sign}"
    return f"-{text}" if negative else text
