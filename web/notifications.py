"""Notification pages: the list behind the bell (``/notifications``), and a
professional's reminder settings with the emails that could not be delivered
(``/notifications/settings``).

:func:`init_app` also starts notifications for the app (subscriber, sender) and
gives every template ``notifications_unread()`` for the bell.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from consult.db import utcnow
from notifications import service
from notifications.errors import InvalidReminderOffsets
from notifications.reminders import format_offsets, reminder_offsets, set_reminder_offsets
from notifications.rendering import format_datetime, zone_or_utc
from notifications.service import NOTIFIER
from web.forms import EmptyForm
from web.session import find, get_session

bp = Blueprint("notifications", __name__)

PAGE_SIZE = 30


class ReminderForm(FlaskForm):
    offsets = StringField("Reminders before each session", validators=[Length(max=100)])


def _page_args() -> tuple[str, int | None]:
    state = request.args.get("state", "all")
    if state not in service.STATES:
        abort(400, description="Show all, unread or read notifications.")
    before = request.args.get("before")
    if before is None:
        return state, None
    if not before.isdigit() or len(before) > 12:
        abort(400, description="That page link is broken; go back to the first page.")
    return state, int(before)


@bp.get("/notifications")
@login_required
def index() -> Any:
    """The signed-in person's notifications (all, unread or read), a page at a time."""
    state, before = _page_args()
    session = get_session()
    items = service.list_notifications(
        session, current_user.id, state=state, limit=PAGE_SIZE + 1, before_id=before
    )
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    zone = zone_or_utc(current_user.timezone)
    return render_template(
        "notifications/list.html",
        items=[(note, format_datetime(note.visible_from, zone, "en")) for note in items],
        state=state,
        unread=service.unread_count(session, current_user.id),
        next_before=items[-1].id if more else None,
        form=EmptyForm(),
    )


def _check_form() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400, description="This form has expired. Reload the page and try again.")


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> Any:
    """Mark one notification read (404 if it is not the caller's), back to the list."""
    _check_form()
    session = get_session()
    service.mark_read(session, current_user.id, notification_id)
    session.commit()
    return redirect(url_for("notifications.index", state=request.args.get("state", "all")))


@bp.get("/notifications/<int:notification_id>/open")
@login_required
def open_notification(notification_id: int) -> Any:
    """Follow a notification's link, marking it read on the way."""
    session = get_session()
    note = service.mark_read(session, current_user.id, notification_id)
    session.commit()
    return redirect(note.url or url_for("notifications.index"))


@bp.post("/notifications/read-all")
@login_required
def read_all() -> Any:
    """Mark every visible notification read, back to the list."""
    _check_form()
    session = get_session()
    count = service.mark_all_read(session, current_user.id)
    session.commit()
    flash(f"Marked {count} notification{'s' if count != 1 else ''} as read.", "success")
    return redirect(url_for("notifications.index"))


def _require_professional() -> None:
    if not current_user.is_professional:
        abort(403)


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    """A professional's reminder offsets (a form; 422 with the error when unusable)
    and the emails about their bookings that could not be delivered."""
    _require_professional()
    session = get_session()
    form = ReminderForm()
    if request.method == "GET":
        form.offsets.data = format_offsets(
            reminder_offsets(session, current_user.id, find(NOTIFIER).default_offsets)
        )
    elif form.validate_on_submit():
        try:
            offsets = set_reminder_offsets(
                find(NOTIFIER), session, current_user.id, form.offsets.data or "", now=utcnow()
            )
        except InvalidReminderOffsets as error:
            session.rollback()
            form.offsets.errors = [*form.offsets.errors, error.message]
        else:
            session.commit()
            shown = format_offsets(offsets) or "none"
            flash(f"Reminders saved: {shown}. Upcoming bookings follow them.", "success")
            return redirect(url_for("notifications.settings"))
    status = 422 if form.errors else 200
    zone = zone_or_utc(current_user.timezone)
    failures = [
        (row, format_datetime(row.failed_at or row.created_at, zone, "en"))
        for row in service.failures_for(session, current_user.id)
    ]
    return (
        render_template(
            "notifications/settings.html", form=form, failures=failures, retry_form=EmptyForm()
        ),
        status,
    )


@bp.post("/notifications/failures/<int:message_id>/retry")
@login_required
def retry(message_id: int) -> Any:
    """Send a failed email again (404 unless it is one of the caller's failures)."""
    _require_professional()
    _check_form()
    session = get_session()
    row = service.retry_failed(session, current_user.id, message_id)
    session.commit()
    flash(f"The email to {row.to_address} will be sent again.", "success")
    return redirect(url_for("notifications.settings") + "#failures")


def _unread_for_current_user() -> int:
    if not current_user.is_authenticated:
        return 0
    return service.unread_count(get_session(), current_user.id)


def init_app(app: Flask) -> None:
    """Add the pages and the bell's unread count."""
    app.register_blueprint(bp)
    app.context_processor(lambda: {"notifications_unread": _unread_for_current_user})
