"""What every request must satisfy before a view sees it.

- ``<int:...>`` in a route matches only ids the database can hold (1 to 2³¹-1):
  a larger number is a 404 like any id that does not exist, never an overflow.
- No NUL byte anywhere in the path, query, form or JSON body: PostgreSQL refuses
  them in text, and no person types one. The request is answered 400.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from consult.bounds import MAX_ID


class IdConverter(IntegerConverter):
    """Flask's ``int`` converter, bounded to the ids rows can have."""

    def __init__(self, url_map: Any, **options: Any) -> None:
        options.setdefault("min", 0)
        options.setdefault("max", MAX_ID)
        super().__init__(url_map, **options)


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [*_strings(key), *_strings(item)]]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def refuse_nul_bytes() -> None:
    """Before each request: 400 when the path, query, form or JSON holds a NUL byte."""
    texts = [request.path, *(t for pair in request.args.items(multi=True) for t in pair)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        texts += [t for pair in request.form.items(multi=True) for t in pair]
    if request.is_json:
        texts += _strings(request.get_json(silent=True))
    if any("\x00" in text for text in texts):
        raise BadRequest("The request holds a NUL byte, which no field may contain.")


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_nul_bytes)
