"""Static files carry a digest of their content in their URL and are cached for a
year under it; pages and files are sent compressed to browsers that accept it."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_static_urls_carry_the_files_digest_and_are_cached_under_it(client: Any) -> None:
    page = client.get("/").get_data(as_text=True)
    found = re.search(r'href="(/static/app\.css\?v=([0-9a-f]{12}))"', page)
    assert found, "the stylesheet link has no digest"
    url, digest = found.groups()
    expected = hashlib.sha256((ROOT / "web/static/app.css").read_bytes()).hexdigest()[:12]
    assert digest == expected
    fresh = client.get(url)
    assert fresh.status_code == 200
    assert fresh.cache_control.max_age == 365 * 24 * 3600
    assert fresh.cache_control.public and fresh.cache_control.immutable
    for stale in ("/static/app.css", "/static/app.css?v=000000000000"):
        answer = client.get(stale)
        assert answer.status_code == 200
        assert answer.cache_control.no_cache and not answer.cache_control.immutable


def test_pages_and_files_are_compressed_for_browsers_that_accept_it(client: Any) -> None:
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers
    packed = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers.get("Vary", "")
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    css = client.get("/static/app.css", headers={"Accept-Encoding": "br, gzip"})
    assert css.headers["Content-Encoding"] in ("br", "gzip")
    assert len(css.get_data()) < len((ROOT / "web/static/app.css").read_bytes()) / 2
