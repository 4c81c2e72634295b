"""Currencies of service prices: how many digits their minor unit has (ISO 4217).

Prices are stored as integers in the currency's minor unit (cents, yen, fils).
"""

from __future__ import annotations

ZERO_DECIMAL = (
    "BIF",
    "CLP",
    "DJF",
    "GNF",
    "ISK",
    "JPY",
    "KMF",
    "KRW",
    "PYG",
    "RWF",
    "UGX",
    "VND",
    "VUV",
    "XAF",
    "XOF",
    "XPF",
)
THREE_DECIMAL = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (JPY 0, EUR 2, KWD 3)."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2
