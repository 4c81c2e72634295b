"""One SQLAlchemy session per request, committed by the view's service call
boundary (``commit()``) and always closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from consult.config import Settings
from consult.db import Database
from consult.jobs import JobQueue


def get_session() -> Session:
    """The request's session (created on first use)."""
    if "db_session" not in g:
        database: Database = current_app.extensions["consult.database"]
        g.db_session = database.sessionmaker()
    session: Session = g.db_session
    return session


def get_settings() -> Settings:
    settings: Settings = current_app.extensions["consult.settings"]
    return settings


def get_jobs() -> JobQueue:
    jobs: JobQueue = current_app.extensions["consult.jobs"]
    return jobs


def _close_session(_error: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        # Anything not committed by the view is discarded, never half-applied.
        session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
