"""The request's view of the platform: one SQLAlchemy session per request,
committed by the view's service call boundary (``commit()``) and always closed at
teardown; the platform's settings, jobs and services."""

from __future__ import annotations

from typing import TypeVar

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from consult.config import Settings
from consult.jobs import JobQueue
from consult.platform import Platform
from consult.services import Port

T = TypeVar("T")


def get_platform() -> Platform:
    """The platform the current app was built for."""
    platform: Platform = current_app.extensions["consult.platform"]
    return platform


def get_session() -> Session:
    """The request's session (created on first use)."""
    if "db_session" not in g:
        g.db_session = get_platform().database.sessionmaker()
    session: Session = g.db_session
    return session


def get_settings() -> Settings:
    return get_platform().settings


def get_jobs() -> JobQueue:
    return get_platform().jobs


def find(port: Port[T]) -> T:
    """The platform's service for ``port``."""
    return get_platform().find(port)


def _close_session(_error: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        # Anything not committed by the view is discarded, never half-applied.
        session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
