"""Errors of insights::

InsightsError
└── InsightsRangeInvalid   from/to that are not dates, inverted or too far apart (400)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["HTTP_STATUS", "InsightsError", "InsightsRangeInvalid"]


class InsightsError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InsightsRangeInvalid(InsightsError):
    """``fields`` names each bad parameter."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in fields.items()))
        self.fields = dict(fields)


HTTP_STATUS: Mapping[type[Exception], tuple[int, str]] = MappingProxyType(
    {InsightsRangeInvalid: (400, "bad_request")}
)
