"""The Calendars page, with CSRF enforced as in production: connect, status and
errors, sync now, titles and write-back, remove, and the Google button."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.factories import setup_professional
from tests.helpers import form_token, login
from tests.sync.helpers import vcalendar, vevent, wait_for
from tests.sync.servers.google import GoogleStandIn
from tests.sync.servers.ics import IcsServer


@pytest.fixture
def app(app: Any) -> Any:
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_only_signed_in_professionals_see_the_page(
    client: Any, database: Any, make_user: Any
) -> None:
    assert client.get("/calendars").status_code == 302  # to the sign-in page
    sam = make_user(role="client")
    login(client, sam.email)
    assert client.get("/calendars").status_code == 403


def test_connect_sync_change_and_remove_from_the_page(
    client: Any, database: Any, make_user: Any, ics: IcsServer, google: GoogleStandIn
) -> None:
    pro, headers, service = setup_professional(client, database, make_user)
    login(client, pro.email)
    page = client.get("/calendars").get_data(as_text=True)
    assert "No calendars connected yet." in page
    assert "Connect Google Calendar" in page and "Connect Outlook Calendar" in page

    # A bad address is a form error next to the field, nothing is connected.
    bad = client.post(
        "/calendars",
        data={"kind": "ics", "ics-csrf_token": form_token(page, "ics"), "ics-url": "ftp://x"},
    )
    assert bad.status_code == 422
    assert "Use an http:// or https://" in bad.get_data(as_text=True)

    ics.publish("work", vcalendar(vevent("a", "DTSTART:20300107T090000Z")))
    page = client.get("/calendars").get_data(as_text=True)
    created = client.post(
        "/calendars",
        data={
            "kind": "ics",
            "ics-csrf_token": form_token(page, "ics"),
            "ics-url": ics.url("work"),
            "ics-show_titles": "y",
        },
    )
    assert created.status_code == 302
    listed = wait_for(
        lambda: "Up to date" in (text := client.get("/calendars").get_data(as_text=True)) and text
    )
    assert "ICS — 127.0.0.1" in listed and "Events copied</dt><dd>1" in listed
    connection_id = int(re.search(r'data-testid="calendar-(\d+)"', listed).group(1))  # type: ignore[union-attr]

    # Sync now: a button, with CSRF.
    assert client.post(f"/calendars/{connection_id}/sync").status_code == 400
    synced = client.post(
        f"/calendars/{connection_id}/sync", data={"csrf_token": form_token(listed)}
    )
    assert synced.status_code == 302
    assert "Sync started" in client.get("/calendars").get_data(as_text=True)

    # A failing calendar shows its error on the page.
    ics.publish("work", "<html>login</html>")
    client.post(f"/calendars/{connection_id}/sync", data={"csrf_token": form_token(listed)})
    failing = wait_for(
        lambda: "Sync failed" in (text := client.get("/calendars").get_data(as_text=True)) and text
    )
    assert "returned a web page, not a calendar" in failing

    # Titles off; an ICS feed offers no write-back choice.
    prefix = f"c{connection_id}"
    assert f'name="{prefix}-writeback"' not in failing
    saved = client.post(
        f"/calendars/{connection_id}/settings",
        data={f"{prefix}-csrf_token": form_token(failing, prefix)},
    )
    assert saved.status_code == 302
    page = client.get("/calendars").get_data(as_text=True)
    assert "Settings saved." in page and f'id="{prefix}-show_titles"' in page

    # Google: the button sends the browser to Google's consent screen.
    to_google = client.post("/calendars", data={"kind": "google", "csrf_token": form_token(page)})
    assert to_google.status_code == 302
    assert to_google.headers["Location"].startswith(f"{google.url}/o/oauth2/v2/auth?")
    page = client.get("/calendars").get_data(as_text=True)
    assert "Waiting for you to sign in at the provider" in page

    removed = client.post(
        f"/calendars/{connection_id}/remove", data={"csrf_token": form_token(page)}
    )
    assert removed.status_code == 302
    page = client.get("/calendars").get_data(as_text=True)
    assert "Calendar removed" in page and "ICS — 127.0.0.1" not in page
