"""A local HTTP server serving ICS files, as calendar providers publish them.

Each feed has a body, an ETag and a Last-Modified date that change when the body
does; conditional requests (``If-None-Match``, ``If-Modified-Since``) get a 304.
A feed can instead answer with a status (500, 401), wait before answering, or
require HTTP Basic credentials. Every request is counted, with its status, and its
Host header kept. The server listens on 127.0.0.1 unless told another loopback
address, over TLS when given a server context.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Feed:
    body: bytes = b""
    etag: str = ""
    last_modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: int = 200
    delay: float = 0.0
    credentials: tuple[str, str] | None = None
    conditional: bool = True  # False: ignore If-None-Match / If-Modified-Since
    content_type: str = "text/calendar; charset=utf-8"


class IcsServer:
    """Serve feeds at ``/<name>.ics``; ``url(name)`` is the address to subscribe to."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.feeds: dict[str, Feed] = {}
        self.requests: Counter[tuple[str, int]] = Counter()
        self.hosts: list[str] = []  # the Host header of each request
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.split("?", 1)[0].lstrip("/").removesuffix(".ics")
                with server.lock:
                    server.hosts.append(self.headers.get("Host", ""))
                    feed = server.feeds.get(name)
                try:
                    status = server.respond(self, feed)
                except (BrokenPipeError, ConnectionResetError):
                    status = 499  # the client gave up (a timeout test)
                with server.lock:
                    server.requests[(name, status)] += 1

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.host = host
        self.scheme = "https" if tls is not None else "http"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name: str) -> str:
        return f"{self.scheme}://{self.host}:{self.port}/{name}.ics"

    def publish(self, name: str, text: str, **options: object) -> Feed:
        """Serve ``text`` at ``name`` (a new ETag and Last-Modified when it changed)."""
        body = text.encode()
        with self.lock:
            feed = self.feeds.get(name) or Feed()
            if body != feed.body:
                feed.body = body
                feed.etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                # Last-Modified has one-second resolution; keep it strictly increasing.
                now = datetime.now(UTC).replace(microsecond=0)
                if now <= feed.last_modified.replace(microsecond=0) and feed.etag:
                    now = feed.last_modified.replace(microsecond=0) + timedelta(seconds=1)
                feed.last_modified = now
            for key, value in options.items():
                setattr(feed, key, value)
            self.feeds[name] = feed
        return feed

    def count(self, name: str, status: int) -> int:
        with self.lock:
            return self.requests[(name, status)]

    def respond(self, handler: BaseHTTPRequestHandler, feed: Feed | None) -> int:
        if feed is None:
            handler.send_error(404)
            return 404
        if feed.delay:
            time.sleep(feed.delay)
        if feed.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(feed.credentials).encode()).decode()
            if handler.headers.get("Authorization") != expected:
                handler.send_response(401)
                handler.send_header("WWW-Authenticate", 'Basic realm="calendar"')
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return 401
        if feed.status != 200:
            handler.send_response(feed.status)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return feed.status
        if feed.conditional and self._not_modified(handler, feed):
            handler.send_response(304)
            handler.send_header("ETag", feed.etag)
            handler.end_headers()
            return 304
        handler.send_response(200)
        handler.send_header("Content-Type", feed.content_type)
        handler.send_header("Content-Length", str(len(feed.body)))
        if feed.conditional:
            handler.send_header("ETag", feed.etag)
            handler.send_header("Last-Modified", format_datetime(feed.last_modified, usegmt=True))
        handler.end_headers()
        handler.wfile.write(feed.body)
        return 200

    @staticmethod
    def _not_modified(handler: BaseHTTPRequestHandler, feed: Feed) -> bool:
        if_none_match = handler.headers.get("If-None-Match")
        if if_none_match is not None:
            return if_none_match == feed.etag
        since = handler.headers.get("If-Modified-Since")
        if since:
            try:
                return feed.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
