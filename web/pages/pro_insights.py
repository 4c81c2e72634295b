"""The insights page of a professional (``/pro/insights?from=&to=``) and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, render_template, request
from flask_login import current_user

from consult.db import utcnow
from insights.core import parse_range
from insights.errors import InsightsRangeInvalid
from insights.queries import insights_for
from web.insights_views import charts, csv_rows
from web.pages.helpers import professional_required
from web.pages.pro import bp
from web.session import get_session


def _today(zone: str, now: datetime) -> Any:
    return now.astimezone(ZoneInfo(zone)).date()


@bp.get("/insights", endpoint="insights")
@professional_required
def insights_page() -> Any:
    account = current_user.account
    now = utcnow()
    try:
        start, end = parse_range(request.args, _today(account.timezone, now))
    except InsightsRangeInvalid as error:
        return (
            render_template("pro/insights.html", errors=error.fields, found=None, charts=[]),
            400,
        )
    found = insights_for(get_session(), account, start, end, now)
    return render_template(
        "pro/insights.html",
        errors={},
        found=found,
        charts=charts(found),
        zone=account.timezone,
    )


@bp.get("/insights.csv", endpoint="insights_csv")
@professional_required
def insights_csv() -> Any:
    account = current_user.account
    now = utcnow()
    try:
        start, end = parse_range(request.args, _today(account.timezone, now))
    except InsightsRangeInvalid as error:
        return Response(error.message + "\n", status=400, mimetype="text/plain")
    found = insights_for(get_session(), account, start, end, now)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(("section", "key", "measure", "value"))
    writer.writerows(csv_rows(found))
    name = f"insights-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
