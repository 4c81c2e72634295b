"""Amounts in minor units written for the viewer's locale, with each currency's
exponent (JPY 0, EUR 2, BHD 3)."""

from __future__ import annotations

import pytest

from payments.money import format_money, normalize_locale

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (9000, "EUR", "en", "€90.00"),
        (123456, "EUR", "en", "€1,234.56"),
        (123456, "EUR", "de", f"1.234,56{NBSP}€"),
        (123456, "EUR", "de-AT", f"1.234,56{NBSP}€"),
        (123456, "EUR", "fr", f"1{NNBSP}234,56{NBSP}€"),
        (123456, "EUR", "nl", f"€{NBSP}1.234,56"),
        (1500, "JPY", "en", "¥1,500"),
        (1500, "JPY", "de", f"1.500{NBSP}¥"),
        (1234, "BHD", "en", f"BHD{NBSP}1.234"),
        (1234, "KWD", "de", f"1,234{NBSP}KWD"),
        (9000, "CHF", "en", f"CHF{NBSP}90.00"),
        (9000, "SEK", "sv", f"90,00{NBSP}kr"),
        (9000, "usd", "en", "$90.00"),
        (5, "EUR", "en", "€0.05"),
        (0, "EUR", "en", "€0.00"),
        (-250, "EUR", "de", f"-2,50{NBSP}€"),
        (100_000_000, "GBP", "en", "£1,000,000.00"),
        (9000, "EUR", "xx", "€90.00"),
        (9000, "EUR", None, "€90.00"),
    ],
)
def test_format_money(amount: int, currency: str, locale: str | None, expected: str) -> None:
    assert format_money(amount, currency, locale) == expected


def test_locales_fall_back_to_english() -> None:
    assert [normalize_locale(v) for v in ("de_CH", "FR", "pt-BR", "", None, "klingon")] == [
        "de",
        "fr",
        "pt",
        "en",
        "en",
        "en",
    ]
