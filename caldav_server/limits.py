"""Bounds checked on the raw text of a calendar object, before anything parses it.

Parsing is where a hostile object costs CPU: a 2.5 MB PUT of one event with 100,000
EXDATEs took 12.7 s in vobject and the recurrence expansion before any size check
ran. These checks are linear scans done in the regex engine, so refusing such an
object costs milliseconds.
"""

from __future__ import annotations

import re

from caldav_server.errors import TooManyListedDates

# Dates one component may list in its EXDATE and RDATE properties together. A
# recurring event excluding more than this many occurrences is better written as
# a shorter rule or several events; no calendar client we know of comes near it.
MAX_LISTED_DATES = 1000

# A content line continues on the next when that starts with a space or a tab
# (RFC 5545 section 3.1).
_FOLD = re.compile(r"\r?\n[ \t]")
_COUNTED_LINE = re.compile(r"^(BEGIN|END|EXDATE|RDATE)[;:](.*)$", re.MULTILINE | re.IGNORECASE)


def check_listed_dates(text: str, limit: int = MAX_LISTED_DATES) -> None:
    """Raise :class:`TooManyListedDates` when one component (a VEVENT, VTODO, ...)
    lists more than ``limit`` EXDATE and RDATE values.

    Values are counted by their commas; a comma inside a quoted parameter counts
    too, which only errs towards a few more on an object this far over the bound.
    """
    counts: list[list[str | int]] = []
    for match in _COUNTED_LINE.finditer(_FOLD.sub("", text)):
        name, rest = match.group(1).upper(), match.group(2)
        if name == "BEGIN":
            counts.append([rest.strip().upper(), 0])
        elif name == "END":
            if counts:
                counts.pop()
        elif counts:
            current = counts[-1]
            total = int(current[1]) + rest.count(",") + 1
            if total > limit:
                raise TooManyListedDates(str(current[0]), total, limit)
            current[1] = total
