"""Static files that browsers keep, and pages sent compressed.

Every ``url_for("static", ...)`` carries ``v``, a digest of the file's content, so a
file's URL changes exactly when the file does: a request with the current digest
is answered as cacheable for a year (``immutable``); anything else (an old digest,
none) revalidates. Responses are compressed (gzip or Brotli, as the browser
accepts) by Flask-Compress, the maintained extension for it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from flask_compress import Compress

YEAR_SECONDS = 365 * 24 * 3600
# Where the app keeps each static file's digest, computed once per file and process.
DIGESTS = "consult.static_digests"


def _digest(app: Flask, filename: str) -> str | None:
    digests: dict[str, str | None] = app.extensions[DIGESTS]
    if filename not in digests:
        folder = Path(app.static_folder or "")
        path = (folder / filename).resolve()
        if folder.resolve() in path.parents and path.is_file():
            digests[filename] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        else:
            digests[filename] = None
    return digests[filename]


def init_app(app: Flask) -> None:
    app.extensions[DIGESTS] = {}
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    Compress(app)

    @app.url_defaults
    def version_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = _digest(app, str(values["filename"]))
            if digest is not None:
                values["v"] = digest

    @app.after_request
    def cache_static_files(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code != 200:
            return response
        filename = (request.view_args or {}).get("filename", "")
        if request.args.get("v") and request.args.get("v") == _digest(app, str(filename)):
            response.cache_control.public = True
            response.cache_control.max_age = YEAR_SECONDS
            response.cache_control.immutable = True
        else:
            response.cache_control.no_cache = True
        return response
