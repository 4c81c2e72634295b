"""Flask extensions, made per app: CSRF protection on every form, flask-login
sessions backed by a ``browser_session`` row each."""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf import CSRFProtect

from accounts import services
from accounts.models import BrowserSession, User
from consult.logs import set_context
from web.session import get_session


class LoginUser:
    """flask-login's view of an account, delegating to the ``User`` row loaded in
    the request's session. Its id, which flask-login keeps in the signed cookie, is
    the browser session's random token: the cookie works only while the row exists,
    so logout and "sign out everywhere" end it on the server."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, account: User, token: str, browser_session: BrowserSession) -> None:
        self.account = account
        self.token = token
        self.browser_session = browser_session

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account, name)

    def get_id(self) -> str:
        return self.token


def sign_in(user: User) -> None:
    """Start a browser session for ``user`` and put its id in the cookie (commits)."""
    session = get_session()
    browser_session, token = services.start_browser_session(
        session, user, request.user_agent.string
    )
    session.commit()
    login_user(LoginUser(user, token, browser_session))


def sign_out() -> None:
    """End this browser's session on the server and drop it from the cookie (commits)."""
    if current_user.is_authenticated:
        session = get_session()
        services.end_browser_session(session, current_user.token)
        session.commit()
    logout_user()


def _load_user(token: str) -> LoginUser | None:
    found = services.find_browser_session(get_session(), token)
    if found is None:
        return None
    browser_session, user = found
    set_context(user_id=user.id)
    return LoginUser(user, token, browser_session)


def _touch_session() -> None:
    # Loading the user here, before the view, means the commit below carries nothing
    # but the timestamp: no view has started changing things yet.
    if request.endpoint == "static":
        return
    if current_user.is_authenticated and services.touch_browser_session(
        current_user.browser_session
    ):
        get_session().commit()


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
    app.before_request(_touch_session)
    return csrf
