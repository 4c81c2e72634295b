"""Pages and the room WebSocket.

- ``GET  /bookings/<id>/session``           the session page (video room and chat)
- ``POST /bookings/<id>/session/join``      a fresh join token (JSON; CSRF header)
- ``GET  /bookings/<id>/messages``          the conversation, before and after the session
- ``POST /bookings/<id>/messages``          send a message from that page (form)
- ``GET  /bookings/<id>/messages/poll``     new messages since ``after`` (JSON)
- ``WS   /ws/rooms/<id>``                   signalling, authenticated by the join token
"""

from __future__ import annotations

import json
import threading
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from booking.models import Booking
from consult.bounds import MAX_ID
from consult.db import utcnow
from video import messages as thread
from video.errors import InvalidMessage, RoomClosed, RoomNotFound, RoomNotOpen, VideoError
from video.messages import unread_in
from video.rooms import RoomAccess, check_room_access, find_room, room_window
from video.services import VIDEO, VideoServices
from video.signalling import RoomConnection
from video.tokens import issue_join_token
from web.forms import EmptyForm
from web.session import find, get_platform, get_session

bp = Blueprint("video", __name__)
sock = Sock()


def _window() -> tuple[Any, Any]:
    config = get_video().config
    return (config.open_before, config.close_after)


def _room_or_404(booking_id: int) -> RoomAccess:
    try:
        return find_room(get_session(), current_user.account, booking_id, _window())
    except RoomNotFound:
        abort(404)


