"""Services, open hours and slots through the API, on the real calendar store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from caldav_server.store import CalendarStore
from tests.factories import (
    WORKWEEK,
    at,
    bearer,
    group_class,
    iso,
    next_dst_change,
    next_weekday,
    one_on_one,
    setup_professional,
    utc,
)

BUSY_EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//phone//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:{start}
DTEND;TZID=Europe/Berlin:{end}
SUMMARY:Private
{extra}END:VEVENT
END:VCALENDAR
"""


def slots(
    client: Any, service_id: int, day: Any, tz: str = "Europe/Berlin", end: Any = None
) -> list[str]:
    response = client.get(
        f"/api/v1/services/{service_id}/slots",
        query_string={"start": day.isoformat(), "end": (end or day).isoformat(), "tz": tz},
    )
    assert response.status_code == 200, response.get_json()
    return [slot["start"] for slot in response.get_json()]


def put_event(database: Any, principal: str, calendar: str, uid: str, ics: str) -> None:
    with database.session() as session:
        store = CalendarStore(session)
        if not store.collection_exists(f"{principal}/{calendar}"):
            store.create_calendar(f"{principal}/{calendar}", {"D:displayname": calendar})
        store.put_item(f"{principal}/{calendar}", ics, actor=f"dav:{principal}")


# --- services -------------------------------------------------------------------------


