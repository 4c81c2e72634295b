"""The home page: search for professionals (free text, category, language, price,
"available on" dates, sorting, pages). A plain GET form, so it works without
JavaScript; the same search is ``GET /api/v1/professionals``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from consult.db import utcnow
from directory import search as directory
from directory.errors import SearchParamError
from directory.profiles import CATEGORIES, LANGUAGES
from directory.search import SearchQuery
from web.pages.helpers import TIMEZONES, VisitorZone
from web.session import get_session

bp = Blueprint("home", __name__)


def _page_url(page: int) -> str:
    args: dict[str, Any] = {
        key: value for key, value in request.args.items() if value and key != "page"
    }
    return url_for("home.index", page=page, **args) + "#results"


@bp.get("/")
def index() -> Any:
    """The home page; with parameters, the search results (400 with errors next to the fields)."""
    zone = VisitorZone()
    now = utcnow()
    args = {key: value for key, value in request.args.items()}
    args["tz"] = zone.name
    errors: dict[str, str] = {}
    result = None
    query = SearchQuery(zone=zone.zone)
    try:
        query = directory.parse_search(args, now=now)
    except SearchParamError as error:
        errors = error.fields
    session = get_session()
    if not errors:
        result = directory.search(session, query, now)
        session.commit()  # slot computation may extend the busy-time index
    searched = any(
        request.args.get(name)
        for name in (
            "q",
            "category",
            "language",
            "min_price",
            "max_price",
            "available_from",
            "available_to",
            "sort",
            "page",
        )
    )
    return (
        render_template(
            "home.html",
            args=request.args,
            errors=errors,
            result=result,
            query=query,
            searched=searched,
            zone=zone,
            timezones=TIMEZONES,
            categories=CATEGORIES,
            languages=LANGUAGES,
            page_url=_page_url,
            today=now.astimezone(zone.zone).date(),
        ),
        400 if errors else 200,
    )
