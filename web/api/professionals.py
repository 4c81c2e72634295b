"""``GET /api/v1/professionals``: the same search as the home page, as JSON.

Parameters: ``q, category, language, min_price, max_price, available_from,
available_to, sort (relevance | price | next_free | rating), min_rating, page`` and
``tz`` (the zone the ``available_*`` dates are in; default UTC). Bad parameters get
a 400 that names each one. Prices are in main currency units (``40`` or ``39.50``);
amounts in the answer are minor units with their currency, as everywhere in the API.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for

from consult.db import utcnow
from directory import search as directory
from directory.errors import SearchParamError
from directory.search import ProfessionalHit, SearchResult
from web.api.blueprint import bp
from web.errors import ApiError
from web.session import get_session


def hit_json(hit: ProfessionalHit) -> dict[str, Any]:
    """One professional of a result page."""
    lowest = hit.lowest_price
    return {
        "id": hit.user_id,
        "name": hit.name,
        "url": url_for("public.professional", principal=hit.principal, _external=True),
        "headline": hit.headline,
        "bio": hit.bio,
        "photo_url": (
            url_for("public.photo", name=hit.photo_filename, _external=True)
            if hit.photo_filename
            else None
        ),
        "categories": list(hit.categories),
        "languages": list(hit.languages),
        "timezone": hit.timezone,
        "services": [
            {
                "id": service.id,
                "title": service.title,
                "kind": service.kind,
                "duration_minutes": service.duration_minutes,
                "price": {"amount": service.price_amount, "currency": service.price_currency},
                "capacity": service.capacity,
            }
            for service in hit.services
        ],
        "lowest_price": (
            {"amount": lowest.price_amount, "currency": lowest.price_currency} if lowest else None
        ),
        "next_free_slot": hit.next_free.isoformat() if hit.next_free else None,
        "relevance": round(hit.rank, 4),
        "rating": {"average": hit.rating, "count": hit.review_count},
    }


def _page_url(page: int) -> str:
    args = {key: value for key, value in request.args.items() if value}
    args["page"] = str(page)
    return url_for("api.search_professionals", _external=True, **args)


def result_json(result: SearchResult) -> dict[str, Any]:
    """A result page with its pagination links (absolute, keeping the query)."""
    return {
        "results": [hit_json(hit) for hit in result.hits],
        "pagination": {
            "page": result.page,
            "per_page": result.per_page,
            "total": result.total,
            "pages": result.pages,
            "next": _page_url(result.page + 1) if result.has_next else None,
            "prev": _page_url(result.page - 1) if result.has_prev else None,
        },
        # True when availability was checked only for the best text matches.
        "truncated": result.truncated,
    }


@bp.get("/professionals")
def search_professionals() -> Any:
    """Search; 400 naming each bad parameter."""
    now = utcnow()
    try:
        query = directory.parse_search(request.args, now=now)
    except SearchParamError as error:
        raise ApiError(400, "bad_request", str(error), error.fields) from error
    session = get_session()
    result = directory.search(session, query, now)
    session.commit()  # slot computation may extend the busy-time index
    return jsonify(result_json(result))
