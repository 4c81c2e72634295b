"""The in-app list: the bell's unread count, the /notifications page, and
``/api/v1/notifications`` with read/unread, each showing only the signed-in
person's own notifications. Bad input is a 4xx with a message, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from consult.db import utcnow
from consult.hookspecs import hookimpl
from consult.platform import Platform
from notifications.rendering import zone_or_utc
from notifications.service import NOTIFIER
from runtime.platform import create_platform
from tests.factories import bearer
from tests.helpers import csrf_token
from tests.notifications.conftest import notifier


class NoteTemplates:
    """A kind of our own, from a template folder of its own (as other packages add
    theirs, through the notification_templates hook)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def notification_templates(self) -> list[Path]:
        return [self.folder]


@pytest.fixture
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kinds")
    (folder / "test_note.subject.txt").write_text("Note {{ n }}\n")
    (folder / "test_note.inapp.txt").write_text("Body {{ n }}\n")
    (folder / "test_note.txt").write_text("Text {{ n }}\n")
    (folder / "test_note.html").write_text("<p>HTML {{ n }}</p>\n")
    return folder


@pytest.fixture
def platform(settings: Any, notes: Path) -> Iterator[Platform]:
    """The test's platform with one more package's templates, registered before it
    starts (as an include would)."""
    built = create_platform(settings, "web")
    built.register(NoteTemplates(notes), "test-notes")
    built.start()
    yield built
    built.shutdown()


def add(platform: Any, user: Any, n: int, *, later: bool = False, url: str | None = None) -> None:
    with platform.database.session() as session:
        notifier(platform).notify(
            session,
            recipient_id=user.id,
            kind="test_note",
            context={"n": n, **({"url": url} if url else {})},
            idempotency_key=f"note:{user.id}:{n}",
            email=False,
            send_after=utcnow() + timedelta(days=1) if later else None,
        )


@pytest.fixture
def people(platform: Any, database: Any, make_user: Any) -> dict[str, Any]:
    sam = make_user(role="client", name="Sam")
    lee = make_user(role="client", name="Lee")
    for n in range(1, 6):
        add(platform, sam, n)
    add(platform, sam, 99, later=True)  # a reminder that is not due yet stays hidden
    add(platform, lee, 7)
    return {"sam": sam, "lee": lee, "sam_headers": bearer(database, sam)}


def test_api_lists_own_notifications_with_paging_and_read_state(
    client: Any, people: dict[str, Any]
) -> None:
    headers = people["sam_headers"]
    first = client.get("/api/v1/notifications", query_string={"limit": 3}, headers=headers)
    assert first.status_code == 200
    body = first.get_json()
    assert [n["title"] for n in body["notifications"]] == ["Note 5", "Note 4", "Note 3"]
    assert body["unread_count"] == 5 and body["next_before_id"] is not None
    assert (
        body["notifications"][0]["body"] == "Body 5" and body["notifications"][0]["read"] is False
    )
    rest = client.get(
        "/api/v1/notifications",
        query_string={"limit": 3, "before_id": body["next_before_id"]},
        headers=headers,
    ).get_json()
    assert [n["title"] for n in rest["notifications"]] == ["Note 2", "Note 1"]
    assert rest["next_before_id"] is None

    target = body["notifications"][1]["id"]
    read = client.post(f"/api/v1/notifications/{target}/read", headers=headers)
    assert read.status_code == 200
    assert read.get_json()["read"] is True and read.get_json()["unread_count"] == 4
    # Marking twice is fine.
    assert client.post(f"/api/v1/notifications/{target}/read", headers=headers).status_code == 200
    unread = client.get(
        "/api/v1/notifications", query_string={"state": "unread"}, headers=headers
    ).get_json()
    assert "Note 4" not in [n["title"] for n in unread["notifications"]]
    assert [
        n["title"]
        for n in client.get(
            "/api/v1/notifications", query_string={"state": "read"}, headers=headers
        ).get_json()["notifications"]
    ] == ["Note 4"]
    everything = client.post("/api/v1/notifications/read-all", headers=headers).get_json()
    assert everything == {"marked": 4, "unread_count": 0}


