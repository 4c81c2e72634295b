"""Page tests run with CSRF protection on, as in production, and background jobs
queued in Redis rather than run in threads of the test process."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def settings_overrides(redis_url: str) -> dict[str, dict[str, Any]]:
    """Background jobs go to this test's own Redis database and wait there: they are
    other packages' business (notifications, calendar sync), and a job still running
    when the next test empties the tables would make that test flaky."""
    return {"redis": {"url": redis_url}}


@pytest.fixture
def app(app: Any) -> Any:
    app.config["WTF_CSRF_ENABLED"] = True
    return app
