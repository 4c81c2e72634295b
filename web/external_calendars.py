"""The "Calendars" page: connect outside calendars (CalDAV, ICS, Google, Outlook), see
each one's status, last sync and last error, sync now, show titles, choose the
write-back calendar, remove. Also the OAuth callback that completes a Google or
Microsoft connection, and :func:`init_app`, which wires calendar sync into the app.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import Length, Optional

from sync import errors, service, tasks
from sync.models import AUTHORIZING, OAUTH_KINDS
from sync.oauth import exchange_code, provider_for
from sync.syncing import KIND_LABELS, limits_for, mirror_display_name
from sync.urls import display_url
from web.session import get_jobs, get_session, get_settings

log = logging.getLogger(__name__)

bp = Blueprint("calendars", __name__)


class ConnectForm(FlaskForm):
    """Connect a CalDAV calendar or an ICS subscription (Google and Outlook use buttons)."""

    url = StringField("Calendar address (URL)", validators=[Optional(), Length(max=2000)])
    username = StringField("User name", validators=[Optional(), Length(max=255)])
    password = PasswordField("Password or app password", validators=[Optional(), Length(max=1000)])
    show_titles = BooleanField("Copy event titles (otherwise only the busy times)")


class SettingsForm(FlaskForm):
    show_titles = BooleanField("Copy event titles")
    writeback = BooleanField("Add my bookings to this calendar")


class ActionForm(FlaskForm):
    """A button with only the CSRF token (sync now, remove)."""


def _professional() -> Any:
    user = current_user.account
    if not user.is_professional:
        abort(403)
    return user


def _page(forms: dict[str, ConnectForm] | None = None, status: int = 200) -> Any:
    user = _professional()
    session = get_session()
    settings = get_settings()
    rows = []
    for connection in service.list_connections(session, user):
        form = SettingsForm(prefix=f"c{connection.id}")
        form.show_titles.data = connection.show_titles
        form.writeback.data = connection.writeback
        name = mirror_display_name(connection.kind, connection.remote_name, connection.url)
        rows.append(
            {
                "connection": connection,
                "name": name,
                "kind": service.display_kind(connection.kind),
                "url": display_url(connection.url),
                "events": service.count_mirrored(session, user, connection),
                "settings_form": form,
                "writable": connection.kind != "ics",
            }
        )
    forms = forms or {}
    return (
        render_template(
            "sync/calendars.html",
            rows=rows,
            caldav_form=forms.get("caldav") or ConnectForm(prefix="caldav"),
            ics_form=forms.get("ics") or ConnectForm(prefix="ics"),
            action_form=ActionForm(),
            oauth_kinds=[
                (kind, KIND_LABELS[kind])
                for kind in OAUTH_KINDS
                if provider_for(settings, kind).configured
            ],
            interval=settings.sync.interval_minutes,
            authorizing=AUTHORIZING,
        ),
        status,
    )


@bp.get("/calendars")
@login_required
def index() -> Any:
    return _page()


def _connect(payload: dict[str, Any]) -> service.Connected:
    settings = get_settings()
    session = get_session()
    request_data = service.parse_connect_input(payload, settings)
    connected = service.connect(session, settings, _professional(), request_data)
    session.commit()
    if not connected.authorization_url:
        tasks.enqueue_sync(get_jobs(), connected.connection.id)
    tasks.schedule_dispatch(get_jobs(), get_settings())
    return connected


@bp.post("/calendars")
@login_required
def connect() -> Any:
    _professional()
    kind = request.form.get("kind", "")
    if kind in OAUTH_KINDS:
        if not ActionForm().validate_on_submit():
            flash("This form has expired. Please try again.", "error")
            return redirect(url_for("calendars.index"))
        try:
            connected = _connect({"kind": kind})
        except errors.ProviderNotConfigured as error:
            flash(error.message, "error")
            return redirect(url_for("calendars.index"))
        assert connected.authorization_url is not None
        return redirect(connected.authorization_url)
    if kind not in ("caldav", "ics"):
        flash("Choose what kind of calendar to connect.", "error")
        return redirect(url_for("calendars.index"))
    form = ConnectForm(prefix=kind)
    if form.validate_on_submit():
        payload = {
            "kind": kind,
            "url": form.url.data or "",
            "username": form.username.data or "",
            "password": form.password.data or "",
            "show_titles": bool(form.show_titles.data),
        }
        try:
            _connect(payload)
        except errors.InvalidConnection as error:
            for name, message in error.fields.items():
                field = getattr(form, name, None)
                if field is not None:
                    field.errors = [*field.errors, message]
                else:
                    form.form_errors.append(message)
        else:
            flash("Calendar connected. Its first sync is running now.", "success")
            return redirect(url_for("calendars.index"))
    return _page({kind: form}, status=422)


@bp.post("/calendars/<int:connection_id>/sync")
@login_required
def sync_now(connection_id: int) -> Any:
    user = _professional()
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    try:
        connection = service.request_sync(session, user, connection_id)
    except errors.ConnectionNotReady as error:
        flash(error.message, "error")
        return redirect(url_for("calendars.index"))
    session.commit()
    tasks.enqueue_sync(get_jobs(), connection.id)
    flash("Sync started. Reload the page in a moment to see the result.", "success")
    return redirect(url_for("calendars.index"))


@bp.post("/calendars/<int:connection_id>/settings")
@login_required
def change_settings(connection_id: int) -> Any:
    user = _professional()
    form = SettingsForm(prefix=f"c{connection_id}")
    if not form.validate_on_submit():
        abort(400)
    session = get_session()
    try:
        connection = service.update_connection(
            session,
            user,
            connection_id,
            {"show_titles": bool(form.show_titles.data), "writeback": bool(form.writeback.data)},
        )
    except errors.InvalidConnection as error:
        flash(" ".join(error.fields.values()), "error")
        return redirect(url_for("calendars.index"))
    session.commit()
    if connection.status != AUTHORIZING:
        tasks.enqueue_sync(get_jobs(), connection.id)
    flash("Settings saved.", "success")
    return redirect(url_for("calendars.index"))


@bp.post("/calendars/<int:connection_id>/remove")
@login_required
def remove(connection_id: int) -> Any:
    user = _professional()
    if not ActionForm().validate_on_submit():
        abort(400)
    session = get_session()
    removed = service.remove_connection(session, user, connection_id)
    session.commit()
    if removed.secret and removed.kind in OAUTH_KINDS:
        tasks.enqueue_revoke(get_jobs(), removed.kind, removed.secret)
    flash("Calendar removed, with its copy and the busy time it blocked.", "success")
    return redirect(url_for("calendars.index"))


@bp.get("/calendars/oauth/<kind>/callback")
def oauth_callback(kind: str) -> Any:
    """Where Google or Microsoft sends the browser back: exchange the code, store the
    tokens, start the first sync. Works without a platform login (the ``state`` names
    the connection); the result page says what happened either way."""
    settings = get_settings()
    session = get_session()
    state = request.args.get("state", "")
    try:
        pending = service.pending_authorization(session, settings, kind, state)
        if request.args.get("error"):
            service.abandon_authorization(session, pending.connection_id)
            session.commit()
            raise errors.AuthorizationFailed(
                "Access was not granted, so nothing was connected. You can try again any time."
            )
        code = request.args.get("code", "")
        if not code or len(code) > 4096:
            raise errors.AuthorizationFailed("The provider sent no sign-in code. Please try again.")
        # No transaction stays open while we call the provider.
        session.commit()
        provider = provider_for(settings, kind)
        token = exchange_code(
            provider, pending.redirect_uri, code, pending.code_verifier, limits_for(settings)
        )
        connection = service.finish_authorization(session, settings, pending.connection_id, token)
        session.commit()
    except (errors.AuthorizationFailed, errors.SourceError) as error:
        session.rollback()
        return _callback_result(error.message, ok=False)
    tasks.enqueue_sync(get_jobs(), connection.id)
    tasks.schedule_dispatch(get_jobs(), get_settings())
    return _callback_result(
        f"{provider.label} calendar connected. Its first sync is running now.", ok=True
    )


def _callback_result(message: str, *, ok: bool) -> Any:
    if current_user.is_authenticated:
        flash(message, "success" if ok else "error")
        return redirect(url_for("calendars.index"))
    return render_template("sync/oauth_result.html", message=message, ok=ok), 200 if ok else 400