def test_api_never_shows_or_changes_someone_elses(
    client: Any, database: Any, people: dict[str, Any]
) -> None:
    lee_headers = bearer(database, people["lee"])
    mine = client.get("/api/v1/notifications", headers=lee_headers).get_json()
    assert [n["title"] for n in mine["notifications"]] == ["Note 7"]
    sams = client.get("/api/v1/notifications", headers=people["sam_headers"]).get_json()
    target = sams["notifications"][0]["id"]
    response = client.post(f"/api/v1/notifications/{target}/read", headers=lee_headers)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert client.post("/api/v1/notifications/999999/read", headers=lee_headers).status_code == 404
    # Paging from someone else's notification shows nothing of theirs.
    paged = client.get(
        "/api/v1/notifications", query_string={"before_id": target}, headers=lee_headers
    ).get_json()
    assert paged["notifications"] == []
    assert client.get("/api/v1/notifications").status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "new"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"before_id": "-1"}, "before_id"),
        ({"before_id": "9" * 40}, "before_id"),
    ],
)
def test_api_bad_query_parameters_are_400(
    client: Any, people: dict[str, Any], query: dict[str, str], field: str
) -> None:
    response = client.get(
        "/api/v1/notifications", query_string=query, headers=people["sam_headers"]
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"].keys() == {field}


def test_bell_page_open_and_mark_read(
    platform: Any, auth: Any, client: Any, database: Any, people: dict[str, Any]
) -> None:
    sam = people["sam"]
    add(platform, sam, 6, url="http://127.0.0.1:8000/bookings/42")
    auth.login(sam)
    home = client.get("/").get_data(as_text=True)
    assert 'data-testid="notifications-bell"' in home
    assert 'aria-label="Notifications, 6 unread"' in home
    assert 'data-testid="notifications-unread"' in home and ">6</span>" in home

    page = client.get("/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-testid="notification"') == 6
    assert "Note 99" not in html and "Note 7" not in html  # not due yet; someone else's

    # Following a notification marks it read and goes where it points.
    newest = next(
        n
        for n in client.get("/api/v1/notifications", headers=people["sam_headers"]).get_json()[
            "notifications"
        ]
        if n["title"] == "Note 6"
    )
    opened = client.get(f"/notifications/{newest['id']}/open")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/bookings/42")
    token = csrf_token(client, "/notifications")
    second = next(
        n
        for n in client.get("/api/v1/notifications", headers=people["sam_headers"]).get_json()[
            "notifications"
        ]
        if n["title"] == "Note 5"
    )
    assert (
        client.post(f"/notifications/{second['id']}/read", data={"csrf_token": token}).status_code
        == 302
    )
    assert 'aria-label="Notifications, 4 unread"' in client.get("/").get_data(as_text=True)
    assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 302
    after = client.get("/").get_data(as_text=True)
    assert (
        'aria-label="Notifications"' in after and 'data-testid="notifications-unread"' not in after
    )


def test_page_errors_are_4xx(auth: Any, client: Any, database: Any, people: dict[str, Any]) -> None:
    assert client.get("/notifications").status_code == 302  # sign in first
    auth.login(people["lee"])
    sams = client.get("/api/v1/notifications", headers=people["sam_headers"]).get_json()
    other = sams["notifications"][0]["id"]
    token = csrf_token(client, "/notifications")
    assert (
        client.post(f"/notifications/{other}/read", data={"csrf_token": token}).status_code == 404
    )
    assert client.get(f"/notifications/{other}/open").status_code == 404
    assert client.post(f"/notifications/{other}/read").status_code == 400  # no CSRF token
    assert client.get("/notifications?state=everything").status_code == 400
    assert client.get("/notifications?before=abc").status_code == 400
    assert client.get("/notifications/settings").status_code == 403  # clients have none


def test_professional_sets_reminders_on_the_settings_page(
    auth: Any, client: Any, database: Any, make_user: Any, app: Any
) -> None:
    pro = make_user(role="professional")
    auth.login(pro)
    page = client.get("/notifications/settings")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="24h, 1h"' in html and "No email has failed for good." in html
    token = csrf_token(client, "/notifications/settings")
    bad = client.post("/notifications/settings", data={"csrf_token": token, "offsets": "soon"})
    assert bad.status_code == 422
    assert "is not a time before the session" in bad.get_data(as_text=True)
    good = client.post(
        "/notifications/settings",
        data={"csrf_token": token, "offsets": "2d, 2h"},
        follow_redirects=True,
    )
    assert good.status_code == 200
    assert "Reminders saved: 2d, 2h." in good.get_data(as_text=True)
    assert 'value="2d, 2h"' in good.get_data(as_text=True)


def test_template_folders_other_packages_register(platform: Any) -> None:
    renderer = platform.find(NOTIFIER).renderer
    rendered = renderer.render("test_note", {"n": 3}, locale="de", zone=zone_or_utc("UTC"))
    # No German template: English it is.
    assert (rendered.subject, rendered.text, rendered.html) == (
        "Note 3",
        "Text 3\n",
        "<p>HTML 3</p>\n",
    )
