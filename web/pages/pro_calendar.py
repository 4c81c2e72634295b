"""``/pro/calendar``: connect a calendar app. The CalDAV addresses and step-by-step
settings for Apple Calendar (macOS and iOS), Thunderbird and DAVx5, app passwords
(create, name, revoke, through :mod:`accounts.services`), and the secret ICS feed
for Google Calendar (with rotate)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from accounts import services
from accounts.errors import ValidationError
from booking.links import get_feed_token, rotate_feed_token
from web.forms import AppPasswordForm, EmptyForm
from web.pages.helpers import professional_required
from web.pages.pro import bp
from web.session import get_session, get_settings


def _page(
    app_password_form: AppPasswordForm | None = None,
    new_secret: str | None = None,
    new_secret_name: str | None = None,
    status: int = 200,
) -> Any:
    session = get_session()
    user = current_user.account
    settings = get_settings()
    token = get_feed_token(session, user, settings.app.secret_key)
    session.commit()  # the feed token row is created on first sight
    base = settings.app.base_url
    return (
        render_template(
            "pro/calendar.html",
            user=user,
            dav_url=f"{base}/dav/",
            principal_url=f"{base}/dav/{user.principal}/",
            host=base.split("://", 1)[1].split("/", 1)[0],
            feed_url=f"{base}/feeds/{token}.ics" if token else None,
            app_passwords=services.list_app_passwords(session, user),
            app_password_form=app_password_form or AppPasswordForm(),
            form=EmptyForm(),
            new_secret=new_secret,
            new_secret_name=new_secret_name,
        ),
        status,
    )


@bp.get("/calendar")
@professional_required
def calendar_page() -> Any:
    """CalDAV settings per app, app passwords and the feed address."""
    return _page()


@bp.post("/calendar/app-passwords")
@professional_required
def create_app_password() -> Any:
    """Create a named app password and show its secret once (201)."""
    form = AppPasswordForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            created, secret = services.create_app_password(
                session, current_user.account, form.name.data
            )
            session.commit()
        except ValidationError as error:
            session.rollback()
            form.name.errors = [*form.name.errors, *error.fields.values()]
        else:
            return _page(new_secret=secret, new_secret_name=created.name, status=201)
    return _page(app_password_form=form, status=422)


@bp.post("/calendar/app-passwords/<int:app_password_id>/revoke")
@professional_required
def revoke_app_password(app_password_id: int) -> Any:
    """Revoke one of the professional's app passwords (404 when not theirs)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    revoked = services.revoke_app_password(session, current_user.account, app_password_id)
    if revoked is None:
        abort(404)
    session.commit()
    flash(f"“{revoked.name}” can no longer sign in.", "success")
    return redirect(url_for("pro.calendar_page") + "#app-passwords")


@bp.post("/calendar/feed/rotate")
@professional_required
def rotate_feed() -> Any:
    """A new secret feed address; the old one stops working at once."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    session = get_session()
    rotate_feed_token(session, current_user.account, get_settings().app.secret_key)
    session.commit()
    flash(
        "Your feed has a new address. Replace the old one wherever you subscribed to it.",
        "success",
    )
    return redirect(url_for("pro.calendar_page") + "#feed")
