"""``GET /api/v1/insights?from=&to=``: the signed-in professional's insights for the
local dates ``from`` to ``to`` (inclusive, in their zone; by default the last twelve
weeks). 403 for accounts that are not professionals, 400 naming a bad date."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import g, jsonify, request

from consult.db import utcnow
from insights.core import parse_range
from insights.queries import insights_for
from web.api.blueprint import bp
from web.api.helpers import require_user
from web.errors import ApiError
from web.insights_views import insights_json
from web.session import get_session


@bp.get("/insights")
@require_user
def insights() -> Any:
    if not g.user.is_professional:
        raise ApiError(403, "forbidden", "Insights are for professionals.")
    now = utcnow()
    start, end = parse_range(request.args, now.astimezone(ZoneInfo(g.user.timezone)).date())
    found = insights_for(get_session(), g.user, start, end, now)
    return jsonify(insights_json(found, g.user.timezone))