def test_professional_creates_reads_updates_and_deletes_a_service(
    client: Any, database: Any, make_user: Any
) -> None:
    pro = make_user(role="professional")
    headers = bearer(database, pro)
    created = client.post(
        "/api/v1/services",
        json=one_on_one(daily_max=4, step_minutes=60, buffer_after_minutes=10),
        headers=headers,
    )
    assert created.status_code == 201
    service = created.get_json()
    assert service["price"] == {"amount": 0, "currency": "EUR"}
    assert service["step_minutes"] == 60 and service["daily_max"] == 4
    assert client.get(f"/api/v1/services/{service['id']}").get_json()["title"] == "Therapy session"

    patched = client.patch(
        f"/api/v1/services/{service['id']}",
        json={"title": "Session", "price": {"amount": 0, "currency": "usd"}, "daily_max": None},
        headers=headers,
    )
    assert patched.status_code == 200
    assert patched.get_json()["price"] == {"amount": 0, "currency": "USD"}
    assert patched.get_json()["daily_max"] is None

    unpublished = client.patch(
        f"/api/v1/services/{service['id']}", json={"is_published": False}, headers=headers
    )
    assert unpublished.get_json()["is_published"] is False
    # Unpublished, it may carry a price even without payments configured.
    priced = client.patch(
        f"/api/v1/services/{service['id']}",
        json={"price": {"amount": 9000, "currency": "EUR"}},
        headers=headers,
    )
    assert priced.status_code == 200, priced.get_json()
    assert priced.get_json()["price"] == {"amount": 9000, "currency": "EUR"}
    assert client.get(f"/api/v1/services/{service['id']}").status_code == 404
    assert client.get(f"/api/v1/services/{service['id']}", headers=headers).status_code == 200

    assert client.delete(f"/api/v1/services/{service['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/services/{service['id']}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "webinar"}, "kind"),
        ({"title": ""}, "title"),
        ({"title": "x" * 500}, "title"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": "50"}, "duration_minutes"),
        ({"price": {"amount": -1, "currency": "EUR"}}, "price.amount"),
        ({"price": {"amount": 100, "currency": "euro"}}, "price.currency"),
        ({"price": 100}, "price"),
        ({"horizon_days": 10_000}, "horizon_days"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_service_payloads_are_422_naming_the_field(
    client: Any, database: Any, make_user: Any, payload: dict[str, Any], field: str
) -> None:
    headers = bearer(database, make_user(role="professional"))
    response = client.post("/api/v1/services", json=one_on_one(**payload), headers=headers)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_group_class_needs_a_capacity(client: Any, database: Any, make_user: Any) -> None:
    headers = bearer(database, make_user(role="professional"))
    response = client.post("/api/v1/services", json=group_class(capacity=None), headers=headers)
    assert response.status_code == 422
    assert "capacity" in response.get_json()["error"]["fields"]


def test_clients_cannot_offer_services_and_nobody_edits_anothers(
    client: Any, database: Any, make_user: Any
) -> None:
    sam = make_user(role="client")
    assert (
        client.post(
            "/api/v1/services", json=one_on_one(), headers=bearer(database, sam)
        ).status_code
        == 403
    )
    maya = make_user(role="professional")
    ken = make_user(role="professional")
    service = client.post(
        "/api/v1/services", json=one_on_one(), headers=bearer(database, maya)
    ).get_json()
    ken_headers = bearer(database, ken)
    assert (
        client.patch(
            f"/api/v1/services/{service['id']}", json={"title": "x"}, headers=ken_headers
        ).status_code
        == 404
    )
    assert (
        client.delete(f"/api/v1/services/{service['id']}", headers=ken_headers).status_code == 404
    )


# --- availability ------------------------------------------------------------------------


def test_availability_round_trip(client: Any, database: Any, make_user: Any) -> None:
    pro = make_user(role="professional")
    headers = bearer(database, pro)
    day = next_weekday(2, weeks_ahead=2)
    payload = {
        "timezone": "Europe/Berlin",
        "weekly": {**WORKWEEK, "mon": [["09:00", "12:00"], ["13:00", "17:00"]], "fri": []},
        "overrides": [
            {"date": day.isoformat(), "intervals": []},
            {"date": (day + timedelta(days=1)).isoformat(), "intervals": [["10:00", "12:00"]]},
        ],
    }
    assert client.put("/api/v1/availability", json=payload, headers=headers).status_code == 200
    got = client.get("/api/v1/availability", headers=headers).get_json()
    assert got == payload


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"weekly": {**WORKWEEK, "mon": [["17:00", "09:00"]]}}, "weekly.mon[0]"),
        ({"weekly": {**WORKWEEK, "mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, "weekly.mon"),
        ({"weekly": {**WORKWEEK, "funday": []}}, "weekly.funday"),
        ({"overrides": [{"date": "2026-02-30", "intervals": []}]}, "overrides[0].date"),
    ],
)
def test_invalid_availability_is_422(
    client: Any, database: Any, make_user: Any, payload: dict[str, Any], field: str
) -> None:
    headers = bearer(database, make_user(role="professional"))
    body = {"timezone": "Europe/Berlin", "weekly": WORKWEEK, "overrides": [], **payload}
    response = client.put("/api/v1/availability", json=body, headers=headers)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert any(key.startswith(field) for key in fields), fields


def test_open_hours_event_added_from_a_phone_changes_slots_and_get(
    client: Any, database: Any, make_user: Any
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    saturday = next_weekday(5, weeks_ahead=2)
    assert slots(client, service["id"], saturday) == []
    extra = BUSY_EVENT.format(
        uid="sat-extra",
        start=f"{saturday:%Y%m%d}T100000",
        end=f"{saturday:%Y%m%d}T120000",
        extra="",
    )
    put_event(database, pro.principal, "availability", "sat-extra", extra)
    assert slots(client, service["id"], saturday) == [
        iso(at(saturday, "10:00")),
        iso(at(saturday, "10:50")),
    ]
    got = client.get("/api/v1/availability", headers=headers).get_json()
    assert {"date": saturday.isoformat(), "intervals": [["10:00", "12:00"]]} in got["overrides"]


# --- slots ----------------------------------------------------------------------------------


def test_slots_respect_hours_duration_and_zone(client: Any, database: Any, make_user: Any) -> None:
    _, _, service = setup_professional(client, database, make_user)
    monday = next_weekday(0, weeks_ahead=2)
    starts = slots(client, service["id"], monday)
    assert starts[0] == iso(at(monday, "09:00"))
    assert starts[-1] == iso(at(monday, "15:40"))
    assert len(starts) == 9  # 9:00, 9:50, ... 15:40 (16:30 would end after 17:00)
    # Asked in New York's zone: the same instants, written with New York's offset
    # (the New York day covers 06:00 Berlin onwards, so the Berlin day's slots are all there).
    new_york = slots(client, service["id"], monday, tz="America/New_York")
    assert all(start[-6:] in ("-05:00", "-04:00") for start in new_york)
    as_utc = {utc(datetime.fromisoformat(start)) for start in new_york}
    assert {utc(datetime.fromisoformat(start)) for start in starts} <= as_utc


def test_unknown_zone_and_bad_dates_are_400(client: Any, database: Any, make_user: Any) -> None:
    _, _, service = setup_professional(client, database, make_user)
    base = f"/api/v1/services/{service['id']}/slots"
    assert (
        client.get(base, query_string={"start": "2026-12-01", "tz": "Nowhere/City"}).status_code
        == 400
    )
    assert client.get(base, query_string={"start": "yesterday"}).status_code == 400
    assert (
        client.get(base, query_string={"start": "2026-12-10", "end": "2026-12-01"}).status_code
        == 400
    )
    assert (
        client.get(base, query_string={"start": "2026-01-01", "end": "2027-01-01"}).status_code
        == 400
    )
    assert client.get(base).status_code == 400
    assert client.get("/api/v1/services/999999/slots?start=2026-12-01").status_code == 404


def test_busy_events_in_any_calendar_block_slots_with_buffers(
    client: Any, database: Any, make_user: Any
) -> None:
    pro, _, service = setup_professional(
        client,
        database,
        make_user,
        buffer_before_minutes=10,
        buffer_after_minutes=10,
        step_minutes=60,
        duration_minutes=50,
    )
    tuesday = next_weekday(1, weeks_ahead=2)
    put_event(
        database,
        pro.principal,
        "personal",
        "dentist",
        BUSY_EVENT.format(
            uid="dentist",
            start=f"{tuesday:%Y%m%d}T110000",
            end=f"{tuesday:%Y%m%d}T113000",
            extra="",
        ),
    )
    put_event(
        database,
        pro.principal,
        "personal",
        "free-lunch",
        BUSY_EVENT.format(
            uid="free-lunch",
            start=f"{tuesday:%Y%m%d}T130000",
            end=f"{tuesday:%Y%m%d}T140000",
            extra="TRANSP:TRANSPARENT\n",
        ),
    )
    starts = slots(client, service["id"], tuesday)
    # 10:00 would end 10:50 + 10 min buffer = 11:00: allowed. 11:00 overlaps the dentist;
    # 12:00 starts 30 minutes after it, beyond the 10-minute buffer.
    # The transparent lunch blocks nothing.
    assert iso(at(tuesday, "10:00")) in starts
    assert iso(at(tuesday, "11:00")) not in starts
    assert iso(at(tuesday, "12:00")) in starts
    assert iso(at(tuesday, "13:00")) in starts


def test_recurring_busy_event_with_exdate_and_moved_occurrence(
    client: Any, database: Any, make_user: Any
) -> None:
    pro, _, service = setup_professional(client, database, make_user, step_minutes=60)
    first = next_weekday(2, weeks_ahead=2)  # a Wednesday
    second, third = first + timedelta(days=7), first + timedelta(days=14)
    ics = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//phone//EN\n"
        "BEGIN:VEVENT\nUID:weekly-gym\nDTSTAMP:20260101T000000Z\n"
        f"DTSTART;TZID=Europe/Berlin:{first:%Y%m%d}T100000\n"
        f"DTEND;TZID=Europe/Berlin:{first:%Y%m%d}T110000\n"
        "RRULE:FREQ=WEEKLY;COUNT=5\n"
        f"EXDATE;TZID=Europe/Berlin:{second:%Y%m%d}T100000\nSUMMARY:Gym\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:weekly-gym\nDTSTAMP:20260101T000000Z\n"
        f"RECURRENCE-ID;TZID=Europe/Berlin:{third:%Y%m%d}T100000\n"
        f"DTSTART;TZID=Europe/Berlin:{third:%Y%m%d}T140000\n"
        f"DTEND;TZID=Europe/Berlin:{third:%Y%m%d}T150000\nSUMMARY:Gym (moved)\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    put_event(database, pro.principal, "personal", "weekly-gym", ics)
    assert iso(at(first, "10:00")) not in slots(client, service["id"], first)
    assert iso(at(second, "10:00")) in slots(client, service["id"], second)
    third_slots = slots(client, service["id"], third)
    assert iso(at(third, "10:00")) in third_slots
    assert iso(at(third, "14:00")) not in third_slots


def test_all_day_event_blocks_the_professionals_whole_day(
    client: Any, database: Any, make_user: Any
) -> None:
    pro, _, service = setup_professional(client, database, make_user)
    thursday = next_weekday(3, weeks_ahead=2)
    ics = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//phone//EN\nBEGIN:VEVENT\nUID:holiday\n"
        f"DTSTAMP:20260101T000000Z\nDTSTART;VALUE=DATE:{thursday:%Y%m%d}\n"
        f"DTEND;VALUE=DATE:{thursday + timedelta(days=1):%Y%m%d}\n"
        "SUMMARY:Holiday\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    put_event(database, pro.principal, "personal", "holiday", ics)
    assert slots(client, service["id"], thursday) == []
    assert slots(client, service["id"], thursday + timedelta(days=1)) != []


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_dst_change_neither_shifts_nor_drops_slots(
    client: Any, database: Any, make_user: Any, zone: str
) -> None:
    _, _, service = setup_professional(
        client,
        database,
        make_user,
        zone=zone,
        weekly={
            day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    )
    change = next_dst_change(zone)
    before, after = change - timedelta(days=1), change + timedelta(days=1)
    starts_before = slots(client, service["id"], before, tz=zone)
    starts_after = slots(client, service["id"], after, tz=zone)
    assert [s[11:16] for s in starts_before] == [s[11:16] for s in starts_after]
    assert starts_before[0][11:16] == "09:00" and len(starts_before) == 9
    assert starts_before[0][-6:] != starts_after[0][-6:]  # the UTC offset did change


def test_notice_and_horizon_limit_slots(client: Any, database: Any, make_user: Any) -> None:
    _, _, service = setup_professional(
        client, database, make_user, min_notice_minutes=60 * 24 * 14, horizon_days=21
    )
    soon = next_weekday(0, weeks_ahead=1)
    later = next_weekday(0, weeks_ahead=3)
    far = next_weekday(0, weeks_ahead=5)
    assert slots(client, service["id"], soon) == []
    assert slots(client, service["id"], later) != []
    assert slots(client, service["id"], far) == []


def test_group_sessions_recur_and_show_seats(client: Any, database: Any, make_user: Any) -> None:
    pro = make_user(role="professional", timezone="Europe/Berlin")
    headers = bearer(database, pro)
    service = client.post(
        "/api/v1/services", json=group_class(capacity=3), headers=headers
    ).get_json()
    first = next_weekday(1, weeks_ahead=2)
    response = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(first, "18:00")), "rrule": "FREQ=WEEKLY;COUNT=4"},
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    found = client.get(
        f"/api/v1/services/{service['id']}/slots",
        query_string={
            "start": first.isoformat(),
            "end": (first + timedelta(days=30)).isoformat(),
            "tz": "Europe/Berlin",
        },
    ).get_json()
    assert [slot["start"][11:16] for slot in found] == ["18:00"] * 4
    assert {slot["seats_left"] for slot in found} == {3}
    bad = client.post(
        f"/api/v1/services/{service['id']}/sessions",
        json={"start": iso(at(first, "18:00")), "rrule": "FREQ=SECONDLY"},
        headers=headers,
    )
    assert bad.status_code == 422 and "rrule" in bad.get_json()["error"]["fields"]
