"""Flask extensions, made per app: CSRF protection on every form, flask-login
sessions."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from accounts.models import User
from consult.logs import set_context
from web.session import get_session


class LoginUser:
    """flask-login's view of an account, delegating to the ``User`` row loaded in
    the request's session. The session id carries the credentials version, so
    changing the password signs out every other session."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, account: User) -> None:
        self.account = account

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account, name)

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.credentials_version}"


def _load_user(session_id: str) -> LoginUser | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or user.credentials_version != int(version):
        return None
    set_context(user_id=user.id)
    return LoginUser(user)


def init_app(app: Flask) -> CSRFProtect:
    """Protect ``app``'s forms and sign people in; returns its CSRF extension (for
    the views that answer to other machines, which exempt themselves)."""
    csrf = CSRFProtect(app)
    login_manager = LoginManager(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)
    return csrf
