"""Account pages: register, sign in, sign out, account settings (password,
app passwords for calendar apps)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from accounts import services
from accounts.errors import (
    AccountSuspended,
    EmailTaken,
    InvalidCredentials,
    TooManyAttempts,
    ValidationError,
)
from web.extensions import sign_in, sign_out
from web.forms import AppPasswordForm, EmptyForm, LoginForm, PasswordChangeForm, RegisterForm
from web.session import get_session, get_settings

bp = Blueprint("accounts", __name__)

_TIMEZONES = sorted(available_timezones() - {"localtime", "Factory"})


def _safe_next(default: str) -> str:
    """Follow ``?next=`` only to a path on this site (no open redirect)."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return default


def _form_errors_into(form: Any, fields: dict[str, str]) -> None:
    for name, message in fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


@bp.route("/register", methods=["GET", "POST"])
def register() -> Any:
    form = RegisterForm()
    form.timezone.choices = [SelectChoice(zone, zone.replace("_", " ")) for zone in _TIMEZONES]
    if request.method == "GET":
        form.role.data = request.args.get("role", "client")
    if form.validate_on_submit():
        session = get_session()
        try:
            registration = services.validate_registration(
                {
                    "email": form.email.data,
                    "password": form.password.data,
                    "name": form.name.data,
                    "role": form.role.data,
                    "timezone": form.timezone.data or "UTC",
                },
                get_settings().auth.min_password_length,
            )
            user = services.register(session, registration)
            session.commit()
        except ValidationError as error:
            _form_errors_into(form, error.fields)
        except EmailTaken as error:
            form.email.errors = [*form.email.errors, error.message]
        else:
            sign_in(user)
            if user.is_professional:
                # Straight into onboarding: profile, first service, weekly hours.
                flash("Welcome! Your account is ready.", "success")
                return redirect(_safe_next(url_for("pro.welcome")))
            flash("Welcome! Your account is ready.", "success")
            return redirect(_safe_next(url_for("home.index")))
    status = 422 if form.errors or form.form_errors else 200
    return (
        render_template(
            "accounts/register.html",
            form=form,
            min_password=get_settings().auth.min_password_length,
        ),
        status,
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            user = services.authenticate(
                session,
                form.email.data,
                form.password.data,
                request.remote_addr or "unknown",
                services.LoginPolicy.from_settings(get_settings().auth),
            )
            session.commit()
        except TooManyAttempts as error:
            form.form_errors.append(error.message)
            response = render_template("accounts/login.html", form=form), 429
            return response[0], 429, {"Retry-After": str(error.retry_after)}
        except InvalidCredentials as error:
            form.form_errors.append(error.message)
        except AccountSuspended as error:
            form.form_errors.append(error.message)
            return render_template("accounts/login.html", form=form), 403
        else:
            sign_in(user)
            return redirect(_safe_next(url_for("home.index")))
    status = 401 if form.form_errors else (422 if form.errors else 200)
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout() -> Any:
    form = EmptyForm()
    if form.validate_on_submit():
        sign_out()
        flash("You are signed out.", "info")
    return redirect(url_for("home.index"))


@bp.route("/account", methods=["GET"])
@login_required
def account() -> Any:
    return _account_page()


def _account_page(
    password_form: PasswordChangeForm | None = None,
    app_password_form: AppPasswordForm | None = None,
    new_secret: str | None = None,
    status: int = 200,
) -> Any:
    user = current_user.account
    app_passwords = services.list_app_passwords(get_session(), user)
    return (
        render_template(
            "accounts/account.html",
            user=user,
            password_form=password_form or PasswordChangeForm(),
            app_password_form=app_password_form or AppPasswordForm(),
            revoke_form=EmptyForm(),
            sign_out_everywhere_form=EmptyForm(),
            browser_sessions=services.list_browser_sessions(get_session(), user),
            current_browser_session=current_user.browser_session.id,
            app_passwords=app_passwords,
            new_secret=new_secret,
            dav_url=get_settings().app.base_url + "/dav/",
        ),
        status,
    )


@bp.post("/account/password")
@login_required
def change_password() -> Any:
    form = PasswordChangeForm()
    if form.validate_on_submit():
        session = get_session()
        user = current_user.account
        try:
            services.change_password(
                session,
                user,
                form.current_password.data,
                form.new_password.data,
                get_settings().auth.min_password_length,
                keep_browser_session=current_user.browser_session.id,
            )
            session.commit()
        except ValidationError as error:
            _form_errors_into(form, error.fields)
        else:
            flash("Your password is changed. Other devices have been signed out.", "success")
            return redirect(url_for("accounts.account"))
    return _account_page(password_form=form, status=422)


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere() -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        # A missing or stale CSRF token is refused before this (400); keep the rest.
        return redirect(url_for("accounts.account"))
    session = get_session()
    services.sign_out_everywhere(session, current_user.account)
    session.commit()
    # This browser's row is gone too; drop it from the cookie as well.
    sign_out()
    flash("You are signed out in every browser and API app.", "info")
    return redirect(url_for("accounts.login"))


@bp.post("/account/app-passwords")
@login_required
def create_app_password() -> Any:
    form = AppPasswordForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            _, secret = services.create_app_password(session, current_user.account, form.name.data)
            session.commit()
        except ValidationError as error:
            _form_errors_into(form, error.fields)
        else:
            return _account_page(new_secret=secret, status=201)
    return _account_page(app_password_form=form, status=422)


@bp.post("/account/app-passwords/<int:app_password_id>/revoke")
@login_required
def revoke_app_password(app_password_id: int) -> Any:
    form = EmptyForm()
    if not form.validate_on_submit():
        return redirect(url_for("accounts.account"))
    session = get_session()
    revoked = services.revoke_app_password(session, current_user.account, app_password_id)
    if revoked is None:
        return render_template("error.html", status=404, message="No such app password."), 404
    session.commit()
    flash(f"“{revoked.name}” can no longer sign in.", "success")
    return redirect(url_for("accounts.account"))
