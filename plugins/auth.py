"""Radicale auth against the platform's accounts.

A calendar app signs in with the account's email (or its principal name) and
either an app password or the account password. The Radicale user is the
account's principal name, so ``/dav/<principal>/`` is its home. Accounts
without a principal (clients) have no calendars and are refused.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from radicale import auth
from radicale.log import logger

from accounts.errors import AccountError
from accounts.models import AppPassword, User
from accounts.services import LoginPolicy, authenticate_dav
from consult.db import Database
from plugins.standalone import standalone_database, standalone_login_policy

# Argon2 costs tens of milliseconds and calendar apps send credentials with every
# request, so a success is remembered briefly. A cheap query re-checks on each hit
# that the password was not changed and the app password not revoked.
_CACHE_SECONDS = 60
_CACHE_MAX = 10_000


@dataclass(frozen=True)
class _CachedLogin:
    at: float
    user_id: int
    credentials_version: int
    app_password_id: int | None
    principal: str


class Auth(auth.BaseAuth):
    def __init__(  # type: ignore[no-untyped-def]
        self,
        configuration,
        database: Database | None = None,
        policy: LoginPolicy | None = None,
    ) -> None:
        super().__init__(configuration)
        self._database = database or standalone_database(configuration, "auth")
        # The platform's [auth] limits, as for the login page.
        self._policy = policy or standalone_login_policy()
        self._cache: dict[str, _CachedLogin] = {}
        self._cache_lock = threading.Lock()

    def _login_ext(self, login: str, password: str, context: auth.AuthContext) -> str:
        if not login or not password or len(login) > 254 or len(password) > 1024:
            return ""
        digest = hashlib.sha256(f"{login}\0{password}".encode()).hexdigest()
        with self._cache_lock:
            cached = self._cache.get(digest)
        if cached and time.monotonic() - cached.at < _CACHE_SECONDS and self._still_valid(cached):
            return cached.principal
        ip = context.remote_addr or "unknown"
        try:
            with self._database.session() as session:
                user, app_password = authenticate_dav(session, login, password, ip, self._policy)
                entry = _CachedLogin(
                    time.monotonic(),
                    user.id,
                    user.credentials_version,
                    app_password.id if app_password else None,
                    user.principal or "",
                )
        except AccountError as error:
            logger.info("DAV login refused for %r from %s: %s", login, ip, error.message)
            return ""
        if not entry.principal:
            logger.info("DAV login refused for %r: the account has no calendars", login)
            return ""
        with self._cache_lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            self._cache[digest] = entry
        return entry.principal

    def _still_valid(self, cached: _CachedLogin) -> bool:
        with self._database.session(readonly=True) as session:
            user = session.get(User, cached.user_id)
            if user is None or user.principal != cached.principal:
                return False
            if cached.app_password_id is not None:
                app_password = session.get(AppPassword, cached.app_password_id)
                return app_password is not None and app_password.revoked_at is None
            return user.credentials_version == cached.credentials_version