@bp.route("/bookings/<int:booking_id>/session")
@login_required
def session_page(booking_id: int) -> Any:
    access = _room_or_404(booking_id)
    session = get_session()
    now = utcnow()
    zone = ZoneInfo(current_user.timezone or "UTC")
    state = access.window.state(now) if access.booking.is_active else "cancelled"
    history = thread.latest_messages(session, access.booking)
    names = thread.participant_names(session, access.booking)
    config = get_video().config
    return render_template(
        "video/session.html",
        access=access,
        booking=access.booking,
        state=state,
        zone=zone,
        zone_name=zone.key,
        opens_at=access.window.opens_at.astimezone(zone),
        closes_at=access.window.closes_at.astimezone(zone),
        history=[thread.view_of(message, names) for message in history],
        max_length=config.message_max_length,
        open_before_minutes=int(config.open_before.total_seconds() // 60),
        page_config={
            "bookingId": booking_id,
            "joinUrl": url_for("video.join_token", booking_id=booking_id),
            "socketPath": f"/ws/rooms/{booking_id}",
            "opensAt": access.window.opens_at.isoformat(),
            "closesAt": access.window.closes_at.isoformat(),
            "start": access.booking.start.isoformat(),
            "end": access.booking.end.isoformat(),
            "myUserId": access.user.id,
            "otherName": access.other.name,
            "maxLength": config.message_max_length,
            "messagesUrl": url_for("video.messages_page", booking_id=booking_id),
            # Message times are shown in the person's own zone, like the rest of the page.
            "zone": zone.key,
        },
        form=EmptyForm(),
    )


@bp.route("/bookings/<int:booking_id>/session/join", methods=["POST"])
@login_required
def join_token(booking_id: int) -> Any:
    """JSON for the session page's script; errors are JSON too (never an HTML page)."""
    config = get_video().config
    now = utcnow()
    try:
        access = check_room_access(get_session(), current_user.account, booking_id, now, _window())
    except RoomNotOpen as error:
        return _json_error(409, error, opens_at=error.opens_at.isoformat())
    except RoomNotFound as error:
        return _json_error(404, error)
    except RoomClosed as error:
        return _json_error(409, error)
    token = issue_join_token(
        config, booking_id=booking_id, user_id=access.user.id, role=access.role, now=now
    )
    return jsonify(
        {
            "token": token,
            "expires_in": int(config.join_token_ttl.total_seconds()),
            "socket_path": f"/ws/rooms/{booking_id}",
        }
    )


def _json_error(status: int, error: VideoError, **extra: Any) -> Any:
    response = jsonify({"error": {"code": error.code, "message": error.message, **extra}})
    response.status_code = status
    return response


@bp.route("/bookings/<int:booking_id>/messages", methods=["GET", "POST"])
@login_required
def messages_page(booking_id: int) -> Any:
    access = _room_or_404(booking_id)
    session = get_session()
    services = get_video()
    form = EmptyForm()
    if request.method == "POST":
        # JSON from the session page's script (CSRF checked from its header by
        # CSRFProtect), or the plain form of this page.
        wants_json = request.is_json
        if wants_json:
            data = request.get_json(silent=True)
            text = data.get("body") if isinstance(data, dict) else None
        elif form.validate_on_submit():
            text = request.form.get("body", "")
        else:
            abort(400)
        try:
            posted = thread.post_message(
                session,
                access.user,
                access.booking,
                text,
                now=utcnow(),
                max_length=services.config.message_max_length,
            )
            services.after_post(session, access.booking, posted)
            view = thread.view_of(posted, thread.participant_names(session, access.booking))
            session.commit()
        except InvalidMessage as error:
            session.rollback()
            if wants_json:
                return _json_error(422, error, fields=error.fields)
            flash(error.fields.get("body", error.message), "error")
            return redirect(url_for("video.messages_page", booking_id=booking_id))
        services.broadcast(booking_id, view.to_json())
        if wants_json:
            return jsonify(view.to_json()), 201
        return redirect(url_for("video.messages_page", booking_id=booking_id) + f"#m{view.id}")
    history = thread.latest_messages(session, access.booking)
    names = thread.participant_names(session, access.booking)
    thread.mark_read(session, access.user, access.booking)
    session.commit()
    zone = ZoneInfo(current_user.timezone or "UTC")
    return render_template(
        "video/messages.html",
        access=access,
        booking=access.booking,
        history=[thread.view_of(message, names) for message in history],
        zone=zone,
        zone_name=zone.key,
        max_length=services.config.message_max_length,
        room_state=access.window.state(utcnow()) if access.booking.is_active else "cancelled",
        form=form,
    )


@bp.route("/bookings/<int:booking_id>/messages/poll")
@login_required
def messages_poll(booking_id: int) -> Any:
    access = _room_or_404(booking_id)
    after = request.args.get("after", "0")
    if not after.isdigit() or len(after) > 10 or int(after) > MAX_ID:
        return jsonify(
            {"error": {"code": "bad_request", "message": "`after` must be a message id."}}
        ), 400
    session = get_session()
    found = thread.list_messages(session, access.booking, after_id=int(after))
    names = thread.participant_names(session, access.booking)
    if found:
        thread.mark_read(session, access.user, access.booking, found[-1].id)
        session.commit()
    return jsonify({"messages": [thread.view_of(message, names).to_json() for message in found]})


@sock.route("/ws/rooms/<int:booking_id>", bp=bp)
def room_socket(ws: Any, booking_id: int) -> None:
    """One browser in one room: frames go to :class:`RoomConnection`, which does the rest."""
    services = get_video()
    send_lock = threading.Lock()

    def send(message: dict[str, Any]) -> None:
        with send_lock:
            try:
                ws.send(json.dumps(message))
            except (ConnectionClosed, OSError):
                connection.open = False

    def close() -> None:
        connection.open = False
        with send_lock:
            try:
                ws.close()
            except (ConnectionClosed, OSError):
                pass

    connection = RoomConnection(
        booking_id=booking_id,
        config=services.config,
        database=get_platform().database,
        bus=services.bus,
        relay=services.relay,
        send=send,
        close=close,
        on_chat=services.after_post,
    )
    services.rooms.joined(booking_id)
    try:
        while connection.open:
            try:
                frame = ws.receive(timeout=connection.receive_timeout)
            except ConnectionClosed:
                break
            if frame is None:
                connection.timed_out()
                break
            connection.handle(frame)
    finally:
        connection.finish()
        services.rooms.left(booking_id)


def get_video() -> VideoServices:
    """The platform's video services."""
    return find(VIDEO)


def init_app(app: Flask) -> None:
    """Register the pages, the room WebSocket and the booking page's room helper
    (the API routes are in :mod:`web.api.video`)."""
    # SDP offers are a few KiB; anything far larger is not signalling.
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": 256 * 1024})
    app.register_blueprint(bp)
    app.context_processor(_template_helpers)


def _template_helpers() -> dict[str, Any]:
    return {"video_room": _video_room}


def _video_room(booking: Booking) -> dict[str, Any] | None:
    """For the booking page's link: the room state and unread count for the signed-in
    participant, or None when the booking has no 1-1 room."""
    if booking is None or booking.is_group or not current_user.is_authenticated:
        return None
    if current_user.id not in (booking.client_id, booking.professional_id):
        return None
    config = get_video().config
    window = room_window(booking.start, booking.end, config.open_before, config.close_after)
    state: str
    if booking.status == "confirmed":
        state = window.state(utcnow())
    else:  # cancelled, or held until paid: no way into the room
        state = booking.status
    return {
        "state": state,
        "opens_at": window.opens_at,
        "unread": unread_in(get_session(), current_user.account, booking),
    }
