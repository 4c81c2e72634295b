"""The raw-text bound on listed dates (caldav_server.limits)."""

from __future__ import annotations

import pytest

from caldav_server.errors import InvalidCalendarData, TooManyListedDates
from caldav_server.limits import check_listed_dates


def _calendar(*components: str) -> str:
    return "BEGIN:VCALENDAR\r\n" + "".join(components) + "END:VCALENDAR\r\n"


def _event(lines: str) -> str:
    return f"BEGIN:VEVENT\r\nUID:x\r\n{lines}END:VEVENT\r\n"


def test_each_component_is_counted_on_its_own() -> None:
    six_hundred = "EXDATE:" + ",".join(["20300101T000000Z"] * 600) + "\r\n"
    check_listed_dates(_calendar(_event(six_hundred), _event(six_hundred)))
    with pytest.raises(TooManyListedDates) as raised:
        check_listed_dates(_calendar(_event(six_hundred + six_hundred.replace("EX", "R"))))
    assert raised.value.component == "VEVENT"
    assert isinstance(raised.value, InvalidCalendarData)


def test_folded_lower_case_and_parameterised_lines_count() -> None:
    values = ",".join(["20300101T000000"] * 11)
    folded = "exdate;TZID=Europe/Berlin:" + "\r\n ".join(
        values[i : i + 60] for i in range(0, len(values), 60)
    )
    check_listed_dates(_calendar(_event(folded + "\r\n")), limit=11)
    with pytest.raises(TooManyListedDates):
        check_listed_dates(_calendar(_event(folded + "\r\n")), limit=10)


def test_other_properties_and_text_mentioning_exdate_do_not_count() -> None:
    text = _calendar(_event("SUMMARY:EXDATE:1,2,3,4,5\r\nDESCRIPTION:RDATE,RDATE\r\n"))
    check_listed_dates(text, limit=0)
