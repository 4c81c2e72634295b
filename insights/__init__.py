"""Insights for professionals: how their practice is doing over a range of dates
(:mod:`insights.core` computes, :mod:`insights.queries` reads). Above payments and
reviews, whose money and no-shows it counts; the page, the CSV and the API are in
:mod:`web`.
"""

from __future__ import annotations

from consult.hookspecs import ErrorStatuses, hookimpl
from consult.platform import Platform
from insights.errors import HTTP_STATUS


class InsightsHooks:
    @hookimpl
    def error_statuses(self) -> ErrorStatuses:
        return HTTP_STATUS


def include(platform: Platform) -> None:
    platform.register(InsightsHooks(), "insights")
